package eventstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"insure/internal/database"
	"insure/internal/event"
)

// Errors returned by Import.
var (
	// ErrNotEmpty means the store to import into already holds events
	// (or its stream head has moved): Import loads only into an empty store.
	ErrNotEmpty = errors.New("the event store is not empty: import loads only into an empty event store; use a fresh database")
	// ErrBadExport means the file to import is not an export Export could
	// have written, or does not hold together (a gap, a duplicate, an
	// unknown event). Nothing was imported.
	ErrBadExport = errors.New("not a valid event export")
)

// The SQL of export and import, valid on SQLite and PostgreSQL alike.
const (
	qExportRange = `SELECT ` + columns + ` FROM event_store
	WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`

	qSetHead = `UPDATE event_stream_head SET position = $1 WHERE id = 1`

	qCountEvents = `SELECT COUNT(*) FROM event_store`

	insertColumns = `position, event_id, event_name, aggregate_type, aggregate_id,
	aggregate_version, schema_version, event_data, metadata, occurred_at, created_at`
	insertArity = 11
)

// insertChunk is the most rows one INSERT statement carries: 11 parameters
// a row keeps a statement well under SQLite's and PostgreSQL's limits on
// parameters (32766 and 65535) whatever MAX_EVENTS_PER_BATCH is.
const insertChunk = 500

// maxLineBytes is the longest line Import reads. An event's data comes
// from a request body of at most 1 MiB; the margin covers sealing and
// escaping.
const maxLineBytes = 16 << 20

// Record is one event as the store keeps it: every column of event_store
// but the surrogate id, with data and metadata exactly as stored, so
// personal fields stay sealed ("enc:v1:…"). It is one line of an export.
// Its JSON is the envelope's, as GET /api/v1/events serves it, plus
// created_at, the time the store appended it.
type Record struct {
	Position         int64           `json:"position"`
	EventID          string          `json:"event_id"`
	EventName        string          `json:"event_name"`
	AggregateType    string          `json:"aggregate_type"`
	AggregateID      string          `json:"aggregate_id"`
	AggregateVersion int64           `json:"aggregate_version"`
	SchemaVersion    int             `json:"schema_version"`
	Data             json.RawMessage `json:"data"`
	Metadata         json.RawMessage `json:"metadata"`
	OccurredAt       time.Time       `json:"occurred_at"`
	CreatedAt        time.Time       `json:"created_at"`
}

// Summary describes an export or an import: how many events, the positions
// of the first and last (both 0 when there were none), and the SHA-256 of
// the JSON Lines, uncompressed, in hex.
type Summary struct {
	Count  int64
	First  int64
	Last   int64
	SHA256 string
}

