package eventstore

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"insure/internal/database"
	"insure/internal/event"
)

// ErrArchiveCorrupt means an archive segment file is missing, or does not
// hold what its row in event_archive_segments says (count, positions,
// SHA-256): it was changed, truncated or replaced. Nothing of it was
// trusted; restore the file from a backup.
var ErrArchiveCorrupt = errors.New("archive segment does not verify against event_archive_segments")

// The SQL of the archive, valid on SQLite and PostgreSQL alike.
const (
	qSegmentInsert = `INSERT INTO event_archive_segments (file, first_position, last_position, count, sha256, created_at)
	VALUES ($1, $2, $3, $4, $5, $6)`

	qSegmentExists = `SELECT COUNT(*) FROM event_archive_segments WHERE file = $1`

	qSegmentsAfter = `SELECT file, first_position, last_position, count, sha256, created_at
	FROM event_archive_segments WHERE last_position > $1 ORDER BY first_position, file`

	qSegmentsState = `SELECT COUNT(*), CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM event_archive_segments`

	qVersionRange = `SELECT COALESCE(MIN(aggregate_version), 0), COALESCE(MAX(aggregate_version), 0) FROM event_store
	WHERE aggregate_type = $1 AND aggregate_id = $2`
)

// qAtPositions is the statement prefix followed by "position IN (…)" with
// n numbered placeholders; it is built of placeholders only, never values.
func qAtPositions(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(` WHERE position IN (`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i + 1))
	}
	b.WriteByte(')')
	return b.String()
}

// Segment is one archive file: the events it holds left event_store in the
// transaction that recorded it in event_archive_segments.
type Segment struct {
	// File is the file's name inside the archive directory (SegmentName).
	File string
	// First and Last are the positions of its first and last events. The
	// positions between them that the file does not hold stayed in the
	// table, or are in another segment.
	First int64
	Last  int64
	// Count is how many events it holds.
	Count int64
	// SHA256 is the SHA-256 of its uncompressed content, in hex.
	SHA256    string
	CreatedAt time.Time
}

// SegmentName is the name of the segment file whose events run from
// position first to last: events-<first>-<last>.jsonl.zst.
func SegmentName(first, last int64) string {
	return "events-" + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) + ".jsonl.zst"
}

// ArchiveOptions steer Archive.
type ArchiveOptions struct {
	// Dir is the archive directory (ARCHIVE_DIR); Archive creates it when
	// missing. Required.
	Dir string
	// Filter, when set, decides inside the archive's transaction, with the
	// stream head locked, which of the events read at the given positions
	// may go: it returns those, in the order given. It is where the caller
	// checks again, against the committed state, whatever rules chose the
	// positions (a snapshot covers the event, no job needs it).
	Filter func(ctx context.Context, tx database.Tx, recs []Record) ([]Record, error)
	// Kept, when set, is told of each event Archive keeps by its own
	// rules, and why (Filter reports its own). For a position no longer in
	// the table the record holds only the position.
	Kept func(r Record, reason string)
	// AfterWrite, when set, is called once the file is written, synced and
	// verified, before the segment is recorded and the rows deleted; an
	// error aborts the archive with the table untouched (the file stays, an
	// orphan that a later run overwrites). Tests use it to fail at the
	// worst moment.
	AfterWrite func(Segment) error
}

// Reasons Archive gives Kept.
const (
	KeptGone   = "no longer in the table (archived by another run)"
	KeptNewest = "the newest event of its aggregate (the aggregate's version is read from the table)"
	KeptGap    = "an earlier event of its aggregate stays in the table (archived events are always a prefix of an aggregate's history)"
)

