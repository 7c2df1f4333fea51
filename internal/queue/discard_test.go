package queue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/queue"
)

// deadLetterFor waits for the dead letter of the job for eventID, and for
// River to have finalised that job.
func deadLetterFor(t *testing.T, q *queue.Queue, eventID string) queue.DeadLetter {
	t.Helper()
	ctx := context.Background()
	var dl queue.DeadLetter
	waitFor(t, "dead letter of "+eventID, func() bool {
		dls, err := q.DeadLetters(ctx, "all", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dls {
			if d.EventID == eventID && d.Status == "dead" {
				dl = d
				return true
			}
		}
		return false
	})
	waitFor(t, "the job to be finalised", func() bool {
		jobs, err := q.JobsForEvent(ctx, eventID)
		return err == nil && len(jobs) == 1 &&
			(jobs[0].State == rivertype.JobStateDiscarded || jobs[0].State == rivertype.JobStateCancelled)
	})
	return dl
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		q, h := setup(t, db)

		t.Run("a discarded dead letter is resolved and stays put", func(t *testing.T) {
			id := enqueue(t, db, q, "permanent")
			dl := deadLetterFor(t, q, id)
			runs := h.count(h.runs, "permanent/"+id)

			d, err := q.Discard(ctx, dl.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != "discarded" || d.ResolvedAt == nil || d.ID != dl.ID || d.EventID != id {
				t.Fatalf("discarded: %+v", d)
			}
			got, err := q.DeadLetter(ctx, dl.ID)
			if err != nil || got.Status != "discarded" || got.ResolvedAt == nil {
				t.Fatalf("stored after discard: %+v %v", got, err)
			}
			dead, err := q.DeadLetters(ctx, "dead", 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range dead {
				if x.ID == dl.ID {
					t.Fatal("a discarded dead letter is still listed as dead")
				}
			}
			discarded, err := q.DeadLetters(ctx, "discarded", 0, 1000)
			if err != nil || !slices.ContainsFunc(discarded, func(x queue.DeadLetter) bool { return x.ID == dl.ID }) {
				t.Fatalf("not listed as discarded: %+v %v", discarded, err)
			}
			// Neither a retry nor a second discard moves it.
			if _, err := q.Retry(ctx, dl.ID); !errors.Is(err, queue.ErrAlreadyResolved) {
				t.Fatalf("retry after discard: %v", err)
			}
			if _, err := q.Discard(ctx, dl.ID); !errors.Is(err, queue.ErrAlreadyResolved) {
				t.Fatalf("second discard: %v", err)
			}
			// The job is left finalised, not made available again.
			jobs, err := q.JobsForEvent(ctx, id)
			if err != nil || len(jobs) != 1 || jobs[0].State != rivertype.JobStateCancelled {
				t.Fatalf("job after discard: %+v %v", jobs, err)
			}
			if n := h.count(h.runs, "permanent/"+id); n != runs {
				t.Fatalf("the listener ran %d times after the discard", n-runs)
			}
			if n := h.count(h.gaveUp, "permanent/"+id); n != 1 {
				t.Fatalf("failed hook ran %d times, want once", n)
			}
		})

		t.Run("a retried dead letter cannot be discarded", func(t *testing.T) {
			id := enqueue(t, db, q, "dies-once")
			dl := deadLetterFor(t, q, id)
			if _, err := q.Retry(ctx, dl.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Discard(ctx, dl.ID); !errors.Is(err, queue.ErrAlreadyResolved) {
				t.Fatalf("discarding a retried dead letter: %v", err)
			}
		})

		t.Run("unknown dead letter", func(t *testing.T) {
			if _, err := q.Discard(ctx, 999999); !errors.Is(err, queue.ErrDeadLetterNotFound) {
				t.Fatalf("got %v", err)
			}
		})

		t.Run("discard all, and the events are no longer pending", func(t *testing.T) {
			// Resolve whatever earlier subtests left dead.
			if _, err := q.DiscardAll(ctx); err != nil {
				t.Fatal(err)
			}
			a := enqueue(t, db, q, "always-fails")
			b := enqueue(t, db, q, "permanent")
			kept := enqueue(t, db, q, "dies-once")
			deadLetterFor(t, q, a)
			deadLetterFor(t, q, b)
			keptDL := deadLetterFor(t, q, kept)
			pending, err := queue.PendingEventIDs(ctx, db, db.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{a, b, kept} {
				if !slices.Contains(pending, strings.ToLower(id)) {
					t.Fatalf("the event of dead letter %s is not pending before the discard: %v", id, pending)
				}
			}
			// Retry one first (it then succeeds), so DiscardAll skips it.
			if _, err := q.Retry(ctx, keptDL.ID); err != nil {
				t.Fatal(err)
			}
			done, err := q.DiscardAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var events []string
			for _, d := range done {
				if d.Status != "discarded" {
					t.Fatalf("DiscardAll returned %+v", d)
				}
				events = append(events, d.EventID)
			}
			slices.Sort(events)
			want := []string{a, b}
			slices.Sort(want)
			if !slices.Equal(events, want) {
				t.Fatalf("DiscardAll discarded the dead letters of %v, want %v", events, want)
			}
			if left, err := q.DeadLetters(ctx, "dead", 0, 1000); err != nil || len(left) > 0 {
				t.Fatalf("dead letters left after DiscardAll: %+v %v", left, err)
			}
			pending, err = queue.PendingEventIDs(ctx, db, db.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range want {
				if slices.Contains(pending, strings.ToLower(id)) {
					t.Errorf("the event of discarded dead letter %s is still pending", id)
				}
			}
			if retried, err := q.RetryAll(ctx); err != nil {
				t.Fatal(err)
			} else {
				for _, d := range retried {
					if d.EventID == a || d.EventID == b {
						t.Errorf("RetryAll retried discarded dead letter %+v", d)
					}
				}
			}
		})
	})
}

// TestDiscardStopsAJobLeftBehind covers a process that died between
// recording a dead letter and finishing its job: the job is still queued
// (River would rescue and retry it) or still running. Discard cancels the
// queued one and refuses while it runs.
func TestDiscardStopsAJobLeftBehind(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		if _, err := queue.Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		// Insert-only: nothing works the job, so it stays where the test
		// puts it.
		q, err := queue.New(db, nil, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		leftBehind := func(state rivertype.JobState) (int64, int64) {
			t.Helper()
			id := enqueue(t, db, q, "ok")
			jobs, err := q.JobsForEvent(ctx, id)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("jobs of %s: %v %v", id, jobs, err)
			}
			job := jobs[0].ID
			if state == rivertype.JobStateRunning {
				if _, err := db.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1 WHERE id = $1`, job); err != nil {
					t.Fatal(err)
				}
			}
			var dl int64
			err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				return tx.QueryRow(ctx, `INSERT INTO dead_letters (job_id, listener, queue, event_id, attempts, error, status, failed_at)
					VALUES ($1, 'ok', 'normal', $2, 1, 'gave up', 'dead', $3) RETURNING id`, job, id, time.Now().UTC()).Scan(&dl)
			})
			if err != nil {
				t.Fatal(err)
			}
			return dl, job
		}

		dl, job := leftBehind(rivertype.JobStateAvailable)
		if _, err := q.Discard(ctx, dl); err != nil {
			t.Fatal(err)
		}
		var state string
		if err := db.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, job).Scan(&state); err != nil || state != "cancelled" {
			t.Fatalf("job of a discarded dead letter is %q (%v), want cancelled", state, err)
		}

		dl, job = leftBehind(rivertype.JobStateRunning)
		if _, err := q.Discard(ctx, dl); !errors.Is(err, queue.ErrJobBusy) {
			t.Fatalf("discarding while the job runs: %v, want ErrJobBusy", err)
		}
		if d, err := q.DeadLetter(ctx, dl); err != nil || d.Status != "dead" {
			t.Fatalf("after the refused discard: %+v %v, want it still dead", d, err)
		}
		// DiscardAll leaves it, says so, and still discards the rest.
		other, _ := leftBehind(rivertype.JobStateAvailable)
		done, err := q.DiscardAll(ctx)
		if !errors.Is(err, queue.ErrJobBusy) || len(done) != 1 || done[0].ID != other {
			t.Fatalf("DiscardAll with one busy: %+v %v, want %d discarded and ErrJobBusy", done, err, other)
		}
		if err := db.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, job).Scan(&state); err != nil || state != "running" {
			t.Fatalf("the running job is %q (%v)", state, err)
		}
		// DiscardUpTo stops at the bound.
		a, _ := leftBehind(rivertype.JobStateAvailable)
		b, _ := leftBehind(rivertype.JobStateAvailable)
		done, err = q.DiscardUpTo(ctx, a)
		if !errors.Is(err, queue.ErrJobBusy) || len(done) != 1 || done[0].ID != a {
			t.Fatalf("DiscardUpTo(%d): %+v %v", a, done, err)
		}
		if d, err := q.DeadLetter(ctx, b); err != nil || d.Status != "dead" {
			t.Fatalf("dead letter %d past the bound: %+v %v, want still dead", b, d, err)
		}
	})
}
