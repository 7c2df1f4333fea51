package projection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"insure/internal/database"
)

// NotReachedError is WaitFor's answer when a projection did not reach the
// position in time: it is still catching up (or stopped by an error; see
// `insure projections list`).
type NotReachedError struct {
	// Projection is the first projection found behind; Position its
	// checkpoint when last read; Want the position waited for.
	Projection     string
	Position, Want int64
	Waited         time.Duration
}

func (e *NotReachedError) Error() string {
	return fmt.Sprintf("projection %s is at position %d, not yet at %d, after waiting %s", e.Projection, e.Position, e.Want, e.Waited)
}

// WaitFor waits until the checkpoint of every projection in names is at
// position or beyond, reading projection_checkpoints every poll, for at
// most max (no bound but ctx when max is 0). A projection without a
// checkpoint reads position 0.
//
// It returns nil once they all are, a *NotReachedError when max passes or
// ctx's deadline comes first, ctx's error when ctx is cancelled, and the
// database's error (wrapped) when a checkpoint cannot be read.
func WaitFor(ctx context.Context, q database.Querier, names []string, position int64, poll, max time.Duration) error {
	if poll <= 0 {
		poll = 20 * time.Millisecond
	}
	start := time.Now()
	var deadline time.Time
	if max > 0 {
		deadline = start.Add(max)
	}
	var (
		name string
		at   int64
	)
	for {
		n, a, err := firstBehind(ctx, q, names, position)
		if err != nil {
			if ctx.Err() != nil {
				// The last checkpoint read, not the failed one.
				return notReachedOr(ctx, name, at, position, start)
			}
			return err
		}
		if n == "" {
			return nil
		}
		name, at = n, a
		wait := poll
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return &NotReachedError{Projection: name, Position: at, Want: position, Waited: time.Since(start).Round(time.Millisecond)}
			}
			wait = min(wait, left)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return notReachedOr(ctx, name, at, position, start)
		case <-t.C:
		}
	}
}

// notReachedOr is the error of a wait that ctx ended: a *NotReachedError
// when its deadline passed (the caller's bound), else ctx's error.
func notReachedOr(ctx context.Context, name string, at, want int64, start time.Time) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && name != "" {
		return &NotReachedError{Projection: name, Position: at, Want: want, Waited: time.Since(start).Round(time.Millisecond)}
	}
	return ctx.Err()
}

// firstBehind returns the first projection in names whose checkpoint is
// before position, and that checkpoint; "" when none is.
func firstBehind(ctx context.Context, q database.Querier, names []string, position int64) (string, int64, error) {
	for _, name := range names {
		var at int64
		err := q.QueryRow(ctx, sqlCheckpoint, name).Scan(&at)
		switch {
		case errors.Is(err, database.ErrNoRows):
			at = 0
		case err != nil:
			return name, 0, fmt.Errorf("checkpoint of projection %s: %w", name, err)
		}
		if at < position {
			return name, at, nil
		}
	}
	return "", 0, nil
}
