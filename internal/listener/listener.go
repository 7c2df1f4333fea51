package listener

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/queue"
)

// Definition is one listener: which event starts it, where its jobs go, how
// it retries, and what it does.
type Definition struct {
	// Name is the listener's name, e.g. "SendWelcomeEmail".
	Name string
	// Events are the event names that start it.
	Events []string
	// Route picks the queue and priority (1 highest … 4) for one event. It
	// may return an empty queue to skip this event.
	Route func(p event.Payload) (queueName string, priority int)
	// MaxAttempts, Backoff and Timeout; zero values take the set's defaults.
	MaxAttempts int
	Backoff     []time.Duration
	Timeout     time.Duration
	// Handle does the work. It must be idempotent: a retry after a partial
	// run must not repeat a side effect. Wrap errors with queue.RetryLater
	// when a dependency is down, and queue.Permanent when a retry cannot help.
	Handle func(ctx context.Context, env event.Envelope, p event.Payload) error
	// Failed, when set, runs exactly once when the listener gives up, inside
	// the transaction that records the dead letter.
	Failed func(ctx context.Context, tx database.Tx, env event.Envelope, p event.Payload, cause error) error
}

// Defaults apply to definitions that leave a setting at zero.
type Defaults struct {
	MaxAttempts int
	Backoff     []time.Duration
	Timeout     time.Duration
}

// Set is every listener, indexed by name and by event. It routes events to
// jobs (for the recorder) and runs jobs (for the queue).
type Set struct {
	byName  map[string]Definition
	byEvent map[string][]Definition
	store   *eventstore.Store
	reg     *event.Registry
	faults  *faults // nil except in the fault-injection suite's binary
}

var _ queue.Handler = (*Set)(nil)

// NewSet checks and indexes the definitions.
func NewSet(store *eventstore.Store, reg *event.Registry, d Defaults, defs ...Definition) (*Set, error) {
	s := &Set{byName: map[string]Definition{}, byEvent: map[string][]Definition{}, store: store, reg: reg}
	f, err := newFaults()
	if err != nil {
		return nil, err
	}
	s.faults = f
	for _, def := range defs {
		switch {
		case def.Name == "" || def.Handle == nil || def.Route == nil:
			return nil, fmt.Errorf("listener %q: name, route and handle are required", def.Name)
		case s.byName[def.Name].Name != "":
			return nil, fmt.Errorf("listener %q: defined twice", def.Name)
		}
		if len(def.Events) == 0 {
			return nil, fmt.Errorf("listener %s: no events", def.Name)
		}
		for _, e := range def.Events {
			if _, ok := reg.Lookup(e); !ok {
				return nil, fmt.Errorf("listener %s: unknown event %q", def.Name, e)
			}
		}
		if def.MaxAttempts <= 0 {
			def.MaxAttempts = d.MaxAttempts
		}
		if len(def.Backoff) == 0 {
			def.Backoff = d.Backoff
		}
		if def.Timeout <= 0 {
			def.Timeout = d.Timeout
		}
		s.byName[def.Name] = def
		for _, e := range def.Events {
			s.byEvent[e] = append(s.byEvent[e], def)
		}
	}
	return s, nil
}

// Route implements recorder.Router.
func (s *Set) Route(env event.Envelope, p event.Payload) []queue.Job {
	defs := s.byEvent[env.EventName]
	jobs := make([]queue.Job, 0, len(defs))
	for _, d := range defs {
		q, prio := d.Route(p)
		if q == "" {
			continue
		}
		jobs = append(jobs, queue.Job{Listener: d.Name, EventID: env.EventID, Queue: q, Priority: prio, MaxAttempts: d.MaxAttempts})
	}
	return jobs
}

// Handle implements queue.Handler.
func (s *Set) Handle(ctx context.Context, listener, eventID string, _ int) error {
	d, ok := s.byName[listener]
	if !ok {
		return queue.Permanent(fmt.Errorf("unknown listener %q", listener))
	}
	env, p, err := s.load(ctx, eventID)
	describeJob(ctx, env)
	if err != nil {
		return err
	}
	s.faults.check(listener, env)
	return d.Handle(ctx, env, p)
}

// describeJob fills in the queue's description of the job ctx belongs to
// (its logs, metrics and trace) from env, once env was read.
func describeJob(ctx context.Context, env event.Envelope) {
	ev := queue.JobEventFrom(ctx)
	if ev == nil || env.EventID == "" {
		return
	}
	*ev = queue.JobEvent{EventName: env.EventName, AggregateType: env.AggregateType, AggregateID: env.AggregateID,
		CorrelationID: env.Metadata.CorrelationID, TraceParent: env.Metadata.TraceParent}
}

// GiveUp implements queue.Handler.
func (s *Set) GiveUp(ctx context.Context, tx database.Tx, listener, eventID string, cause error) error {
	d, ok := s.byName[listener]
	if !ok || d.Failed == nil {
		return nil
	}
	env, p, err := s.load(ctx, eventID)
	if queue.IsPermanent(err) {
		// The event is gone or cannot be decoded: nothing to hand the hook.
		return nil
	}
	if err != nil {
		// A temporary failure: fail the dead letter's transaction so the
		// give-up (and its hook) is tried again rather than skipped.
		return err
	}
	return d.Failed(ctx, tx, env, p, cause)
}

// Settings implements queue.Handler.
func (s *Set) Settings(listener string) (queue.Settings, bool) {
	d, ok := s.byName[listener]
	if !ok {
		return queue.Settings{}, false
	}
	return queue.Settings{Backoff: d.Backoff, Timeout: d.Timeout}, true
}

// Definitions returns every listener, sorted by name.
func (s *Set) Definitions() []Definition {
	out := make([]Definition, 0, len(s.byName))
	for _, d := range s.byName {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ForEvent returns the listeners an event name starts.
func (s *Set) ForEvent(name string) []Definition { return s.byEvent[name] }

func (s *Set) load(ctx context.Context, eventID string) (event.Envelope, event.Payload, error) {
	env, err := s.store.Get(ctx, s.store.DB(), eventID)
	if errors.Is(err, eventstore.ErrNotFound) {
		return env, nil, queue.Permanent(err)
	}
	if err != nil {
		return env, nil, err
	}
	p, err := s.reg.Decode(env)
	if err != nil {
		return env, nil, queue.Permanent(err)
	}
	return env, p, nil
}
