package projection_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/projection"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		// set may run on another goroutine: it reports with Error.
		set := func(name string, pos int64) {
			t.Helper()
			_, err := db.Exec(ctx, `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET position = excluded.position`, name, pos, time.Now().UTC())
			if err != nil {
				t.Error(err)
			}
		}
		set("wait_a", 5)
		set("wait_b", 7)
		names := []string{"wait_a", "wait_b"}
		const poll = 5 * time.Millisecond

		if err := projection.WaitFor(ctx, db, names, 5, poll, 50*time.Millisecond); err != nil {
			t.Fatalf("both at 5 or beyond: %v", err)
		}

		var behind *projection.NotReachedError
		err := projection.WaitFor(ctx, db, names, 6, poll, 50*time.Millisecond)
		if !errors.As(err, &behind) || behind.Projection != "wait_a" || behind.Position != 5 || behind.Want != 6 {
			t.Fatalf("wait_a at 5, want 6: got %v", err)
		}
		err = projection.WaitFor(ctx, db, []string{"wait_none"}, 1, poll, 20*time.Millisecond)
		if !errors.As(err, &behind) || behind.Position != 0 {
			t.Fatalf("no checkpoint reads 0: got %v", err)
		}

		// The caller's deadline is a bound too; a cancellation is not.
		dctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if err := projection.WaitFor(dctx, db, names, 6, poll, 0); !errors.As(err, &behind) {
			t.Fatalf("deadline: got %v, want a NotReachedError", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(20*time.Millisecond, cancel)
		if err := projection.WaitFor(cctx, db, names, 6, poll, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: got %v", err)
		}

		// It waits for the checkpoint to move.
		time.AfterFunc(30*time.Millisecond, func() { set("wait_a", 8) })
		if err := projection.WaitFor(ctx, db, names, 7, poll, 10*time.Second); err != nil {
			t.Fatalf("wait_a moves to 8: %v", err)
		}
	})
}
