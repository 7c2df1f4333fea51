package recorder_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/queue"
	"insure/internal/recorder"
)

// observer is a hand-written recorder.Observer: the trace context is a
// value in ctx, and it notes every call.
type observer struct {
	mu        sync.Mutex
	started   int
	ended     []int // events appended, per end
	endErrs   int
	committed []string
	// onCommitted, when set, runs as Committed is called (the test
	// checks there that the events are already committed).
	onCommitted func()
}

var _ recorder.Observer = (*observer)(nil)

type traceKey struct{}

func (o *observer) StartAppend(ctx context.Context) (context.Context, func([]event.Envelope, error)) {
	o.mu.Lock()
	o.started++
	o.mu.Unlock()
	ctx = context.WithValue(ctx, traceKey{}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return ctx, func(envs []event.Envelope, err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.ended = append(o.ended, len(envs))
		if err != nil {
			o.endErrs++
		}
	}
}

func (o *observer) TraceParent(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

func (o *observer) Committed(envs []event.Envelope) {
	if o.onCommitted != nil {
		o.onCommitted()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, env := range envs {
		o.committed = append(o.committed, env.EventID)
	}
}

func (o *observer) snapshot() (started int, ended []int, endErrs int, committed []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.started, append([]int(nil), o.ended...), o.endErrs, append([]string(nil), o.committed...)
}

func TestObserver(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		if _, err := queue.Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		reg := event.NewRegistry()
		if err := reg.Register(event.Definition{Name: "Noted", AggregateType: "note", SchemaVersion: 1, New: func() event.Payload { return &noted{} }}); err != nil {
			t.Fatal(err)
		}
		q, err := queue.New(db, nil, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		obs := &observer{}
		store := eventstore.New(db, 100, nil)
		rec := recorder.New(store, reg, router{queue: queue.Normal}, projector{}, q, time.Now, recorder.WithObserver(obs))
		ec := event.Context{Actor: "test"}

		// Committed must come after the commit: the events are visible
		// from outside the transaction by then.
		obs.onCommitted = func() {
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM event_store`).Scan(&n); err != nil || n == 0 {
				t.Errorf("Committed called with %d events visible (%v): before the commit", n, err)
			}
		}
		id := event.NewID()
		out, err := rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{"a"}, noted{"b"}}})
		if err != nil {
			t.Fatal(err)
		}
		started, ended, endErrs, committed := obs.snapshot()
		if started != 1 || len(ended) != 1 || ended[0] != 2 || endErrs != 0 || len(committed) != 2 || committed[0] != out[0].EventID {
			t.Fatalf("after one Record: started %d, ended %v (%d errors), committed %v", started, ended, endErrs, committed)
		}
		stored, err := store.Get(ctx, db, out[0].EventID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Metadata.TraceParent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
			t.Fatalf("stored traceparent %q", stored.Metadata.TraceParent)
		}
		obs.onCommitted = nil

		t.Run("a failed append is not committed", func(t *testing.T) {
			_, err := rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{"stale"}}})
			if !apperr.IsCode(err, apperr.Conflict) {
				t.Fatalf("want a conflict, got %v", err)
			}
			started, ended, endErrs, committed := obs.snapshot()
			if started != 2 || len(ended) != 2 || ended[1] != 0 || endErrs != 1 || len(committed) != 2 {
				t.Fatalf("after a failed Record: started %d, ended %v (%d errors), committed %v", started, ended, endErrs, committed)
			}
		})

		t.Run("a Record whose before fails appends nothing", func(t *testing.T) {
			boom := errors.New("email taken")
			_, err := rec.Record(ctx, ec, func(context.Context, database.Tx) error { return boom },
				recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"x"}}})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if _, _, _, committed := obs.snapshot(); len(committed) != 2 {
				t.Fatalf("committed %v", committed)
			}
		})

		t.Run("RecordTx in the caller's transaction counts as it returns", func(t *testing.T) {
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				_, err := rec.RecordTx(ctx, tx, ec, recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"y"}}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, committed := obs.snapshot(); len(committed) != 3 {
				t.Fatalf("committed %v, want 3 events", committed)
			}
		})
	})
}
