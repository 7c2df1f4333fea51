package listener_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/queue"
)

// TestHandleDescribesJob: Handle fills in the queue's description of the
// job (for its logs, metrics and trace link) from the stored event, also
// when the listener then fails, and leaves it empty when there is no event.
func TestHandleDescribesJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	record := func(t *testing.T, p event.Payload) event.Envelope {
		t.Helper()
		pe, err := event.New(p, event.Context{Actor: "tester", CorrelationID: "corr-9"}, f.reg, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		pe.Metadata.TraceParent = tp
		var envs []event.Envelope
		err = f.db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
			envs, err = f.store.Append(ctx, tx, "order", event.NewID(), 0, []event.Pending{pe})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return envs[0]
	}
	s := f.set(t, defaults, def("Ship", "OrderPlaced"))
	placed := record(t, orderPlaced{OrderID: "o-1", Amount: 1})
	invalid := record(t, orderPlaced{OrderID: "o-2", Amount: -1})

	for _, tt := range []struct {
		name    string
		eventID string
		want    queue.JobEvent
	}{
		{"a stored event", placed.EventID, queue.JobEvent{EventName: "OrderPlaced", AggregateType: "order",
			AggregateID: placed.AggregateID, CorrelationID: "corr-9", TraceParent: tp}},
		{"an event that does not decode", invalid.EventID, queue.JobEvent{EventName: "OrderPlaced", AggregateType: "order",
			AggregateID: invalid.AggregateID, CorrelationID: "corr-9", TraceParent: tp}},
		{"no such event", event.NewID(), queue.JobEvent{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := &queue.JobEvent{}
			_ = s.Handle(queue.WithJobEvent(t.Context(), ev), "Ship", tt.eventID, 1)
			if diff := cmp.Diff(tt.want, *ev); diff != "" {
				t.Errorf("job event (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("outside a job", func(t *testing.T) {
		if err := s.Handle(t.Context(), "Ship", placed.EventID, 1); err != nil {
			t.Fatal(err)
		}
	})
}
