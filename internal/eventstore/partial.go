package eventstore

import (
	"context"
	"fmt"
	"time"

	"insure/internal/database"
	"insure/internal/event"
)

// The SQL of the partial loads, valid on SQLite and PostgreSQL alike (on
// SQLite both sides of the time comparison are the driver's UTC text form,
// which sorts in time order).
const (
	qLoadAfter = `SELECT ` + columns + ` FROM event_store
	WHERE aggregate_type = $1 AND aggregate_id = $2 AND aggregate_version > $3 ORDER BY aggregate_version`

	qLoadUntil = `SELECT ` + columns + ` FROM event_store
	WHERE aggregate_type = $1 AND aggregate_id = $2 AND occurred_at <= $3 ORDER BY aggregate_version`
)

// LoadAfter returns the events of one aggregate with a version above after,
// in version order, opened like Load: the events to apply onto a snapshot
// taken at version after. With after 0 it is Load, and returns ErrNotFound
// when the aggregate has no events. With after above 0 it returns no events
// and no error when none follow (it does not check that the aggregate has
// any at all). A negative after is ErrInvalid.
func (s *Store) LoadAfter(ctx context.Context, q database.Querier, aggregateType, aggregateID string, after int64) ([]event.Envelope, error) {
	if after < 0 {
		return nil, fmt.Errorf("load %s/%s after version %d: %w: the version is negative", aggregateType, aggregateID, after, ErrInvalid)
	}
	rows, err := q.Query(ctx, qLoadAfter, aggregateType, aggregateID, after)
	if err != nil {
		return nil, fmt.Errorf("load %s/%s after version %d: %w", aggregateType, aggregateID, after, err)
	}
	envs, err := scanAll(rows)
	if err != nil {
		return nil, fmt.Errorf("load %s/%s after version %d: %w", aggregateType, aggregateID, after, err)
	}
	if len(envs) == 0 && after == 0 {
		return nil, fmt.Errorf("load %s/%s: %w", aggregateType, aggregateID, ErrNotFound)
	}
	if err := s.open(ctx, q, envs); err != nil {
		return nil, fmt.Errorf("load %s/%s after version %d: %w", aggregateType, aggregateID, after, err)
	}
	return envs, nil
}

// LoadUntil returns the events of one aggregate that had occurred by asOf
// (occurred_at at or before it), in version order, opened like Load: the
// history to rebuild the aggregate as it was at that moment. The events
// form a prefix of the stream: it stops before the first event that
// occurred after asOf, even if a later version carries an earlier time. It
// returns ErrNotFound when no event had occurred by asOf: the aggregate
// did not exist yet, or does not exist at all (Version tells them apart).
// Precision is the database's (microseconds on PostgreSQL).
func (s *Store) LoadUntil(ctx context.Context, q database.Querier, aggregateType, aggregateID string, asOf time.Time) ([]event.Envelope, error) {
	at := asOf.UTC()
	rows, err := q.Query(ctx, qLoadUntil, aggregateType, aggregateID, at)
	if err != nil {
		return nil, fmt.Errorf("load %s/%s as of %s: %w", aggregateType, aggregateID, at.Format(time.RFC3339Nano), err)
	}
	envs, err := scanAll(rows)
	if err != nil {
		return nil, fmt.Errorf("load %s/%s as of %s: %w", aggregateType, aggregateID, at.Format(time.RFC3339Nano), err)
	}
	for i, env := range envs {
		if env.AggregateVersion != int64(i)+1 {
			envs = envs[:i]
			break
		}
	}
	if len(envs) == 0 {
		return nil, fmt.Errorf("load %s/%s as of %s: %w", aggregateType, aggregateID, at.Format(time.RFC3339Nano), ErrNotFound)
	}
	if err := s.open(ctx, q, envs); err != nil {
		return nil, fmt.Errorf("load %s/%s as of %s: %w", aggregateType, aggregateID, at.Format(time.RFC3339Nano), err)
	}
	return envs, nil
}
