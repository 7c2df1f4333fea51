package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/keyring"
	"insure/internal/personal"
	"insure/internal/projection"
	"insure/internal/recorder"
	"insure/internal/snapshot"
)

// Deps are what the services share.
type Deps struct {
	Recorder *recorder.Recorder
	Reader   *projection.Reader
	Secrets  *Secrets
	// Vault computes the blind indexes of personal data (the email
	// claims); the same vault the projector and the reader use.
	Vault *personal.Vault
	Now   func() time.Time
	// Snapshots, when set, keeps snapshots of customers, policies and
	// quotations, so that loading one replays only the events after its
	// newest snapshot (see loadAggregate). nil: every load replays every
	// event.
	Snapshots *snapshot.Store
	// ArchiveDir is where archived events are (ARCHIVE_DIR): an aggregate
	// whose first events were archived and whose snapshot is gone (an
	// erased customer, a snapshot of another schema version) is rebuilt
	// from the archive plus the table.
	ArchiveDir string
	// Logger logs what goes wrong with snapshots, which never fails a
	// load. nil: nothing is logged.
	Logger *slog.Logger
	// Commands watches every command (metrics, traces). nil: nothing
	// watches them.
	Commands CommandObserver
}

// CommandObserver watches commands; the telemetry package implements it.
type CommandObserver interface {
	// StartCommand is called as the command called name (such as
	// "RegisterCustomer") starts. The context it returns (which may carry
	// a span) is the one the command runs with; end is called once with
	// the command's error (nil when it succeeded).
	StartCommand(ctx context.Context, name string) (context.Context, func(error))
}

