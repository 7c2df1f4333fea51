package listener_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/listener"
	"insure/internal/queue"
)

type orderPlaced struct {
	OrderID string `json:"order_id"`
	Amount  int64  `json:"amount"`
}

func (orderPlaced) EventName() string { return "OrderPlaced" }

func (o orderPlaced) Validate() error {
	if o.Amount < 0 {
		return errors.New("amount must not be negative")
	}
	return nil
}

type orderShipped struct {
	OrderID string `json:"order_id"`
}

func (orderShipped) EventName() string { return "OrderShipped" }

// orderNoted has no listeners.
type orderNoted struct {
	Note string `json:"note"`
}

func (orderNoted) EventName() string { return "OrderNoted" }

type fixture struct {
	db    database.DB
	store *eventstore.Store
	reg   *event.Registry
}

func setup(t *testing.T) fixture {
	t.Helper()
	reg := event.NewRegistry()
	err := reg.Register(
		event.Definition{Name: "OrderPlaced", AggregateType: "order", SchemaVersion: 1, New: func() event.Payload { return &orderPlaced{} }},
		event.Definition{Name: "OrderShipped", AggregateType: "order", SchemaVersion: 1, New: func() event.Payload { return &orderShipped{} }},
		event.Definition{Name: "OrderNoted", AggregateType: "order", SchemaVersion: 1, New: func() event.Payload { return &orderNoted{} }},
	)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	db := dbtest.Open(t, database.SQLite)
	return fixture{db: db, store: eventstore.New(db, 100, nil), reg: reg}
}

