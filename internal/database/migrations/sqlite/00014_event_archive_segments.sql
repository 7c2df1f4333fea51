-- +goose Up
-- The segment files that insure events archive moved old events into (one
-- row per file, in ARCHIVE_DIR): each holds, as JSON Lines compressed with
-- zstd, exactly the events whose rows it removed from event_store, in
-- position order, as stored (personal fields sealed). Positions in a file
-- need not be contiguous (the events kept in the table stay), and files may
-- overlap in range. count and sha256 (of the uncompressed content, in hex)
-- are checked before any file is read back. A row is written, and its
-- events deleted, in one transaction, after the file was written, synced
-- and verified: a file with no row is an orphan of an interrupted run and
-- holds no event that left the table.
CREATE TABLE event_archive_segments (
    file           TEXT      PRIMARY KEY,
    first_position BIGINT    NOT NULL CHECK (first_position > 0),
    last_position  BIGINT    NOT NULL CHECK (last_position >= first_position),
    count          BIGINT    NOT NULL CHECK (count > 0),
    sha256         TEXT      NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX idx_event_archive_segments_last ON event_archive_segments (last_position);

-- +goose Down
-- The files stay in ARCHIVE_DIR; without this table nothing reads them.
DROP TABLE event_archive_segments;