// Archive moves the events at positions out of event_store into a new
// segment file in opts.Dir, in one transaction that holds the stream head
// (so appends, and other archive runs, wait for it). Inside it, it reads
// the events, lets opts.Filter drop some, and then keeps, whatever the
// filter said, every event that is its aggregate's newest (so Version, and
// the next append's expected version, stay right and no version is ever
// reused) and every event that would leave an earlier event of its
// aggregate behind in the table (so the table always holds an unbroken run
// of each aggregate's latest versions). It then writes the rest, as stored
// (personal fields stay sealed), in position order, as JSON Lines of
// Record compressed with zstd, to SegmentName(first, last): through a
// temporary file that is synced and renamed into place. It reads the file
// back and checks the count, the positions and the SHA-256, records the
// segment in event_archive_segments and deletes exactly those rows; the
// transaction commits only when all of that succeeded.
//
// A failure anywhere leaves the table as it was. A failure after the file
// was written, or a crash, leaves the file behind as an orphan: no row
// points at it, no reader reads it, and a later run overwrites it. Archive
// never deletes a segment file: a commit that reports an error may still
// have committed.
//
// It returns the segment, or a zero Segment (Count 0, no file) when no
// event was left to archive. Errors: ErrInvalid for a missing Dir or a
// Filter that returns events it was not given; those of the file system
// and the database.
func (s *Store) Archive(ctx context.Context, positions []int64, opts ArchiveOptions) (Segment, error) {
	if opts.Dir == "" {
		return Segment{}, fmt.Errorf("archive: %w: no archive directory", ErrInvalid)
	}
	positions = slices.Clone(positions)
	slices.Sort(positions)
	positions = slices.Compact(positions)
	if len(positions) == 0 {
		return Segment{}, nil
	}
	kept := opts.Kept
	if kept == nil {
		kept = func(Record, string) {}
	}
	var seg Segment
	err := s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		seg = Segment{}
		var head int64
		if err := tx.QueryRow(ctx, qAdvanceHead, 0).Scan(&head); err != nil {
			return fmt.Errorf("archive: lock the stream head: %w", err)
		}
		recs, err := recordsAt(ctx, tx, positions)
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if len(recs) < len(positions) {
			found := make(map[int64]bool, len(recs))
			for _, r := range recs {
				found[r.Position] = true
			}
			for _, p := range positions {
				if !found[p] {
					kept(Record{Position: p}, KeptGone)
				}
			}
		}
		if opts.Filter != nil && len(recs) > 0 {
			given := recs
			if recs, err = opts.Filter(ctx, tx, slices.Clone(recs)); err != nil {
				return fmt.Errorf("archive: %w", err)
			}
			if err := checkSubset(given, recs); err != nil {
				return err
			}
		}
		if recs, err = keepInvariants(ctx, tx, recs, kept); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if len(recs) == 0 {
			return nil
		}
		name := SegmentName(recs[0].Position, recs[len(recs)-1].Position)
		var n int64
		if err := tx.QueryRow(ctx, qSegmentExists, name).Scan(&n); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("archive: segment %s is already recorded in event_archive_segments; its events cannot still be in the table", name)
		}
		if seg, err = writeSegment(opts.Dir, name, recs, s.now()); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if opts.AfterWrite != nil {
			if err := opts.AfterWrite(seg); err != nil {
				return fmt.Errorf("archive: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, qSegmentInsert, seg.File, seg.First, seg.Last, seg.Count, seg.SHA256, seg.CreatedAt); err != nil {
			return fmt.Errorf("archive: record segment %s: %w", seg.File, err)
		}
		deleted, err := deleteAt(ctx, tx, recs)
		if err != nil {
			return fmt.Errorf("archive: delete the archived rows: %w", err)
		}
		if deleted != seg.Count {
			return fmt.Errorf("archive: deleted %d rows for the %d events of %s; nothing was archived", deleted, seg.Count, seg.File)
		}
		return nil
	})
	if err != nil {
		return Segment{}, err
	}
	return seg, nil
}

