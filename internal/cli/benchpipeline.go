package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"insure/internal/audit"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/projection"
	"insure/internal/queue"
	"insure/internal/quotation"
)

// pipelineResult is the pipeline scenario's figures. Seconds runs from the
// first command until the last listener job finished.
type pipelineResult struct {
	Commands      int            `json:"commands"`
	Events        int64          `json:"events"`
	Jobs          int64          `json:"jobs"`
	JobsCompleted int64          `json:"jobs_completed"`
	JobsByQueue   map[string]int `json:"jobs_by_queue"`
	CommitSeconds float64        `json:"commit_seconds"`
	Seconds       float64        `json:"seconds"`
	EventsPerSec  float64        `json:"events_per_sec"`
	JobsPerSec    float64        `json:"jobs_per_sec"`
	// Ratio is JobsPerSec over the baseline's jobs/s.
	Ratio float64 `json:"ratio"`
	// Workers are the queue workers both pipeline and baseline ran with.
	Workers           map[string]int `json:"workers"`
	FetchCooldownMs   float64        `json:"fetch_cooldown_ms"`
	FetchPollInterval float64        `json:"fetch_poll_interval_ms"`
}

// benchCommitters is how many goroutines commit the pipeline's commands.
const benchCommitters = 4

func benchPipeline(ctx context.Context, b *benchDB, n int) (*pipelineResult, error) {
	dbURL, err := b.fresh(ctx, "pipeline")
	if err != nil {
		return nil, err
	}
	cfg, err := b.config(dbURL, "pipeline")
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Workers: true, Migrate: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Queue.Start(ctx); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.Queue.Stop(sctx)
	}()
	// Let start-up jobs (the periodic expiry scan) finish first.
	if err := s.WaitIdle(ctx); err != nil {
		return nil, err
	}
	before, err := countJobs(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	eventsBefore, err := countRows(ctx, s.DB, `SELECT COUNT(*) FROM event_store`)
	if err != nil {
		return nil, err
	}
	details, _ := json.Marshal(map[string]int{"age": 35, "members": 2})
	ec := event.Context{Actor: "bench", Channel: "bench"}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		mu       sync.Mutex
	)
	start := time.Now()
	for range benchCommitters {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				c, err := s.Customers.Register(ctx, ec, customer.Register{Name: "Bench Customer",
					Email: fmt.Sprintf("pipeline%d@example.com", i), Phone: fmt.Sprintf("97%08d", i)})
				if err == nil {
					_, err = s.Quotations.Request(ctx, ec, quotation.Request{CustomerID: c.ID, Product: "health", SumInsured: 50_000_000, Details: details})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	committed := time.Since(start)
	if err := s.WaitIdle(ctx); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	after, err := countJobs(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	events, err := countRows(ctx, s.DB, `SELECT COUNT(*) FROM event_store`)
	if err != nil {
		return nil, err
	}
	r := &pipelineResult{Commands: 2 * n, Events: events - eventsBefore, JobsByQueue: map[string]int{},
		CommitSeconds: committed.Seconds(), Seconds: elapsed.Seconds(), Workers: cfg.WorkedQueues(),
		FetchCooldownMs:   float64(cfg.QueueFetchCooldown) / float64(time.Millisecond),
		FetchPollInterval: float64(max(cfg.QueueFetchPollInterval, cfg.QueueFetchCooldown)) / float64(time.Millisecond)}
	for q, c := range after {
		d := c.total - before[q].total
		if d > 0 {
			r.JobsByQueue[q] = int(d)
		}
		r.Jobs += d
		r.JobsCompleted += c.completed - before[q].completed
	}
	r.EventsPerSec = float64(r.Events) / elapsed.Seconds()
	r.JobsPerSec = float64(r.Jobs) / elapsed.Seconds()
	return r, nil
}

type jobCount struct{ total, completed int64 }

// countJobs counts the listener jobs per queue, and the completed ones.
func countJobs(ctx context.Context, db database.DB) (map[string]jobCount, error) {
	rows, err := db.Query(ctx, `SELECT queue, COUNT(*), SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) FROM river_job
		WHERE kind = $1 GROUP BY queue`, queue.ListenerArgs{}.Kind())
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]jobCount{}
	for rows.Next() {
		var (
			q string
			c jobCount
		)
		if err := rows.Scan(&q, &c.total, &c.completed); err != nil {
			return nil, err
		}
		out[q] = c
	}
	return out, rows.Err()
}

func countRows(ctx context.Context, db database.DB, q string, args ...any) (int64, error) {
	var n int64
	if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	return n, nil
}

// baselineResult is bare River's figures on the same queues.
type baselineResult struct {
	Jobs         int64   `json:"jobs"`
	Completed    int64   `json:"completed"`
	InsertPerSec float64 `json:"insert_per_sec"`
	Seconds      float64 `json:"seconds"`
	JobsPerSec   float64 `json:"jobs_per_sec"`
}

// noopArgs is the baseline's job: nothing to do.
type noopArgs struct {
	Listener string `json:"listener"`
	EventID  string `json:"event_id"`
}

func (noopArgs) Kind() string { return "insure.bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// benchBaseline runs as many no-op jobs as the pipeline ran, spread over
// the same queues, with the same workers and fetch settings, on a fresh
// database of the same kind: they are all inserted first, then the
// workers start and the clock runs until every one completed.
func benchBaseline(ctx context.Context, b *benchDB, p *pipelineResult) (*baselineResult, error) {
	dbURL, err := b.fresh(ctx, "baseline")
	if err != nil {
		return nil, err
	}
	cfg, err := b.config(dbURL, "baseline")
	if err != nil {
		return nil, err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	logger := newLogger(cfg, io.Discard)
	if _, err := queue.Migrate(ctx, db, logger); err != nil {
		return nil, err
	}
	cooldown := time.Duration(p.FetchCooldownMs * float64(time.Millisecond))
	poll := time.Duration(p.FetchPollInterval * float64(time.Millisecond))
	rc := &river.Config{Logger: logger, Queues: map[string]river.QueueConfig{}, Workers: river.NewWorkers(), MaxAttempts: 3,
		CompletedJobRetentionPeriod: time.Duration(cfg.EventRetentionDays) * 24 * time.Hour}
	for q, n := range p.Workers {
		if n > 0 {
			rc.Queues[q] = river.QueueConfig{MaxWorkers: n, FetchCooldown: cooldown, FetchPollInterval: poll}
		}
	}
	if err := river.AddWorkerSafely(rc.Workers, noopWorker{}); err != nil {
		return nil, err
	}
	var params []river.InsertManyParams
	for q, n := range p.JobsByQueue {
		for i := range n {
			params = append(params, river.InsertManyParams{Args: noopArgs{Listener: "noop", EventID: strconv.Itoa(i)},
				InsertOpts: &river.InsertOpts{Queue: q}})
		}
	}
	switch d := db.(type) {
	case *database.SQLiteDB:
		return runBaseline[*sql.Tx](ctx, db, riversqlite.New(d.Writer()), rc, params)
	case *database.PostgresDB:
		return runBaseline[pgx.Tx](ctx, db, riverpgxv5.New(d.Pool()), rc, params)
	}
	return nil, fmt.Errorf("unsupported database %T", db)
}

func runBaseline[TTx any](ctx context.Context, db database.DB, driver riverdriver.Driver[TTx], rc *river.Config,
	params []river.InsertManyParams) (*baselineResult, error) {
	c, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, err
	}
	r := &baselineResult{Jobs: int64(len(params))}
	start := time.Now()
	for i := 0; i < len(params); i += 1000 {
		if _, err := c.InsertMany(ctx, params[i:min(i+1000, len(params))]); err != nil {
			return nil, fmt.Errorf("insert: %w", err)
		}
	}
	r.InsertPerSec = float64(len(params)) / time.Since(start).Seconds()
	start = time.Now()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := countRows(ctx, db, `SELECT COUNT(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, noopArgs{}.Kind())
		if err != nil {
			return nil, err
		}
		if done >= r.Jobs {
			r.Completed = done
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.JobsPerSec = float64(r.Jobs) / r.Seconds
	return r, nil
}

// replayResult is the rebuild's figures.
type replayResult struct {
	Projection   string  `json:"projection"`
	Events       int64   `json:"events"`
	SeedSeconds  float64 `json:"seed_seconds"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
}

// benchReplay appends count CustomerActionLogged events straight into
// the event store (multi-row inserts: the seeding is not measured) and
// times a rebuild of the audit_log read model over them.
func benchReplay(ctx context.Context, b *benchDB, count int) (*replayResult, error) {
	dbURL, err := b.fresh(ctx, "replay")
	if err != nil {
		return nil, err
	}
	cfg, err := b.config(dbURL, "replay")
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Migrate: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Projections.Ensure(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := seedActionsLogged(ctx, s.DB, count); err != nil {
		return nil, fmt.Errorf("seed events: %w", err)
	}
	r := &replayResult{Projection: projection.NameAuditLog, SeedSeconds: time.Since(start).Seconds()}
	p, err := s.Projections.Rebuild(ctx, projection.NameAuditLog, projection.RebuildOptions{Restart: true})
	if err != nil {
		return nil, err
	}
	rows, err := countRows(ctx, s.DB, `SELECT COUNT(*) FROM audit_log`)
	if err != nil {
		return nil, err
	}
	if rows != int64(count) {
		return nil, fmt.Errorf("audit_log has %d rows after the rebuild, want %d", rows, count)
	}
	r.Events, r.Seconds = p.Applied, p.Elapsed.Seconds()
	r.EventsPerSec = p.Rate()
	return r, nil
}

// seedActionsLogged appends count CustomerActionLogged events in
// transactions of multi-row inserts (eventstore.InsertRecords) and moves the
// stream head.
func seedActionsLogged(ctx context.Context, db database.DB, count int) error {
	const rowsPerTx = 20000
	var head int64
	if err := db.QueryRow(ctx, `SELECT position FROM event_stream_head WHERE id = 1`).Scan(&head); err != nil {
		return err
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	recs := make([]eventstore.Record, 0, min(rowsPerTx, count))
	for done := 0; done < count; {
		recs = recs[:0]
		for i := done; i < min(done+rowsPerTx, count); i++ {
			id := event.NewID()
			data, err := json.Marshal(audit.ActionLogged{CustomerID: event.NewID(), Action: "customer.registered",
				SourceEventID: event.NewID(), SourceEventName: "CustomerRegistered", Actor: "system", Summary: "registered " + strconv.Itoa(i)})
			if err != nil {
				return err
			}
			meta, err := json.Marshal(event.Metadata{EventID: id, CorrelationID: id, Actor: "bench", Channel: "bench", OccurredAt: at})
			if err != nil {
				return err
			}
			recs = append(recs, eventstore.Record{Position: head + int64(i) + 1, EventID: id, EventName: audit.EventActionLogged,
				AggregateType: audit.AggregateType, AggregateID: event.NewID(), AggregateVersion: 1, SchemaVersion: 1,
				Data: data, Metadata: meta, OccurredAt: at.Add(time.Duration(i) * time.Millisecond), CreatedAt: at})
		}
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			if err := eventstore.InsertRecords(ctx, tx, recs); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE event_stream_head SET position = $1 WHERE id = 1`, head+int64(done+len(recs)))
			return err
		})
		if err != nil {
			return err
		}
		done += len(recs)
	}
	if db.Dialect() == database.SQLite {
		_, err := db.Exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	}
	_, err := db.Exec(ctx, `VACUUM ANALYZE event_store`)
	return err
}
