// Package recorder commits a command's outcome: it appends the events to the
// event store, applies them to the read models that are caught up, and
// enqueues one job per listener the events start, all in ONE database
// transaction. Either all of it happens or none of it: no event without its
// jobs, no job without its event.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/keyring"
	"insure/internal/queue"
)

// Router decides which listener jobs an event starts.
type Router interface {
	Route(env event.Envelope, p event.Payload) []queue.Job
}

// Projections apply the events a transaction has just appended to the read
// models, inside that transaction (projection.Subscriptions: every read
// model that is caught up, moving its checkpoint). envs are in position
// order with no gap; ps are their payloads.
type Projections interface {
	ApplyInline(ctx context.Context, tx database.Tx, envs []event.Envelope, ps []event.Payload) error
}

// Enqueuer inserts jobs in a transaction.
type Enqueuer interface {
	Enqueue(ctx context.Context, tx database.Tx, jobs []queue.Job) error
}

// Observer watches appends, for metrics and traces; the telemetry package
// implements it.
type Observer interface {
	// StartAppend is called as RecordTx starts. The context it returns
	// (which may carry a span) is the one the append runs with; end is
	// called once with what was appended (nothing on failure) and the
	// error.
	StartAppend(ctx context.Context) (context.Context, func(appended []event.Envelope, err error))
	// TraceParent returns the W3C trace context of the span in ctx, or ""
	// when ctx carries none; every event appended in ctx stores it in its
	// metadata.
	TraceParent(ctx context.Context) string
	// Committed is told of events once their transaction has committed.
	Committed(envs []event.Envelope)
}

// Option changes a Recorder.
type Option func(*Recorder)

// WithObserver has o watch every append.
func WithObserver(o Observer) Option { return func(r *Recorder) { r.obs = o } }

// Change is a decision about one aggregate: the events to append on top of
// the version the decision was based on.
type Change struct {
	AggregateType   string
	AggregateID     string
	ExpectedVersion int64
	Events          []event.Payload
}

// Recorded is an appended event with its typed payload.
type Recorded struct {
	event.Envelope
	Payload event.Payload
}

// Recorder commits changes.
type Recorder struct {
	db          database.DB
	store       *eventstore.Store
	reg         *event.Registry
	router      Router
	projections Projections
	queue       Enqueuer
	now         func() time.Time
	obs         Observer
}

