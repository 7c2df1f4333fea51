package dashboard

import (
	"context"
	"time"

	"insure/internal/auth"
	"insure/internal/breaker"
	"insure/internal/event"
	"insure/internal/monitor"
	"insure/internal/projection"
	"insure/internal/queue"
)

// The dashboard's dependencies, each as small as the dashboard needs it.
// internal/cli wires the real ones; the tests use hand-written fakes.

// Authenticator checks an API token (auth.Store).
type Authenticator interface {
	Authenticate(ctx context.Context, raw string) (auth.Principal, error)
}

// Metrics reads the queue and the event store's activity (internal/monitor).
type Metrics interface {
	// QueueDepths returns the jobs per queue and state.
	QueueDepths(ctx context.Context) ([]QueueDepth, error)
	// QueueLags returns the age of each queue's oldest runnable job.
	QueueLags(ctx context.Context) ([]QueueLag, error)
	// DeadLetterCounts returns the unresolved dead letters per listener.
	DeadLetterCounts(ctx context.Context) (map[string]int64, error)
	// EventVolume returns the events appended per minute and name since.
	EventVolume(ctx context.Context, since time.Time) ([]VolumePoint, error)
	// ListenerStats returns each listener's jobs, timings and failures
	// since.
	ListenerStats(ctx context.Context, since time.Time) ([]ListenerStat, error)
	// Workers returns the worker processes seen since.
	Workers(ctx context.Context, since time.Time) ([]Worker, error)
}

// The figures the dashboard shows are the monitor's own (*monitor.Monitor
// implements Metrics).
type (
	QueueDepth   = monitor.QueueDepth
	QueueLag     = monitor.QueueLag
	VolumePoint  = monitor.VolumePoint
	ListenerStat = monitor.ListenerStat
	Worker       = monitor.Worker
)

// DeadLetters lists and resolves dead letters (*queue.Queue).
type DeadLetters interface {
	DeadLetters(ctx context.Context, status string, after int64, limit int) ([]queue.DeadLetter, error)
	Retry(ctx context.Context, id int64) (queue.DeadLetter, error)
	Discard(ctx context.Context, id int64) (queue.DeadLetter, error)
	// RetryUpTo and DiscardUpTo resolve every dead letter with an id up
	// to upTo (those the operator confirmed); they skip the ones whose job
	// is still finishing and then fail with queue.ErrJobBusy.
	RetryUpTo(ctx context.Context, upTo int64) ([]queue.DeadLetter, error)
	DiscardUpTo(ctx context.Context, upTo int64) ([]queue.DeadLetter, error)
}

// Projections reports where each read model is (*projection.Subscriptions).
type Projections interface {
	Status(ctx context.Context) ([]projection.Status, error)
}

// Breakers reports the circuit breakers (*breaker.Set).
type Breakers interface {
	Statuses() []breaker.Status
}

// Events reads the global event stream, personal fields sealed as stored
// (app.EventQueries plus the head).
type Events interface {
	// Read returns events after a position, at most limit, of the given
	// names (all when none).
	Read(ctx context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error)
	// Head returns the newest position.
	Head(ctx context.Context) (int64, error)
}

// Customers finds customers and opens their history (*app.CustomerService).
type Customers interface {
	List(ctx context.Context, filter projection.CustomerFilter, after string, limit int) ([]projection.Customer, string, error)
	Get(ctx context.Context, id string) (projection.Customer, error)
	// Events returns a customer's events, personal fields opened.
	Events(ctx context.Context, id string) ([]event.Envelope, error)
}

// Access records reads of personal and event data (*app.AccessService).
type Access interface {
	Record(ctx context.Context, ec event.Context, role, action, subjectType, subjectID string) error
}
