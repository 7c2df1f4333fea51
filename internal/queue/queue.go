package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"insure/internal/database"
)

// The queues. Every listener job goes to one of them.
const (
	HighPriority     = "high-priority"
	Normal           = "normal"
	LowPriority      = "low-priority"
	EmailPriority    = "email-priority"
	EmailNormal      = "email-normal"
	WhatsAppPriority = "whatsapp-priority"
	WhatsAppNormal   = "whatsapp-normal"
	PDFPriority      = "pdf-priority"
	PDFNormal        = "pdf-normal"
	AuditNormal      = "audit-normal"
)

// Names returns every queue name.
func Names() []string {
	return []string{HighPriority, Normal, LowPriority, EmailPriority, EmailNormal,
		WhatsAppPriority, WhatsAppNormal, PDFPriority, PDFNormal, AuditNormal}
}

// Job is one listener job to enqueue.
type Job struct {
	Listener    string
	EventID     string
	Queue       string
	Priority    int // 1 (highest) … 4
	MaxAttempts int
}

// ListenerArgs is what a listener job carries: ids only, never personal data.
type ListenerArgs struct {
	Listener string `json:"listener"`
	EventID  string `json:"event_id"`
}

// Kind implements river.JobArgs.
func (ListenerArgs) Kind() string { return "insure.listener" }

// PeriodicArgs names a periodic task.
type PeriodicArgs struct {
	Task string `json:"task"`
}

// Kind implements river.JobArgs.
func (PeriodicArgs) Kind() string { return "insure.periodic" }

// Settings are a listener's retry behaviour.
type Settings struct {
	Backoff []time.Duration
	Timeout time.Duration
}

// Handler runs listeners. The listener package implements it.
type Handler interface {
	// Handle runs the listener for the event. Wrap an error with
	// RetryLater to release the job for later without using an attempt, or
	// with Permanent to give up at once.
	Handle(ctx context.Context, listener, eventID string, attempt int) error
	// GiveUp runs the listener's Failed hook inside tx, the transaction that
	// records the dead letter.
	GiveUp(ctx context.Context, tx database.Tx, listener, eventID string, cause error) error
	// Settings returns the listener's backoff and timeout.
	Settings(listener string) (Settings, bool)
}

// PeriodicTask is work the leader runs on a schedule (one process at a time).
type PeriodicTask struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// Config configures a Queue.
type Config struct {
	// Workers is the number of concurrent workers per queue in this
	// process. A queue missing or at 0 is not worked here. All zero: an
	// insert-only client (the API without workers, or a CLI).
	Workers map[string]int
	// Snooze is how long a job released with RetryLater waits.
	Snooze time.Duration
	// FetchCooldown and FetchPollInterval tune how quickly workers pick up
	// new jobs (River's defaults when zero).
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// CompletedRetention is how long completed jobs are kept.
	CompletedRetention time.Duration
	// RescueAfter is how long a job may run before another worker rescues it.
	// It must be longer than JobTimeout.
	RescueAfter time.Duration
	// JobTimeout bounds an attempt of a job that sets no timeout of its own
	// (periodic tasks); listener jobs use their listener's timeout. One
	// minute when zero.
	JobTimeout time.Duration
	Periodic   []PeriodicTask
	// WhileWorking, when set, runs from Start until Stop in its own
	// goroutine while this process works the queues (the worker heartbeat);
	// its context ends when Stop is called, which waits for it to return.
	WhileWorking func(ctx context.Context)
	Logger       *slog.Logger
	Now          func() time.Time
	// Observer, when set, watches every listener job (metrics, traces).
	Observer JobObserver
}

// Queue is the job queue on the application database.
type Queue struct {
	db      database.DB
	client  client
	handler Handler
	cfg     Config
	log     *slog.Logger
	working bool
	// stopBackground ends WhileWorking; background is closed when it returned.
	stopBackground context.CancelFunc
	background     chan struct{}
}

// New builds a queue on db. handler may be nil for an insert-only queue.
func New(db database.DB, handler Handler, cfg Config) (*Queue, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Snooze <= 0 {
		cfg.Snooze = time.Minute
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = time.Minute
	}
	// River refuses a rescue delay below its client-wide job timeout, which
	// is one minute unless set: pass ours, so a QUEUE_RESCUE_AFTER under a
	// minute works when QUEUE_JOB_TIMEOUT is shorter still.
	if cfg.RescueAfter > 0 && cfg.RescueAfter <= cfg.JobTimeout {
		return nil, fmt.Errorf("queue: rescue after %s must be longer than the job timeout %s, or a slow job could run twice at once",
			cfg.RescueAfter, cfg.JobTimeout)
	}
	q := &Queue{db: db, handler: handler, cfg: cfg, log: cfg.Logger}
	rc := &river.Config{
		Logger:                      cfg.Logger,
		DiscardedJobRetentionPeriod: -1,
		CancelledJobRetentionPeriod: -1,
		CompletedJobRetentionPeriod: cfg.CompletedRetention,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		JobTimeout:                  cfg.JobTimeout,
		MaxAttempts:                 3,
	}
	queues := map[string]river.QueueConfig{}
	names := make([]string, 0, len(cfg.Workers))
	for name := range cfg.Workers {
		names = append(names, name)
	}
	sort.Strings(names)
	valid := map[string]bool{}
	for _, n := range Names() {
		valid[n] = true
	}
	for _, name := range names {
		n := cfg.Workers[name]
		if !valid[name] {
			return nil, fmt.Errorf("queue %q: unknown queue", name)
		}
		if n < 0 {
			return nil, fmt.Errorf("queue %q: %d workers", name, n)
		}
		if n == 0 {
			continue
		}
		queues[name] = river.QueueConfig{MaxWorkers: n, FetchCooldown: cfg.FetchCooldown, FetchPollInterval: cfg.FetchPollInterval}
	}
	if len(queues) > 0 {
		if handler == nil {
			return nil, errors.New("queue: workers configured without a handler")
		}
		// Periodic tasks run on the normal queue; make sure some process
		// that works queues also works that one.
		if _, ok := queues[Normal]; !ok && len(cfg.Periodic) > 0 {
			queues[Normal] = river.QueueConfig{MaxWorkers: 1, FetchCooldown: cfg.FetchCooldown, FetchPollInterval: cfg.FetchPollInterval}
		}
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely[ListenerArgs](workers, &listenerWorker{q: q}); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		if err := river.AddWorkerSafely[PeriodicArgs](workers, &periodicWorker{q: q}); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		rc.Queues = queues
		rc.Workers = workers
		for _, t := range cfg.Periodic {
			if t.Interval <= 0 || t.Name == "" || t.Run == nil {
				return nil, fmt.Errorf("queue: periodic task %q is incomplete", t.Name)
			}
			task := t
			rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(
				river.PeriodicInterval(task.Interval),
				func() (river.JobArgs, *river.InsertOpts) {
					return PeriodicArgs{Task: task.Name}, &river.InsertOpts{
						Queue:       Normal,
						MaxAttempts: 5,
						UniqueOpts:  river.UniqueOpts{ByArgs: true, ByPeriod: task.Interval},
					}
				},
				&river.PeriodicJobOpts{ID: task.Name, RunOnStart: true},
			))
		}
		q.working = true
	}
	c, err := newClient(db, rc)
	if err != nil {
		return nil, err
	}
	q.client = c
	return q, nil
}

