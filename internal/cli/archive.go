package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/keyring"
	"insure/internal/policy"
	"insure/internal/queue"
	"insure/internal/quotation"
	"insure/internal/snapshot"
)

func newEventsArchiveCmd(e env, g *globals) *cobra.Command {
	var (
		dryRun  bool
		days    int
		segment int
	)
	cmd := &cobra.Command{
		Use:   "archive [--dry-run] [--older-than-days N]",
		Short: "Move events older than EVENT_RETENTION_DAYS out of the event store into verified segment files in ARCHIVE_DIR",
		Long: "Moves the events that occurred more than --older-than-days days ago (default EVENT_RETENTION_DAYS) " +
			"out of the event_store table into segment files in ARCHIVE_DIR, and prints, per aggregate type, what " +
			"moved (or, with --dry-run, what would move: nothing is changed) and what is kept and why.\n\n" +
			"An event moves only when all of these hold: its aggregate type has snapshots (customer, policy, " +
			"quotation; messages, audit logs, documents and data-access records are always kept); a snapshot " +
			"of its aggregate, taken first at the aggregate's current version and checked to reproduce it, covers " +
			"it; it is not its aggregate's newest event (so the aggregate's version, and the next append's, stay " +
			"right); no listener job that has not completed and no unresolved dead letter points at it; and no " +
			"earlier event of its aggregate stays (what moves of an aggregate is always the start of its history). " +
			"The run walks the stream in position order and stops at the first event newer than the cutoff, or " +
			"at the first one a projection (or an unfinished rebuild) has not applied yet; older events after it " +
			"wait for a later run. It refuses to run with SNAPSHOT_EVERY=0, under which loads read no snapshot.\n\n" +
			"Each segment (--segment-events events at most) is one transaction that holds the stream head (appends " +
			"wait for it): it checks the rules again, writes the events, as the event store keeps them (personal " +
			"fields stay sealed), in position order, as JSON Lines compressed with zstd, to " +
			"ARCHIVE_DIR/events-<first position>-<last position>.jsonl.zst, syncs the file, reads it back and " +
			"checks it (count, positions, SHA-256), records the segment in event_archive_segments and deletes " +
			"exactly its rows. A failure or a crash before the commit leaves every row in place; the file it may " +
			"leave behind is an orphan that the next run overwrites. Readers of the whole history " +
			"(eventstore.ReadAllWithArchive) verify each segment against its row before reading it.\n\n" +
			"Back up ARCHIVE_DIR with the database: the events in it are nowhere else. The archived events no " +
			"longer appear in GET /api/v1/events, in events export, or in reads as of a time before them. " +
			"insure serve does not run archiving: run this command on a schedule (cron, a systemd timer).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("older-than-days") && (days < 1 || days > 36500) {
				return fmt.Errorf("--older-than-days %d: give a number of days from 1 to 36500", days)
			}
			if segment < 1 || segment > 1_000_000 {
				return fmt.Errorf("--segment-events %d: give a number of events from 1 to 1000000", segment)
			}
			return withSystem(cmd.Context(), e, g, func(ctx context.Context, s *System) error {
				opts := retentionOptions{OlderThanDays: s.Config.EventRetentionDays, DryRun: dryRun, SegmentEvents: segment}
				if days > 0 {
					opts.OlderThanDays = days
				}
				rep, err := archiveEvents(ctx, s, opts)
				if err == nil || len(rep.Segments) > 0 {
					// After a failure, what did move.
					printRetention(e.stdout, rep)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would move and what would be kept, and change nothing")
	cmd.Flags().IntVar(&days, "older-than-days", 0, "archive the events that occurred more than this many days ago (default EVENT_RETENTION_DAYS)")
	cmd.Flags().IntVar(&segment, "segment-events", 5000, "most events in one segment file (one transaction each, during which appends wait)")
	return cmd
}

// The SQL of a retention run, valid on SQLite and PostgreSQL alike: the
// scan of the stream, and what the queue still needs.
const (
	sqlRetentionScan = `SELECT position, event_id, aggregate_type, aggregate_id, aggregate_version, occurred_at
	FROM event_store WHERE position > $1 ORDER BY position LIMIT $2`

	sqlRetentionLater = `SELECT COUNT(*) FROM event_store WHERE position > $1 AND occurred_at < $2`

	sqlRetentionDeadLetters = `SELECT event_id FROM dead_letters WHERE status = 'dead' OR resolved_at IS NULL`

	sqlRetentionSnapshot = `SELECT version, schema_version FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2`

	// The projection furthest behind (a rebuild's shadow checkpoint
	// included): it reads the table, so no event it has yet to apply may
	// leave it.
	sqlRetentionProjection = `SELECT name, position FROM projection_checkpoints ORDER BY position, name LIMIT 1`
)

// Why an event is kept in the table, as the report prints it.
const (
	keptNoSnapshots = "no snapshots for this aggregate type"
	keptAfterKept   = "an earlier event of its aggregate is kept"
	keptOpenJob     = "a listener job for it has not completed"
	keptDeadLetter  = "an unresolved dead letter points at it"
	keptNewest      = "newest event of its aggregate"
	keptErased      = "customer erased: no snapshot can be sealed"
	keptNoSnapshot  = "no snapshot could be taken (see below)"
	keptNotCovered  = "no snapshot covers it"
	keptGone        = "archived by another run meanwhile"
	keptFailed      = "not moved: the run failed (see the error)"
	keptProjection  = "a projection has not applied it yet"
)

// retentionOptions steer archiveEvents.
type retentionOptions struct {
	OlderThanDays int
	DryRun        bool
	SegmentEvents int
	// afterWrite is eventstore.ArchiveOptions.AfterWrite (tests).
	afterWrite func(eventstore.Segment) error
}

// retentionReport is what a retention run moved (or would move) and kept.
type retentionReport struct {
	Cutoff        time.Time
	OlderThanDays int
	Dir           string
	DryRun        bool
	// Types counts the events older than the cutoff per aggregate type.
	Types map[string]*retentionCounts
	// Snapshots is how many snapshots were taken (would be, in a dry run).
	Snapshots int
	Segments  []eventstore.Segment
	// Horizon is the position of the event the run stopped at (0: it
	// reached the end of the table): the first one not older than the
	// cutoff, or the first one a projection has not applied (StoppedBy
	// says which). Later counts the older events from it on.
	Horizon   int64
	StoppedBy string
	Later     int64
	// Problems describes the aggregates no snapshot could be taken of.
	Problems []string
}

// retentionCounts are one aggregate type's events older than the cutoff.
type retentionCounts struct {
	Archived int64
	Kept     map[string]int64
}

func (r *retentionReport) counts(aggregateType string) *retentionCounts {
	c := r.Types[aggregateType]
	if c == nil {
		c = &retentionCounts{Kept: map[string]int64{}}
		r.Types[aggregateType] = c
	}
	return c
}

// Archived returns how many events moved (or would move) in all.
func (r *retentionReport) Archived() int64 {
	var n int64
	for _, c := range r.Types {
		n += c.Archived
	}
	return n
}

type aggKey struct{ typ, id string }

// archivable says how the aggregates of one type are snapshotted before
// their old events leave the table.
type archivable struct {
	schemaVersion int
	// snapshot takes (save) or only checks (!save) a snapshot of aggregate
	// id at its newest version, checked to reproduce the aggregate, and
	// returns its version.
	snapshot func(ctx context.Context, r *retention, id string, save bool) (int64, error)
}

// archivables are the aggregate types whose old events may be archived:
// those loaded from a snapshot and the events after it (the snapshot kinds
// of internal/app's streams).
func archivables() map[string]archivable {
	return map[string]archivable{
		customer.AggregateType: archivableOf(
			snapshot.Kind[customer.Customer]{AggregateType: customer.AggregateType, SchemaVersion: customer.SnapshotSchemaVersion, Personal: true},
			customer.RebuildFrom, func(c *customer.Customer) int64 { return c.Version }, func(c *customer.Customer) bool { return c.Erased }),
		policy.AggregateType: archivableOf(
			snapshot.Kind[policy.Policy]{AggregateType: policy.AggregateType, SchemaVersion: policy.SnapshotSchemaVersion},
			policy.RebuildFrom, func(p *policy.Policy) int64 { return p.Version }, nil),
		quotation.AggregateType: archivableOf(
			snapshot.Kind[quotation.Quotation]{AggregateType: quotation.AggregateType, SchemaVersion: quotation.SnapshotSchemaVersion},
			quotation.RebuildFrom, func(q *quotation.Quotation) int64 { return q.Version }, nil),
	}
}

// Why no snapshot could be taken.
var (
	errErased          = errors.New("the customer was erased: their key is destroyed, so no snapshot can be sealed")
	errPartlyArchived  = errors.New("part of its history is archived and it has no usable snapshot; its events stay until it has one")
	errSnapshotDiffers = errors.New("the stored snapshot does not reproduce the aggregate")
)

func archivableOf[T any](kind snapshot.Kind[T], rebuild func(*T, []event.Envelope, *event.Registry) (*T, error),
	version func(*T) int64, erased func(*T) bool) archivable {
	return archivable{schemaVersion: kind.SchemaVersion, snapshot: func(ctx context.Context, r *retention, id string, save bool) (int64, error) {
		return snapshotAggregate(ctx, r, kind, rebuild, version, erased, id, save)
	}}
}

// snapshotAggregate rebuilds aggregate id from the table (from its first
// event, or from its stored snapshot when its start is archived), saves
// the state as its snapshot unless one as new is stored, reads the stored
// one back as a load would, and checks that it and the events after it
// give the same state as the rebuild. A stored snapshot that differs from
// a complete history is replaced once.
func snapshotAggregate[T any](ctx context.Context, r *retention, kind snapshot.Kind[T], rebuild func(*T, []event.Envelope, *event.Registry) (*T, error),
	version func(*T) int64, erased func(*T) bool, id string, save bool) (int64, error) {
	st, db, reg := r.s.Store, r.s.DB, r.s.Registry
	envs, err := st.Load(ctx, db, kind.AggregateType, id)
	if err != nil {
		return 0, err
	}
	complete := envs[0].AggregateVersion == 1
	var state *T
	if complete {
		state, err = rebuild(nil, envs, reg)
	} else {
		from, v, lerr := storedState(ctx, r.snaps, db, kind, id)
		switch {
		case lerr != nil:
			return 0, lerr
		case from == nil || v+1 < envs[0].AggregateVersion:
			return 0, errPartlyArchived
		}
		state, err = rebuild(from, after(envs, v), reg)
	}
	if err != nil {
		return 0, fmt.Errorf("it does not rebuild from its events: %w", err)
	}
	if erased != nil && erased(state) {
		return 0, errErased
	}
	v := version(state)
	if !save {
		return v, nil
	}
	for attempt := 0; ; attempt++ {
		if _, err := kind.Save(ctx, r.snaps, db, id, v, state); err != nil {
			if errors.Is(err, keyring.ErrErased) {
				return 0, errErased
			}
			return 0, err
		}
		got, gv, err := storedState(ctx, r.snaps, db, kind, id)
		if err != nil {
			return 0, err
		}
		same := false
		if got != nil && gv >= v {
			tail, err := st.LoadAfter(ctx, db, kind.AggregateType, id, v)
			if err != nil {
				return 0, err
			}
			want, werr := rebuild(state, tail, reg)
			have, herr := rebuild(got, after(tail, gv), reg)
			same = werr == nil && herr == nil && sameJSON(want, have)
		}
		if same {
			return gv, nil
		}
		if attempt > 0 || !complete {
			return 0, fmt.Errorf("%w (saved at version %d, read back at %d)", errSnapshotDiffers, v, gv)
		}
		// The whole history is in the table, so the stored snapshot is
		// only a cache: replace it.
		if err := snapshot.Delete(ctx, db, kind.AggregateType, id); err != nil {
			return 0, err
		}
	}
}

// storedState returns the aggregate's stored snapshot as a load would use
// it, or nil when there is none it would use. Unlike snapshot.Kind.Load it
// deletes nothing.
func storedState[T any](ctx context.Context, snaps *snapshot.Store, q database.Querier, kind snapshot.Kind[T], id string) (*T, int64, error) {
	snap, err := snaps.Load(ctx, q, kind.AggregateType, id, kind.Personal)
	switch {
	case errors.Is(err, snapshot.ErrNotFound), errors.Is(err, snapshot.ErrCorrupt):
		return nil, 0, nil
	case errors.Is(err, keyring.ErrErased):
		return nil, 0, errErased
	case err != nil:
		return nil, 0, err
	case snap.SchemaVersion != kind.SchemaVersion:
		return nil, 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(snap.State))
	dec.DisallowUnknownFields()
	state := new(T)
	if err := dec.Decode(state); err != nil {
		return nil, 0, nil
	}
	return state, snap.Version, nil
}

// after returns the events of envs with a version above v.
func after(envs []event.Envelope, v int64) []event.Envelope {
	i := slices.IndexFunc(envs, func(e event.Envelope) bool { return e.AggregateVersion > v })
	if i < 0 {
		return nil
	}
	return envs[i:]
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// retention is one run of archiveEvents.
type retention struct {
	s      *System
	snaps  *snapshot.Store
	kinds  map[string]archivable
	opts   retentionOptions
	cutoff time.Time
	rep    *retentionReport
	// Per aggregate: its newest version, its snapshot's version (or why it
	// has none), and whether a kept event blocks the rest of it.
	newest  map[aggKey]int64
	snapped map[aggKey]int64
	failed  map[aggKey]string
	blocked map[aggKey]bool
	refs    map[string]string
	// The segment being gathered: each event's aggregate, and how many
	// events of each type it holds (counted as archived once it commits).
	batchKey map[int64]aggKey
	pending  map[string]int64
}

// scanned is one event as the scan sees it.
type scanned struct {
	position   int64
	eventID    string
	key        aggKey
	version    int64
	occurredAt time.Time
}

// archiveEvents archives (or, in a dry run, plans) the events that
// occurred more than opts.OlderThanDays days before s.Now. It returns the
// report so far together with any error.
func archiveEvents(ctx context.Context, s *System, opts retentionOptions) (*retentionReport, error) {
	cutoff := s.Now().UTC().Add(-time.Duration(opts.OlderThanDays) * 24 * time.Hour)
	r := &retention{
		s: s, snaps: snapshot.NewStore(s.Keys, 0, s.Now), kinds: archivables(), opts: opts, cutoff: cutoff,
		rep: &retentionReport{Cutoff: cutoff, OlderThanDays: opts.OlderThanDays, Dir: s.Config.ArchiveDir, DryRun: opts.DryRun,
			Types: map[string]*retentionCounts{}},
		newest: map[aggKey]int64{}, snapped: map[aggKey]int64{}, failed: map[aggKey]string{}, blocked: map[aggKey]bool{},
		batchKey: map[int64]aggKey{}, pending: map[string]int64{},
	}
	if s.Config.SnapshotEvery == 0 {
		return r.rep, errors.New("SNAPSHOT_EVERY is 0, so loads read no snapshot: an aggregate whose first events left the " +
			"event store could not be loaded. Set SNAPSHOT_EVERY above 0 (and keep it so) before archiving")
	}
	if opts.SegmentEvents < 1 {
		opts.SegmentEvents = 5000
		r.opts = opts
	}
	var err error
	if r.refs, err = openReferences(ctx, s.DB, s.DB.Dialect()); err != nil {
		return r.rep, err
	}
	var batch []int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		seg, err := s.Store.Archive(ctx, batch, eventstore.ArchiveOptions{
			Dir: s.Config.ArchiveDir, Filter: r.filter, AfterWrite: opts.afterWrite,
			Kept: func(rec eventstore.Record, reason string) {
				key, ok := r.batchKey[rec.Position]
				if !ok {
					return
				}
				switch reason {
				case eventstore.KeptNewest:
					r.keep(key, keptNewest)
				case eventstore.KeptGap:
					r.keep(key, keptAfterKept)
				default:
					r.keep(key, keptGone)
				}
			},
		})
		for t, n := range r.pending {
			if err != nil {
				r.rep.counts(t).Kept[keptFailed] += n
			} else {
				r.rep.counts(t).Archived += n
			}
		}
		batch = batch[:0]
		clear(r.batchKey)
		clear(r.pending)
		if err != nil {
			return err
		}
		if seg.Count > 0 {
			r.rep.Segments = append(r.rep.Segments, seg)
		}
		return nil
	}
	lagging, limit, err := slowestProjection(ctx, s.DB)
	if err != nil {
		return r.rep, err
	}
	const page = 1000
	for pos := int64(0); r.rep.Horizon == 0; {
		evs, err := scanStream(ctx, s.DB, pos, page)
		if err != nil {
			return r.rep, err
		}
		for _, ev := range evs {
			if !ev.occurredAt.Before(cutoff) {
				r.rep.Horizon, r.rep.StoppedBy = ev.position, "the first event newer than the cutoff"
				break
			}
			if limit >= 0 && ev.position > limit {
				r.rep.Horizon = ev.position
				r.rep.StoppedBy = fmt.Sprintf("projection %s has applied the events up to position %d only", lagging, limit)
				break
			}
			reason, err := r.decide(ctx, ev)
			if err != nil {
				return r.rep, err
			}
			if reason != "" {
				r.rep.counts(ev.key.typ).Kept[reason]++
				continue
			}
			if opts.DryRun {
				r.rep.counts(ev.key.typ).Archived++
				continue
			}
			r.pending[ev.key.typ]++
			batch = append(batch, ev.position)
			r.batchKey[ev.position] = ev.key
			if len(batch) >= opts.SegmentEvents {
				if err := flush(); err != nil {
					return r.rep, err
				}
				if err := ctx.Err(); err != nil {
					return r.rep, err
				}
			}
		}
		if len(evs) < page {
			break
		}
		pos = evs[len(evs)-1].position
	}
	if err := flush(); err != nil {
		return r.rep, err
	}
	if r.rep.Horizon > 0 {
		if err := s.DB.QueryRow(ctx, sqlRetentionLater, r.rep.Horizon-1, cutoff).Scan(&r.rep.Later); err != nil {
			return r.rep, fmt.Errorf("count the older events after position %d: %w", r.rep.Horizon, err)
		}
	}
	return r.rep, nil
}

// keep moves one event of key from the segment being archived to the
// kept, and keeps the rest of its aggregate.
func (r *retention) keep(key aggKey, reason string) {
	r.pending[key.typ]--
	r.rep.counts(key.typ).Kept[reason]++
	r.blocked[key] = true
}

// decide returns why ev stays in the table, or "" when it may go. It
// takes (or, in a dry run, checks) the snapshot of ev's aggregate the
// first time one of its events may go.
func (r *retention) decide(ctx context.Context, ev scanned) (string, error) {
	kind, ok := r.kinds[ev.key.typ]
	switch {
	case !ok:
		return keptNoSnapshots, nil
	case r.blocked[ev.key]:
		return keptAfterKept, nil
	}
	if why := r.refs[ev.eventID]; why != "" {
		r.blocked[ev.key] = true
		return why, nil
	}
	newest, ok := r.newest[ev.key]
	if !ok {
		v, err := r.s.Store.Version(ctx, r.s.DB, ev.key.typ, ev.key.id)
		if err != nil {
			return "", err
		}
		newest = v
		r.newest[ev.key] = v
	}
	if ev.version >= newest {
		r.blocked[ev.key] = true
		return keptNewest, nil
	}
	if why, failed := r.failed[ev.key]; failed {
		return why, nil
	}
	sv, ok := r.snapped[ev.key]
	if !ok {
		v, err := kind.snapshot(ctx, r, ev.key.id, !r.opts.DryRun)
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			why := keptNoSnapshot
			if errors.Is(err, errErased) {
				why = keptErased
			} else {
				r.rep.Problems = append(r.rep.Problems, fmt.Sprintf("%s %s: %v", ev.key.typ, ev.key.id, err))
			}
			r.failed[ev.key] = why
			r.blocked[ev.key] = true
			return why, nil
		}
		sv = v
		r.snapped[ev.key] = v
		r.rep.Snapshots++
	}
	if ev.version > sv {
		r.blocked[ev.key] = true
		return keptNotCovered, nil
	}
	return "", nil
}

// filter checks the events about to be archived again, inside the
// archive's transaction: still no open job or dead letter, and a snapshot
// of the current schema version at or past each one.
func (r *retention) filter(ctx context.Context, tx database.Tx, recs []eventstore.Record) ([]eventstore.Record, error) {
	refs, err := openReferences(ctx, tx, r.s.DB.Dialect())
	if err != nil {
		return nil, err
	}
	_, limit, err := slowestProjection(ctx, tx)
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	blocked := map[aggKey]bool{}
	snaps := map[aggKey]int64{}
	for _, rec := range recs {
		key := aggKey{rec.AggregateType, rec.AggregateID}
		kind, ok := r.kinds[key.typ]
		why := ""
		switch {
		case !ok:
			why = keptNoSnapshots
		case blocked[key]:
			why = keptAfterKept
		case limit >= 0 && rec.Position > limit:
			why = keptProjection
		case refs[rec.EventID] != "":
			why = refs[rec.EventID]
		default:
			v, seen := snaps[key]
			if !seen {
				var schema int
				err := tx.QueryRow(ctx, sqlRetentionSnapshot, key.typ, key.id).Scan(&v, &schema)
				switch {
				case errors.Is(err, database.ErrNoRows):
					v = 0
				case err != nil:
					return nil, fmt.Errorf("snapshot of %s/%s: %w", key.typ, key.id, err)
				case schema != kind.schemaVersion:
					v = 0
				}
				snaps[key] = v
			}
			if v < rec.AggregateVersion {
				why = keptNotCovered
			}
		}
		if why != "" {
			blocked[key] = true
			r.keep(key, why)
			continue
		}
		out = append(out, rec)
	}
	return out, nil
}

// openReferences returns the ids of the events that a listener job which
// has not completed, or an unresolved dead letter, points at, with why
// they stay. q is a database or transaction of dialect d.
func openReferences(ctx context.Context, q database.Querier, d database.Dialect) (map[string]string, error) {
	refs := map[string]string{}
	rows, err := q.Query(ctx, sqlRetentionDeadLetters)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		refs[strings.ToLower(id)] = keptDeadLetter
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	// A listener job holds the id of the event it handles and loads it
	// with Store.Get: until it has completed (a discarded job can still be
	// retried from its dead letter) the event must stay in the table.
	ids, err := queue.PendingEventIDs(ctx, q, d)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if refs[id] == "" {
			refs[id] = keptOpenJob
		}
	}
	return refs, nil
}

// slowestProjection returns the name and position of the projection
// checkpoint furthest behind, or a position of -1 when there is none.
func slowestProjection(ctx context.Context, q database.Querier) (string, int64, error) {
	var (
		name string
		pos  int64
	)
	err := q.QueryRow(ctx, sqlRetentionProjection).Scan(&name, &pos)
	if errors.Is(err, database.ErrNoRows) {
		return "", -1, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("projection checkpoints: %w", err)
	}
	return name, pos, nil
}

// scanStream reads the next events of the table after pos, in position
// order, with only what the retention rules look at.
func scanStream(ctx context.Context, q database.Querier, pos int64, limit int) ([]scanned, error) {
	rows, err := q.Query(ctx, sqlRetentionScan, pos, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after position %d: %w", pos, err)
	}
	defer rows.Close()
	var out []scanned
	for rows.Next() {
		var ev scanned
		if err := rows.Scan(&ev.position, &ev.eventID, &ev.key.typ, &ev.key.id, &ev.version, &ev.occurredAt); err != nil {
			return nil, fmt.Errorf("read events after position %d: %w", pos, err)
		}
		ev.eventID = strings.ToLower(ev.eventID)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events after position %d: %w", pos, err)
	}
	return out, nil
}

// printRetention prints a retention report.
func printRetention(w io.Writer, rep *retentionReport) {
	if rep == nil {
		return
	}
	moved := "MOVED"
	if rep.DryRun {
		moved = "WOULD MOVE"
	}
	fmt.Fprintf(w, "events older than %d days (occurred before %s); archive directory %s\n",
		rep.OlderThanDays, rep.Cutoff.Format(time.RFC3339), rep.Dir)
	types := make([]string, 0, len(rep.Types))
	for t := range rep.Types {
		types = append(types, t)
	}
	slices.Sort(types)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "AGGREGATE TYPE\tOLD EVENTS\t%s\tKEPT\tWHY KEPT\n", moved)
	for _, t := range types {
		c := rep.Types[t]
		var kept int64
		reasons := make([]string, 0, len(c.Kept))
		for why, n := range c.Kept {
			kept += n
			reasons = append(reasons, fmt.Sprintf("%s: %d", why, n))
		}
		slices.Sort(reasons)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", t, c.Archived+kept, c.Archived, kept, strings.Join(reasons, "; "))
	}
	if len(types) == 0 {
		fmt.Fprintln(tw, "(no event is that old)\t\t\t\t")
	}
	tw.Flush()
	if rep.DryRun {
		fmt.Fprintf(w, "snapshots to take first: %d\n", rep.Snapshots)
	} else {
		fmt.Fprintf(w, "snapshots taken (or found up to date) first: %d\n", rep.Snapshots)
	}
	if rep.Horizon > 0 && rep.Later > 0 {
		fmt.Fprintf(w, "stopped at position %d (%s): %d older events from there on wait for a later run\n",
			rep.Horizon, rep.StoppedBy, rep.Later)
	}
	for i, p := range rep.Problems {
		if i == 20 {
			fmt.Fprintf(w, "… and %d more aggregates with no snapshot\n", len(rep.Problems)-20)
			break
		}
		fmt.Fprintf(w, "no snapshot: %s\n", p)
	}
	for _, seg := range rep.Segments {
		fmt.Fprintf(w, "segment %s: %d events, positions %d to %d, sha256 %s (verified)\n",
			filepath.Join(rep.Dir, seg.File), seg.Count, seg.First, seg.Last, seg.SHA256)
	}
	switch {
	case rep.DryRun:
		fmt.Fprintln(w, "dry run: nothing was changed")
	case len(rep.Segments) == 0:
		fmt.Fprintln(w, "nothing was archived")
	default:
		fmt.Fprintf(w, "archived %d events in %d segments\n", rep.Archived(), len(rep.Segments))
	}
}
