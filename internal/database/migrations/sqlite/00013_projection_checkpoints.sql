-- +goose Up
-- Where each read model (a named projection, see internal/projection) is in
-- the global event stream: every event up to position has been applied to
-- its tables, none after. A projection's writes and its checkpoint commit in
-- one transaction. The read models existing before this migration were kept
-- up to date inline, so they start at the stream head. A rebuild keeps the
-- checkpoint of its shadow tables here too, under "<name>#rebuild".
-- last_error is the catch-up runner's last failure ('' when none).
CREATE TABLE projection_checkpoints (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL CHECK (position >= 0),
    updated_at TIMESTAMP NOT NULL,
    last_error TEXT NOT NULL DEFAULT ''
);
INSERT INTO projection_checkpoints (name, position, updated_at)
SELECT n.name, h.position, strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM event_stream_head h,
    (SELECT 'customers' AS name UNION ALL SELECT 'quotations' UNION ALL SELECT 'policies'
     UNION ALL SELECT 'messages' UNION ALL SELECT 'documents' UNION ALL SELECT 'audit_log'
     UNION ALL SELECT 'access_log') n
WHERE h.id = 1;

-- +goose Down
DROP TABLE projection_checkpoints;
