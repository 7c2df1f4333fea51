package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/queue"
)

// describing is the fake handler that also describes each job's event, as
// the listener set does.
type describing struct{ *handler }

func (d describing) Handle(ctx context.Context, listener, eventID string, attempt int) error {
	if ev := queue.JobEventFrom(ctx); ev != nil {
		*ev = queue.JobEvent{EventName: "ThingHappened", AggregateType: "thing", AggregateID: "agg-" + eventID,
			CorrelationID: "corr-" + eventID, TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	}
	if v, _ := ctx.Value(observedKey{}).(string); v != listener {
		return queue.Permanent(errWrongContext)
	}
	return d.handler.Handle(ctx, listener, eventID, attempt)
}

var errWrongContext = errors.New("the listener did not run with the observer's context")

type observedKey struct{}

// run is one attempt as the observer saw it.
type run struct {
	info   queue.JobInfo
	event  queue.JobEvent // *info.Event when the attempt ended
	result queue.JobResult
}

// observer is a hand-written queue.JobObserver.
type observer struct {
	mu   sync.Mutex
	runs map[string][]run // by event id
}

var _ queue.JobObserver = (*observer)(nil)

func (o *observer) StartJob(ctx context.Context, job queue.JobInfo) (context.Context, func(queue.JobResult)) {
	return context.WithValue(ctx, observedKey{}, job.Listener), func(res queue.JobResult) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.runs[job.EventID] = append(o.runs[job.EventID], run{info: job, event: *job.Event, result: res})
	}
}

func (o *observer) of(eventID string) []run {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]run(nil), o.runs[eventID]...)
}

// logBuffer collects JSON log lines safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestObserver(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		if _, err := queue.Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		h := newHandler()
		obs := &observer{runs: map[string][]run{}}
		logs := &logBuffer{}
		q, err := queue.New(db, describing{h}, queue.Config{Workers: map[string]int{queue.Normal: 2}, Snooze: 5 * time.Millisecond,
			FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, Observer: obs,
			Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})

		ok := enqueue(t, db, q, "ok")
		flaky := enqueue(t, db, q, "flaky")
		snoozed := enqueue(t, db, q, "provider-down")
		dead := enqueue(t, db, q, "permanent")
		want := map[string][]string{
			ok:      {queue.OutcomeOK},
			flaky:   {queue.OutcomeRetry, queue.OutcomeRetry, queue.OutcomeOK},
			snoozed: {queue.OutcomeSnoozed, queue.OutcomeSnoozed, queue.OutcomeOK},
			dead:    {queue.OutcomeDead},
		}
		for id, outcomes := range want {
			waitFor(t, "the runs of "+id, func() bool { return len(obs.of(id)) == len(outcomes) })
		}
		for id, outcomes := range want {
			runs := obs.of(id)
			for i, r := range runs {
				if r.result.Outcome != outcomes[i] {
					t.Errorf("event %s run %d: outcome %q, want %q", id, i+1, r.result.Outcome, outcomes[i])
				}
				// Only the very first run is one: a retry uses an attempt,
				// a snooze gives it back but counts itself.
				if r.info.FirstRun != (i == 0) {
					t.Errorf("event %s run %d (attempt %d): FirstRun %v", id, i+1, r.info.Attempt, r.info.FirstRun)
				}
				if r.info.Queue != queue.Normal || r.info.EventID != id || r.info.JobID == 0 || r.info.InsertedAt.IsZero() {
					t.Errorf("event %s run %d: info %+v", id, i+1, r.info)
				}
				if r.event.AggregateID != "agg-"+id || r.event.CorrelationID != "corr-"+id {
					t.Errorf("event %s run %d: the handler's description did not reach the observer: %+v", id, i+1, r.event)
				}
				if (r.result.Err == nil) != (r.result.Outcome == queue.OutcomeOK) {
					t.Errorf("event %s run %d: outcome %s with error %v", id, i+1, r.result.Outcome, r.result.Err)
				}
			}
		}

		// Every job log line carries the job's ids and names.
		fields := []string{"event_id", "event_name", "aggregate_type", "aggregate_id", "correlation_id",
			"queue", "listener", "attempt", "duration_ms", "success"}
		seen := map[string]bool{}
		for _, line := range logs.lines(t) {
			id, _ := line["event_id"].(string)
			if _, ours := want[id]; !ours {
				continue
			}
			seen[line["msg"].(string)] = true
			for _, k := range fields {
				if v, ok := line[k]; !ok || v == "" {
					t.Errorf("log line %v lacks %s", line, k)
				}
			}
			if line["aggregate_id"] != "agg-"+id {
				t.Errorf("log line %v: aggregate_id", line)
			}
		}
		for _, msg := range []string{"listener done", "listener failed, will retry", "listener released for later", "listener gave up: dead letter"} {
			if !seen[msg] {
				t.Errorf("no %q line", msg)
			}
		}
	})
}
