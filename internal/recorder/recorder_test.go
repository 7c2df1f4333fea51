package recorder_test

import (
	"context"
	"errors"
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

type noted struct {
	Text string `json:"text"`
}

func (noted) EventName() string { return "Noted" }

// router starts one job per event on the given queue.
type router struct{ queue string }

func (r router) Route(env event.Envelope, _ event.Payload) []queue.Job {
	return []queue.Job{{Listener: "Echo", EventID: env.EventID, Queue: r.queue, Priority: 1, MaxAttempts: 3}}
}

// projector writes a row per event, to prove read models roll back too.
type projector struct{}

func (projector) ApplyInline(ctx context.Context, tx database.Tx, envs []event.Envelope, _ []event.Payload) error {
	for _, env := range envs {
		if env.Position == 0 {
			return errors.New("inline projections need the events' positions")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO app_secrets (name, value) VALUES ($1, 'x')`, "projected-"+env.EventID); err != nil {
			return err
		}
	}
	return nil
}

func setup(t *testing.T, db database.DB, queueName string) (*recorder.Recorder, *queue.Queue) {
	t.Helper()
	if _, err := queue.Migrate(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
	reg := event.NewRegistry()
	if err := reg.Register(event.Definition{Name: "Noted", AggregateType: "note", SchemaVersion: 1, New: func() event.Payload { return &noted{} }}); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(db, nil, queue.Config{}) // insert-only: nothing works the jobs
	if err != nil {
		t.Fatal(err)
	}
	return recorder.New(eventstore.New(db, 100, nil), reg, router{queue: queueName}, projector{}, q, time.Now), q
}

func counts(t *testing.T, db database.DB) (events, jobs, projected int) {
	t.Helper()
	ctx := context.Background()
	for q, dst := range map[string]*int{
		`SELECT COUNT(*) FROM event_store`:                               &events,
		`SELECT COUNT(*) FROM river_job`:                                 &jobs,
		`SELECT COUNT(*) FROM app_secrets WHERE name LIKE 'projected-%'`: &projected,
	} {
		if err := db.QueryRow(ctx, q).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	return
}

func TestOneTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		rec, _ := setup(t, db, queue.Normal)
		ec := event.Context{Actor: "test"}
		id := event.NewID()

		out, err := rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{"a"}, noted{"b"}}})
		if err != nil || len(out) != 2 {
			t.Fatalf("record: %v (%d)", err, len(out))
		}
		if e, j, p := counts(t, db); e != 2 || j != 2 || p != 2 {
			t.Fatalf("after commit: %d events, %d jobs, %d projected; want 2, 2, 2", e, j, p)
		}

		t.Run("a failed append leaves no jobs", func(t *testing.T) {
			_, err := rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, ExpectedVersion: 0, Events: []event.Payload{noted{"stale"}}})
			if !apperr.IsCode(err, apperr.Conflict) {
				t.Fatalf("want a conflict, got %v", err)
			}
			if e, j, p := counts(t, db); e != 2 || j != 2 || p != 2 {
				t.Fatalf("after a failed append: %d events, %d jobs, %d projected; want 2, 2, 2", e, j, p)
			}
		})

		t.Run("a failure after the enqueue leaves no jobs", func(t *testing.T) {
			boom := errors.New("crash after enqueue")
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				if _, err := rec.RecordTx(ctx, tx, ec, recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"x"}}}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("got %v", err)
			}
			if e, j, p := counts(t, db); e != 2 || j != 2 || p != 2 {
				t.Fatalf("after a rolled-back command: %d events, %d jobs, %d projected; want 2, 2, 2", e, j, p)
			}
		})

		t.Run("a failed before-hook leaves nothing", func(t *testing.T) {
			boom := errors.New("email taken")
			_, err := rec.Record(ctx, ec, func(context.Context, database.Tx) error { return boom },
				recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"x"}}})
			if !errors.Is(err, boom) {
				t.Fatalf("got %v", err)
			}
			if e, j, p := counts(t, db); e != 2 || j != 2 || p != 2 {
				t.Fatalf("after a failed hook: %d events, %d jobs, %d projected", e, j, p)
			}
		})
	})
}

func TestFailedEnqueueLeavesNoEvents(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		// A queue name River refuses makes the enqueue fail inside the
		// transaction, after the events were appended and projected.
		rec, _ := setup(t, db, "no such queue!")
		_, err := rec.Record(context.Background(), event.Context{}, nil,
			recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"lost?"}}})
		if err == nil {
			t.Fatal("want the enqueue to fail")
		}
		if e, j, p := counts(t, db); e != 0 || j != 0 || p != 0 {
			t.Fatalf("after a failed enqueue: %d events, %d jobs, %d projected; want none", e, j, p)
		}
	})
}

func TestWrongAggregateType(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	rec, _ := setup(t, db, queue.Normal)
	_, err := rec.Record(context.Background(), event.Context{}, nil,
		recorder.Change{AggregateType: "customer", AggregateID: event.NewID(), Events: []event.Payload{noted{"x"}}})
	if err == nil {
		t.Fatal("want an error for an event recorded on another aggregate type")
	}
	if e, _, _ := counts(t, db); e != 0 {
		t.Fatalf("%d events written", e)
	}
}