// record appends ps as a new order aggregate and returns the stored events.
func (f fixture) record(t *testing.T, ps ...event.Payload) []event.Envelope {
	t.Helper()
	pending := make([]event.Pending, len(ps))
	for i, p := range ps {
		pe, err := event.New(p, event.Context{Actor: "tester"}, f.reg, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if err != nil {
			t.Fatalf("new event: %v", err)
		}
		pending[i] = pe
	}
	var envs []event.Envelope
	err := f.db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
		var err error
		envs, err = f.store.Append(ctx, tx, "order", event.NewID(), 0, pending)
		return err
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return envs
}

func (f fixture) set(t *testing.T, d listener.Defaults, defs ...listener.Definition) *listener.Set {
	t.Helper()
	s, err := listener.NewSet(f.store, f.reg, d, defs...)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

var defaults = listener.Defaults{MaxAttempts: 7, Backoff: []time.Duration{time.Second, time.Minute}, Timeout: 30 * time.Second}

func fixed(q string, prio int) func(event.Payload) (string, int) {
	return func(event.Payload) (string, int) { return q, prio }
}

func noop(context.Context, event.Envelope, event.Payload) error { return nil }

func def(name string, events ...string) listener.Definition {
	return listener.Definition{Name: name, Events: events, Route: fixed(queue.Normal, 2), Handle: noop}
}

func TestNewSetRejects(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name    string
		defs    []listener.Definition
		wantMsg string
	}{
		{"missing name", []listener.Definition{{Events: []string{"OrderPlaced"}, Route: fixed(queue.Normal, 2), Handle: noop}}, "name, route and handle are required"},
		{"missing route", []listener.Definition{{Name: "A", Events: []string{"OrderPlaced"}, Handle: noop}}, `listener "A": name, route and handle are required`},
		{"missing handle", []listener.Definition{{Name: "A", Events: []string{"OrderPlaced"}, Route: fixed(queue.Normal, 2)}}, `listener "A": name, route and handle are required`},
		{"duplicate name", []listener.Definition{def("A", "OrderPlaced"), def("B", "OrderPlaced"), def("A", "OrderShipped")}, `listener "A": defined twice`},
		{"no events", []listener.Definition{def("A")}, "listener A: no events"},
		{"unknown event", []listener.Definition{def("A", "OrderPlaced", "OrderLost")}, `listener A: unknown event "OrderLost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := listener.NewSet(f.store, f.reg, defaults, tt.defs...)
			if err == nil {
				t.Fatalf("NewSet succeeded (%d listeners), want an error", len(s.Definitions()))
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("NewSet err = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}

	t.Run("no listeners at all", func(t *testing.T) {
		t.Parallel()
		s := f.set(t, defaults)
		if got := s.Definitions(); len(got) != 0 {
			t.Errorf("Definitions() = %d listeners, want none", len(got))
		}
	})
}

// settings is the part of a Definition that NewSet fills in.
type settings struct {
	Name        string
	Events      []string
	MaxAttempts int
	Backoff     []time.Duration
	Timeout     time.Duration
}

func settingsOf(defs []listener.Definition) []settings {
	out := make([]settings, len(defs))
	for i, d := range defs {
		out[i] = settings{d.Name, d.Events, d.MaxAttempts, d.Backoff, d.Timeout}
	}
	return out
}

func TestNewSetDefaults(t *testing.T) {
	t.Parallel()
	f := setup(t)
	explicit := def("Explicit", "OrderPlaced")
	explicit.MaxAttempts = 2
	explicit.Backoff = []time.Duration{5 * time.Millisecond}
	explicit.Timeout = time.Minute
	partial := def("Partial", "OrderShipped")
	partial.Timeout = 3 * time.Second

	s := f.set(t, defaults, def("Zero", "OrderPlaced", "OrderShipped"), explicit, partial)

	want := []settings{
		{"Explicit", []string{"OrderPlaced"}, 2, []time.Duration{5 * time.Millisecond}, time.Minute},
		{"Partial", []string{"OrderShipped"}, 7, defaults.Backoff, 3 * time.Second},
		{"Zero", []string{"OrderPlaced", "OrderShipped"}, 7, defaults.Backoff, 30 * time.Second},
	}
	if diff := cmp.Diff(want, settingsOf(s.Definitions())); diff != "" {
		t.Errorf("Definitions (-want +got):\n%s", diff)
	}

	for _, w := range want {
		got, ok := s.Settings(w.Name)
		if !ok {
			t.Errorf("Settings(%s) not found", w.Name)
			continue
		}
		if diff := cmp.Diff(queue.Settings{Backoff: w.Backoff, Timeout: w.Timeout}, got); diff != "" {
			t.Errorf("Settings(%s) (-want +got):\n%s", w.Name, diff)
		}
	}
	if got, ok := s.Settings("Nobody"); ok {
		t.Errorf("Settings(Nobody) = %+v, true; want false", got)
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	f := setup(t)
	byAmount := func(p event.Payload) (string, int) {
		if o, ok := event.As[orderPlaced](p); ok && o.Amount >= 1000 {
			return queue.HighPriority, 1
		}
		return queue.Normal, 2
	}
	audit := def("Audit", "OrderPlaced", "OrderShipped")
	audit.Route = fixed(queue.AuditNormal, 3)
	ship := def("Ship", "OrderPlaced")
	ship.Route = byAmount
	ship.MaxAttempts = 3
	skip := def("Skip", "OrderPlaced")
	skip.Route = fixed("", 1)
	s := f.set(t, defaults, audit, ship, skip)

	placed := event.Envelope{EventID: event.NewID(), EventName: "OrderPlaced"}
	shipped := event.Envelope{EventID: event.NewID(), EventName: "OrderShipped"}
	tests := []struct {
		name string
		env  event.Envelope
		p    event.Payload
		want []queue.Job
	}{
		{
			name: "placed, small",
			env:  placed, p: &orderPlaced{Amount: 10},
			want: []queue.Job{
				{Listener: "Audit", EventID: placed.EventID, Queue: queue.AuditNormal, Priority: 3, MaxAttempts: 7},
				{Listener: "Ship", EventID: placed.EventID, Queue: queue.Normal, Priority: 2, MaxAttempts: 3},
			},
		},
		{
			name: "placed, large (the route sees the payload)",
			env:  placed, p: orderPlaced{Amount: 5000},
			want: []queue.Job{
				{Listener: "Audit", EventID: placed.EventID, Queue: queue.AuditNormal, Priority: 3, MaxAttempts: 7},
				{Listener: "Ship", EventID: placed.EventID, Queue: queue.HighPriority, Priority: 1, MaxAttempts: 3},
			},
		},
		{
			name: "shipped",
			env:  shipped, p: &orderShipped{},
			want: []queue.Job{{Listener: "Audit", EventID: shipped.EventID, Queue: queue.AuditNormal, Priority: 3, MaxAttempts: 7}},
		},
		{
			name: "no listeners",
			env:  event.Envelope{EventID: event.NewID(), EventName: "OrderNoted"}, p: &orderNoted{},
			want: []queue.Job{},
		},
		{
			name: "unregistered event",
			env:  event.Envelope{EventID: event.NewID(), EventName: "Nope"}, p: nil,
			want: []queue.Job{},
		},
	}
	for _, tt := range tests {
		got := s.Route(tt.env, tt.p)
		if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b queue.Job) bool { return a.Listener < b.Listener }), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Route (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestForEventAndDefinitions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.set(t, defaults, def("Zulu", "OrderPlaced"), def("Alpha", "OrderShipped", "OrderPlaced"), def("Mike", "OrderShipped"))

	names := func(defs []listener.Definition) []string {
		out := make([]string, len(defs))
		for i, d := range defs {
			out[i] = d.Name
		}
		return out
	}
	if diff := cmp.Diff([]string{"Alpha", "Mike", "Zulu"}, names(s.Definitions())); diff != "" {
		t.Errorf("Definitions not sorted by name (-want +got):\n%s", diff)
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	for _, tt := range []struct {
		event string
		want  []string
	}{
		{"OrderPlaced", []string{"Alpha", "Zulu"}},
		{"OrderShipped", []string{"Alpha", "Mike"}},
		{"OrderNoted", nil},
		{"Nope", nil},
	} {
		if diff := cmp.Diff(tt.want, names(s.ForEvent(tt.event)), sorted, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ForEvent(%s) (-want +got):\n%s", tt.event, diff)
		}
	}
}

type handled struct {
	EventID     string
	EventName   string
	AggregateID string
	Actor       string
	Payload     event.Payload
}

func TestHandle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var calls []handled
	errFlaky := errors.New("provider down")
	h := def("Ship", "OrderPlaced", "OrderShipped")
	h.Handle = func(_ context.Context, env event.Envelope, p event.Payload) error {
		calls = append(calls, handled{env.EventID, env.EventName, env.AggregateID, env.Metadata.Actor, p})
		if o, ok := event.As[orderShipped](p); ok && o.OrderID == "flaky" {
			return queue.RetryLater(errFlaky)
		}
		return nil
	}
	s := f.set(t, defaults, h)

	placed := f.record(t, orderPlaced{OrderID: "o-1", Amount: 12})[0]
	flaky := f.record(t, orderShipped{OrderID: "flaky"})[0]
	invalid := f.record(t, orderPlaced{OrderID: "o-2", Amount: -5})[0]

	t.Run("decodes the stored event", func(t *testing.T) {
		calls = nil
		if err := s.Handle(t.Context(), "Ship", placed.EventID, 1); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		want := []handled{{placed.EventID, "OrderPlaced", placed.AggregateID, "tester", &orderPlaced{OrderID: "o-1", Amount: 12}}}
		if diff := cmp.Diff(want, calls); diff != "" {
			t.Errorf("Handle calls (-want +got):\n%s", diff)
		}
	})

	t.Run("returns the listener's error", func(t *testing.T) {
		calls = nil
		err := s.Handle(t.Context(), "Ship", flaky.EventID, 2)
		if !errors.Is(err, errFlaky) || !queue.IsRetryLater(err) || queue.IsPermanent(err) {
			t.Errorf("Handle err = %v, want the listener's retry-later error", err)
		}
		if len(calls) != 1 {
			t.Errorf("listener ran %d times, want 1", len(calls))
		}
	})

	for _, tt := range []struct {
		name, listener, eventID string
		wantNotFound            bool
	}{
		{"unknown listener", "Nobody", placed.EventID, false},
		{"unknown event id", "Ship", event.NewID(), true},
		{"malformed event id", "Ship", "not-an-id", true},
		{"event that fails validation", "Ship", invalid.EventID, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			err := s.Handle(t.Context(), tt.listener, tt.eventID, 1)
			if !queue.IsPermanent(err) {
				t.Errorf("Handle(%s, %s) err = %v, want a permanent error", tt.listener, tt.eventID, err)
			}
			if tt.wantNotFound && !errors.Is(err, eventstore.ErrNotFound) {
				t.Errorf("Handle(%s, %s) err = %v, want eventstore.ErrNotFound", tt.listener, tt.eventID, err)
			}
			if len(calls) != 0 {
				t.Errorf("listener ran %d times, want 0", len(calls))
			}
		})
	}
}

type failedCall struct {
	SameTx  bool
	EventID string
	Payload event.Payload
	Cause   error
}

func TestGiveUp(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var calls []failedCall
	var current database.Tx
	errHook := errors.New("hook failed")
	withHook := def("WithHook", "OrderPlaced")
	withHook.Failed = func(_ context.Context, tx database.Tx, env event.Envelope, p event.Payload, cause error) error {
		calls = append(calls, failedCall{tx == current, env.EventID, p, cause})
		if o, ok := event.As[orderPlaced](p); ok && o.OrderID == "hook-fails" {
			return errHook
		}
		return nil
	}
	s := f.set(t, defaults, withHook, def("NoHook", "OrderPlaced"))

	placed := f.record(t, orderPlaced{OrderID: "o-1", Amount: 1})[0]
	hookFails := f.record(t, orderPlaced{OrderID: "hook-fails"})[0]
	cause := errors.New("gave up after 7 attempts")

	giveUp := func(t *testing.T, name, eventID string) error {
		t.Helper()
		return f.db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
			current = tx
			return s.GiveUp(ctx, tx, name, eventID, cause)
		})
	}

	tests := []struct {
		name, listener, eventID string
		wantErr                 error
		wantCalls               []failedCall
	}{
		{"runs the hook in the transaction", "WithHook", placed.EventID, nil,
			[]failedCall{{true, placed.EventID, &orderPlaced{OrderID: "o-1", Amount: 1}, cause}}},
		{"returns the hook's error", "WithHook", hookFails.EventID, errHook,
			[]failedCall{{true, hookFails.EventID, &orderPlaced{OrderID: "hook-fails"}, cause}}},
		{"no hook", "NoHook", placed.EventID, nil, nil},
		{"unknown listener", "Nobody", placed.EventID, nil, nil},
		{"unknown event", "WithHook", event.NewID(), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			err := giveUp(t, tt.listener, tt.eventID)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("GiveUp err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantCalls, calls, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("Failed calls (-want +got):\n%s", diff)
			}
		})
	}
}