// startCommand starts watching command name; call end with its error.
func (d Deps) startCommand(ctx context.Context, name string) (_ context.Context, end func(error)) {
	if d.Commands == nil {
		return ctx, func(error) {}
	}
	return d.Commands.StartCommand(ctx, name)
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

func (d Deps) store() *eventstore.Store { return d.Recorder.Store() }
func (d Deps) reg() *event.Registry     { return d.Recorder.Registry() }
func (d Deps) db() database.DB          { return d.Recorder.DB() }

// load reads an aggregate's events, mapping "none" to a NotFound error.
func (d Deps) load(ctx context.Context, q database.Querier, aggregateType, what, id string) ([]event.Envelope, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	if q == nil {
		q = d.db()
	}
	envs, err := d.store().Load(ctx, q, aggregateType, id)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	if err != nil {
		return nil, recorder.MapError(fmt.Errorf("load %s %s: %w", what, id, err))
	}
	return envs, nil
}

// loadAfter reads an aggregate's events after version after (see
// eventstore.Store.LoadAfter), mapping "none at all" to a NotFound error.
func (d Deps) loadAfter(ctx context.Context, q database.Querier, aggregateType, what, id string, after int64) ([]event.Envelope, error) {
	envs, err := d.store().LoadAfter(ctx, q, aggregateType, id, after)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	if err != nil {
		return nil, recorder.MapError(fmt.Errorf("load %s %s: %w", what, id, err))
	}
	return envs, nil
}

// loadWithArchive reads every event of an aggregate, archived or not: the
// slow path for one whose first events are archived (see
// eventstore.Store.LoadWithArchive).
func (d Deps) loadWithArchive(ctx context.Context, q database.Querier, aggregateType, what, id string) ([]event.Envelope, error) {
	envs, err := d.store().LoadWithArchive(ctx, q, d.ArchiveDir, aggregateType, id)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	if err != nil {
		return nil, recorder.MapError(fmt.Errorf("load %s %s with its archived events: %w", what, id, err))
	}
	return envs, nil
}

// loadUntil reads the events of an aggregate that had occurred by asOf (see
// eventstore.Store.LoadUntil). It fails with apperr.NotFound, saying which,
// when the aggregate does not exist or did not exist yet at asOf.
func (d Deps) loadUntil(ctx context.Context, aggregateType, what, id string, asOf time.Time) ([]event.Envelope, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	envs, err := d.store().LoadUntil(ctx, d.db(), aggregateType, id, asOf)
	switch {
	case errors.Is(err, eventstore.ErrNotFound):
		v, verr := d.store().Version(ctx, d.db(), aggregateType, id)
		if verr != nil {
			return nil, recorder.MapError(verr)
		}
		if v == 0 {
			return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
		}
		// It exists: either it was created after asOf, or its first events
		// were archived. The archive tells which.
		envs = nil
	case err != nil:
		return nil, recorder.MapError(fmt.Errorf("load %s %s as of %s: %w", what, id, asOf.UTC().Format(time.RFC3339Nano), err))
	}
	if len(envs) == 0 || envs[0].AggregateVersion > 1 {
		all, err := d.loadWithArchive(ctx, d.db(), aggregateType, what, id)
		if err != nil {
			return nil, err
		}
		envs = envs[:0]
		for _, env := range all {
			if env.OccurredAt.After(asOf) {
				break
			}
			envs = append(envs, env)
		}
	}
	if len(envs) == 0 {
		return nil, apperr.New(apperr.NotFound, "%s %s did not exist yet at %s (as_of); it was created later, so ask for a later time",
			what, id, asOf.UTC().Format(time.RFC3339Nano))
	}
	return envs, nil
}

// stream says how the aggregates of one type, held in a T, are loaded and
// snapshotted.
type stream[T any] struct {
	// what names the aggregate in messages ("customer").
	what string
	kind snapshot.Kind[T]
	// rebuildFrom applies events onto a snapshot's state, or onto nothing
	// (customer.RebuildFrom).
	rebuildFrom func(from *T, envs []event.Envelope, reg *event.Registry) (*T, error)
	// version is the aggregate version a state holds.
	version func(*T) int64
}

// loadAggregate rebuilds aggregate id of stream st: from its newest
// snapshot and the events after it when snapshots are on, else from all
// its events. A snapshot that cannot be used (another schema version,
// erased, corrupt, or one the events after it do not fit) is thrown away
// and the aggregate is rebuilt from all its events; snapshot trouble is
// logged, never returned. When the load replayed at least SNAPSHOT_EVERY
// events it saves a new snapshot, best effort: the state is committed
// history, so it is saved outside any command's transaction and a failure
// changes nothing but the next load's speed.
//
// Snapshots are read and saved only when q is nil (the caller is in no
// transaction): inside a transaction a failed snapshot statement would
// abort the caller's work on PostgreSQL, and on SQLite a save would queue
// behind the caller's own write lock.
func loadAggregate[T any](ctx context.Context, d Deps, q database.Querier, st stream[T], id string) (*T, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", st.what, id)
	}
	snaps := d.Snapshots
	if q != nil {
		snaps = nil
	} else {
		q = d.db()
	}
	log := d.logger()
	from, after := (*T)(nil), int64(0)
	if snaps != nil {
		state, v, err := st.kind.Load(ctx, snaps, q, id)
		if err != nil {
			log.Warn("snapshot unusable; rebuilding from every event", "aggregate_type", st.kind.AggregateType, "aggregate_id", id, "error", err)
		} else if state != nil {
			from, after = state, v
		}
	}
	envs, err := d.loadAfter(ctx, q, st.kind.AggregateType, st.what, id, after)
	if err != nil {
		return nil, err
	}
	if from == nil && envs[0].AggregateVersion > 1 {
		// The first events were archived and no snapshot covers them.
		if envs, err = d.loadWithArchive(ctx, q, st.kind.AggregateType, st.what, id); err != nil {
			return nil, err
		}
	}
	state, err := st.rebuildFrom(from, envs, d.reg())
	if err != nil && from != nil {
		// The events after the snapshot do not fit it: drop it and replay
		// them all, which reports a corrupt stream as such.
		log.Warn("snapshot does not fit the events after it; deleted, rebuilding from every event",
			"aggregate_type", st.kind.AggregateType, "aggregate_id", id, "version", after, "error", err)
		if err := snapshot.Delete(ctx, q, st.kind.AggregateType, id); err != nil {
			log.Warn("delete snapshot", "aggregate_type", st.kind.AggregateType, "aggregate_id", id, "error", err)
		}
		if envs, err = d.loadAfter(ctx, q, st.kind.AggregateType, st.what, id, 0); err != nil {
			return nil, err
		}
		if envs[0].AggregateVersion > 1 {
			if envs, err = d.loadWithArchive(ctx, q, st.kind.AggregateType, st.what, id); err != nil {
				return nil, err
			}
		}
		state, err = st.rebuildFrom(nil, envs, d.reg())
	}
	if err != nil {
		return nil, domainError(err, st.what+" "+id)
	}
	if snaps.Due(len(envs)) {
		_, err := st.kind.Save(ctx, snaps, q, id, st.version(state), state)
		switch {
		case errors.Is(err, keyring.ErrErased):
			// An erased customer's state is not kept: their key is gone.
		case err != nil:
			log.Warn("save snapshot", "aggregate_type", st.kind.AggregateType, "aggregate_id", id, "version", st.version(state), "error", err)
		}
	}
	return state, nil
}

// domainError maps an error from a domain Rebuild (a corrupt stream) to an
// internal error that keeps the cause.
func domainError(err error, what string) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	return apperr.Wrap(apperr.Internal, err, "rebuild %s", what)
}
