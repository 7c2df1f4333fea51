-- +goose Up
-- Idempotency keys of the API's POST requests (internal/idempotency): one
-- row per authenticated principal (the API token's id) and key. The row is
-- claimed by the request that first sends the key (owner, a random id of
-- that attempt, with claimed_at for its lease), and holds the SHA-256 of
-- the request (method, path, query and body) to tell a repeat from a
-- different request under the same key. committed_at is set inside the
-- transaction that commits the request's events, so a retry never runs a
-- committed command again; resource_type/resource_id name the first
-- aggregate it changed. completed_at and the response_* columns hold the
-- response that repeats are answered with; a response that carries a
-- customer's personal data is sealed under that customer's data key
-- (response_subject). Times are Unix milliseconds; rows past expires_at
-- are ignored and deleted.
CREATE TABLE idempotency_keys (
    principal        TEXT NOT NULL,
    idem_key         TEXT NOT NULL,
    method           TEXT NOT NULL,
    route            TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    owner            TEXT NOT NULL,
    claimed_at       BIGINT NOT NULL,
    committed_at     BIGINT,
    resource_type    TEXT NOT NULL DEFAULT '',
    resource_id      TEXT NOT NULL DEFAULT '',
    completed_at     BIGINT,
    response_status  INTEGER NOT NULL DEFAULT 0,
    response_headers TEXT NOT NULL DEFAULT '{}',
    response_body    BLOB,
    response_subject TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
