package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"insure/internal/app"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/monitor"
	"insure/internal/projection"
	"insure/internal/queue"
)

func checkOf(t *testing.T, r app.Readiness, name string) app.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %+v", name, r)
	return app.Check{}
}

func TestReadinessChecks(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	ctx := context.Background()
	if _, err := queue.Migrate(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(db, nil, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		return q.Enqueue(ctx, tx, []queue.Job{{Listener: "SendWelcomeEmail", EventID: event.NewID(), Queue: queue.EmailNormal, Priority: 2, MaxAttempts: 3}})
	}); err != nil {
		t.Fatal(err)
	}
	// A process that works queues and beats now.
	m := monitor.New(db, nil)
	// Beats every minute: fresh for three minutes, whatever the load.
	heart := m.NewHeart(monitor.Worker{ID: "w", Host: "h", PID: 1, StartedAt: time.Now()}, time.Minute, nil)
	if err := heart.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	caughtUp := func(context.Context) ([]projection.Status, error) {
		return []projection.Status{{Name: "customers", Position: 10, Head: 10}}, nil
	}
	health := func(offset time.Duration, mod func(h *app.HealthService)) app.Readiness {
		clock := func() time.Time { return time.Now().Add(offset) }
		h := &app.HealthService{DB: db, Monitor: monitor.New(db, clock), Heart: heart, Projections: caughtUp,
			QueueLag: 5 * time.Minute, ProjectionLag: time.Minute, Now: clock}
		if mod != nil {
			mod(h)
		}
		return h.Ready(ctx)
	}

	t.Run("all ok", func(t *testing.T) {
		r := health(0, nil)
		if r.Status != app.StatusOK {
			t.Fatalf("status %s: %+v", r.Status, r.Checks)
		}
		if c := checkOf(t, r, "workers"); !c.Critical || !strings.Contains(c.Detail, "1 worker process") {
			t.Errorf("workers check %+v", c)
		}
	})
	t.Run("queue lag over the threshold is degraded", func(t *testing.T) {
		// Ten minutes later the job still waits; the heart is stale by then,
		// so judge the queue from an API-only process.
		r := health(10*time.Minute, func(h *app.HealthService) { h.Heart = nil })
		c := checkOf(t, r, "queue_lag")
		if c.Status != app.StatusDegraded || c.Critical || !strings.Contains(c.Detail, queue.EmailNormal) {
			t.Errorf("queue_lag %+v", c)
		}
		if r.Status != app.StatusDegraded {
			t.Errorf("overall %s, want degraded (a lagging queue does not take the API out of service)", r.Status)
		}
		r = health(10*time.Minute, func(h *app.HealthService) { h.Heart = nil; h.QueueLag = time.Hour })
		if c := checkOf(t, r, "queue_lag"); c.Status != app.StatusOK || !strings.Contains(c.Detail, "oldest waiting job") {
			t.Errorf("queue_lag under a 1h threshold %+v", c)
		}
	})
	t.Run("a stale heartbeat of this process is failing", func(t *testing.T) {
		r := health(5*time.Minute, func(h *app.HealthService) { h.QueueLag = time.Hour })
		if c := checkOf(t, r, "workers"); c.Status != app.StatusFailing || !c.Critical {
			t.Errorf("workers %+v", c)
		}
		if r.Status != app.StatusFailing {
			t.Errorf("overall %s, want failing", r.Status)
		}
	})
	t.Run("a failed write of this process's heartbeat is degraded", func(t *testing.T) {
		// Its own database, which stops taking writes after a first beat.
		own := dbtest.Open(t, database.SQLite)
		if _, err := queue.Migrate(ctx, own, nil); err != nil {
			t.Fatal(err)
		}
		failing := monitor.New(own, nil).NewHeart(monitor.Worker{ID: "w2", Host: "h", PID: 2, StartedAt: time.Now()}, time.Minute, nil)
		if err := failing.Beat(ctx); err != nil || failing.LastError() != "" {
			t.Fatalf("first beat: %v, LastError %q", err, failing.LastError())
		}
		own.Close()
		if err := failing.Beat(ctx); err == nil || failing.LastError() == "" {
			t.Fatalf("a beat on a closed database: %v, LastError %q", err, failing.LastError())
		}
		r := health(0, func(h *app.HealthService) { h.Heart = failing })
		c := checkOf(t, r, "workers")
		if c.Status != app.StatusDegraded || !strings.Contains(c.Detail, "could not record its last heartbeat") || !strings.Contains(c.Detail, failing.LastError()) {
			t.Errorf("workers %+v", c)
		}
		if r.Status != app.StatusDegraded {
			t.Errorf("overall %s, want degraded (reads still work)", r.Status)
		}
	})
	t.Run("no worker anywhere is degraded", func(t *testing.T) {
		r := health(time.Hour, func(h *app.HealthService) { h.Heart = nil })
		if c := checkOf(t, r, "workers"); c.Status != app.StatusDegraded || c.Critical {
			t.Errorf("workers %+v", c)
		}
	})
	t.Run("projections", func(t *testing.T) {
		tests := []struct {
			name   string
			fn     func(context.Context) ([]projection.Status, error)
			status string
			detail string
		}{
			{"behind", func(context.Context) ([]projection.Status, error) {
				return []projection.Status{{Name: "customers", Position: 5, Head: 10, Lag: 5, Age: 2 * time.Minute}}, nil
			}, app.StatusDegraded, "customers 5 events (2m0s) behind"},
			{"slightly behind", func(context.Context) ([]projection.Status, error) {
				return []projection.Status{{Name: "customers", Position: 9, Head: 10, Lag: 1, Age: time.Second}}, nil
			}, app.StatusOK, "1 events behind"},
			{"failing catch-up", func(context.Context) ([]projection.Status, error) {
				return []projection.Status{{Name: "policies", LastError: "disk I/O error"}}, nil
			}, app.StatusDegraded, "policies catch-up failing"},
			{"unreadable", func(context.Context) ([]projection.Status, error) {
				return nil, errors.New("no such table")
			}, app.StatusDegraded, "could not be read: no such table"},
		}
		for _, tt := range tests {
			r := health(0, func(h *app.HealthService) { h.Projections = tt.fn })
			if c := checkOf(t, r, "projections"); c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("%s: %+v, want %s with %q", tt.name, c, tt.status, tt.detail)
			}
		}
	})
	t.Run("database down is failing", func(t *testing.T) {
		down := dbtest.Open(t, database.SQLite)
		down.Close()
		r := (&app.HealthService{DB: down}).Ready(ctx)
		if c := checkOf(t, r, "database"); c.Status != app.StatusFailing || !c.Critical || r.Status != app.StatusFailing {
			t.Errorf("database %+v, overall %s", c, r.Status)
		}
	})
}
