-- +goose Up
-- API tokens: who may call the API, and as what role. Only the SHA-256 of
-- a token is kept; the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id           TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('admin', 'agent', 'auditor', 'service')),
    token_hash   TEXT        NOT NULL,
    created_at   TIMESTAMP   NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
-- Every request looks its token up by hash; this index also makes the hash
-- unique.
CREATE UNIQUE INDEX idx_api_tokens_token_hash ON api_tokens (token_hash);
-- A name belongs to at most one token that is not revoked.
CREATE UNIQUE INDEX idx_api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE api_tokens;
