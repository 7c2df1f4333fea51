-- +goose Up
-- Who read personal, event or audit data: the read model of DataAccessed.
CREATE TABLE access_log (
    id           TEXT PRIMARY KEY,
    actor        TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL DEFAULT '',
    accessed_at  TIMESTAMP NOT NULL
);
CREATE INDEX idx_access_log_subject ON access_log (subject_id, accessed_at);
CREATE INDEX idx_access_log_actor ON access_log (actor, accessed_at);

-- +goose Down
DROP TABLE access_log;
