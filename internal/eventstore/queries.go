package eventstore

// The store's SQL, valid on SQLite and PostgreSQL alike.
const (
	columns = `position, event_id, event_name, aggregate_type, aggregate_id, aggregate_version,
	schema_version, event_data, metadata, occurred_at, created_at`

	qVersion = `SELECT COALESCE(MAX(aggregate_version), 0) FROM event_store
	WHERE aggregate_type = $1 AND aggregate_id = $2`

	qAdvanceHead = `UPDATE event_stream_head SET position = position + $1 WHERE id = 1 RETURNING position`

	qHead = `SELECT position FROM event_stream_head WHERE id = 1`

	// qAdvanceInsertPG is qAdvanceHead and qInsert of the first of $1
	// events in one statement (PostgreSQL): one round trip fewer while
	// the head's lock is held. It returns the first event's position.
	qAdvanceInsertPG = `WITH h AS (UPDATE event_stream_head SET position = position + $1 WHERE id = 1 RETURNING position)
	INSERT INTO event_store (position, event_id, event_name, aggregate_type, aggregate_id,
	aggregate_version, schema_version, event_data, metadata, occurred_at, created_at)
	SELECT h.position - $1 + 1, $2::uuid, $3::text, $4::text, $5::text, $6::bigint, $7::integer, $8::jsonb, $9::jsonb,
	$10::timestamptz, $11::timestamptz FROM h
	RETURNING position`

	qInsert = `INSERT INTO event_store (position, event_id, event_name, aggregate_type, aggregate_id,
	aggregate_version, schema_version, event_data, metadata, occurred_at, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

	qLoad = `SELECT ` + columns + ` FROM event_store
	WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY aggregate_version`

	qGet = `SELECT ` + columns + ` FROM event_store WHERE event_id = $1`

	qReadAll = `SELECT ` + columns + ` FROM event_store WHERE position > $1 ORDER BY position LIMIT $2`
)

// qReadAllFiltered takes a list of placeholders ("$3, $4"), never values.
func qReadAllFiltered(placeholders string) string {
	return `SELECT ` + columns + ` FROM event_store WHERE position > $1 AND event_name IN (` +
		placeholders + `) ORDER BY position LIMIT $2`
}
