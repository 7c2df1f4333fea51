package app

import (
	"context"
	"errors"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/projection"
	"insure/internal/recorder"
)

// Consistency lets reads wait for the read models to reach a position (read
// your writes: the position a write reported, X-Event-Position).
type Consistency struct {
	DB database.Querier
	// Poll is how often the checkpoints are read (default 20ms).
	Poll time.Duration
	// Max bounds each wait (0: only the caller's context bounds it).
	Max time.Duration
}

// WaitFor waits until every named projection has applied the event at
// position. It fails with apperr.Unavailable, naming the projection that is
// behind and its position, when they do not get there before Max or ctx's
// deadline; with ctx's error when ctx is cancelled; and with
// apperr.Unavailable while the database cannot be reached.
func (c Consistency) WaitFor(ctx context.Context, projections []string, position int64) error {
	err := projection.WaitFor(ctx, c.DB, projections, position, c.Poll, c.Max)
	var behind *projection.NotReachedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &behind):
		return apperr.Wrap(apperr.Unavailable, err,
			"the %s read model is at position %d and has not reached min_position %d yet (waited %s); it is catching up: retry later, or see `insure projections list`",
			behind.Projection, behind.Position, behind.Want, behind.Waited)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return recorder.MapError(err)
}
