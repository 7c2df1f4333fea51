package monitor_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/monitor"
	"insure/internal/queue"
)

// handler is a fake queue.Handler: "ok" succeeds, "flaky" fails twice
// before it succeeds, "broken" always fails for good. Each run takes
// about 20ms, so that processing times are measurable.
type handler struct {
	mu   sync.Mutex
	runs map[string]int
}

var _ queue.Handler = (*handler)(nil)

func (h *handler) Handle(_ context.Context, listener, eventID string, _ int) error {
	time.Sleep(20 * time.Millisecond) // the work whose duration is measured
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs[listener+eventID]++
	switch listener {
	case "flaky":
		if h.runs[listener+eventID] <= 2 {
			return errors.New("flaky failure")
		}
	case "broken":
		return queue.Permanent(errors.New("cannot be done"))
	}
	return nil
}

func (h *handler) GiveUp(context.Context, database.Tx, string, string, error) error { return nil }

func (h *handler) Settings(string) (queue.Settings, bool) {
	return queue.Settings{Backoff: []time.Duration{5 * time.Millisecond}, Timeout: 5 * time.Second}, true
}

func enqueue(t *testing.T, db database.DB, q *queue.Queue, queueName string, listeners ...string) {
	t.Helper()
	err := db.InTx(context.Background(), func(ctx context.Context, tx database.Tx) error {
		var jobs []queue.Job
		for _, l := range listeners {
			jobs = append(jobs, queue.Job{Listener: l, EventID: event.NewID(), Queue: queueName, Priority: 2, MaxAttempts: 5})
		}
		return q.Enqueue(ctx, tx, jobs)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func migrateQueue(t *testing.T, db database.DB) {
	t.Helper()
	if _, err := queue.Migrate(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
}

func TestQueueDepthsAndLags(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		migrateQueue(t, db)
		// An insert-only client: the jobs stay available.
		q, err := queue.New(db, &handler{runs: map[string]int{}}, queue.Config{})
		if err != nil {
			t.Fatal(err)
		}
		m := monitor.New(db, nil)
		depths, err := m.QueueDepths(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(queue.Names()) * len(monitor.States()); len(depths) != want {
			t.Fatalf("QueueDepths on an empty queue: %d rows, want %d (every queue and state)", len(depths), want)
		}
		for _, d := range depths {
			if d.Jobs != 0 {
				t.Fatalf("empty queue: %+v", d)
			}
		}

		enqueue(t, db, q, queue.EmailNormal, "ok", "ok", "ok")
		depths, err = m.QueueDepths(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range depths {
			want := int64(0)
			if d.Queue == queue.EmailNormal && d.State == "available" {
				want = 3
			}
			if d.Jobs != want {
				t.Errorf("depth %s/%s = %d, want %d", d.Queue, d.State, d.Jobs, want)
			}
		}

		// Seen from a minute later, the waiting jobs are a minute old.
		later := monitor.New(db, func() time.Time { return time.Now().Add(time.Minute) })
		lags, err := later.QueueLags(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(lags) != len(queue.Names()) {
			t.Fatalf("QueueLags: %d queues, want %d", len(lags), len(queue.Names()))
		}
		for _, l := range lags {
			switch {
			case l.Queue == queue.EmailNormal && (l.Oldest < 59*time.Second || l.Oldest > 2*time.Minute):
				t.Errorf("lag of %s = %s, want about 1m", l.Queue, l.Oldest)
			case l.Queue != queue.EmailNormal && l.Oldest != 0:
				t.Errorf("lag of empty %s = %s, want 0", l.Queue, l.Oldest)
			}
		}
		// Seen from before they were inserted, nothing could run yet.
		earlier := monitor.New(db, func() time.Time { return time.Now().Add(-time.Minute) })
		lags, err = earlier.QueueLags(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lags {
			if l.Oldest != 0 {
				t.Errorf("lag before any job was due: %s = %s, want 0", l.Queue, l.Oldest)
			}
		}
	})
}

func TestListenerStatsAndDeadLetters(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		migrateQueue(t, db)
		start := time.Now().Add(-time.Second)
		q, err := queue.New(db, &handler{runs: map[string]int{}}, queue.Config{Workers: map[string]int{queue.Normal: 4},
			Snooze: 5 * time.Millisecond, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(sctx)
		})
		enqueue(t, db, q, queue.Normal, "ok", "ok", "flaky", "broken")
		deadline := time.Now().Add(30 * time.Second)
		for {
			n, err := q.Pending(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d jobs still pending", n)
			}
			time.Sleep(10 * time.Millisecond)
		}

		m := monitor.New(db, nil)
		stats, err := m.ListenerStats(ctx, start)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]monitor.ListenerStat{}
		for _, s := range stats {
			got[s.Listener] = s
		}
		if len(got) != 3 {
			t.Fatalf("stats for %d listeners, want 3: %+v", len(got), stats)
		}
		check := func(name string, jobs, failed, attempts, failedAttempts int64) {
			t.Helper()
			s := got[name]
			if s.Jobs != jobs || s.Failed != failed || s.Attempts != attempts || s.FailedAttempts != failedAttempts {
				t.Errorf("%s: jobs %d failed %d attempts %d failed attempts %d, want %d %d %d %d",
					name, s.Jobs, s.Failed, s.Attempts, s.FailedAttempts, jobs, failed, attempts, failedAttempts)
			}
			if s.P50 < 15*time.Millisecond || s.P95 < s.P50 || s.P95 > 10*time.Second {
				t.Errorf("%s: p50 %s p95 %s, want at least the 20ms each run takes, p95 ≥ p50", name, s.P50, s.P95)
			}
		}
		check("ok", 2, 0, 2, 0)
		check("flaky", 1, 0, 3, 2)
		check("broken", 1, 1, 1, 1)
		if r := got["flaky"].FailureRate; r < 0.66 || r > 0.67 {
			t.Errorf("flaky failure rate %v, want 2/3", r)
		}
		if r := got["ok"].FailureRate; r != 0 {
			t.Errorf("ok failure rate %v, want 0", r)
		}
		// A period that starts after they finished holds none of them.
		none, err := m.ListenerStats(ctx, time.Now().Add(time.Minute))
		if err != nil || len(none) != 0 {
			t.Errorf("stats of the future: %+v, %v", none, err)
		}

		dead, err := m.DeadLetterCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead["broken"] != 1 {
			t.Errorf("dead letters %v, want broken: 1", dead)
		}
	})
}

func TestEventVolume(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		store := eventstore.New(db, 100, nil)
		base := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
		appendAt := func(name string, at time.Time) {
			t.Helper()
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				_, err := store.Append(ctx, tx, "Thing", event.NewID(), 0, []event.Pending{{Name: name, SchemaVersion: 1,
					Data: json.RawMessage(`{}`), Metadata: event.Metadata{EventID: event.NewID(), OccurredAt: at}}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		appendAt("Old", base.Add(-2*time.Hour))
		appendAt("A", base.Add(5*time.Second))
		appendAt("A", base.Add(59*time.Second))
		appendAt("B", base.Add(30*time.Second))
		appendAt("A", base.Add(3*time.Minute+time.Second))

		m := monitor.New(db, nil)
		got, err := m.EventVolume(ctx, base.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []monitor.VolumePoint{
			{Minute: base, EventName: "A", Events: 2},
			{Minute: base, EventName: "B", Events: 1},
			{Minute: base.Add(3 * time.Minute), EventName: "A", Events: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("EventVolume = %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].Minute.Equal(want[i].Minute) || got[i].EventName != want[i].EventName || got[i].Events != want[i].Events {
				t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		m := monitor.New(db, nil)
		w := monitor.Worker{ID: "w1", Host: "host-a", PID: 42, Queues: []string{"normal", "email-normal"}, StartedAt: time.Now()}
		heart := m.NewHeart(w, 20*time.Millisecond, nil)
		if !heart.LastBeat().IsZero() {
			t.Fatal("a heart that never ran has a last beat")
		}
		hctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { heart.Run(hctx); close(done) }()

		deadline := time.Now().Add(10 * time.Second)
		var first time.Time
		for {
			ws, err := m.Workers(ctx, time.Now().Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(ws) == 1 {
				if first.IsZero() {
					first = ws[0].BeatAt
					if ws[0].Host != "host-a" || ws[0].PID != 42 || len(ws[0].Queues) != 2 || ws[0].Queues[1] != "email-normal" {
						t.Fatalf("worker row %+v", ws[0])
					}
				} else if ws[0].BeatAt.After(first) {
					break // it beats again
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no second beat; workers %+v", ws)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if heart.LastBeat().IsZero() {
			t.Error("LastBeat is zero after beats were recorded")
		}
		// A worker that stopped beating long ago does not count.
		if ws, err := m.Workers(ctx, time.Now().Add(time.Hour)); err != nil || len(ws) != 0 {
			t.Errorf("workers that beat in the future: %+v, %v", ws, err)
		}
		stop()
		<-done
		if ws, err := m.Workers(ctx, time.Time{}); err != nil || len(ws) != 0 {
			t.Errorf("after the heart stopped: workers %+v, %v; want its row gone", ws, err)
		}
	})
}
