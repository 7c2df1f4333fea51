package queue

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// JobEvent describes the event a listener job is about, in ids and names
// only. The worker puts an empty one in the job's context; the Handler
// fills it in once it has loaded the event (see JobEventFrom), and the
// worker then adds it to the job's log lines and hands it to the
// JobObserver. A handler that does not fill it in leaves those fields
// empty.
type JobEvent struct {
	EventName     string
	AggregateType string
	AggregateID   string
	CorrelationID string
	// TraceParent is the event's stored W3C trace context (see
	// event.Metadata.TraceParent), unchecked.
	TraceParent string
}

type jobEventKey struct{}

// WithJobEvent returns ctx carrying ev, as the worker runs a job (and as a
// test of a Handler would).
func WithJobEvent(ctx context.Context, ev *JobEvent) context.Context {
	return context.WithValue(ctx, jobEventKey{}, ev)
}

// JobEventFrom returns the JobEvent of the listener job ctx belongs to, for
// the Handler to fill in, or nil outside a job.
func JobEventFrom(ctx context.Context) *JobEvent {
	ev, _ := ctx.Value(jobEventKey{}).(*JobEvent)
	return ev
}

// The outcomes of one attempt at a listener job.
const (
	// OutcomeOK: the listener succeeded.
	OutcomeOK = "ok"
	// OutcomeRetry: it failed and will be retried after its backoff.
	OutcomeRetry = "retry"
	// OutcomeSnoozed: it was released for later without using an attempt
	// (RetryLater), or its dead letter could not be recorded yet.
	OutcomeSnoozed = "snoozed"
	// OutcomeDead: it gave up and became a dead letter.
	OutcomeDead = "dead"
)

// JobInfo is what the worker knows about a listener job as an attempt
// starts.
type JobInfo struct {
	JobID    int64
	Listener string
	Queue    string
	EventID  string
	Attempt  int
	// InsertedAt is when the job was inserted: the commit of its event's
	// transaction, give or take the clock.
	InsertedAt time.Time
	// FirstRun is true for the job's first run: its first attempt, not
	// released for later (snoozed) before.
	FirstRun bool
	// Event is filled in while the job runs (see JobEvent); read it when
	// the attempt ends.
	Event *JobEvent
}

// JobResult is how an attempt ended.
type JobResult struct {
	// Outcome is one of OutcomeOK, OutcomeRetry, OutcomeSnoozed and
	// OutcomeDead.
	Outcome string
	// Err is the listener's error (nil for OutcomeOK). It may hold
	// personal data: never put its text in a label or an attribute.
	Err error
	// Duration is how long the listener ran.
	Duration time.Duration
}

// JobObserver watches listener jobs, for metrics and traces. The telemetry
// package implements it.
type JobObserver interface {
	// StartJob is called as an attempt starts, with the job's context. The
	// context it returns is the one the listener runs with (it may carry a
	// span); end is called once, when the attempt is over.
	StartJob(ctx context.Context, job JobInfo) (context.Context, func(JobResult))
}

// firstRun reports whether a job at attempt with River's metadata raw is on
// its first run: its first attempt, and never snoozed (a snooze gives the
// attempt back and counts itself in the metadata's "snoozes").
func firstRun(attempt int, raw []byte) bool {
	if attempt != 1 {
		return false
	}
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	if len(raw) > 0 && json.Unmarshal(raw, &m) == nil && m.Snoozes > 0 {
		return false
	}
	return true
}

// attrs are ev's fields for a log line.
func (ev *JobEvent) attrs() []any {
	return []any{
		slog.String("event_name", ev.EventName),
		slog.String("aggregate_type", ev.AggregateType),
		slog.String("aggregate_id", ev.AggregateID),
		slog.String("correlation_id", ev.CorrelationID),
	}
}
