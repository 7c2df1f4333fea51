package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"insure/internal/database"
)

// The relay's checkpoint and lease (relay_checkpoints, one row per stream).
// Times are Unix milliseconds of each process's clock, so the processes'
// clocks must agree to well within the lease.
const (
	qEnsureRow = `INSERT INTO relay_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`
	// qAcquire takes the lease when it is free or has run out, or renews
	// it for its owner (compare-and-set on owner and lease_until).
	qAcquire = `UPDATE relay_checkpoints SET owner = $2, lease_until = $3
		WHERE name = $1 AND (owner = $2 OR lease_until < $4) RETURNING position`
	// qCommit moves the checkpoint, only for the lease's owner (fencing).
	qCommit = `UPDATE relay_checkpoints SET position = $3, lease_until = $4, updated_at = $5
		WHERE name = $1 AND owner = $2 AND position <= $3`
	qRelease = `UPDATE relay_checkpoints SET lease_until = 0 WHERE name = $1 AND owner = $2`
	qStatus  = `SELECT position, owner, lease_until FROM relay_checkpoints WHERE name = $1`
)

// acquire takes or renews the lease at now and returns the checkpoint; ok
// is false when another process holds the lease.
func (r *Relay) acquire(ctx context.Context, now time.Time) (int64, bool, error) {
	var (
		pos int64
		ok  bool
	)
	// In a transaction: on SQLite only the writer connection may write.
	err := r.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		if !r.rowMade {
			if _, err := tx.Exec(ctx, qEnsureRow, r.cfg.Stream); err != nil {
				return fmt.Errorf("relay: create checkpoint: %w", err)
			}
		}
		err := tx.QueryRow(ctx, qAcquire, r.cfg.Stream, r.cfg.Owner, now.Add(r.cfg.LeaseTTL).UnixMilli(), now.UnixMilli()).Scan(&pos)
		if errors.Is(err, database.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("relay: take lease: %w", err)
		}
		ok = true
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	r.rowMade = ok // a standby checks the row again (it may have been deleted)
	return pos, ok, nil
}

// commit moves the checkpoint to pos and renews the lease. It returns
// ErrLeaseLost when this relay no longer holds the lease.
func (r *Relay) commit(ctx context.Context, pos int64) error {
	now := r.cfg.Now()
	n, err := r.db.Exec(ctx, qCommit, r.cfg.Stream, r.cfg.Owner, pos, now.Add(r.cfg.LeaseTTL).UnixMilli(), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("relay: move checkpoint to %d: %w", pos, err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	r.position.Store(pos)
	return nil
}

// release gives the lease up so that another relay can take over at once.
func (r *Relay) release() {
	r.active.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.db.Exec(ctx, qRelease, r.cfg.Stream, r.cfg.Owner); err != nil {
		r.log.Warn("relay could not release its lease; another relay takes over when it runs out", "error", err.Error())
	}
}

// Status is a relay checkpoint as the database holds it.
type Status struct {
	// Position: every event up to it has been published.
	Position int64
	// Head is the newest event's position; Lag = Head - Position.
	Head, Lag int64
	// Owner holds the lease until LeaseUntil (zero when none).
	Owner      string
	LeaseUntil time.Time
}

// ReadStatus reads the checkpoint of the relay to stream (DefaultStream when
// empty) from db. A relay that never ran is at position 0.
func ReadStatus(ctx context.Context, q database.Querier, stream string, head int64) (Status, error) {
	if stream == "" {
		stream = DefaultStream
	}
	var (
		s     Status
		until int64
	)
	err := q.QueryRow(ctx, qStatus, stream).Scan(&s.Position, &s.Owner, &until)
	if err != nil && !errors.Is(err, database.ErrNoRows) {
		return Status{}, fmt.Errorf("relay status: %w", err)
	}
	if until > 0 {
		s.LeaseUntil = time.UnixMilli(until).UTC()
	}
	s.Head, s.Lag = head, max(head-s.Position, 0)
	return s, nil
}

// Health reports how many events are not yet relayed and this relay's last
// failure ("" when none), for the readiness check.
func (r *Relay) Health(ctx context.Context) (lag int64, lastError string, err error) {
	head, err := r.store.Head(ctx, r.db)
	if err != nil {
		return 0, "", err
	}
	st, err := ReadStatus(ctx, r.db, r.cfg.Stream, head)
	if err != nil {
		return 0, "", err
	}
	return st.Lag, r.LastError(), nil
}