// Working reports whether this queue works jobs (has workers).
func (q *Queue) Working() bool { return q.working }

// Start starts the workers, if any. It returns at once. Running jobs'
// contexts derive from ctx: when ctx ends they are cancelled at once. A
// process that wants to give them a grace on shutdown passes a context that
// outlives its signal (context.WithoutCancel) and calls Stop.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start queue workers: %w", err)
	}
	if q.cfg.WhileWorking != nil && q.background == nil {
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		q.stopBackground, q.background = cancel, make(chan struct{})
		go func() {
			defer close(q.background)
			q.cfg.WhileWorking(bctx)
		}()
	}
	return nil
}

// Stop stops fetching new jobs and waits for running ones to finish, until
// ctx ends; then it cancels what is still running (those jobs are retried).
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	err := q.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		err = q.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	if q.background != nil {
		q.stopBackground()
		<-q.background
		q.stopBackground, q.background = nil, nil
	}
	return err
}

// Enqueue inserts jobs inside tx, the transaction that appends their events.
func (q *Queue) Enqueue(ctx context.Context, tx database.Tx, jobs []Job) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		if j.Listener == "" || j.EventID == "" || j.Queue == "" {
			return fmt.Errorf("enqueue: incomplete job %+v", j)
		}
		params[i] = river.InsertManyParams{
			Args: ListenerArgs{Listener: j.Listener, EventID: j.EventID},
			InsertOpts: &river.InsertOpts{
				Queue:       j.Queue,
				Priority:    j.Priority,
				MaxAttempts: j.MaxAttempts,
			},
		}
	}
	if err := q.client.insertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(jobs), database.Unavailable(err))
	}
	return nil
}

// Subscribe returns River's job events (completed, failed, snoozed,
// cancelled) for observers such as the self-check; call the returned func to
// stop.
func (q *Queue) Subscribe() (<-chan *river.Event, func()) {
	return q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobSnoozed, river.EventKindJobCancelled)
}

// Counts returns the number of listener jobs per state.
func (q *Queue) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.Query(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// Pending returns how many jobs are not yet finished (available, running,
// retryable, scheduled or pending).
func (q *Queue) Pending(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state IN ('available','running','retryable','scheduled','pending')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pending jobs: %w", err)
	}
	return n, nil
}

// JobsForEvent lists the listener jobs an event started.
func (q *Queue) JobsForEvent(ctx context.Context, eventID string) ([]*rivertype.JobRow, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(ListenerArgs{}.Kind()).First(10000))
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var out []*rivertype.JobRow
	for _, j := range res.Jobs {
		if args, err := decodeArgs(j.EncodedArgs); err == nil && args.EventID == eventID {
			out = append(out, j)
		}
	}
	return out, nil
}

// Migrate applies River's migrations (its job, leader and queue tables).
func Migrate(ctx context.Context, db database.DB, logger *slog.Logger) ([]int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	switch d := db.(type) {
	case *database.SQLiteDB:
		m, err := rivermigrate.New(riversqlite.New(d.Writer()), &rivermigrate.Config{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("queue migrations: %w", err)
		}
		return runMigrate(ctx, m)
	case *database.PostgresDB:
		// Serialise concurrent migrators (several processes starting).
		conn, err := d.Pool().Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("queue migrations: %w", database.Unavailable(err))
		}
		defer conn.Release()
		const lockKey = 7_243_001
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return nil, fmt.Errorf("queue migrations lock: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck
		m, err := rivermigrate.New(riverpgxv5.New(d.Pool()), &rivermigrate.Config{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("queue migrations: %w", err)
		}
		return runMigrate(ctx, m)
	default:
		return nil, fmt.Errorf("queue migrations: unsupported database %T", db)
	}
}

func runMigrate[TTx any](ctx context.Context, m *rivermigrate.Migrator[TTx]) ([]int, error) {
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("queue migrations: %w", database.Unavailable(err))
	}
	out := make([]int, 0, len(res.Versions))
	for _, v := range res.Versions {
		out = append(out, v.Version)
	}
	return out, nil
}
