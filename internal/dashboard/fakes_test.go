package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"insure/internal/apperr"
	"insure/internal/breaker"
	"insure/internal/dashboard"
	"insure/internal/event"
	"insure/internal/projection"
	"insure/internal/queue"
)

// Hand-written fakes of the dashboard's dependencies.

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fakeMetrics struct{ now func() time.Time }

var _ dashboard.Metrics = (*fakeMetrics)(nil)

func (m *fakeMetrics) QueueDepths(context.Context) ([]dashboard.QueueDepth, error) {
	return []dashboard.QueueDepth{{Queue: queue.EmailNormal, State: "available", Jobs: 3}, {Queue: queue.PDFNormal, State: "running", Jobs: 1}}, nil
}

func (m *fakeMetrics) QueueLags(context.Context) ([]dashboard.QueueLag, error) {
	return []dashboard.QueueLag{{Queue: queue.EmailNormal, Oldest: 90 * time.Second}}, nil
}

func (m *fakeMetrics) DeadLetterCounts(context.Context) (map[string]int64, error) {
	return map[string]int64{"RenderDocument": 2}, nil
}

func (m *fakeMetrics) EventVolume(_ context.Context, since time.Time) ([]dashboard.VolumePoint, error) {
	at := m.now().UTC().Truncate(time.Minute)
	return []dashboard.VolumePoint{
		{Minute: at.Add(-2 * time.Minute), EventName: "CustomerRegistered", Events: 4},
		{Minute: at.Add(-time.Minute), EventName: "QuotationRequested", Events: 2},
		{Minute: at, EventName: "CustomerRegistered", Events: 1},
	}, nil
}

func (m *fakeMetrics) ListenerStats(context.Context, time.Time) ([]dashboard.ListenerStat, error) {
	return []dashboard.ListenerStat{{Listener: "SendWelcomeEmail", Jobs: 10, Failed: 1, Attempts: 12, FailedAttempts: 2,
		P50: 12 * time.Millisecond, P95: 80 * time.Millisecond, FailureRate: 0.1}}, nil
}

func (m *fakeMetrics) Workers(context.Context, time.Time) ([]dashboard.Worker, error) {
	return []dashboard.Worker{{ID: "w1", Host: "host-a", PID: 42, StartedAt: m.now().Add(-time.Hour), BeatAt: m.now()}}, nil
}

// fakeDeadLetters keeps dead letters in memory and counts the calls.
type fakeDeadLetters struct {
	mu      sync.Mutex
	letters map[int64]queue.DeadLetter
	calls   []string // "retry 1", "discard 2", "retry-all", "discard-all"
}

var _ dashboard.DeadLetters = (*fakeDeadLetters)(nil)

// add puts d among the dead letters.
func (f *fakeDeadLetters) add(d queue.DeadLetter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.letters[d.ID] = d
}