// ReadRecords returns up to limit events with a position after `after` and
// at most upTo, in position order, as stored. limit is capped by the
// store's batch size; 0 means the batch size.
func (s *Store) ReadRecords(ctx context.Context, q database.Querier, after, upTo int64, limit int) ([]Record, error) {
	if limit <= 0 || limit > s.maxBatch {
		limit = s.maxBatch
	}
	rows, err := q.Query(ctx, qExportRange, after, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("read events %d to %d: %w", after+1, upTo, err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("read events %d to %d: %w", after+1, upTo, err)
	}
	return recs, nil
}

func scanRecords(rows database.Rows) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			r          Record
			data, meta []byte
		)
		if err := rows.Scan(&r.Position, &r.EventID, &r.EventName, &r.AggregateType, &r.AggregateID,
			&r.AggregateVersion, &r.SchemaVersion, &data, &meta, &r.OccurredAt, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		if !json.Valid(data) || !json.Valid(meta) {
			return nil, fmt.Errorf("stored event %s at position %d: data or metadata is not valid JSON", r.EventID, r.Position)
		}
		// The drivers may reuse the scanned buffers.
		r.Data = bytes.Clone(data)
		r.Metadata = bytes.Clone(meta)
		r.OccurredAt = r.OccurredAt.UTC()
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Export writes the events after the position `after`, up to the stream
// head as it is when Export begins, to w as JSON Lines: one Record a line,
// in position order, read MaxBatch at a time. Events appended while it runs
// are left out, so an export of a live store is the store as of one
// moment. It returns what it wrote.
func (s *Store) Export(ctx context.Context, q database.Querier, after int64, w io.Writer) (Summary, error) {
	if after < 0 {
		return Summary{}, fmt.Errorf("export: position %d is negative: %w", after, ErrInvalid)
	}
	head, err := s.Head(ctx, q)
	if err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	sum := sha256.New()
	bw := bufio.NewWriter(io.MultiWriter(w, sum))
	var out Summary
	for pos := after; pos < head; {
		recs, err := s.ReadRecords(ctx, q, pos, head, 0)
		if err != nil {
			return out, fmt.Errorf("export: %w", err)
		}
		if len(recs) == 0 {
			// Positions up to the head are committed and gap-free; a
			// store that says otherwise has lost events.
			return out, fmt.Errorf("export: the stream head is %d but no event follows position %d; the store is missing events", head, pos)
		}
		for _, r := range recs {
			line, err := json.Marshal(r)
			if err != nil {
				return out, fmt.Errorf("export: encode event at position %d: %w", r.Position, err)
			}
			if _, err := bw.Write(append(line, '\n')); err != nil {
				return out, fmt.Errorf("export: write: %w", err)
			}
			if out.Count == 0 {
				out.First = r.Position
			}
			out.Count++
			out.Last = r.Position
		}
		pos = recs[len(recs)-1].Position
	}
	if err := bw.Flush(); err != nil {
		return out, fmt.Errorf("export: write: %w", err)
	}
	out.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return out, nil
}

// ImportOptions steer Import.
type ImportOptions struct {
	// Known reports whether an event name is one the program knows
	// (event.Registry.Lookup). Required.
	Known func(name string) bool
	// SHA256, when set, is the checksum Export printed for the file, in
	// hex: Import refuses content whose checksum differs.
	SHA256 string
}

// Import loads JSON Lines written by Export into the store, which must be
// empty (ErrNotEmpty otherwise). It checks every line: a Record with
// nothing unknown or missing, an event name opts.Known knows, positions
// strictly increasing and contiguous from the first line's, and each
// aggregate's versions contiguous (from 1 when the file starts at position
// 1). It inserts the events in batches of MaxBatch, sets the stream head to
// the last position, and then reads them back and checks the count and the
// content against the file.
//
// It all happens in one transaction, which holds the stream head: a file
// that fails any check (ErrBadExport, naming the line) or a database error
// leaves the store as it was, empty. Import writes event_store and
// event_stream_head only: it runs no projection and enqueues no listener.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (Summary, error) {
	if opts.Known == nil {
		return Summary{}, errors.New("import: ImportOptions.Known is required")
	}
	var out Summary
	err := s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		var err error
		out, err = s.importTx(ctx, tx, r, opts)
		return err
	})
	if err != nil {
		return Summary{}, err
	}
	return out, nil
}