// checkSubset checks that got lists some of given, in the same order.
func checkSubset(given, got []Record) error {
	i := 0
	for _, r := range got {
		for i < len(given) && given[i].Position != r.Position {
			i++
		}
		if i == len(given) {
			return fmt.Errorf("archive: %w: the filter returned the event at position %d, which it was not given (or out of order)", ErrInvalid, r.Position)
		}
		i++
	}
	return nil
}

// keepInvariants drops from recs, in position order, every event that is
// its aggregate's newest, and every event after the first one of its
// aggregate that is not the lowest version still in the table (or does not
// follow the one archived before it here), telling kept why.
func keepInvariants(ctx context.Context, tx database.Tx, recs []Record, kept func(Record, string)) ([]Record, error) {
	type span struct{ next, max int64 }
	spans := map[aggregateKey]*span{}
	blocked := map[aggregateKey]bool{}
	out := recs[:0:0]
	for _, r := range recs {
		key := aggregateKey{r.AggregateType, r.AggregateID}
		sp := spans[key]
		if sp == nil {
			sp = &span{}
			if err := tx.QueryRow(ctx, qVersionRange, r.AggregateType, r.AggregateID).Scan(&sp.next, &sp.max); err != nil {
				return nil, fmt.Errorf("versions of %s/%s: %w", r.AggregateType, r.AggregateID, err)
			}
			spans[key] = sp
		}
		switch {
		case blocked[key] || r.AggregateVersion != sp.next:
			blocked[key] = true
			kept(r, KeptGap)
		case r.AggregateVersion >= sp.max:
			blocked[key] = true
			kept(r, KeptNewest)
		default:
			sp.next++
			out = append(out, r)
		}
	}
	return out, nil
}

