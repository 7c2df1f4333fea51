package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"insure/internal/database"
	"insure/internal/event"
)

// Errors returned by Subscriptions.
var (
	// ErrUnknownProjection means no projection has the name given.
	ErrUnknownProjection = errors.New("unknown projection: see `insure projections list` for the names")
	// errMoved means a checkpoint was not where a batch expected it: some
	// other runner, rebuild or inline append moved it first. The batch is
	// dropped, unapplied, and the caller reads again.
	errMoved = errors.New("checkpoint moved")
)

// Opener opens the personal fields of events read as stored, in place
// (*eventstore.Store does, with its codec).
type Opener interface {
	Open(ctx context.Context, q database.Querier, envs []event.Envelope) error
}

// Config configures Subscriptions.
type Config struct {
	// Registry decodes stored events (required).
	Registry *event.Registry
	// Opener opens sealed personal fields before decoding; nil when the
	// store does not seal them.
	Opener Opener
	// BatchSize is how many events one catch-up transaction applies
	// (default 1000). A rebuild takes its own (RebuildOptions.BatchSize).
	BatchSize int
	// ArchiveDir is where `insure events archive` keeps its segments
	// (ARCHIVE_DIR). Catch-up and rebuilds read the events archived after
	// a checkpoint from there, through NewArchiveReader.
	ArchiveDir string
	// NewArchiveReader returns a reader of the stream with the archived
	// events in dir in their places (*eventstore.Store's
	// NewArchiveReader). When nil, or when ArchiveDir cannot be read,
	// catch-up and rebuilds that need archived events fail with
	// ErrArchived.
	NewArchiveReader func(dir string) ArchiveStream
	Logger           *slog.Logger
	Now              func() time.Time
}

// ArchiveStream reads the global stream across the archive segments and
// the event_store table, batch by batch, in position order, as stored
// (*eventstore.ArchiveReader does). Not used concurrently.
type ArchiveStream interface {
	ReadAll(ctx context.Context, q database.Querier, after int64, limit int, names []string) ([]event.Envelope, error)
	Close() error
}

// Subscriptions feed named projections from the global event stream. Each
// projection has a checkpoint, the position of the last event it applied,
// which moves in the same transaction as the projection's writes: an
// event is applied once, never twice, never skipped, whatever crashes.
//
// Events reach a projection in one of two ways:
//
//   - Inline (ApplyInline): the recorder applies a command's events in the
//     command's own transaction, right after appending them, to every
//     projection that is caught up; so a read after a write sees it. A
//     projection is caught up when its checkpoint is the position just
//     before the command's first event: one UPDATE moves the checkpoints
//     of all of them at once, compare-and-set, and says which moved.
//   - Catch-up (Runner, CatchUp): a projection that is behind (new, or
//     stopped by an error) is skipped inline and reads the stream from
//     its checkpoint in batches, each batch in one transaction with the
//     checkpoint's move, until it reaches the head; from then on the
//     inline path keeps it there.
//
// Why no event is skipped or applied twice, with concurrent writers on
// PostgreSQL too: appends take the one-row stream head lock
// (event_stream_head) and hold it until they commit, so positions are
// handed out and become visible in commit order, and an appender holds the
// lock while it moves the checkpoints. When a command's transaction holds
// the head lock, every event before its first is committed and none after
// exists; if a projection's checkpoint is the position just before, it
// has applied exactly the events before this command's. Catch-up batches
// move a checkpoint with the same compare-and-set (UPDATE … WHERE position
// = the one the batch started from), which on PostgreSQL waits for a
// concurrent holder of the row and then re-checks; a batch only ever
// reads committed events, all of which precede any uncommitted append. So
// for every event exactly one of the inline path and one catch-up batch
// finds the checkpoint just before it.
type Subscriptions struct {
	db     database.DB
	reg    *event.Registry
	opener Opener
	projs  []Projection
	byName map[string]int
	// byEvent lists, per event name, the indexes of the projections that
	// read it; all lists those that read every event.
	byEvent map[string][]int
	all     []int
	// stored lists, per projection, the names its events may be stored
	// under: its Events and their legacy names (event.Definition.Legacy),
	// which the registry reads as the current event.
	stored [][]string
	// setSQL says, per projection, whether it applies ranges in SQL (see
	// SetApplier).
	setSQL []bool
	sqlCAS string
	batch  int
	// archiveDir and newArchive read archived events (Config).
	archiveDir string
	newArchive func(dir string) ArchiveStream
	log        *slog.Logger
	now        func() time.Time
}

