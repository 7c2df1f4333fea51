-- +goose Up
-- Operator dashboard (/dashboard) sessions: one row per login with an API
-- token. Only the SHA-256 of the session id (the cookie's value) is kept,
-- as for API tokens. csrf_token is the session's synchronizer token, sent
-- back with every form and fetch that changes something. A session ends
-- at expires_at, at logout, or when its token is revoked (every request
-- checks the token too).
CREATE TABLE dashboard_sessions (
    id_hash      TEXT      PRIMARY KEY,
    token_id     TEXT      NOT NULL REFERENCES api_tokens (id),
    csrf_token   TEXT      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX idx_dashboard_sessions_token ON dashboard_sessions (token_id);
CREATE INDEX idx_dashboard_sessions_expires ON dashboard_sessions (expires_at);

-- +goose Down
DROP TABLE dashboard_sessions;
