package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/queue"
)

// handler is a hand-written fake: each listener name has a behaviour.
type handler struct {
	mu       sync.Mutex
	runs     map[string]int // listener/event → runs
	attempts map[string][]int
	gaveUp   map[string]int
	failFor  map[string]int // listener → fail this many times before success
	snoozes  map[string]int // listener → ask for release this many times
}

var _ queue.Handler = (*handler)(nil)

func newHandler() *handler {
	return &handler{runs: map[string]int{}, attempts: map[string][]int{}, gaveUp: map[string]int{},
		failFor: map[string]int{"flaky": 2}, snoozes: map[string]int{"provider-down": 2}}
}

func (h *handler) Handle(_ context.Context, listener, eventID string, attempt int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := listener + "/" + eventID
	h.runs[key]++
	h.attempts[key] = append(h.attempts[key], attempt)
	switch listener {
	case "ok":
		return nil
	case "flaky":
		if h.runs[key] <= h.failFor["flaky"] {
			return errors.New("flaky failure")
		}
		return nil
	case "always-fails":
		return errors.New("always fails")
	case "permanent":
		return queue.Permanent(errors.New("cannot decode"))
	case "provider-down":
		if h.runs[key] <= h.snoozes["provider-down"] {
			return queue.RetryLater(errors.New("smtp unreachable"))
		}
		return nil
	case "db-down":
		// Down for longer than the job's 3 attempts would last.
		if h.runs[key] <= 4 {
			return fmt.Errorf("append events: %w", database.Unavailable(syscall.ECONNREFUSED))
		}
		return nil
	case "dies-once":
		if h.runs[key] == 1 {
			return queue.Permanent(errors.New("first run dies"))
		}
		return nil
	case "panics":
		var m map[string]int
		//lint:ignore SA5000 the nil map write is the panic under test
		m["boom"]++
	}
	return nil
}

func (h *handler) GiveUp(_ context.Context, _ database.Tx, listener, eventID string, _ error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gaveUp[listener+"/"+eventID]++
	return nil
}

func (h *handler) Settings(string) (queue.Settings, bool) {
	return queue.Settings{Backoff: []time.Duration{5 * time.Millisecond, 10 * time.Millisecond}, Timeout: 5 * time.Second}, true
}