// New returns subscriptions on db feeding projs. It fails on a projection
// without a name, with a name that holds '#' (kept for rebuilds), or with
// a name already taken.
func New(db database.DB, cfg Config, projs ...Projection) (*Subscriptions, error) {
	if cfg.Registry == nil {
		return nil, errors.New("projection subscriptions: no event registry")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Subscriptions{db: db, reg: cfg.Registry, opener: cfg.Opener, byName: map[string]int{}, byEvent: map[string][]int{},
		batch: cfg.BatchSize, archiveDir: cfg.ArchiveDir, newArchive: cfg.NewArchiveReader, log: cfg.Logger, now: func() time.Time { return cfg.Now().UTC() }}
	for i, p := range projs {
		name := p.Name()
		switch _, dup := s.byName[name]; {
		case name == "" || strings.Contains(name, "#"):
			return nil, fmt.Errorf("projection %q: a name is required and may not hold '#'", name)
		case dup:
			return nil, fmt.Errorf("projection %q: two projections have this name", name)
		}
		s.byName[name] = i
		s.projs = append(s.projs, p)
		if p.Events() == nil {
			s.all = append(s.all, i)
		}
		var stored []string
		for _, e := range p.Events() {
			s.byEvent[e] = append(s.byEvent[e], i)
			stored = append(stored, e)
			if d, ok := cfg.Registry.Lookup(e); ok && d.Name == e {
				stored = append(stored, slices.Sorted(maps.Keys(d.Legacy))...)
			}
		}
		s.stored = append(s.stored, stored)
		s.setSQL = append(s.setSQL, setApplies(cfg.Registry, p))
	}
	// $1 new position, $2 time, $3 the position just before the first
	// event, then one placeholder per projection name (never a value).
	ph := make([]string, len(projs))
	for i := range projs {
		ph[i] = "$" + strconv.Itoa(i+4)
	}
	s.sqlCAS = `UPDATE projection_checkpoints SET position = $1, updated_at = $2
		WHERE position = $3 AND name IN (` + strings.Join(ph, ", ") + `) RETURNING name`
	return s, nil
}

// setApplies reports whether p applies ranges of stored events in SQL: it
// is a SetApplier reading exactly one event, whose every stored instance
// is at the schema version its SQL reads, in clear.
func setApplies(reg *event.Registry, p Projection) bool {
	sa, ok := p.(SetApplier)
	if !ok || len(p.Events()) != 1 {
		return false
	}
	_, name, version := sa.SetSQL(Live)
	d, ok := reg.Lookup(name)
	return ok && name == p.Events()[0] && d.Name == name && version == 1 && d.SchemaVersion == 1 && len(d.Legacy) == 0 &&
		len(d.Personal) == 0
}

// Projections returns the projections, in the order they are applied.
func (s *Subscriptions) Projections() []Projection { return s.projs }

// DB is the database the projections are on.
func (s *Subscriptions) DB() database.DB { return s.db }

// lookup returns the projection called name, or ErrUnknownProjection.
func (s *Subscriptions) lookup(name string) (Projection, error) {
	i, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("projection %q: %w", name, ErrUnknownProjection)
	}
	return s.projs[i], nil
}

// readers returns the indexes of the projections that read events called name.
func (s *Subscriptions) readers(name string) []int {
	if len(s.all) == 0 {
		return s.byEvent[name]
	}
	out := append([]int(nil), s.byEvent[name]...)
	return append(out, s.all...)
}

// The checkpoint SQL.
const (
	sqlEnsureCheckpoint = `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, 0, $2) ON CONFLICT (name) DO NOTHING`
	sqlCheckpoint       = `SELECT position FROM projection_checkpoints WHERE name = $1`
	sqlMoveCheckpoint   = `UPDATE projection_checkpoints SET position = $1, updated_at = $2, last_error = '' WHERE name = $3 AND position = $4`
	sqlCheckpointError  = `UPDATE projection_checkpoints SET last_error = $2 WHERE name = $1`
	sqlCheckpoints      = `SELECT name, position, updated_at, last_error FROM projection_checkpoints ORDER BY name`
	sqlHead             = `SELECT position FROM event_stream_head WHERE id = 1`
	sqlEventCreated     = `SELECT created_at FROM event_store WHERE position = $1`
)

// rebuildCheckpoint is the name of the checkpoint of name's shadow tables.
func rebuildCheckpoint(name string) string { return name + "#rebuild" }

// checkpointName is the name of the checkpoint of p's tables in to.
func checkpointName(p Projection, to Target) string {
	if to == Shadow {
		return rebuildCheckpoint(p.Name())
	}
	return p.Name()
}

// Ensure gives every projection that has no checkpoint one at position 0,
// so that the runner builds it from the first event. The read models that
// existed before checkpoints got theirs from the migration, at the head.
func (s *Subscriptions) Ensure(ctx context.Context) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		for _, p := range s.projs {
			if _, err := tx.Exec(ctx, sqlEnsureCheckpoint, p.Name(), s.now()); err != nil {
				return fmt.Errorf("checkpoint of projection %s: %w", p.Name(), err)
			}
		}
		return nil
	})
}

