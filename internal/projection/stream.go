package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"insure/internal/database"
	"insure/internal/event"
)

// The projections read the global stream themselves, narrower than
// eventstore.Store.ReadAll: only the columns a projection sees (no
// metadata, which would cost a second JSON decode per event), only the
// events the projection reads (filtered in SQL), and up to a known head.
const sqlStreamCols = `position, event_id, event_name, aggregate_type, aggregate_id, aggregate_version, schema_version, event_data, occurred_at`

// streamQuery returns the SQL that reads events after $1 up to $2 in
// position order, at most $3, whose names are among the n placeholders
// from $4 (every event when n is 0). n is a count, never a value.
func streamQuery(n int) string {
	if n == 0 {
		return `SELECT ` + sqlStreamCols + ` FROM event_store WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`
	}
	ph := make([]string, n)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+4)
	}
	return `SELECT ` + sqlStreamCols + ` FROM event_store WHERE position > $1 AND position <= $2 AND event_name IN (` +
		strings.Join(ph, ", ") + `) ORDER BY position LIMIT $3`
}

// read returns up to limit of the events p reads after position after, up
// to upto, as stored (personal fields sealed).
func (s *Subscriptions) read(ctx context.Context, q database.Querier, p Projection, after, upto int64, limit int) ([]event.Envelope, error) {
	var names []string
	if p.Events() != nil {
		names = s.stored[s.byName[p.Name()]]
	}
	args := make([]any, 0, 3+len(names))
	args = append(args, after, upto, limit)
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := q.Query(ctx, streamQuery(len(names)), args...)
	if err != nil {
		return nil, fmt.Errorf("read the stream after %d: %w", after, err)
	}
	defer rows.Close()
	out := make([]event.Envelope, 0, min(limit, 4096))
	for rows.Next() {
		var (
			env  event.Envelope
			data []byte
		)
		if err := rows.Scan(&env.Position, &env.EventID, &env.EventName, &env.AggregateType, &env.AggregateID, &env.AggregateVersion,
			&env.SchemaVersion, &data, &env.OccurredAt); err != nil {
			return nil, fmt.Errorf("read the stream after %d: %w", after, err)
		}
		env.Data = json.RawMessage(data)
		env.OccurredAt = env.OccurredAt.UTC()
		out = append(out, env)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the stream after %d: %w", after, err)
	}
	return out, nil
}

// decodeWorkers is how many goroutines decode a large batch read outside a
// transaction: opening personal fields waits on data-key reads (a round
// trip each, on PostgreSQL, until the key is cached), and decoding JSON
// is CPU work the other core can share.
const decodeWorkers = 4

