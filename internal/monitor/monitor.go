package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"insure/internal/database"
	"insure/internal/queue"
)

// Monitor reads operational figures from one database.
type Monitor struct {
	db  database.DB
	now func() time.Time
}

// New returns a Monitor over db. A nil now uses time.Now.
func New(db database.DB, now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	return &Monitor{db: db, now: now}
}

// States are the job states QueueDepths reports: the jobs not yet finished.
func States() []string {
	return []string{"available", "scheduled", "retryable", "running", "pending"}
}

// QueueDepth is how many jobs of a queue are in a state.
type QueueDepth struct {
	Queue string `json:"queue"`
	State string `json:"state"`
	Jobs  int64  `json:"jobs"`
}

// QueueDepths returns the unfinished jobs per queue and state: every queue
// of queue.Names() with every state of States() (zeros included), and any
// other queue that has jobs, sorted by queue then state order.
func (m *Monitor) QueueDepths(ctx context.Context) ([]QueueDepth, error) {
	rows, err := m.db.Query(ctx, `SELECT queue, state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending') GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("queue depths: %w", err)
	}
	defer rows.Close()
	counts := map[[2]string]int64{}
	queues := queue.Names()
	for rows.Next() {
		var (
			q, st string
			n     int64
		)
		if err := rows.Scan(&q, &st, &n); err != nil {
			return nil, fmt.Errorf("queue depths: %w", err)
		}
		counts[[2]string{q, st}] = n
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue depths: %w", err)
	}
	sort.Strings(queues)
	out := make([]QueueDepth, 0, len(queues)*len(States()))
	for _, q := range queues {
		for _, st := range States() {
			out = append(out, QueueDepth{Queue: q, State: st, Jobs: counts[[2]string{q, st}]})
		}
	}
	return out, nil
}

// QueueLag is the age of the oldest job of a queue that could run now (its
// scheduled time has passed) but has not started: 0 when there is none.
type QueueLag struct {
	Queue  string        `json:"queue"`
	Oldest time.Duration `json:"oldest_ns"`
}

// QueueLags returns the lag of every queue of queue.Names() (and any other
// queue with waiting jobs), sorted by queue.
func (m *Monitor) QueueLags(ctx context.Context) ([]QueueLag, error) {
	now := m.now().UTC()
	rows, err := m.db.Query(ctx, `SELECT queue, MIN(scheduled_at) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= $1 GROUP BY queue`, m.timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("queue lags: %w", err)
	}
	defer rows.Close()
	oldest := map[string]time.Duration{}
	queues := queue.Names()
	for rows.Next() {
		var (
			q   string
			raw any
		)
		if err := rows.Scan(&q, &raw); err != nil {
			return nil, fmt.Errorf("queue lags: %w", err)
		}
		t, err := scanTime(raw)
		if err != nil {
			return nil, fmt.Errorf("queue lags: queue %s: %w", q, err)
		}
		oldest[q] = max(now.Sub(t), 0)
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue lags: %w", err)
	}
	sort.Strings(queues)
	out := make([]QueueLag, 0, len(queues))
	for _, q := range queues {
		out = append(out, QueueLag{Queue: q, Oldest: oldest[q]})
	}
	return out, nil
}

// DeadLetterCounts returns how many dead letters (not yet retried or
// discarded) each listener has. Listeners without any are absent.
func (m *Monitor) DeadLetterCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := m.db.Query(ctx, `SELECT listener, COUNT(*) FROM dead_letters WHERE status = 'dead' GROUP BY listener`)
	if err != nil {
		return nil, fmt.Errorf("dead letter counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			l string
			n int64
		)
		if err := rows.Scan(&l, &n); err != nil {
			return nil, fmt.Errorf("dead letter counts: %w", err)
		}
		out[l] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dead letter counts: %w", err)
	}
	return out, nil
}

// VolumePoint is how many events of one type occurred in one minute.
type VolumePoint struct {
	Minute    time.Time `json:"minute"`
	EventName string    `json:"event_name"`
	Events    int64     `json:"events"`
}

// EventVolume returns the events per minute (UTC) and type that occurred
// at or after since, oldest minute first, then by name. Archived events
// (insure events archive) are not counted: archives hold old events only.
func (m *Monitor) EventVolume(ctx context.Context, since time.Time) ([]VolumePoint, error) {
	minute := `substr(occurred_at, 1, 16)`
	if m.db.Dialect() == database.Postgres {
		minute = `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')`
	}
	rows, err := m.db.Query(ctx, `SELECT `+minute+` AS minute, event_name, COUNT(*) FROM event_store
		WHERE occurred_at >= $1 GROUP BY minute, event_name ORDER BY minute, event_name`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("event volume: %w", err)
	}
	defer rows.Close()
	var out []VolumePoint
	for rows.Next() {
		var (
			minute string
			p      VolumePoint
		)
		if err := rows.Scan(&minute, &p.EventName, &p.Events); err != nil {
			return nil, fmt.Errorf("event volume: %w", err)
		}
		t, err := time.Parse("2006-01-02 15:04", strings.Replace(minute, "T", " ", 1))
		if err != nil {
			return nil, fmt.Errorf("event volume: minute %q: %w", minute, err)
		}
		p.Minute = t.UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event volume: %w", err)
	}
	return out, nil
}

