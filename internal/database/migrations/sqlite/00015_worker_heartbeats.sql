-- +goose Up
-- One row per process that works the queues: it beats (updates beat_at)
-- every few seconds while its workers run and deletes its row when it stops.
-- A row whose beat_at is old belongs to a process that died; readiness and
-- the dashboard count only fresh ones. queues lists the queues it works.
CREATE TABLE worker_heartbeats (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    queues     TEXT NOT NULL DEFAULT '',
    started_at TIMESTAMP NOT NULL,
    beat_at    TIMESTAMP NOT NULL
);
CREATE INDEX idx_worker_heartbeats_beat ON worker_heartbeats (beat_at);

-- +goose Down
DROP TABLE worker_heartbeats;
