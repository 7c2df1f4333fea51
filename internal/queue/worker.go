package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"

	"insure/internal/database"
)

// unavailableSnooze is the longest a job waits after the database could
// not be reached or written (an outage, a full disk) before it runs again.
const unavailableSnooze = 5 * time.Second

// retryLater marks an error that should release the job for later without
// using up an attempt (a provider is down).
type retryLater struct {
	err   error
	after time.Duration
}

func (e *retryLater) Error() string { return "retry later: " + e.err.Error() }
func (e *retryLater) Unwrap() error { return e.err }

// RetryLater wraps err so that the job is released (snoozed) for later
// without using up an attempt.
func RetryLater(err error) error { return &retryLater{err: err} }

// RetryAfter is RetryLater with its own delay instead of the queue's
// snooze (for waiting on a dependency that will be ready soon).
func RetryAfter(err error, after time.Duration) error { return &retryLater{err: err, after: after} }

func snoozeFor(err error, def time.Duration) time.Duration {
	var r *retryLater
	if errors.As(err, &r) && r.after > 0 {
		return r.after
	}
	return def
}

// IsRetryLater reports whether err asks for a release.
func IsRetryLater(err error) bool {
	var r *retryLater
	return errors.As(err, &r)
}

type permanent struct{ err error }

func (e *permanent) Error() string { return "permanent: " + e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// Permanent wraps err so that the listener gives up at once: retrying
// cannot help (the event cannot be decoded, the listener is unknown).
func Permanent(err error) error { return &permanent{err: err} }

// IsPermanent reports whether err is permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// PanicError is what a recovered listener panic becomes; it carries the stack.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n%s", e.Value, e.Stack)
}

type listenerWorker struct {
	river.WorkerDefaults[ListenerArgs]
	q *Queue
}

func (w *listenerWorker) settings(listener string) Settings {
	s, _ := w.q.handler.Settings(listener)
	return s
}

// NextRetry implements river.Worker: the listener's own backoff schedule.
func (w *listenerWorker) NextRetry(job *river.Job[ListenerArgs]) time.Time {
	b := w.settings(job.Args.Listener).Backoff
	if len(b) == 0 {
		return time.Time{}
	}
	i := min(len(job.Errors), len(b)-1)
	return w.q.cfg.Now().Add(b[i])
}

// Timeout implements river.Worker.
func (w *listenerWorker) Timeout(job *river.Job[ListenerArgs]) time.Duration {
	if t := w.settings(job.Args.Listener).Timeout; t > 0 {
		return t
	}
	return time.Minute
}

// Work implements river.Worker. Every log line of the job carries its
// ids and names (listener, queue, attempt, job and event ids, and the
// event's name, aggregate and correlation once the handler has loaded it),
// its duration and whether it succeeded; the Observer, when set, sees the
// attempt start and end.
func (w *listenerWorker) Work(ctx context.Context, job *river.Job[ListenerArgs]) error {
	ev := &JobEvent{}
	ctx = WithJobEvent(ctx, ev)
	end := func(JobResult) {}
	if obs := w.q.cfg.Observer; obs != nil {
		ctx, end = obs.StartJob(ctx, JobInfo{
			JobID: job.ID, Listener: job.Args.Listener, Queue: job.Queue, EventID: job.Args.EventID,
			Attempt: job.Attempt, InsertedAt: job.CreatedAt, FirstRun: firstRun(job.Attempt, job.Metadata), Event: ev,
		})
	}
	start := time.Now()
	err := w.q.safeHandle(ctx, job.Args, job.Attempt)
	took := time.Since(start)
	attrs := append([]any{"listener", job.Args.Listener, "event_id", job.Args.EventID, "queue", job.Queue,
		"attempt", job.Attempt, "job_id", job.ID, "duration_ms", took.Milliseconds()}, ev.attrs()...)
	outcome, ret := w.settle(ctx, job, err, w.q.log.With(attrs...))
	end(JobResult{Outcome: outcome, Err: err, Duration: took})
	return ret
}

// settle logs how an attempt ended and decides what River does next: it
// returns the attempt's outcome (OutcomeOK …) and the error for River.
func (w *listenerWorker) settle(ctx context.Context, job *river.Job[ListenerArgs], err error, log *slog.Logger) (string, error) {
	if err == nil {
		log.Debug("listener done", "success", true)
		return OutcomeOK, nil
	}
	if IsRetryLater(err) && !IsPermanent(err) {
		d := snoozeFor(err, w.q.cfg.Snooze)
		log.Info("listener released for later", "success", false, "error", err.Error(), "snooze", d.String())
		return OutcomeSnoozed, river.JobSnooze(d)
	}
	// The database being down or full is no fault of the listener: however
	// long it lasts, it must not use up the job's attempts and turn it
	// into a dead letter. (Unless the attempt's own context ended, its
	// timeout or a shutdown: that takes the usual way, so a job that is
	// always too slow still ends as a dead letter.)
	if errors.Is(err, database.ErrUnavailable) && !IsPermanent(err) && ctx.Err() == nil {
		d := min(w.q.cfg.Snooze, unavailableSnooze)
		log.Warn("listener released for later: the database is unavailable", "success", false, "error", firstLine(err), "snooze", d.String())
		return OutcomeSnoozed, river.JobSnooze(d)
	}
	// A panic is a bug in the listener, which a retry would only repeat
	// (with whatever it did before panicking): the job is dead-lettered at
	// its first panic, with the stack in the dead letter's error.
	var panicked *PanicError
	final := IsPermanent(err) || errors.As(err, &panicked) || job.Attempt >= job.MaxAttempts
	if !final {
		log.Warn("listener failed, will retry", "success", false, "error", firstLine(err))
		return OutcomeRetry, err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if derr := w.q.recordDeadLetter(dctx, job.ID, job.Args, job.Queue, job.Attempt, err); derr != nil {
		// Not recorded: keep the job alive (a snooze uses no attempt) so
		// the give-up is tried again rather than lost.
		log.Error("recording dead letter failed; releasing job", "success", false, "error", derr.Error())
		return OutcomeSnoozed, river.JobSnooze(min(w.q.cfg.Snooze, 10*time.Second))
	}
	log.Error("listener gave up: dead letter", "success", false, "error", firstLine(err))
	if job.Attempt < job.MaxAttempts {
		return OutcomeDead, river.JobCancel(err)
	}
	return OutcomeDead, err
}

func (q *Queue) safeHandle(ctx context.Context, args ListenerArgs, attempt int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: string(debug.Stack())}
		}
	}()
	return q.handler.Handle(ctx, args.Listener, args.EventID, attempt)
}

type periodicWorker struct {
	river.WorkerDefaults[PeriodicArgs]
	q *Queue
}

// Work implements river.Worker.
func (w *periodicWorker) Work(ctx context.Context, job *river.Job[PeriodicArgs]) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: string(debug.Stack())}
		}
	}()
	for _, t := range w.q.cfg.Periodic {
		if t.Name == job.Args.Task {
			if err := t.Run(ctx); err != nil {
				w.q.log.Error("periodic task failed", "task", t.Name, "attempt", job.Attempt, "error", err.Error())
				return err
			}
			return nil
		}
	}
	return river.JobCancel(fmt.Errorf("unknown periodic task %q", job.Args.Task))
}

func decodeArgs(raw []byte) (ListenerArgs, error) {
	var a ListenerArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("listener job args: %w", err)
	}
	return a, nil
}

func firstLine(err error) string {
	s := err.Error()
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