// ApplyInline applies the events a transaction has just appended to every
// projection that is caught up, inside that transaction: envs are the
// appended envelopes, in position order with no gap, and ps their typed
// payloads. A projection that is behind is left to the runner. The error
// of a projection aborts the transaction (the caller rolls back).
//
// It runs while the transaction holds the stream head lock (it needs the
// positions), so it pipelines the projections' statements on PostgreSQL
// (see batchTx) to keep that short.
func (s *Subscriptions) ApplyInline(ctx context.Context, tx database.Tx, envs []event.Envelope, ps []event.Payload) error {
	if len(envs) == 0 || len(s.projs) == 0 {
		return nil
	}
	if len(ps) != len(envs) {
		return fmt.Errorf("apply inline: %d envelopes but %d payloads", len(envs), len(ps))
	}
	first := envs[0].Position
	for i, env := range envs {
		if env.Position != first+int64(i) {
			return fmt.Errorf("apply inline: positions %d..%d have a gap at %d", first, envs[len(envs)-1].Position, first+int64(i))
		}
	}
	last := envs[len(envs)-1].Position
	args := make([]any, 0, 3+len(s.projs))
	args = append(args, last, s.now(), first-1)
	for _, p := range s.projs {
		args = append(args, p.Name())
	}
	rows, err := tx.Query(ctx, s.sqlCAS, args...)
	if err != nil {
		return fmt.Errorf("move projection checkpoints to %d: %w", last, err)
	}
	caught := make([]bool, len(s.projs))
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return fmt.Errorf("move projection checkpoints to %d: %w", last, err)
		}
		caught[s.byName[name]] = true
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return fmt.Errorf("move projection checkpoints to %d: %w", last, err)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	// Pipelined on PostgreSQL, where each statement is a round trip; on
	// SQLite a command's statements run once each, so as they are.
	var bt *batchTx
	atx := tx
	if s.db.Dialect() == database.Postgres {
		bt = newBatchTx(tx)
		atx = bt
	}
	for i, env := range envs {
		env = streamView(env)
		for _, pi := range s.readers(env.EventName) {
			if !caught[pi] {
				continue
			}
			if bt != nil {
				bt.label = "event " + strconv.FormatInt(env.Position, 10) + " (" + env.EventName + ")"
			}
			if err := s.projs[pi].Apply(ctx, atx, Live, env, ps[i]); err != nil {
				return fmt.Errorf("projection %s: event %d (%s): %w", s.projs[pi].Name(), env.Position, env.EventName, err)
			}
		}
	}
	if bt != nil {
		return bt.flush(ctx)
	}
	return nil
}

// streamView is env as the stream reader reads it: projections see the
// same fields inline and in catch-up (no metadata, no created_at).
func streamView(env event.Envelope) event.Envelope {
	env.Metadata, env.CreatedAt = event.Metadata{}, time.Time{}
	return env
}

// Status is where one projection is.
type Status struct {
	Name string
	// Position is the last event applied; Head the newest event; Lag the
	// number of positions between them.
	Position, Head, Lag int64
	// Age is how long ago the first event the projection has not applied
	// was appended (0 when it is caught up).
	Age       time.Duration
	UpdatedAt time.Time
	// LastError is the catch-up runner's last failure ("" when none).
	LastError string
	// Rebuilding is the position of an unfinished rebuild's shadow tables,
	// or -1 when none is under way.
	Rebuilding int64
	// Started is false when the projection has no checkpoint yet (Ensure
	// gives it one).
	Started bool
}

// Status returns where each projection is, in the order they are applied.
// A projection without a checkpoint yet reads position 0.
func (s *Subscriptions) Status(ctx context.Context) ([]Status, error) {
	head, err := s.head(ctx, s.db)
	if err != nil {
		return nil, err
	}
	type row struct {
		position  int64
		updatedAt time.Time
		lastError string
	}
	rows, err := s.db.Query(ctx, sqlCheckpoints)
	if err != nil {
		return nil, fmt.Errorf("projection checkpoints: %w", err)
	}
	found := map[string]row{}
	for rows.Next() {
		var (
			name string
			r    row
		)
		if err := rows.Scan(&name, &r.position, &r.updatedAt, &r.lastError); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("projection checkpoints: %w", err)
		}
		found[name] = r
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return nil, fmt.Errorf("projection checkpoints: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]Status, 0, len(s.projs))
	for _, p := range s.projs {
		r, started := found[p.Name()]
		st := Status{Started: started, Name: p.Name(), Position: r.position, Head: head, Lag: max(head-r.position, 0), UpdatedAt: r.updatedAt.UTC(),
			LastError: r.lastError, Rebuilding: -1}
		if rb, ok := found[rebuildCheckpoint(p.Name())]; ok {
			st.Rebuilding = rb.position
		}
		if st.Lag > 0 {
			var created time.Time
			err := s.db.QueryRow(ctx, sqlEventCreated, r.position+1).Scan(&created)
			if err != nil && !errors.Is(err, database.ErrNoRows) {
				return nil, fmt.Errorf("projection %s: age of event %d: %w", p.Name(), r.position+1, err)
			}
			if err == nil {
				st.Age = max(now.Sub(created), 0)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Subscriptions) head(ctx context.Context, q database.Querier) (int64, error) {
	var head int64
	if err := q.QueryRow(ctx, sqlHead).Scan(&head); err != nil {
		return 0, fmt.Errorf("stream head: %w", err)
	}
	return head, nil
}

func (s *Subscriptions) checkpoint(ctx context.Context, q database.Querier, name string) (int64, bool, error) {
	var pos int64
	err := q.QueryRow(ctx, sqlCheckpoint, name).Scan(&pos)
	if errors.Is(err, database.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return pos, true, nil
}