func (s *Store) importTx(ctx context.Context, tx database.Tx, r io.Reader, opts ImportOptions) (Summary, error) {
	// Taking the head's row lock first keeps appends out until the
	// import commits.
	var head, count int64
	if err := tx.QueryRow(ctx, qAdvanceHead, 0).Scan(&head); err != nil {
		return Summary{}, fmt.Errorf("import: lock the stream head: %w", err)
	}
	if err := tx.QueryRow(ctx, qCountEvents).Scan(&count); err != nil {
		return Summary{}, fmt.Errorf("import: count events: %w", err)
	}
	if head != 0 || count != 0 {
		return Summary{}, fmt.Errorf("import: the store holds %d events and its head is at %d: %w", count, head, ErrNotEmpty)
	}

	sum := sha256.New()
	sc := bufio.NewScanner(io.TeeReader(r, sum))
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	chk := newImportCheck(opts.Known)
	digest := sha256.New()
	batch := make([]Record, 0, s.maxBatch)
	batchLine := 0 // the line of batch[0]
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := InsertRecords(ctx, tx, batch); err != nil {
			if database.IsUniqueViolation(err) {
				return fmt.Errorf("import: lines %d to %d: an event id or position is already stored (it appears twice in the file): %w", batchLine, batchLine+len(batch)-1, ErrBadExport)
			}
			return fmt.Errorf("import: insert lines %d to %d: %w", batchLine, batchLine+len(batch)-1, err)
		}
		batch = batch[:0]
		return nil
	}
	line := 0
	for sc.Scan() {
		line++
		rec, err := chk.line(sc.Bytes())
		if err != nil {
			return Summary{}, fmt.Errorf("import: line %d: %w: %w", line, err, ErrBadExport)
		}
		if err := writeCanonical(digest, rec); err != nil {
			return Summary{}, fmt.Errorf("import: line %d: %w: %w", line, err, ErrBadExport)
		}
		if len(batch) == 0 {
			batchLine = line
		}
		batch = append(batch, rec)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return Summary{}, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Summary{}, fmt.Errorf("import: line %d is longer than %d bytes: %w", line+1, maxLineBytes, ErrBadExport)
		}
		return Summary{}, fmt.Errorf("import: read line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return Summary{}, err
	}
	out := Summary{Count: chk.count, First: chk.first, Last: chk.last, SHA256: hex.EncodeToString(sum.Sum(nil))}
	if opts.SHA256 != "" && !strings.EqualFold(strings.TrimSpace(opts.SHA256), out.SHA256) {
		return Summary{}, fmt.Errorf("import: the content's SHA-256 is %s, not the %s given: the file is not the one exported, or is damaged: %w", out.SHA256, opts.SHA256, ErrBadExport)
	}
	if out.Count == 0 {
		return out, nil
	}
	if _, err := tx.Exec(ctx, qSetHead, out.Last); err != nil {
		return Summary{}, fmt.Errorf("import: set the stream head: %w", err)
	}
	if err := s.verifyImport(ctx, tx, out, digest.Sum(nil)); err != nil {
		return Summary{}, err
	}
	return out, nil
}

// verifyImport reads back what the import inserted and compares its count
// and content with the file's.
func (s *Store) verifyImport(ctx context.Context, tx database.Tx, want Summary, wantDigest []byte) error {
	digest := sha256.New()
	var n int64
	for pos := want.First - 1; pos < want.Last; {
		recs, err := s.ReadRecords(ctx, tx, pos, want.Last, 0)
		if err != nil {
			return fmt.Errorf("import: read back: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if err := writeCanonical(digest, r); err != nil {
				return fmt.Errorf("import: read back position %d: %w", r.Position, err)
			}
		}
		n += int64(len(recs))
		pos = recs[len(recs)-1].Position
	}
	var total, head int64
	if err := tx.QueryRow(ctx, qCountEvents).Scan(&total); err != nil {
		return fmt.Errorf("import: read back: %w", err)
	}
	head, err := s.Head(ctx, tx)
	if err != nil {
		return fmt.Errorf("import: read back: %w", err)
	}
	switch {
	case n != want.Count || total != want.Count:
		return fmt.Errorf("import: read back %d events (%d in the table), the file has %d", n, total, want.Count)
	case head != want.Last:
		return fmt.Errorf("import: the stream head reads %d after the import, want %d", head, want.Last)
	case !bytes.Equal(digest.Sum(nil), wantDigest):
		return errors.New("import: the events read back differ from the file's")
	}
	return nil
}