// New returns a recorder. router and projections may be nil (no listeners,
// no read models), which tests of the store alone use.
func New(store *eventstore.Store, reg *event.Registry, router Router, projections Projections, q Enqueuer, now func() time.Time, opts ...Option) *Recorder {
	if now == nil {
		now = time.Now
	}
	r := &Recorder{db: store.DB(), store: store, reg: reg, router: router, projections: projections, queue: q, now: now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Registry is the event registry the recorder encodes with.
func (r *Recorder) Registry() *event.Registry { return r.reg }

// Store is the event store the recorder appends to.
func (r *Recorder) Store() *eventstore.Store { return r.store }

// DB is the database the recorder commits to.
func (r *Recorder) DB() database.DB { return r.db }

// Record commits changes in one new transaction. before, when not nil, runs
// first in the same transaction (for example to claim a unique email
// address); its error aborts everything. After the commit, a PositionSink
// in ctx (WithPositionSink) observes the positions of the events recorded,
// and the Observer is told of them.
func (r *Recorder) Record(ctx context.Context, ec event.Context, before func(ctx context.Context, tx database.Tx) error, changes ...Change) ([]Recorded, error) {
	var out []Recorded
	err := r.db.InTx(context.WithValue(ctx, committingKey{}, true), func(ctx context.Context, tx database.Tx) error {
		// The subjects' data keys are read once per attempt: sealing the
		// events and the read models' rows of one customer needs the same
		// key several times.
		ctx = keyring.WithTxKeys(ctx)
		if before != nil {
			if err := before(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		out, err = r.RecordTx(ctx, tx, ec, changes...)
		return err
	})
	if err != nil {
		return nil, mapError(err)
	}
	for _, rec := range out {
		ObservePosition(ctx, rec.Position)
	}
	if r.obs != nil && len(out) > 0 {
		envs := make([]event.Envelope, len(out))
		for i, rec := range out {
			envs[i] = rec.Envelope
		}
		r.obs.Committed(envs)
	}
	return out, nil
}

// committingKey marks the context of Record's transaction: Record tells the
// Observer of its events after the commit, so RecordTx must not.
type committingKey struct{}

// RecordTx records changes inside the caller's transaction.
//
// The listener jobs are written first, then the events, then the read
// models. Appending takes the stream-head lock (which orders positions by
// commit) and holds it to the commit. The read models come after the
// append because they need the events' positions: a read model is applied
// inline only if its checkpoint is the position just before the first
// event (it is caught up), and its checkpoint moves to the last one in
// this transaction; a read model that is behind is skipped and catches up
// from the stream (see projection.Subscriptions). Holding the head lock
// meanwhile is also what makes that compare-and-set safe. The append
// checks the expected version; a stale one rolls back the jobs written
// before it with the rest of the transaction.
//
// With an Observer, every event stores the trace context of the append's
// span (Metadata.TraceParent). Called outside Record, RecordTx cannot see
// the caller's commit: it tells the Observer of the events as it returns
// them, so a caller that then rolls back has them counted anyway (the
// listeners' Failed hooks, inside the dead letter's transaction, are such
// callers; that transaction rarely fails).
func (r *Recorder) RecordTx(ctx context.Context, tx database.Tx, ec event.Context, changes ...Change) (out []Recorded, err error) {
	if r.obs == nil {
		return r.recordTx(ctx, tx, ec, "", changes)
	}
	ctx, end := r.obs.StartAppend(ctx)
	defer func() {
		envs := make([]event.Envelope, len(out))
		for i, rec := range out {
			envs[i] = rec.Envelope
		}
		end(envs, err)
		if err == nil && len(envs) > 0 && ctx.Value(committingKey{}) == nil {
			r.obs.Committed(envs)
		}
	}()
	return r.recordTx(ctx, tx, ec, r.obs.TraceParent(ctx), changes)
}

// recordTx is RecordTx; every event's metadata gets traceParent.
func (r *Recorder) recordTx(ctx context.Context, tx database.Tx, ec event.Context, traceParent string, changes []Change) ([]Recorded, error) {
	now := r.now()
	type prepared struct {
		change  Change
		pending []event.Pending
	}
	var (
		jobs  []queue.Job
		preps []prepared
	)
	for _, c := range changes {
		if len(c.Events) == 0 {
			continue
		}
		pending := make([]event.Pending, len(c.Events))
		for i, p := range c.Events {
			pe, err := event.New(p, ec, r.reg, now)
			if err != nil {
				return nil, err
			}
			pe.Metadata.TraceParent = traceParent
			def, _ := r.reg.Lookup(pe.Name)
			if def.AggregateType != c.AggregateType {
				return nil, fmt.Errorf("record %s on a %s aggregate: it belongs to %s", pe.Name, c.AggregateType, def.AggregateType)
			}
			pending[i] = pe
			env := event.Envelope{
				EventID: pe.Metadata.EventID, EventName: pe.Name, AggregateType: c.AggregateType, AggregateID: c.AggregateID,
				AggregateVersion: c.ExpectedVersion + int64(i) + 1, SchemaVersion: pe.SchemaVersion, Data: pe.Data,
				Metadata: pe.Metadata, OccurredAt: pe.Metadata.OccurredAt,
			}
			if r.router != nil {
				jobs = append(jobs, r.router.Route(env, p)...)
			}
		}
		preps = append(preps, prepared{change: c, pending: pending})
	}
	if len(jobs) > 0 {
		if r.queue == nil {
			return nil, errors.New("record: listener jobs but no queue")
		}
		if err := r.queue.Enqueue(ctx, tx, jobs); err != nil {
			return nil, err
		}
	}
	var (
		out  []Recorded
		envs []event.Envelope
		ps   []event.Payload
	)
	for _, pr := range preps {
		appended, err := r.store.Append(ctx, tx, pr.change.AggregateType, pr.change.AggregateID, pr.change.ExpectedVersion, pr.pending)
		if err != nil {
			return nil, err
		}
		for i, env := range appended {
			out = append(out, Recorded{Envelope: env, Payload: pr.change.Events[i]})
			envs, ps = append(envs, env), append(ps, pr.change.Events[i])
		}
	}
	if r.projections != nil && len(envs) > 0 {
		if err := r.projections.ApplyInline(ctx, tx, envs, ps); err != nil {
			if database.IsUniqueViolation(err) {
				// The read-model row exists: someone recorded this first.
				return nil, fmt.Errorf("project: %w: %w", eventstore.ErrConcurrency, err)
			}
			return nil, fmt.Errorf("project: %w", err)
		}
	}
	if h := commitHookFrom(ctx); h != nil && len(out) > 0 {
		if err := h.Committing(ctx, tx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CommitHook is told of the events recorded with a context that carries it
// (WithCommitHook), inside the transaction that commits them, last: how an
// HTTP request with an idempotency key marks the key as used in the same
// transaction as its effects, so that a retry never does them again. Its
// error aborts the transaction.
type CommitHook interface {
	Committing(ctx context.Context, tx database.Tx, recorded []Recorded) error
}

type commitHookKey struct{}

// WithCommitHook returns ctx carrying h: every recording in ctx that
// appends events calls h in its transaction.
func WithCommitHook(ctx context.Context, h CommitHook) context.Context {
	return context.WithValue(ctx, commitHookKey{}, h)
}

func commitHookFrom(ctx context.Context) CommitHook {
	h, _ := ctx.Value(commitHookKey{}).(CommitHook)
	return h
}

// mapError turns storage errors into application errors, keeping the
// cause for logs.
func mapError(err error) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	switch {
	case errors.Is(err, eventstore.ErrConcurrency):
		return apperr.Wrap(apperr.Conflict, err, "the record was changed by someone else; reload it and try again")
	case errors.Is(err, database.ErrUnavailable):
		return apperr.Wrap(apperr.Unavailable, err, "the database is unavailable; try again shortly")
	case errors.Is(err, keyring.ErrErased):
		// A change raced an erasure and lost: the subject's key is gone.
		return apperr.Wrap(apperr.Conflict, err, "the customer's personal data was erased; the record can no longer change")
	}
	return err
}

// MapError is mapError for callers that commit through their own
// transactions.
func MapError(err error) error { return mapError(err) }
