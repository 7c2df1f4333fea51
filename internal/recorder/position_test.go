package recorder_test

import (
	"context"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/queue"
	"insure/internal/recorder"
)

func TestPositionSink(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		rec, _ := setup(t, db, queue.Normal)
		ec := event.Context{Actor: "test"}
		id := event.NewID()

		ctx, sink := recorder.WithPositionSink(context.Background())
		if _, ok := sink.Position(); ok {
			t.Fatal("a new sink holds a position")
		}
		out, err := rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{"a"}, noted{"b"}}})
		if err != nil {
			t.Fatal(err)
		}
		if pos, ok := sink.Position(); !ok || pos != out[1].Position {
			t.Fatalf("sink = %d, %v; want the last event's position %d", pos, ok, out[1].Position)
		}

		// A failed command leaves the sink as it was.
		_, err = rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{"stale"}}})
		if err == nil {
			t.Fatal("want a conflict")
		}
		if pos, _ := sink.Position(); pos != out[1].Position {
			t.Fatalf("after a failed command the sink = %d, want %d", pos, out[1].Position)
		}

		// A failed command on a fresh sink sets nothing.
		ctx2, sink2 := recorder.WithPositionSink(context.Background())
		if _, err := rec.Record(ctx2, ec, nil, recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{"stale"}}}); err == nil {
			t.Fatal("want a conflict")
		}
		if pos, ok := sink2.Position(); ok {
			t.Fatalf("a failed command set the sink to %d", pos)
		}

		// A second command on the same context moves it on.
		out2, err := rec.Record(ctx, ec, nil, recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"c"}}})
		if err != nil {
			t.Fatal(err)
		}
		if pos, _ := sink.Position(); pos != out2[0].Position || pos <= out[1].Position {
			t.Fatalf("sink = %d, want %d", pos, out2[0].Position)
		}

		// Without a sink, Record works as before.
		if _, err := rec.Record(context.Background(), ec, nil, recorder.Change{AggregateType: "note", AggregateID: event.NewID(), Events: []event.Payload{noted{"d"}}}); err != nil {
			t.Fatal(err)
		}
	})
}