// InsertRecords inserts recs into the event store as they are, insertChunk
// rows a statement, inside tx: no check, no projection, no listener job,
// and the stream head is left alone. It is for bulk loads (Import, the
// replay benchmark) that check their records and move the head themselves.
func InsertRecords(ctx context.Context, tx database.Tx, recs []Record) error {
	for len(recs) > 0 {
		n := min(len(recs), insertChunk)
		args := make([]any, 0, n*insertArity)
		for _, r := range recs[:n] {
			args = append(args, r.Position, r.EventID, r.EventName, r.AggregateType, r.AggregateID,
				r.AggregateVersion, r.SchemaVersion, string(r.Data), string(r.Metadata), r.OccurredAt, r.CreatedAt)
		}
		if _, err := tx.Exec(ctx, qInsertRows(n), args...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// qInsertRows is an INSERT of n rows. It is built of numbered placeholders
// only, never of values.
func qInsertRows(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO event_store (` + insertColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range insertArity {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*insertArity + j + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// importCheck checks the lines of an import, in order.
type importCheck struct {
	known       func(string) bool
	count       int64
	first, last int64
	// versions holds each aggregate's last version seen.
	versions map[aggregateKey]int64
}

type aggregateKey struct{ typ, id string }

func newImportCheck(known func(string) bool) *importCheck {
	return &importCheck{known: known, versions: make(map[aggregateKey]int64)}
}

// line decodes and checks one line.
func (c *importCheck) line(raw []byte) (Record, error) {
	var r Record
	if len(bytes.TrimSpace(raw)) == 0 {
		return r, errors.New("the line is empty; every line is one event")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("not an event as export writes it: %w", err)
	}
	if dec.More() {
		return r, errors.New("more than one JSON value on the line")
	}
	if err := checkRecord(r, c.known); err != nil {
		return r, fmt.Errorf("event at position %d: %w", r.Position, err)
	}
	switch {
	case c.count == 0:
		c.first = r.Position
	case r.Position == c.last:
		return r, fmt.Errorf("position %d appears twice", r.Position)
	case r.Position != c.last+1:
		return r, fmt.Errorf("position %d follows %d: positions must go up by one, with no gap", r.Position, c.last)
	}
	key := aggregateKey{r.AggregateType, r.AggregateID}
	prev, seen := c.versions[key]
	switch {
	case seen && r.AggregateVersion != prev+1:
		return r, fmt.Errorf("event at position %d: %s/%s version %d follows version %d: an aggregate's versions must go up by one",
			r.Position, r.AggregateType, r.AggregateID, r.AggregateVersion, prev)
	case !seen && c.first == 1 && r.AggregateVersion != 1:
		return r, fmt.Errorf("event at position %d: %s/%s starts at version %d, but the file starts at the beginning of the stream, where every aggregate starts at version 1",
			r.Position, r.AggregateType, r.AggregateID, r.AggregateVersion)
	}
	c.versions[key] = r.AggregateVersion
	c.count++
	c.last = r.Position
	return r, nil
}

// checkRecord checks the fields of one record on their own.
func checkRecord(r Record, known func(string) bool) error {
	switch {
	case r.Position < 1:
		return errors.New("position must be 1 or more")
	case !event.ValidID(r.EventID):
		return fmt.Errorf("event_id %q is not a UUID", r.EventID)
	case r.EventName == "":
		return errors.New("event_name is missing")
	case !known(r.EventName):
		return fmt.Errorf("event_name %q is not an event this program knows (%w)", r.EventName, event.ErrUnknownEvent)
	case r.AggregateType == "" || r.AggregateID == "":
		return errors.New("aggregate_type and aggregate_id are required")
	case r.AggregateVersion < 1:
		return errors.New("aggregate_version must be 1 or more")
	case r.SchemaVersion < 1:
		return errors.New("schema_version must be 1 or more")
	case !isObject(r.Data):
		return errors.New("data is not a JSON object")
	case !isObject(r.Metadata):
		return errors.New("metadata is not a JSON object")
	case r.OccurredAt.IsZero() || r.CreatedAt.IsZero():
		return errors.New("occurred_at and created_at are required")
	}
	var meta event.Metadata
	if err := json.Unmarshal(r.Metadata, &meta); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if !strings.EqualFold(meta.EventID, r.EventID) {
		return fmt.Errorf("metadata.event_id %q is not the event's id %s", meta.EventID, r.EventID)
	}
	return nil
}

func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// writeCanonical writes r to h in a form both engines give back alike: the
// JSON of data and metadata re-encoded with sorted keys and no spaces
// (PostgreSQL's jsonb reorders and spaces them), and times in UTC to the
// microsecond (PostgreSQL keeps no more). Import compares the file with
// what it reads back in this form.
func writeCanonical(h hash.Hash, r Record) error {
	data, err := canonicalJSON(r.Data)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	meta, err := canonicalJSON(r.Metadata)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	c := r
	c.EventID = strings.ToLower(r.EventID)
	c.Data, c.Metadata = data, meta
	c.OccurredAt = r.OccurredAt.UTC().Truncate(time.Microsecond)
	c.CreatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, _ = h.Write(append(b, '\n'))
	return nil
}

// canonicalJSON re-encodes raw with sorted keys and no spaces. Numbers go
// through float64, so that 1e+21 and 1000000000000000000000 (how jsonb
// prints it) compare equal.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