func newFakeDeadLetters(ids ...int64) *fakeDeadLetters {
	f := &fakeDeadLetters{letters: map[int64]queue.DeadLetter{}}
	for _, id := range ids {
		f.letters[id] = queue.DeadLetter{ID: id, JobID: 100 + id, Listener: "RenderDocument", Queue: queue.PDFNormal,
			EventID: event.NewID(), Attempts: 3, Error: fmt.Sprintf("render: disk full (%d)\nstack…", id), Status: "dead",
			FailedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	}
	return f
}

func (f *fakeDeadLetters) DeadLetters(_ context.Context, status string, after int64, limit int) ([]queue.DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []queue.DeadLetter
	for _, d := range f.letters {
		if d.ID > after && (status == "all" || d.Status == status) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b queue.DeadLetter) int { return int(a.ID - b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeDeadLetters) resolve(id int64, status string) (queue.DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	verb := map[string]string{"retried": "retry", "discarded": "discard"}[status]
	f.calls = append(f.calls, fmt.Sprintf("%s %d", verb, id))
	d, ok := f.letters[id]
	if !ok {
		return d, queue.ErrDeadLetterNotFound
	}
	if d.Status != "dead" {
		return d, queue.ErrAlreadyResolved
	}
	d.Status = status
	f.letters[id] = d
	return d, nil
}

func (f *fakeDeadLetters) Retry(_ context.Context, id int64) (queue.DeadLetter, error) {
	return f.resolve(id, "retried")
}

func (f *fakeDeadLetters) Discard(_ context.Context, id int64) (queue.DeadLetter, error) {
	return f.resolve(id, "discarded")
}

func (f *fakeDeadLetters) all(status string, upTo int64) ([]queue.DeadLetter, error) {
	f.mu.Lock()
	verb := map[string]string{"retried": "retry-all", "discarded": "discard-all"}[status]
	f.calls = append(f.calls, verb)
	var ids []int64
	for id, d := range f.letters {
		if d.Status == "dead" && id <= upTo {
			ids = append(ids, id)
		}
	}
	f.mu.Unlock()
	var out []queue.DeadLetter
	for _, id := range ids {
		f.mu.Lock()
		d := f.letters[id]
		d.Status = status
		f.letters[id] = d
		f.mu.Unlock()
		out = append(out, d)
	}
	return out, nil
}

func (f *fakeDeadLetters) RetryUpTo(_ context.Context, upTo int64) ([]queue.DeadLetter, error) {
	return f.all("retried", upTo)
}

func (f *fakeDeadLetters) DiscardUpTo(_ context.Context, upTo int64) ([]queue.DeadLetter, error) {
	return f.all("discarded", upTo)
}

func (f *fakeDeadLetters) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeDeadLetters) Status(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.letters[id].Status
}

type fakeProjections struct{}

func (fakeProjections) Status(context.Context) ([]projection.Status, error) {
	return []projection.Status{{Name: "customers", Position: 7, Head: 9, Lag: 2, Age: 3 * time.Second, Started: true, Rebuilding: -1}}, nil
}

type fakeBreakers struct{}

func (fakeBreakers) Statuses() []breaker.Status {
	return []breaker.Status{{Name: "email", State: "closed"}, {Name: "whatsapp", State: "open", ConsecutiveFailures: 5}}
}

// secretMarker is in every fake event's data and metadata: a page that
// shows it shows raw event data.
const secretMarker = "raw-data-marker-7c1e"

// fakeEvents is an event stream in memory.
type fakeEvents struct {
	mu     sync.Mutex
	events []event.Envelope
	err    error
}

var _ dashboard.Events = (*fakeEvents)(nil)

func (f *fakeEvents) Append(name, aggregateID string) event.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := int64(len(f.events) + 1)
	data, _ := json.Marshal(map[string]string{"note": secretMarker, "n": fmt.Sprint(pos)})
	env := event.Envelope{Position: pos, EventID: event.NewID(), EventName: name, AggregateType: "customer",
		AggregateID: aggregateID, AggregateVersion: pos, SchemaVersion: 1, Data: data,
		Metadata:   event.Metadata{Actor: "token:" + secretMarker, IP: "192.0.2.1", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.events = append(f.events, env)
	return env
}

func (f *fakeEvents) Read(_ context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, after, f.err
	}
	var out []event.Envelope
	next := after
	for _, e := range f.events {
		if e.Position > after && (len(types) == 0 || slices.Contains(types, e.EventName)) && len(out) < limit {
			out = append(out, e)
			next = e.Position
		}
	}
	return out, next, nil
}

func (f *fakeEvents) Head(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.events)), nil
}

// fakeCustomers has one customer, whose events are the fake stream's of
// that id.
type fakeCustomers struct {
	customer projection.Customer
	events   *fakeEvents
}

var _ dashboard.Customers = (*fakeCustomers)(nil)

func (f *fakeCustomers) List(_ context.Context, filter projection.CustomerFilter, _ string, _ int) ([]projection.Customer, string, error) {
	if filter.Phone == "not-a-phone" {
		return nil, "", apperr.Field("phone", "is not a phone number")
	}
	if filter.Email != "" && filter.Email != f.customer.Email {
		return nil, "", nil
	}
	return []projection.Customer{f.customer}, "", nil
}

func (f *fakeCustomers) Get(_ context.Context, id string) (projection.Customer, error) {
	if id != f.customer.ID {
		return projection.Customer{}, apperr.New(apperr.NotFound, "customer %s not found", id)
	}
	return f.customer, nil
}

func (f *fakeCustomers) Events(_ context.Context, id string) ([]event.Envelope, error) {
	f.events.mu.Lock()
	defer f.events.mu.Unlock()
	var out []event.Envelope
	for _, e := range f.events.events {
		if e.AggregateID == id {
			out = append(out, e)
		}
	}
	return out, nil
}

// access is one recorded read.
type access struct {
	Actor, Role, Action, SubjectType, SubjectID, Channel string
}

type fakeAccess struct {
	mu      sync.Mutex
	records []access
	fail    bool
}

var _ dashboard.Access = (*fakeAccess)(nil)

func (f *fakeAccess) Record(_ context.Context, ec event.Context, role, action, subjectType, subjectID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("event store down")
	}
	f.records = append(f.records, access{Actor: ec.Actor, Role: role, Action: action, SubjectType: subjectType, SubjectID: subjectID, Channel: ec.Channel})
	return nil
}

func (f *fakeAccess) Records() []access {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.records)
}
