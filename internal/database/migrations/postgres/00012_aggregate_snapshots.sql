-- +goose Up
-- The newest snapshot of an aggregate's state (internal/snapshot): loading
-- it replays only the events after version. One row per aggregate: a newer
-- snapshot replaces the older one, and one of another schema_version (the
-- state's shape changed) is thrown away and taken again. state is the
-- state's JSON; for an aggregate that holds personal data (a customer) it is
-- sealed ("enc:v1:...") under the customer's data key, so erasure makes it
-- unreadable, and erasure deletes it too. Snapshots can be deleted at any
-- time: they are rebuilt from the events.
CREATE TABLE aggregate_snapshots (
    aggregate_type TEXT        NOT NULL,
    aggregate_id   TEXT        NOT NULL,
    version        BIGINT      NOT NULL CHECK (version > 0),
    schema_version INTEGER     NOT NULL CHECK (schema_version > 0),
    state          TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- +goose Down
DROP TABLE aggregate_snapshots;
