package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// Worker is a process that works the queues, as its heartbeat row says.
type Worker struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Queues    []string  `json:"queues"`
	StartedAt time.Time `json:"started_at"`
	BeatAt    time.Time `json:"beat_at"`
}

// Beat records that w is alive now (its BeatAt is set to now), creating
// its row on the first beat.
func (m *Monitor) Beat(ctx context.Context, w Worker) error {
	now := m.now().UTC()
	_, err := m.db.Exec(ctx, `INSERT INTO worker_heartbeats (id, host, pid, queues, started_at, beat_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, queues = excluded.queues`,
		w.ID, w.Host, w.PID, strings.Join(w.Queues, ","), w.StartedAt.UTC(), now)
	if err != nil {
		return fmt.Errorf("heartbeat of worker %s: %w", w.ID, err)
	}
	return nil
}

// Forget deletes a worker's row (it stopped), and every row that has not
// beaten for a day (processes that died long ago).
func (m *Monitor) Forget(ctx context.Context, id string) error {
	if _, err := m.db.Exec(ctx, `DELETE FROM worker_heartbeats WHERE id = $1 OR beat_at < $2`,
		id, m.now().UTC().Add(-24*time.Hour)); err != nil {
		return fmt.Errorf("forget worker %s: %w", id, err)
	}
	return nil
}

// Workers returns the workers that beat at or after since, newest start
// first.
func (m *Monitor) Workers(ctx context.Context, since time.Time) ([]Worker, error) {
	rows, err := m.db.Query(ctx, `SELECT id, host, pid, queues, started_at, beat_at FROM worker_heartbeats
		WHERE beat_at >= $1 ORDER BY started_at DESC, id`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	defer rows.Close()
	var out []Worker
	for rows.Next() {
		var (
			w      Worker
			queues string
		)
		if err := rows.Scan(&w.ID, &w.Host, &w.PID, &queues, &w.StartedAt, &w.BeatAt); err != nil {
			return nil, fmt.Errorf("workers: %w", err)
		}
		if queues != "" {
			w.Queues = strings.Split(queues, ",")
		}
		w.StartedAt, w.BeatAt = w.StartedAt.UTC(), w.BeatAt.UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	return out, nil
}

// Heart beats for one worker process on a schedule.
type Heart struct {
	m      *Monitor
	w      Worker
	every  time.Duration
	logger *slog.Logger
	// last is the time of the last beat that was recorded (Unix nanos).
	last atomic.Int64
	// failed is why the last beat failed; nil when it was recorded.
	failed atomic.Pointer[string]
}

// NewHeart returns a Heart for w that beats every interval (10s when not
// positive). A nil logger discards.
func (m *Monitor) NewHeart(w Worker, every time.Duration, logger *slog.Logger) *Heart {
	if every <= 0 {
		every = 10 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Heart{m: m, w: w, every: every, logger: logger}
}

// Interval is how often h beats.
func (h *Heart) Interval() time.Duration { return h.every }

// LastBeat is when h last recorded a beat (zero before the first).
func (h *Heart) LastBeat() time.Time {
	n := h.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// LastError is why the last beat failed, or "" when it was recorded (or
// none was tried yet). A beat is this process's regular write: while it
// fails, so do the process's other writes (a full disk, say).
func (h *Heart) LastError() string {
	if p := h.failed.Load(); p != nil {
		return *p
	}
	return ""
}

// Beat records one beat now.
func (h *Heart) Beat(ctx context.Context) error {
	if err := h.m.Beat(ctx, h.w); err != nil {
		msg := err.Error()
		h.failed.Store(&msg)
		return err
	}
	h.last.Store(h.m.now().UnixNano())
	h.failed.Store(nil)
	return nil
}

// Run beats at once, then every interval, until ctx ends; then it deletes
// the worker's row (with its own short deadline). A failed beat is logged
// and tried again at the next tick.
func (h *Heart) Run(ctx context.Context) {
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, max(h.every, time.Second))
		defer cancel()
		if err := h.Beat(bctx); err != nil && ctx.Err() == nil {
			h.logger.Warn("worker heartbeat failed", "worker_id", h.w.ID, "error", err.Error())
		}
	}
	beat()
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := h.m.Forget(fctx, h.w.ID); err != nil {
				h.logger.Warn("removing worker heartbeat failed", "worker_id", h.w.ID, "error", err.Error())
			}
			return
		case <-t.C:
			beat()
		}
	}
}
