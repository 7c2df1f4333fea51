package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"time"

	"insure/internal/app"
	"insure/internal/audit"
	"insure/internal/auth"
	"insure/internal/breaker"
	"insure/internal/communication"
	"insure/internal/config"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/httpapi"
	"insure/internal/idempotency"
	"insure/internal/keyring"
	"insure/internal/listener"
	"insure/internal/monitor"
	"insure/internal/notify"
	"insure/internal/personal"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/queue"
	"insure/internal/quotation"
	"insure/internal/rating"
	"insure/internal/recorder"
	"insure/internal/relay"
	"insure/internal/snapshot"
	"insure/internal/telemetry"
)

// Registry returns the registry of every event type insure records.
func Registry() (*event.Registry, error) {
	reg := event.NewRegistry()
	for _, defs := range [][]event.Definition{customer.Events(), quotation.Events(), policy.Events(),
		communication.Events(), audit.Events(), audit.AccessEvents(), document.Events()} {
		if err := reg.Register(defs...); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// System is insure wired together on one database.
type System struct {
	Config     config.Config
	DB         database.DB
	Registry   *event.Registry
	Store      *eventstore.Store
	Queue      *queue.Queue
	Recorder   *recorder.Recorder
	Reader     *projection.Reader
	Listeners  *listener.Set
	Customers  *app.CustomerService
	Quotations *app.QuotationService
	Policies   *app.PolicyService
	Files      *document.FileStore
	Breakers   *breaker.Set
	Webhooks   *app.WebhookService
	Erasure    *app.ErasureService
	Tokens     *auth.Store
	// Idempotency keeps the API's Idempotency-Keys (IDEMPOTENCY_KEY_TTL).
	Idempotency *idempotency.Store
	// Keys holds the customers' data keys; Vault seals personal data in
	// read models and stored messages with them.
	Keys    *keyring.Keyring
	Vault   *personal.Vault
	handler http.Handler
	Logger  *slog.Logger
	Now     func() time.Time

	// Monitor reads queue, listener and worker figures from the database
	// (metrics, readiness, dashboard). Heart is this process's worker
	// heartbeat: nil without workers; it beats while the queue works.
	Monitor *monitor.Monitor
	Heart   *monitor.Heart

	// Telemetry holds the metrics (served at GET /metrics) and the
	// tracer; ownTelemetry is whether Close shuts it down.
	Telemetry    *telemetry.Telemetry
	ownTelemetry bool

	// Projections feed the read models from the event stream; runner
	// catches up the ones that are behind (with workers only).
	Projections *projection.Subscriptions
	runner      *projection.Runner

	// Relay publishes the event stream to NATS JetStream (EVENT_BUS_URL);
	// nil without workers or without EVENT_BUS_URL. It runs while the
	// queue works.
	Relay *relay.Relay
}

// Options change how a System is built.
type Options struct {
	// Workers: run queue workers in this process.
	Workers bool
	// Migrate: apply migrations first.
	Migrate bool
	Now     func() time.Time
	// WrapMailer and WrapWhatsApp, when set, wrap the configured drivers
	// (fault injection in tests).
	WrapMailer   func(notify.Mailer) notify.Mailer
	WrapWhatsApp func(notify.WhatsAppSender) notify.WhatsAppSender
	// Telemetry, when set, is used instead of one built from the
	// configuration, and Close leaves it to its owner (tests export spans
	// to memory with it). It serves one System only.
	Telemetry *telemetry.Telemetry
	// Relay is the base of the event relay's configuration (tests set
	// their own stream and subject prefix); URL and Logger come from the
	// configuration.
	Relay relay.Config
}

// openDB opens the configured database.
func openDB(ctx context.Context, cfg config.Config) (database.DB, error) {
	target, err := cfg.Database()
	if err != nil {
		return nil, err
	}
	switch target.Driver {
	case config.DriverSQLite:
		return database.OpenSQLite(ctx, target.Path, database.SQLiteOptions{Synchronous: cfg.SQLiteSynchronous})
	case config.DriverPostgres:
		return database.OpenPostgres(ctx, target.URL, database.PostgresOptions{MaxConns: int32(cfg.DBMaxConns)})
	}
	return nil, fmt.Errorf("unsupported database driver %q", target.Driver)
}

// migrate applies insure's and the queue's migrations.
func migrate(ctx context.Context, db database.DB, logger *slog.Logger) ([]database.Migration, []int, error) {
	own, err := database.Migrate(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	river, err := queue.Migrate(ctx, db, logger)
	if err != nil {
		return nil, nil, err
	}
	return own, river, nil
}

// Open wires a System. Close it when done.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*System, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	// Every date rule (expiry days, policy terms) is reckoned in UTC.
	now := func() time.Time { return clock().UTC() }
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	own := opts.Telemetry == nil
	if own {
		if opts.Telemetry, err = newTelemetry(ctx, cfg, logger); err != nil {
			db.Close()
			return nil, err
		}
	}
	s, err := build(ctx, db, cfg, logger, opts, now)
	if err != nil {
		if own {
			shutdownTelemetry(opts.Telemetry, logger)
		}
		db.Close()
		return nil, err
	}
	s.ownTelemetry = own
	return s, nil
}

func build(ctx context.Context, db database.DB, cfg config.Config, logger *slog.Logger, opts Options, now func() time.Time) (*System, error) {
	if opts.Migrate {
		if _, _, err := migrate(ctx, db, logger); err != nil {
			return nil, err
		}
	}
	reg, err := Registry()
	if err != nil {
		return nil, err
	}
	rates, err := rating.DefaultTable()
	if cfg.RateTableFile != "" {
		rates, err = rating.LoadTableFile(cfg.RateTableFile)
	}
	if err != nil {
		return nil, fmt.Errorf("rate table: %w", err)
	}
	if rates.Currency() != cfg.Currency {
		return nil, fmt.Errorf("CURRENCY is %s but the rate table prices in %s", cfg.Currency, rates.Currency())
	}
	var topts []notify.TemplateOption
	for name, t := range cfg.WhatsAppTemplates {
		topts = append(topts, notify.WithWhatsAppTemplate(name, notify.WhatsAppTemplate{Name: t.Name, Language: t.Language, Params: t.Params}))
	}
	templates, err := notify.NewTemplates(cfg.TemplatesDir, topts...)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	renderer, err := document.NewRenderer()
	if err != nil {
		return nil, err
	}
	master, err := loadMasterKey(cfg, logger)
	if err != nil {
		return nil, err
	}
	keys := keyring.New(db, master, now)
	if err := keys.Check(ctx, db); err != nil {
		return nil, err
	}
	files, err := document.NewFileStore(cfg.DocumentsDir, keys, db)
	if err != nil {
		return nil, fmt.Errorf("DOCUMENTS_DIR: %w", err)
	}
	vault := personal.NewVault(keys)
	store := eventstore.New(db, cfg.MaxEventsPerBatch, now)
	store.SetCodec(personal.NewCodec(reg, keys))
	reader := projection.NewReader(db, vault)
	s := &System{Config: cfg, DB: db, Registry: reg, Store: store, Reader: reader, Files: files, Keys: keys, Vault: vault, Logger: logger, Now: now,
		Telemetry: opts.Telemetry}

	// The recorder needs the listener set (to route) and the queue (to
	// enqueue); the listeners need the services, which need the recorder.
	// Build the recorder with late-bound router and queue.
	late := &lateBinding{}
	subs, err := projection.New(db, projection.Config{Registry: reg, Opener: store, Logger: logger, Now: now,
		ArchiveDir: cfg.ArchiveDir, NewArchiveReader: func(dir string) projection.ArchiveStream { return store.NewArchiveReader(dir) }}, projection.ReadModels(vault)...)
	if err != nil {
		return nil, err
	}
	s.Projections = subs
	rec := recorder.New(store, reg, late, subs, late, now, recorder.WithObserver(s.Telemetry))
	deps := app.Deps{Recorder: rec, Reader: reader, Secrets: app.NewSecrets(db), Vault: vault, Now: now, Logger: logger, ArchiveDir: cfg.ArchiveDir,
		Commands: s.Telemetry}
	if cfg.SnapshotEvery > 0 {
		deps.Snapshots = snapshot.NewStore(keys, cfg.SnapshotEvery, now)
	}
	s.Recorder = rec
	s.Customers = app.NewCustomerService(deps)
	s.Quotations = app.NewQuotationService(deps, rates, cfg.Currency)
	s.Policies = app.NewPolicyService(deps, rates, cfg.Currency)
	s.Webhooks = app.NewWebhookService(deps)
	s.Erasure = app.NewErasureService(deps, s.Customers, keys)
	if s.Idempotency, err = idempotency.New(db, idempotency.Config{TTL: cfg.IdempotencyKeyTTL, Sealer: keys, Now: now}); err != nil {
		return nil, err
	}

	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + cfg.HTTPAddr
	}
	mailer, wa, err := drivers(db, vault, cfg, logger, now)
	if err != nil {
		return nil, err
	}
	if opts.WrapMailer != nil {
		mailer = opts.WrapMailer(mailer)
	}
	if opts.WrapWhatsApp != nil {
		wa = opts.WrapWhatsApp(wa)
	}
	s.Breakers = breaker.NewSet(cfg.BreakerFailures, cfg.BreakerOpenFor, logger)
	mailer = s.Breakers.Mailer("email", mailer)
	wa = s.Breakers.WhatsApp("whatsapp", wa)
	ldeps := listener.Deps{
		Recorder: rec, Reader: reader, Customers: s.Customers, Quotations: s.Quotations, Policies: s.Policies, Webhooks: s.Webhooks,
		Delivery: &listener.Delivery{
			Mailer: mailer, WhatsApp: wa, Templates: templates, Files: files,
			From: cfg.MailFrom, AdminEmail: cfg.AdminEmail, PublicURL: publicURL, WhatsAppEnabled: cfg.WhatsAppEnabled,
			NotReadyDelay:  min(cfg.QueueSnooze, 2*time.Second),
			RateLimitDelay: cfg.QueueSnooze,
		},
		Documents:          &listener.Documents{Renderer: renderer, Files: files},
		HighValueThreshold: cfg.QuoteHighValueThreshold,
		Logger:             logger,
		Now:                now,
	}
	set, err := listener.NewSet(store, reg, listener.Defaults{MaxAttempts: cfg.QueueMaxAttempts, Backoff: cfg.QueueBackoff, Timeout: cfg.QueueJobTimeout},
		listener.Definitions(ldeps)...)
	if err != nil {
		return nil, err
	}
	s.Listeners = set
	qcfg := queue.Config{
		Snooze:             cfg.QueueSnooze,
		FetchCooldown:      cfg.QueueFetchCooldown,
		FetchPollInterval:  max(cfg.QueueFetchPollInterval, cfg.QueueFetchCooldown),
		CompletedRetention: time.Duration(cfg.EventRetentionDays) * 24 * time.Hour,
		RescueAfter:        cfg.EffectiveRescueAfter(),
		JobTimeout:         cfg.QueueJobTimeout,
		Logger:             logger,
		Now:                now,
		Observer:           s.Telemetry,
	}
	s.Monitor = monitor.New(db, now)
	if opts.Workers {
		qcfg.Workers = cfg.WorkedQueues()
		s.Heart = s.Monitor.NewHeart(workerIdentity(qcfg.Workers, now()), 0, logger)
		qcfg.WhileWorking = s.Heart.Run
		if cfg.EventBusURL != "" {
			rcfg := opts.Relay
			rcfg.URL, rcfg.Logger = cfg.EventBusURL, logger
			r, err := relay.New(db, s.Store, rcfg)
			if err != nil {
				return nil, fmt.Errorf("EVENT_BUS_URL: %w", err)
			}
			s.Relay = r
			qcfg.WhileWorking = func(ctx context.Context) {
				done := make(chan struct{})
				go func() {
					defer close(done)
					r.Run(ctx)
				}()
				s.Heart.Run(ctx)
				<-done
			}
		}
		qcfg.Periodic = []queue.PeriodicTask{{
			Name: "policy-expiry-scan", Interval: cfg.ExpiryScanInterval,
			Run: func(ctx context.Context) error {
				report, err := s.Policies.ScanExpiring(ctx, event.Context{Actor: "system:expiry-scan", Channel: "system"}, nil)
				if err == nil {
					logger.Info("expiry scan", "as_of", report.AsOf, "scanned", report.Scanned, "warned", len(report.Warned))
				}
				return err
			},
		}, {
			Name: idempotencyCleanupTask, Interval: idempotencyCleanupInterval,
			Run: func(ctx context.Context) error {
				n, err := s.Idempotency.DeleteExpired(ctx)
				if err == nil && n > 0 {
					logger.Info("deleted expired idempotency keys", "deleted", n)
				}
				return err
			},
		}}
	}
	q, err := queue.New(db, set, qcfg)
	if err != nil {
		return nil, err
	}
	s.Queue = q
	late.router, late.queue = set, q

	s.Tokens = auth.NewStore(db, now)
	if cfg.AdminToken != "" {
		t, err := s.Tokens.Seed(ctx, "INSURE_ADMIN_TOKEN", auth.RoleAdmin, cfg.AdminToken)
		if err != nil {
			return nil, fmt.Errorf("INSURE_ADMIN_TOKEN: %w", err)
		}
		if t.Revoked() {
			logger.Warn("INSURE_ADMIN_TOKEN was revoked with insure token revoke; it does not authenticate")
		}
	}
	if err := s.watchTelemetry(); err != nil {
		return nil, err
	}
	h, err := httpapi.NewServer(httpapi.Services{
		Observer:       s.Telemetry,
		Customers:      s.Customers,
		Erasure:        s.Erasure,
		Quotations:     s.Quotations,
		Policies:       s.Policies,
		Messages:       app.MessageQueries{Reader: s.Reader},
		Documents:      app.DocumentQueries{Reader: s.Reader, Files: s.Files},
		Events:         app.EventQueries{Store: s.Store},
		DeadLetters:    app.DeadLetterQueries{Queue: s.Queue},
		Health:         s.Health(),
		Webhooks:       s.Webhooks,
		Auth:           s.Tokens,
		Access:         app.NewAccessService(deps),
		Consistency:    app.Consistency{DB: db},
		RequestTimeout: cfg.RequestTimeout,
		Idempotency:    s.Idempotency,
		WhatsAppWebhook: httpapi.WebhookConfig{
			VerifyToken: cfg.WhatsAppWebhookVerifyToken,
			AppSecret:   cfg.WhatsAppAppSecret,
		},
	}, logger, now)
	if err != nil {
		return nil, fmt.Errorf("http api: %w", err)
	}
	// The operator dashboard at /dashboard/ (see dashboard.go), the API
	// everywhere else.
	if s.handler, err = s.mountDashboard(h, app.NewAccessService(deps)); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	// GET /metrics in front of them all (see telemetry.go).
	s.handler = s.withMetrics(s.handler)
	if opts.Workers {
		s.runner = subs.NewRunner(projection.RunnerConfig{})
		if err := s.runner.Start(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// The periodic task that deletes expired idempotency keys (Begin ignores
// them meanwhile), and how often it runs.
const (
	idempotencyCleanupTask     = "idempotency-key-cleanup"
	idempotencyCleanupInterval = 10 * time.Minute
)

// lateBinding lets the recorder be built before the listener set and the
// queue that it routes to and enqueues on.
type lateBinding struct {
	router recorder.Router
	queue  recorder.Enqueuer
}

func (l *lateBinding) Route(env event.Envelope, p event.Payload) []queue.Job {
	return l.router.Route(env, p)
}

func (l *lateBinding) Enqueue(ctx context.Context, tx database.Tx, jobs []queue.Job) error {
	return l.queue.Enqueue(ctx, tx, jobs)
}

// Handler returns the HTTP API.
func (s *System) Handler() http.Handler { return s.handler }

// Health is the readiness service of this system.
func (s *System) Health() *app.HealthService {
	h := &app.HealthService{DB: s.DB, Breakers: s.Breakers, Monitor: s.Monitor, Heart: s.Heart,
		Projections: s.Projections.Status, QueueLag: s.Config.ReadyQueueLag, ProjectionLag: s.Config.ReadyProjectionLag, Now: s.Now,
		Drivers: map[string]string{"email": s.Config.EffectiveMailDriver(), "whatsapp": s.Config.EffectiveWhatsAppDriver()}}
	if s.Relay != nil {
		h.Relay = s.Relay.Health
	}
	return h
}

// workerIdentity names this process in the worker heartbeats: a new id,
// the host name, the pid and the queues it works.
func workerIdentity(workers map[string]int, now time.Time) monitor.Worker {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var queues []string
	for name, n := range workers {
		if n > 0 {
			queues = append(queues, name)
		}
	}
	sort.Strings(queues)
	return monitor.Worker{ID: event.NewID(), Host: host, PID: os.Getpid(), Queues: queues, StartedAt: now}
}

// drivers builds the configured email and WhatsApp drivers. The recording
// (log) drivers seal their stored copies of messages about a customer with
// vault.
func drivers(db database.DB, vault *personal.Vault, cfg config.Config, logger *slog.Logger, now func() time.Time) (notify.Mailer, notify.WhatsAppSender, error) {
	var (
		mailer notify.Mailer
		wa     notify.WhatsAppSender
	)
	switch cfg.EffectiveMailDriver() {
	case config.DriverSMTP:
		sc, err := notify.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, nil, fmt.Errorf("SMTP_URL: %w", err)
		}
		m, err := notify.NewSMTPMailer(sc, db, now)
		if err != nil {
			return nil, nil, fmt.Errorf("SMTP_URL: %w", err)
		}
		logger.Info("email is delivered over SMTP", "smtp", sc.Redacted())
		mailer = m
	default:
		logger.Info("email goes to the recording (log) driver and is not delivered; set SMTP_URL to deliver it")
		mailer = notify.NewLogMailer(db, vault, now)
	}
	switch cfg.EffectiveWhatsAppDriver() {
	case config.DriverCloudAPI:
		c, err := notify.NewCloudAPI(notify.CloudAPIConfig{BaseURL: cfg.WhatsAppAPIURL, Version: cfg.WhatsAppAPIVersion,
			PhoneNumberID: cfg.WhatsAppPhoneNumberID, Token: cfg.WhatsAppToken, Logger: logger}, db, now)
		if err != nil {
			return nil, nil, fmt.Errorf("WhatsApp Cloud API: %w", err)
		}
		logger.Info("WhatsApp messages are sent through the Cloud API", "api_url", cfg.WhatsAppAPIURL, "version", cfg.WhatsAppAPIVersion)
		wa = c
	default:
		logger.Info("WhatsApp messages go to the recording (log) driver and are not sent; set WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID to send them")
		wa = notify.NewLogWhatsApp(db, vault, now)
	}
	return mailer, wa, nil
}

// Close stops the projection runner, exports the spans not exported yet
// (its own telemetry only) and closes the database (Stop the queue first).
func (s *System) Close() error {
	if s.runner != nil {
		s.runner.Stop()
	}
	if s.ownTelemetry {
		shutdownTelemetry(s.Telemetry, s.Logger)
	}
	return s.DB.Close()
}

// WaitIdle waits until no listener job is pending or running, or ctx ends.
func (s *System) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := s.Queue.Pending(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d listener jobs: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

// listen opens the HTTP listener.
func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR %s: %w", addr, err)
	}
	return l, nil
}