// ListenerStat sums up a listener's jobs that finished in a period.
type ListenerStat struct {
	Listener string `json:"listener"`
	// Jobs finished (completed, or given up: discarded or cancelled) and
	// Failed, those that gave up.
	Jobs   int64 `json:"jobs"`
	Failed int64 `json:"failed"`
	// Attempts is every run of those jobs, FailedAttempts those that
	// ended in an error; FailureRate is FailedAttempts / Attempts.
	Attempts       int64   `json:"attempts"`
	FailedAttempts int64   `json:"failed_attempts"`
	FailureRate    float64 `json:"failure_rate"`
	// P50 and P95 are of the last attempt's processing time (from its
	// start to the job's end).
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
}

// maxStatJobs bounds the jobs ListenerStats reads (the newest).
const maxStatJobs = 50_000

// ListenerStats returns per-listener figures over the listener jobs that
// finished at or after since (at most the newest 50,000), sorted by
// listener. Completed jobs are kept for EVENT_RETENTION_DAYS, so a period
// within that is complete.
func (m *Monitor) ListenerStats(ctx context.Context, since time.Time) ([]ListenerStat, error) {
	errCount := `COALESCE(json_array_length(errors), 0)`
	if m.db.Dialect() == database.Postgres {
		errCount = `COALESCE(cardinality(errors), 0)`
	}
	rows, err := m.db.Query(ctx, `SELECT `+queue.JSONText(m.db.Dialect(), "args")+`, state, attempted_at, finalized_at, `+errCount+`
		FROM river_job WHERE kind = $1 AND state IN ('completed', 'discarded', 'cancelled') AND finalized_at >= $2
		ORDER BY finalized_at DESC LIMIT `+fmt.Sprint(maxStatJobs), queue.ListenerArgs{}.Kind(), m.timeArg(since.UTC()))
	if err != nil {
		return nil, fmt.Errorf("listener stats: %w", err)
	}
	defer rows.Close()
	stats := map[string]*ListenerStat{}
	durations := map[string][]time.Duration{}
	for rows.Next() {
		var (
			args, state          string
			attempted, finalized any
			errs                 int64
		)
		if err := rows.Scan(&args, &state, &attempted, &finalized, &errs); err != nil {
			return nil, fmt.Errorf("listener stats: %w", err)
		}
		var a queue.ListenerArgs
		if err := json.Unmarshal([]byte(args), &a); err != nil || a.Listener == "" {
			continue // not a job of ours; nothing to attribute it to
		}
		st := stats[a.Listener]
		if st == nil {
			st = &ListenerStat{Listener: a.Listener}
			stats[a.Listener] = st
		}
		st.Jobs++
		failed := state != "completed"
		if failed {
			st.Failed++
		}
		// errors holds one entry per failed attempt; a completed job's
		// last attempt succeeded, a given-up job's last one is among them.
		st.Attempts += errs
		st.FailedAttempts += errs
		if !failed {
			st.Attempts++
		}
		start, err1 := scanTime(attempted)
		end, err2 := scanTime(finalized)
		if err1 == nil && err2 == nil && !start.IsZero() && !end.IsZero() {
			durations[a.Listener] = append(durations[a.Listener], max(end.Sub(start), 0))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listener stats: %w", err)
	}
	out := make([]ListenerStat, 0, len(stats))
	for name, st := range stats {
		if st.Attempts > 0 {
			st.FailureRate = float64(st.FailedAttempts) / float64(st.Attempts)
		}
		d := durations[name]
		slices.Sort(d)
		st.P50, st.P95 = percentile(d, 0.50), percentile(d, 0.95)
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Listener < out[j].Listener })
	return out, nil
}

// percentile returns the p-th percentile (nearest rank) of sorted d, or 0
// for none.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := int(p*float64(len(d)) + 0.999999)
	return d[min(max(rank, 1), len(d))-1]
}

// timeArg is t as a parameter compared with River's timestamp columns:
// River's SQLite driver keeps them as text in UTC with milliseconds.
func (m *Monitor) timeArg(t time.Time) any {
	if m.db.Dialect() == database.SQLite {
		return t.UTC().Format(riverSQLiteTime)
	}
	return t
}

const riverSQLiteTime = "2006-01-02 15:04:05.000"

// scanTime reads a timestamp that the driver may hand over as a time (a
// column read whole) or as text (an aggregate of a SQLite column, which
// carries no declared type). Text without a zone is UTC. nil is zero.
func scanTime(v any) (time.Time, error) {
	var s string
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return t.UTC(), nil
	case string:
		s = t
	case []byte:
		s = string(t)
	default:
		return time.Time{}, fmt.Errorf("timestamp of type %T", v)
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q in no known layout", s)
}
