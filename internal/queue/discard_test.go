package queue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

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