func (h *handler) count(m map[string]int, key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return m[key]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func setup(t *testing.T, db database.DB) (*queue.Queue, *handler) {
	t.Helper()
	ctx := context.Background()
	if _, err := queue.Migrate(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	h := newHandler()
	workers := map[string]int{}
	for _, n := range queue.Names() {
		workers[n] = 2
	}
	q, err := queue.New(db, h, queue.Config{Workers: workers, Snooze: 5 * time.Millisecond,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	return q, h
}

func enqueue(t *testing.T, db database.DB, q *queue.Queue, listener string) string {
	t.Helper()
	id := event.NewID()
	err := db.InTx(context.Background(), func(ctx context.Context, tx database.Tx) error {
		return q.Enqueue(ctx, tx, []queue.Job{{Listener: listener, EventID: id, Queue: queue.Normal, Priority: 2, MaxAttempts: 3}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestQueue(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		q, h := setup(t, db)

		t.Run("rolled back enqueue leaves no job", func(t *testing.T) {
			id := event.NewID()
			boom := errors.New("append failed")
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				if err := q.Enqueue(ctx, tx, []queue.Job{{Listener: "ok", EventID: id, Queue: queue.Normal, MaxAttempts: 3}}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			jobs, err := q.JobsForEvent(ctx, id)
			if err != nil || len(jobs) != 0 {
				t.Fatalf("jobs after rollback: %d, %v", len(jobs), err)
			}
		})

		t.Run("retries with backoff then succeeds", func(t *testing.T) {
			id := enqueue(t, db, q, "flaky")
			waitFor(t, "flaky job to complete", func() bool {
				jobs, _ := q.JobsForEvent(ctx, id)
				return len(jobs) == 1 && jobs[0].State == "completed"
			})
			if got := h.count(h.runs, "flaky/"+id); got != 3 {
				t.Fatalf("flaky ran %d times, want 3", got)
			}
			if h.count(h.gaveUp, "flaky/"+id) != 0 {
				t.Fatal("failed hook ran for a job that succeeded")
			}
		})

		t.Run("release for later uses no attempt", func(t *testing.T) {
			id := enqueue(t, db, q, "provider-down")
			waitFor(t, "released job to complete", func() bool {
				jobs, _ := q.JobsForEvent(ctx, id)
				return len(jobs) == 1 && jobs[0].State == "completed"
			})
			h.mu.Lock()
			attempts := h.attempts["provider-down/"+id]
			h.mu.Unlock()
			if len(attempts) != 3 || attempts[2] != 1 {
				t.Fatalf("attempts seen %v, want three runs all at attempt 1", attempts)
			}
		})

		t.Run("an unavailable database uses no attempt", func(t *testing.T) {
			id := enqueue(t, db, q, "db-down")
			waitFor(t, "job to complete once the database is back", func() bool {
				jobs, _ := q.JobsForEvent(ctx, id)
				return len(jobs) == 1 && jobs[0].State == "completed"
			})
			h.mu.Lock()
			attempts := h.attempts["db-down/"+id]
			h.mu.Unlock()
			if len(attempts) != 5 || attempts[4] != 1 {
				t.Fatalf("attempts seen %v, want five runs all at attempt 1", attempts)
			}
			if n := h.count(h.gaveUp, "db-down/"+id); n != 0 {
				t.Fatalf("gave up %d times on a job whose only failure was the database", n)
			}
		})

		// giveUp returns the first dead letter and how often the listener
		// had run by then.
		giveUp := func(t *testing.T, listener string, wantErr string) (queue.DeadLetter, int) {
			id := enqueue(t, db, q, listener)
			var dl queue.DeadLetter
			waitFor(t, listener+" dead letter", func() bool {
				dls, _ := q.DeadLetters(ctx, "dead", 0, 1000)
				for _, d := range dls {
					if d.EventID == id {
						dl = d
						return true
					}
				}
				return false
			})
			if !strings.Contains(dl.Error, wantErr) || dl.Listener != listener || dl.Queue != queue.Normal {
				t.Fatalf("dead letter %+v", dl)
			}
			waitFor(t, "hook", func() bool { return h.count(h.gaveUp, listener+"/"+id) == 1 })
			// Retry it: the job runs again, fails again, and becomes dead again.
			before := h.count(h.runs, listener+"/"+id)
			var r queue.DeadLetter
			var err error
			waitFor(t, "job to be finalised", func() bool {
				r, err = q.Retry(ctx, dl.ID)
				return !errors.Is(err, queue.ErrJobBusy)
			})
			if err != nil || r.Status != "retried" {
				t.Fatalf("retry: %+v %v", r, err)
			}
			waitFor(t, "retried job to run", func() bool { return h.count(h.runs, listener+"/"+id) > before })
			waitFor(t, "dead again", func() bool {
				d, err := q.DeadLetter(ctx, dl.ID)
				return err == nil && d.Status == "dead"
			})
			waitFor(t, "hook after second give-up", func() bool { return h.count(h.gaveUp, listener+"/"+id) == 2 })
			return dl, before
		}

		t.Run("gives up after max attempts", func(t *testing.T) {
			giveUp(t, "always-fails", "always fails")
		})
		t.Run("permanent errors give up at once", func(t *testing.T) {
			giveUp(t, "permanent", "cannot decode")
		})
		t.Run("panics become dead letters with a stack, at their first attempt", func(t *testing.T) {
			dl, runs := giveUp(t, "panics", "goroutine")
			// MaxAttempts is 3: a retry would have run it again.
			if dl.Attempts != 1 || runs != 1 || !strings.HasPrefix(dl.Error, "panic: ") {
				t.Fatalf("dead letter after %d attempts (%d runs), error %.80q; want one attempt and the panic", dl.Attempts, runs, dl.Error)
			}
		})

		t.Run("a retried dead letter is resolved", func(t *testing.T) {
			id := enqueue(t, db, q, "dies-once")
			var dl queue.DeadLetter
			waitFor(t, "dead letter", func() bool {
				dls, _ := q.DeadLetters(ctx, "dead", 0, 1000)
				for _, d := range dls {
					if d.EventID == id {
						dl = d
						return true
					}
				}
				return false
			})
			waitFor(t, "retry", func() bool {
				_, err := q.Retry(ctx, dl.ID)
				return !errors.Is(err, queue.ErrJobBusy)
			})
			waitFor(t, "the retried job to complete", func() bool {
				jobs, _ := q.JobsForEvent(ctx, id)
				return len(jobs) == 1 && jobs[0].State == "completed"
			})
			if _, err := q.Retry(ctx, dl.ID); !errors.Is(err, queue.ErrAlreadyResolved) {
				t.Fatalf("retrying a resolved dead letter: %v", err)
			}
			all, err := q.DeadLetters(ctx, "retried", 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range all {
				found = found || (d.ID == dl.ID && d.ResolvedAt != nil)
			}
			if !found {
				t.Fatal("the retried dead letter is not listed as retried")
			}
		})

		t.Run("unknown dead letter", func(t *testing.T) {
			if _, err := q.Retry(ctx, 999999); !errors.Is(err, queue.ErrDeadLetterNotFound) {
				t.Fatalf("got %v", err)
			}
		})
	})
}

func TestConfigRejectsUnknownQueue(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	if _, err := queue.New(db, newHandler(), queue.Config{Workers: map[string]int{"emails": 1}}); err == nil {
		t.Fatal("want an error for an unknown queue")
	}
}

// A rescue delay under River's default job timeout of one minute works
// when the job timeout is shorter still (QUEUE_RESCUE_AFTER=4s with
// QUEUE_JOB_TIMEOUT=2s), and one that is not longer than the job timeout
// is refused.
func TestConfigRescueAfterJobTimeout(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	workers := map[string]int{queue.Normal: 1}
	if _, err := queue.New(db, newHandler(), queue.Config{Workers: workers, RescueAfter: 4 * time.Second, JobTimeout: 2 * time.Second}); err != nil {
		t.Fatalf("rescue after 4s with a 2s job timeout: %v", err)
	}
	for _, c := range []queue.Config{
		{Workers: workers, RescueAfter: 2 * time.Second, JobTimeout: 2 * time.Second},
		{Workers: workers, RescueAfter: 30 * time.Second}, // the default job timeout is 1m
	} {
		if _, err := queue.New(db, newHandler(), c); err == nil || !strings.Contains(err.Error(), "must be longer than the job timeout") {
			t.Errorf("rescue after %s, job timeout %s: err %v, want one that says the rescue delay is too short", c.RescueAfter, c.JobTimeout, err)
		}
	}
}