// decode opens the personal fields of envs in place and decodes their
// payloads. q reads the data keys; when it is the database (not a
// transaction), large batches are decoded by several goroutines.
func (s *Subscriptions) decode(ctx context.Context, q database.Querier, envs []event.Envelope) ([]event.Payload, error) {
	ps := make([]event.Payload, len(envs))
	if _, isDB := q.(database.DB); !isDB || len(envs) < 4*decodeWorkers {
		return ps, s.decodeInto(ctx, q, envs, ps)
	}
	chunk := (len(envs) + decodeWorkers - 1) / decodeWorkers
	errs := make(chan error, decodeWorkers)
	for lo := 0; lo < len(envs); lo += chunk {
		hi := min(lo+chunk, len(envs))
		go func() { errs <- s.decodeInto(ctx, q, envs[lo:hi], ps[lo:hi]) }()
	}
	var first error
	for lo := 0; lo < len(envs); lo += chunk {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return ps, first
}

// decodeInto opens and decodes envs into ps.
func (s *Subscriptions) decodeInto(ctx context.Context, q database.Querier, envs []event.Envelope, ps []event.Payload) error {
	if s.opener != nil {
		if err := s.opener.Open(ctx, q, envs); err != nil {
			return err
		}
	}
	for i, env := range envs {
		p, err := s.reg.Decode(env)
		if err != nil {
			return fmt.Errorf("event %d: %w", env.Position, err)
		}
		ps[i] = p
	}
	return nil
}

// apply applies a batch of events to p's tables in to, inside tx.
func apply(ctx context.Context, tx database.Tx, p Projection, to Target, envs []event.Envelope, ps []event.Payload) error {
	bt, _ := tx.(*batchTx)
	for i, env := range envs {
		if bt != nil {
			bt.label = "event " + strconv.FormatInt(env.Position, 10) + " (" + env.EventName + ")"
		}
		if err := p.Apply(ctx, tx, to, env, ps[i]); err != nil {
			return fmt.Errorf("projection %s: event %d (%s): %w", p.Name(), env.Position, env.EventName, err)
		}
	}
	return nil
}

// batch is one batch of a projection's events: those after from up to to.
// envs and ps are nil when the projection applies the range in SQL.
// archived is the last archived position when the batch was read.
type batch struct {
	from, to, head int64
	archived       int64
	envs           []event.Envelope
	ps             []event.Payload
}

// source is where one catch-up reads the stream: the event_store table,
// and, while its checkpoint is below the last archived position, the
// archive segments merged with the table. Used by one goroutine at a time.
type source struct {
	s *Subscriptions
	// archiveTable says whether event_archive_segments exists (it does
	// once the migrations have run).
	archiveTable bool
	ar           ArchiveStream
}

// newSource returns the source of a catch-up.
func (s *Subscriptions) newSource(ctx context.Context) (*source, error) {
	ok, err := tableExists(ctx, s.db, s.db.Dialect(), "event_archive_segments")
	if err != nil {
		return nil, err
	}
	return &source{s: s, archiveTable: ok}, nil
}

// archived returns the last archived position as q sees it (0 when
// nothing was archived).
func (src *source) archived(ctx context.Context, q database.Querier) (int64, error) {
	if !src.archiveTable {
		return 0, nil
	}
	var last int64
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(last_position), 0) FROM event_archive_segments`).Scan(&last); err != nil {
		return 0, fmt.Errorf("archived positions: %w", err)
	}
	return last, nil
}

// reader returns the archive reader, opening it on first use. It returns
// ErrArchived when there is no archive reader or its directory cannot be
// read.
func (src *source) reader(p Projection, after, archived int64) (ArchiveStream, error) {
	if src.ar != nil {
		return src.ar, nil
	}
	s := src.s
	if s.newArchive == nil || s.archiveDir == "" {
		return nil, fmt.Errorf("projection %s at position %d: %w (up to position %d; no archive directory is configured)",
			p.Name(), after, ErrArchived, archived)
	}
	f, err := os.Open(s.archiveDir)
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil && !fi.IsDir() {
			err = errors.New("not a directory")
		}
		_ = f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("projection %s at position %d: %w (up to position %d; archive directory %q: %v)",
			p.Name(), after, ErrArchived, archived, s.archiveDir, err)
	}
	src.ar = s.newArchive(s.archiveDir)
	return src.ar, nil
}

// close releases the archive reader, if one was opened.
func (src *source) close() {
	if src.ar != nil {
		_ = src.ar.Close()
		src.ar = nil
	}
}

// names returns the stored names of p's events (nil for every event).
func (s *Subscriptions) names(p Projection) []string {
	if p.Events() == nil {
		return nil
	}
	return s.stored[s.byName[p.Name()]]
}

// readArchived returns up to limit of the events p reads after position
// after, archived or in the table, as q sees them, keeping only those up
// to upto, in the stream reader's view (no metadata, no created_at). full
// says whether the events returned are all of p's up to upto.
func (src *source) readArchived(ctx context.Context, q database.Querier, p Projection, after, upto, archived int64, limit int) (envs []event.Envelope, full bool, err error) {
	ar, err := src.reader(p, after, archived)
	if err != nil {
		return nil, false, err
	}
	got, err := ar.ReadAll(ctx, q, after, limit, src.s.names(p))
	if err != nil {
		src.close()
		return nil, false, fmt.Errorf("projection %s: read the archive after %d: %w", p.Name(), after, err)
	}
	envs = make([]event.Envelope, 0, len(got))
	for _, env := range got {
		if env.Position > upto {
			return envs, true, nil
		}
		envs = append(envs, streamView(env))
	}
	return envs, len(got) == 0, nil
}

// fetch reads the batch of p's events after from, as the reader pool sees
// the stream: up to limit events, decoded (or, for a projection that
// applies ranges in SQL, the next limit positions). to is the head when
// the batch holds every event up to it, else the last event's position. A
// batch with from == head means caught up. While from is below the last
// archived position, the batch is read from the archive merged with the
// table (and decoded, whatever the projection).
func (s *Subscriptions) fetch(ctx context.Context, src *source, p Projection, from int64, limit int) (batch, error) {
	// The head first: every event up to it is committed, so the events
	// read next (in a later snapshot) include all of them.
	head, err := s.head(ctx, s.db)
	if err != nil {
		return batch{}, err
	}
	b := batch{from: from, to: from, head: head}
	if from >= head {
		return b, nil
	}
	if b.archived, err = src.archived(ctx, s.db); err != nil {
		return b, err
	}
	if from < b.archived {
		return s.fetchArchived(ctx, src, p, b, limit)
	}
	if s.setSQL[s.byName[p.Name()]] {
		b.to = min(head, from+int64(limit)*setBatchFactor)
		return b, nil
	}
	if b.envs, err = s.read(ctx, s.db, p, from, head, limit); err != nil {
		return b, err
	}
	// An archive run that committed after the read may have moved events
	// after from out of the table before it: read them from the archive.
	if src.archiveTable {
		if b.archived, err = src.archived(ctx, s.db); err != nil {
			return b, err
		}
		if from < b.archived {
			return s.fetchArchived(ctx, src, p, b, limit)
		}
	}
	if b.ps, err = s.decode(ctx, s.db, b.envs); err != nil {
		return b, fmt.Errorf("projection %s: %w", p.Name(), err)
	}
	b.to = head
	if len(b.envs) == limit {
		b.to = b.envs[len(b.envs)-1].Position
	}
	return b, nil
}

// fetchArchived reads b from the archive merged with the table.
func (s *Subscriptions) fetchArchived(ctx context.Context, src *source, p Projection, b batch, limit int) (batch, error) {
	envs, full, err := src.readArchived(ctx, s.db, p, b.from, b.head, b.archived, limit)
	if err != nil {
		return b, err
	}
	b.envs = envs
	if b.ps, err = s.decode(ctx, s.db, b.envs); err != nil {
		return b, fmt.Errorf("projection %s: %w", p.Name(), err)
	}
	b.to = b.head
	if !full {
		b.to = envs[len(envs)-1].Position
	}
	return b, nil
}

// readRange returns every event of p after position after up to upto, as
// q sees the stream, archived ones included.
func (s *Subscriptions) readRange(ctx context.Context, src *source, q database.Querier, p Projection, after, upto int64) ([]event.Envelope, error) {
	archived, err := src.archived(ctx, q)
	if err != nil {
		return nil, err
	}
	if after >= archived {
		return s.read(ctx, q, p, after, upto, math.MaxInt32)
	}
	out := []event.Envelope{}
	for {
		envs, full, err := src.readArchived(ctx, q, p, after, upto, archived, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, envs...)
		if full {
			return out, nil
		}
		after = envs[len(envs)-1].Position
	}
}

// setBatchFactor is how many more positions a batch of a projection that
// applies ranges in SQL covers: there is no Go work per event to pace.
const setBatchFactor = 4

// fetched is the outcome of a fetch run ahead.
type fetched struct {
	b   batch
	err error
}

// prefetch runs fetch in the background, so that the next batch is read
// and decoded while the current one is applied.
func (s *Subscriptions) prefetch(ctx context.Context, src *source, p Projection, from int64, limit int) <-chan fetched {
	ch := make(chan fetched, 1)
	go func() {
		b, err := s.fetch(ctx, src, p, from, limit)
		ch <- fetched{b, err}
	}()
	return ch
}

// commit applies a fetched batch and moves the checkpoint cp from b.from
// to b.to in one transaction. It returns errMoved, having applied
// nothing, when the checkpoint is no longer at b.from, or when b is a
// range applied in SQL and an archive run has since moved events after
// b.from out of the table.
func (s *Subscriptions) commit(ctx context.Context, src *source, p Projection, to Target, cp string, b batch) (int64, error) {
	var applied int64
	err := s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		// The compare-and-set first: it takes the checkpoint's row lock
		// (on PostgreSQL, after waiting for any other holder and
		// re-checking), so nobody else applies these events meanwhile.
		n, err := tx.Exec(ctx, sqlMoveCheckpoint, b.to, s.now(), cp, b.from)
		if err != nil {
			return fmt.Errorf("move checkpoint %s to %d: %w", cp, b.to, err)
		}
		if n == 0 {
			return errMoved
		}
		if b.envs == nil && src.archiveTable {
			// A range applied in SQL reads the table: if an archive run
			// has moved some of it out since the fetch, read it again
			// (through the archive).
			archived, err := src.archived(ctx, tx)
			if err != nil {
				return err
			}
			if b.from < archived {
				return errMoved
			}
		}
		applied, err = s.applyBatch(ctx, tx, p, to, b)
		return err
	})
	return applied, err
}

// applyBatch applies b inside tx and returns how many events it applied.
func (s *Subscriptions) applyBatch(ctx context.Context, tx database.Tx, p Projection, to Target, b batch) (int64, error) {
	if b.envs == nil && s.setSQL[s.byName[p.Name()]] {
		q, _, _ := p.(SetApplier).SetSQL(to)
		n, err := tx.Exec(ctx, q, b.from, b.to)
		if err != nil {
			return 0, fmt.Errorf("projection %s: events %d..%d: %w", p.Name(), b.from+1, b.to, err)
		}
		return n, nil
	}
	bt := newBatchTx(tx)
	defer bt.release()
	if err := apply(ctx, bt, p, to, b.envs, b.ps); err != nil {
		return 0, err
	}
	if err := bt.flush(ctx); err != nil {
		return 0, fmt.Errorf("projection %s: %w", p.Name(), err)
	}
	return int64(len(b.envs)), nil
}

// CatchUp applies the events after the checkpoint of the projection called
// name until it reaches the head as it was when CatchUp began, batch by
// batch, each in one transaction with its checkpoint's move. It returns
// how many events it applied. While the checkpoint is below the last
// archived position it reads the archive merged with the table. Errors:
// ErrUnknownProjection, ErrArchived (the archive directory cannot be
// read), those of the archive reader (eventstore.ErrArchiveCorrupt), the
// first failure to decode or apply an event (the checkpoint stays before
// it), those of the database, and ctx's.
func (s *Subscriptions) CatchUp(ctx context.Context, name string) (int64, error) {
	p, err := s.lookup(name)
	if err != nil {
		return 0, err
	}
	return s.catchUp(ctx, p, Live, s.batch, never, nil)
}

// never is the stop function of a catch-up that runs to the head.
func never(batch) bool { return false }

// catchUp runs batches of p in to from its checkpoint until the checkpoint
// reaches the head read by the first batch, or until stop says so for the
// batch about to be applied. each, when set, is told after every batch
// with the number of events it applied. It reads each next batch while
// applying the current one.
func (s *Subscriptions) catchUp(ctx context.Context, p Projection, to Target, limit int, stop func(b batch) bool, each func(b batch, n int64)) (int64, error) {
	cp := checkpointName(p, to)
	var applied int64
	pos, ok, err := s.checkpoint(ctx, s.db, cp)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("projection %s has no checkpoint %q: run Ensure (the runner and a rebuild do)", p.Name(), cp)
	}
	src, err := s.newSource(ctx)
	if err != nil {
		return 0, err
	}
	next := s.prefetch(ctx, src, p, pos, limit)
	defer func() {
		if next != nil {
			<-next // let the read in flight end before returning
		}
		src.close()
	}()
	target := int64(-1)
	for {
		f := <-next
		next = nil
		if f.err != nil {
			return applied, f.err
		}
		b := f.b
		if target < 0 {
			target = b.head
		}
		if b.from >= target || b.from >= b.head || stop(b) {
			return applied, nil
		}
		if err := ctx.Err(); err != nil {
			return applied, err
		}
		next = s.prefetch(ctx, src, p, b.to, limit)
		n, err := s.commit(ctx, src, p, to, cp, b)
		if errors.Is(err, errMoved) {
			// Someone else moved the checkpoint: start again from it.
			<-next
			if pos, _, err = s.checkpoint(ctx, s.db, cp); err != nil {
				next = nil
				return applied, err
			}
			next = s.prefetch(ctx, src, p, pos, limit)
			continue
		}
		if err != nil {
			return applied, err
		}
		applied += n
		if each != nil {
			each(b, n)
		}
	}
}

// recordError keeps the runner's last failure on the checkpoint, for
// `insure projections list`.
func (s *Subscriptions) recordError(ctx context.Context, name string, cause error) {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.db.Exec(ctx, sqlCheckpointError, name, msg); err != nil {
		s.log.Warn("could not record a projection's error", "projection", name, "error", err)
	}
}

// ErrArchived means events the projection has not applied yet were moved
// out of the event_store table into archive segments (insure events
// archive), and the archive cannot be read: no archive directory is
// configured, or it is missing or unreadable. Catch-up and rebuilds read
// archived events from ARCHIVE_DIR; point it at the directory the archive
// runs wrote to.
var ErrArchived = errors.New("events it still needs were archived out of the event store table and the archive directory cannot be read: set ARCHIVE_DIR to the directory insure events archive wrote its segments to")