// recordsAt reads the events at positions (sorted), as stored, in position
// order; positions with no event are left out.
func recordsAt(ctx context.Context, q database.Querier, positions []int64) ([]Record, error) {
	var out []Record
	for chunk := range slices.Chunk(positions, insertChunk) {
		args := make([]any, len(chunk))
		for i, p := range chunk {
			args[i] = p
		}
		rows, err := q.Query(ctx, qAtPositions(`SELECT `+columns+` FROM event_store`, len(chunk))+` ORDER BY position`, args...)
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		recs, err := scanRecords(rows)
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// deleteAt deletes the rows of recs and returns how many it deleted.
func deleteAt(ctx context.Context, tx database.Tx, recs []Record) (int64, error) {
	var total int64
	for chunk := range slices.Chunk(recs, insertChunk) {
		args := make([]any, len(chunk))
		for i, r := range chunk {
			args[i] = r.Position
		}
		n, err := tx.Exec(ctx, qAtPositions(`DELETE FROM event_store`, len(chunk)), args...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// writeSegment writes recs to dir/name through a synced temporary file
// renamed into place, reads it back and verifies it, and returns its
// Segment.
func writeSegment(dir, name string, recs []Record, now time.Time) (seg Segment, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Segment{}, fmt.Errorf("archive directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return Segment{}, fmt.Errorf("archive directory: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return Segment{}, fmt.Errorf("compress: %w", err)
	}
	w := io.MultiWriter(zw, sum)
	var line []byte
	for _, r := range recs {
		if line, err = appendRecordLine(line[:0], r); err != nil {
			zw.Close()
			return Segment{}, err
		}
		if _, err := w.Write(line); err != nil {
			zw.Close()
			return Segment{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
		}
	}
	if err := zw.Close(); err != nil {
		return Segment{}, fmt.Errorf("write %s: compress: %w", tmp.Name(), err)
	}
	if err := bw.Flush(); err != nil {
		return Segment{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return Segment{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return Segment{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return Segment{}, fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	// Make the rename itself durable; not every platform can sync a
	// directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	seg = Segment{File: name, First: recs[0].Position, Last: recs[len(recs)-1].Position, Count: int64(len(recs)),
		SHA256: hex.EncodeToString(sum.Sum(nil)), CreatedAt: now.UTC().Truncate(time.Microsecond)}
	if err := VerifySegment(dir, seg); err != nil {
		return Segment{}, fmt.Errorf("read back %s: %w", path, err)
	}
	return seg, nil
}

// appendRecordLine appends r as one line of JSON, the Record's, to b. Data
// and metadata go in exactly as stored: encoding/json would compact them
// (PostgreSQL's jsonb text has spaces), and a reader of the archive must
// see the bytes ReadAll saw. Stored JSON never holds a line break outside a
// string, but if one did it would be compacted, to keep one event a line.
func appendRecordLine(b []byte, r Record) ([]byte, error) {
	head, err := json.Marshal(struct {
		Position         int64  `json:"position"`
		EventID          string `json:"event_id"`
		EventName        string `json:"event_name"`
		AggregateType    string `json:"aggregate_type"`
		AggregateID      string `json:"aggregate_id"`
		AggregateVersion int64  `json:"aggregate_version"`
		SchemaVersion    int    `json:"schema_version"`
	}{r.Position, r.EventID, r.EventName, r.AggregateType, r.AggregateID, r.AggregateVersion, r.SchemaVersion})
	if err != nil {
		return nil, fmt.Errorf("encode event at position %d: %w", r.Position, err)
	}
	occurred, err := r.OccurredAt.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode event at position %d: occurred_at: %w", r.Position, err)
	}
	created, err := r.CreatedAt.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode event at position %d: created_at: %w", r.Position, err)
	}
	data, err := oneLine(r.Data)
	if err != nil {
		return nil, fmt.Errorf("encode event at position %d: data: %w", r.Position, err)
	}
	meta, err := oneLine(r.Metadata)
	if err != nil {
		return nil, fmt.Errorf("encode event at position %d: metadata: %w", r.Position, err)
	}
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, `,"metadata":`...)
	b = append(b, meta...)
	b = append(b, `,"occurred_at":`...)
	b = append(b, occurred...)
	b = append(b, `,"created_at":`...)
	b = append(b, created...)
	return append(b, "}\n"...), nil
}

// oneLine returns raw as it is when it is valid JSON on one line, else
// compacted.
func oneLine(raw json.RawMessage) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	if !bytes.ContainsAny(raw, "\r\n") {
		return raw, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Segments returns the segments recorded in event_archive_segments that
// hold an event after position after, in the order of their first
// position.
func (s *Store) Segments(ctx context.Context, q database.Querier, after int64) ([]Segment, error) {
	rows, err := q.Query(ctx, qSegmentsAfter, after)
	if err != nil {
		return nil, fmt.Errorf("archive segments: %w", err)
	}
	defer rows.Close()
	var out []Segment
	for rows.Next() {
		var sg Segment
		if err := rows.Scan(&sg.File, &sg.First, &sg.Last, &sg.Count, &sg.SHA256, &sg.CreatedAt); err != nil {
			return nil, fmt.Errorf("archive segments: %w", err)
		}
		sg.CreatedAt = sg.CreatedAt.UTC()
		out = append(out, sg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("archive segments: %w", err)
	}
	return out, nil
}

// VerifySegment reads the file of seg in dir through and checks it
// against seg: every line an event as Archive writes it, positions
// strictly increasing from seg.First to seg.Last, seg.Count events, and
// the SHA-256 of the uncompressed content. It returns ErrArchiveCorrupt
// (wrapped, naming the file and what is wrong) when it does not verify.
func VerifySegment(dir string, seg Segment) error {
	r, err := openSegment(dir, seg)
	if err != nil {
		return err
	}
	defer r.close()
	for {
		ok, err := r.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
}

// segmentReader reads one segment file, event by event, checking it as it
// goes: next returns an error wrapping ErrArchiveCorrupt on the first line
// that does not fit, and at the end unless the count and the SHA-256 are
// the recorded ones.
type segmentReader struct {
	seg  Segment
	path string
	f    *os.File
	zr   *zstd.Decoder
	sc   *bufio.Scanner
	sum  hash.Hash
	n    int64
	prev int64
	cur  Record
	done bool
}

func openSegment(dir string, seg Segment) (*segmentReader, error) {
	path := filepath.Join(dir, seg.File)
	if seg.File != filepath.Base(seg.File) || seg.File == "." || seg.File == ".." {
		return nil, fmt.Errorf("archive segment %q: not a file name: %w", seg.File, ErrArchiveCorrupt)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("archive segment %s is missing (ARCHIVE_DIR %s): %w", seg.File, dir, ErrArchiveCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("archive segment %s: %w", path, err)
	}
	zr, err := zstd.NewReader(bufio.NewReaderSize(f, 1<<16), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("archive segment %s: %w", path, err)
	}
	sum := sha256.New()
	sc := bufio.NewScanner(io.TeeReader(zr, sum))
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	return &segmentReader{seg: seg, path: path, f: f, zr: zr, sc: sc, sum: sum}, nil
}

func (r *segmentReader) close() {
	if r.zr != nil {
		r.zr.Close()
		r.zr = nil
	}
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

func (r *segmentReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("archive segment %s: %s: %w", r.path, fmt.Sprintf(format, args...), ErrArchiveCorrupt)
}

// next reads the next event into r.cur; false at the end, once the whole
// file has checked out.
func (r *segmentReader) next() (bool, error) {
	if r.done {
		return false, nil
	}
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			return false, r.corrupt("after line %d: %v", r.n, err)
		}
		r.done = true
		got := hex.EncodeToString(r.sum.Sum(nil))
		switch {
		case r.n != r.seg.Count:
			return false, r.corrupt("%d events, the table records %d", r.n, r.seg.Count)
		case r.prev != r.seg.Last:
			return false, r.corrupt("the last event is at position %d, the table records %d", r.prev, r.seg.Last)
		case !strings.EqualFold(got, r.seg.SHA256):
			return false, r.corrupt("SHA-256 %s, the table records %s", got, r.seg.SHA256)
		}
		return false, nil
	}
	line := r.sc.Bytes()
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return false, r.corrupt("line %d: %v", r.n+1, err)
	}
	if dec.More() {
		return false, r.corrupt("line %d: more than one JSON value", r.n+1)
	}
	// The SHA-256 vouches for the content; the checks here are what the
	// merge and the envelope rely on.
	switch {
	case rec.Position < 1:
		return false, r.corrupt("line %d: position %d", r.n+1, rec.Position)
	case rec.EventID == "" || rec.EventName == "" || rec.AggregateType == "" || rec.AggregateID == "" ||
		rec.AggregateVersion < 1 || rec.SchemaVersion < 1 || rec.OccurredAt.IsZero():
		return false, r.corrupt("line %d: not a whole event", r.n+1)
	case len(rec.Data) == 0 || !json.Valid(rec.Data) || !isObject(rec.Metadata):
		return false, r.corrupt("line %d: data or metadata is not JSON (metadata an object)", r.n+1)
	case r.n == 0 && rec.Position != r.seg.First:
		return false, r.corrupt("the first event is at position %d, the table records %d", rec.Position, r.seg.First)
	case r.n > 0 && rec.Position <= r.prev:
		return false, r.corrupt("line %d: position %d follows %d", r.n+1, rec.Position, r.prev)
	case rec.Position > r.seg.Last:
		return false, r.corrupt("line %d: position %d is past the recorded last position %d", r.n+1, rec.Position, r.seg.Last)
	}
	rec.OccurredAt = rec.OccurredAt.UTC()
	rec.CreatedAt = rec.CreatedAt.UTC()
	r.cur = rec
	r.prev = rec.Position
	r.n++
	return true, nil
}

// envelope returns r as ReadAll returns an event: data as stored.
func (r Record) envelope() (event.Envelope, error) {
	env := event.Envelope{Position: r.Position, EventID: r.EventID, EventName: r.EventName, AggregateType: r.AggregateType,
		AggregateID: r.AggregateID, AggregateVersion: r.AggregateVersion, SchemaVersion: r.SchemaVersion,
		Data: r.Data, OccurredAt: r.OccurredAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
	if err := json.Unmarshal(r.Metadata, &env.Metadata); err != nil {
		return env, fmt.Errorf("archived event %s at position %d: metadata: %w", r.EventID, r.Position, err)
	}
	return env, nil
}

// archiveIter yields the archived events after a position in position
// order, merging the segments (whose ranges may overlap) and opening each
// only when the merge reaches its first position.
type archiveIter struct {
	dir     string
	after   int64
	pending []Segment // not yet opened, by first position
	open    segmentHeap
	last    int64 // the position last yielded
}

// newArchiveIter verifies every segment in segs (those holding an event
// after `after`, by first position) before anything is read from any.
func newArchiveIter(dir string, segs []Segment, after int64) (*archiveIter, error) {
	for _, sg := range segs {
		if err := VerifySegment(dir, sg); err != nil {
			return nil, err
		}
	}
	return &archiveIter{dir: dir, after: after, pending: segs, last: after}, nil
}

// next returns the next archived event; false when there is none.
func (it *archiveIter) next() (Record, bool, error) {
	for len(it.pending) > 0 && (it.open.Len() == 0 || it.pending[0].First <= it.open[0].cur.Position) {
		sg := it.pending[0]
		it.pending = it.pending[1:]
		r, err := openSegment(it.dir, sg)
		if err != nil {
			return Record{}, false, err
		}
		for {
			ok, err := r.next()
			if err != nil {
				r.close()
				return Record{}, false, err
			}
			if !ok {
				r.close()
				break
			}
			if r.cur.Position > it.after {
				heap.Push(&it.open, r)
				break
			}
		}
	}
	if it.open.Len() == 0 {
		return Record{}, false, nil
	}
	r := it.open[0]
	rec := r.cur
	if rec.Position <= it.last {
		return Record{}, false, r.corrupt("position %d is also in another segment", rec.Position)
	}
	ok, err := r.next()
	if err != nil {
		return Record{}, false, err
	}
	if ok {
		heap.Fix(&it.open, 0)
	} else {
		heap.Pop(&it.open)
		r.close()
	}
	it.last = rec.Position
	return rec, true, nil
}

func (it *archiveIter) close() {
	for _, r := range it.open {
		r.close()
	}
	it.open = nil
	it.pending = nil
}

// segmentHeap orders open segments by the position of their current event.
type segmentHeap []*segmentReader

func (h segmentHeap) Len() int           { return len(h) }
func (h segmentHeap) Less(i, j int) bool { return h[i].cur.Position < h[j].cur.Position }
func (h segmentHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *segmentHeap) Push(x any)        { *h = append(*h, x.(*segmentReader)) }
func (h *segmentHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// ReadArchived calls fn with every archived event with a position after
// `after`, in position order, as stored (personal fields sealed; Open
// opens them), stopping at fn's first error, which it returns. dir is the
// archive directory (ARCHIVE_DIR); q reads event_archive_segments. Before
// it reads any event it verifies every segment file it will read against
// its row (count, positions, SHA-256), and it checks each again while
// reading: ErrArchiveCorrupt (wrapped) names a file that does not verify.
func (s *Store) ReadArchived(ctx context.Context, q database.Querier, dir string, after int64, fn func(event.Envelope) error) error {
	if after < 0 {
		return fmt.Errorf("read archive: position %d is negative: %w", after, ErrInvalid)
	}
	segs, err := s.Segments(ctx, q, after)
	if err != nil {
		return err
	}
	it, err := newArchiveIter(dir, segs, after)
	if err != nil {
		return err
	}
	defer it.close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, ok, err := it.next()
		if err != nil || !ok {
			return err
		}
		env, err := rec.envelope()
		if err != nil {
			return err
		}
		if err := fn(env); err != nil {
			return err
		}
	}
}

// LoadWithArchive returns every event of one aggregate, archived or still
// in the table, in version order, opened like Load. It reads the whole
// archive (verifying every segment), so it is slow: it is for an aggregate
// whose first events are archived and whose snapshot is gone (a snapshot
// of another schema version, an erased customer), which Load and
// LoadAfter(0) can no longer rebuild. It returns ErrNotFound when the
// aggregate has no event, and an error when its versions do not run
// unbroken from 1.
func (s *Store) LoadWithArchive(ctx context.Context, q database.Querier, dir, aggregateType, aggregateID string) ([]event.Envelope, error) {
	var envs []event.Envelope
	err := s.ReadArchived(ctx, q, dir, 0, func(env event.Envelope) error {
		if env.AggregateType == aggregateType && env.AggregateID == aggregateID {
			envs = append(envs, env)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s/%s with the archive: %w", aggregateType, aggregateID, err)
	}
	if err := s.open(ctx, q, envs); err != nil {
		return nil, fmt.Errorf("load %s/%s with the archive: %w", aggregateType, aggregateID, err)
	}
	table, err := s.LoadAfter(ctx, q, aggregateType, aggregateID, 0)
	if err != nil && (len(envs) > 0 || !errors.Is(err, ErrNotFound)) {
		return nil, err
	}
	envs = append(envs, table...)
	if len(envs) == 0 {
		return nil, fmt.Errorf("load %s/%s: %w", aggregateType, aggregateID, ErrNotFound)
	}
	for i, env := range envs {
		if env.AggregateVersion != int64(i)+1 {
			return nil, fmt.Errorf("load %s/%s with the archive: version %d where %d belongs; the archive or the table is missing events",
				aggregateType, aggregateID, env.AggregateVersion, i+1)
		}
	}
	return envs, nil
}

// ReadAllWithArchive calls fn with every event after `after`, archived or
// still in the table, in position order, as stored: the stream ReadAll
// would return had nothing been archived, same envelopes, same order. It
// stops at fn's first error, which it returns. It is how to read the
// whole history, to rebuild a projection say; code that reads the stream
// batch by batch with Store.ReadAll switches to the whole history by
// calling an ArchiveReader's ReadAll instead (one line).
func (s *Store) ReadAllWithArchive(ctx context.Context, q database.Querier, dir string, after int64, fn func(event.Envelope) error) error {
	r := s.NewArchiveReader(dir)
	defer r.Close()
	for {
		envs, err := r.ReadAll(ctx, q, after, 0, nil)
		if err != nil {
			return err
		}
		if len(envs) == 0 {
			return nil
		}
		for _, env := range envs {
			if err := fn(env); err != nil {
				return err
			}
		}
		after = envs[len(envs)-1].Position
	}
}

// ArchiveReader reads the global stream across the archive and the table,
// batch by batch, with ReadAll's signature: code that reads the stream
// with Store.ReadAll switches to the whole history by calling an
// ArchiveReader's ReadAll instead. It keeps its place in the segment
// files between calls that continue where the last one stopped, and starts
// again (verifying the segments first) when a call asks for another
// position or an archive run recorded a segment meanwhile. Not safe for
// concurrent use; Close it when done.
type ArchiveReader struct {
	s     *Store
	dir   string
	it    *archiveIter
	state [2]int64 // event_archive_segments' count and event total when it was opened
	pos   int64    // the position the last call ended at
	names string   // the names filter of the last call
	peek  *Record
}

// NewArchiveReader returns a reader of the stream, archive included, with
// the archive in dir (ARCHIVE_DIR).
func (s *Store) NewArchiveReader(dir string) *ArchiveReader {
	return &ArchiveReader{s: s, dir: dir}
}

// Close releases the segment files the reader holds open.
func (r *ArchiveReader) Close() error {
	if r.it != nil {
		r.it.close()
		r.it = nil
	}
	r.peek = nil
	return nil
}

func (s *Store) segmentsState(ctx context.Context, q database.Querier) ([2]int64, error) {
	var st [2]int64
	if err := q.QueryRow(ctx, qSegmentsState).Scan(&st[0], &st[1]); err != nil {
		return st, fmt.Errorf("archive segments: %w", err)
	}
	return st, nil
}

// ReadAll returns up to limit events with a position after the given one,
// archived or in the table, in position order, optionally only those whose
// name is in names, as stored: what Store.ReadAll returns, with the
// archived events in their places. limit is capped by the store's batch
// size; 0 means the batch size. Errors: those of Store.ReadAll and
// ReadArchived (ErrArchiveCorrupt for a segment that does not verify).
func (r *ArchiveReader) ReadAll(ctx context.Context, q database.Querier, after int64, limit int, names []string) ([]event.Envelope, error) {
	if after < 0 {
		return nil, fmt.Errorf("read stream: position %d is negative: %w", after, ErrInvalid)
	}
	if limit <= 0 || limit > r.s.maxBatch {
		limit = r.s.maxBatch
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	namesKey := strings.Join(sorted, "\x00")
	var table []event.Envelope
	for attempt := 0; ; attempt++ {
		st, err := r.s.segmentsState(ctx, q)
		if err != nil {
			return nil, err
		}
		if r.it == nil || st != r.state || after != r.pos || namesKey != r.names {
			r.Close()
			segs, err := r.s.Segments(ctx, q, after)
			if err != nil {
				return nil, err
			}
			if r.it, err = newArchiveIter(r.dir, segs, after); err != nil {
				return nil, err
			}
			r.state, r.pos, r.names = st, after, namesKey
		}
		if table, err = r.s.ReadAll(ctx, q, after, limit, names); err != nil {
			return nil, err
		}
		// An archive run that committed between reading the segments and
		// the table would have moved events from one to the other.
		again, err := r.s.segmentsState(ctx, q)
		if err != nil {
			return nil, err
		}
		if again == st {
			break
		}
		r.Close()
		if attempt == 3 {
			return nil, errors.New("read stream: the archive kept changing while it was read (insure events archive is running); try again")
		}
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := make([]event.Envelope, 0, min(limit, len(table)+64))
	ti := 0
	for len(out) < limit {
		rec, ok, err := r.peekNext(ctx, want)
		if err != nil {
			r.Close()
			return nil, err
		}
		if ti < len(table) && (!ok || table[ti].Position < rec.Position) {
			out = append(out, table[ti])
			ti++
			continue
		}
		if !ok {
			break
		}
		if ti < len(table) && table[ti].Position == rec.Position {
			r.Close()
			return nil, fmt.Errorf("read stream: position %d is both archived and in the table: %w", rec.Position, ErrArchiveCorrupt)
		}
		env, err := rec.envelope()
		if err != nil {
			r.Close()
			return nil, err
		}
		r.peek = nil
		out = append(out, env)
	}
	if len(out) > 0 {
		r.pos = out[len(out)-1].Position
	}
	return out, nil
}

// peekNext returns the next archived event whose name is wanted (any when
// want is empty), without consuming it.
func (r *ArchiveReader) peekNext(ctx context.Context, want map[string]bool) (Record, bool, error) {
	for r.peek == nil {
		if err := ctx.Err(); err != nil {
			return Record{}, false, err
		}
		rec, ok, err := r.it.next()
		if err != nil || !ok {
			return Record{}, false, err
		}
		if len(want) == 0 || want[rec.EventName] {
			r.peek = &rec
		}
	}
	return *r.peek, true, nil
}
