-- +goose Up
-- Where each event relay (internal/relay) is in the global event stream:
-- every event up to position has been published to its NATS JetStream
-- stream and acknowledged. The row is also the relay's lease: only the
-- process named in owner may publish and move position, until lease_until
-- (Unix milliseconds); another process takes the row over with a
-- compare-and-set once the lease has run out. last_error is the relay's
-- last failure ('' when none).
CREATE TABLE relay_checkpoints (
    name        TEXT PRIMARY KEY,
    position    BIGINT NOT NULL CHECK (position >= 0),
    owner       TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE relay_checkpoints;
