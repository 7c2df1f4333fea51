package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"insure/internal/config"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
)

// Defaults of Config.
const (
	DefaultStream        = "INSURE_EVENTS"
	DefaultSubjectPrefix = "insure.events"
)

// Headers set on every message besides jetstream.MsgIDHeader (the event id).
const (
	HeaderPosition         = "Insure-Position"
	HeaderAggregateType    = "Insure-Aggregate-Type"
	HeaderAggregateID      = "Insure-Aggregate-Id"
	HeaderAggregateVersion = "Insure-Aggregate-Version"
	HeaderEventName        = "Insure-Event-Name"
	HeaderSchemaVersion    = "Insure-Schema-Version"
)

// UnroutableToken is the subject token (after the prefix) of events whose
// aggregate type or event name cannot be a subject token.
const UnroutableToken = "_unroutable"

// ErrLeaseLost means another relay took the lease over: this one must stop
// publishing. The checkpoint was not moved.
var ErrLeaseLost = errors.New("relay lease lost to another process")

// Config configures a Relay. Zero fields take the defaults given.
type Config struct {
	// URL is the NATS server (EVENT_BUS_URL: nats:// or tls://, may hold
	// user:password). Required.
	URL string
	// Stream is the JetStream stream (INSURE_EVENTS); it also names the
	// relay's checkpoint row.
	Stream string
	// SubjectPrefix is put before <aggregate_type>.<event_name>
	// (insure.events). The stream, when the relay creates it, takes
	// <prefix>.>.
	SubjectPrefix string
	// DuplicateWindow is the duplicate window of a stream the relay creates
	// (1h): a re-publish of an event within it is dropped by the stream.
	DuplicateWindow time.Duration
	// Replicas of a stream the relay creates (1).
	Replicas int
	// BatchSize is how many events one read takes (100; the store caps it).
	BatchSize int
	// PollInterval is how long the relay waits when it has caught up, or
	// when another process holds the lease (500ms).
	PollInterval time.Duration
	// LeaseTTL is how long a lease lasts without renewal (15s). A relay
	// stops publishing a little before its lease runs out.
	LeaseTTL time.Duration
	// PublishTimeout bounds the wait for one acknowledgement (5s).
	PublishTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure (200ms, 30s);
	// it doubles with each failure in a row.
	MinBackoff, MaxBackoff time.Duration
	// Owner names this process in the lease (host-pid-random).
	Owner  string
	Logger *slog.Logger
	Now    func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = time.Hour
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.URL == "":
		return errors.New("relay: the NATS URL is required (set EVENT_BUS_URL)")
	case !validStreamName(c.Stream):
		return fmt.Errorf("relay: stream name %q is not valid: use letters, digits, '-' or '_'", c.Stream)
	case !validPrefix(c.SubjectPrefix):
		return fmt.Errorf("relay: subject prefix %q is not valid: use dot-separated tokens without spaces, '*' or '>'", c.SubjectPrefix)
	case c.PublishTimeout*2 >= c.LeaseTTL:
		return fmt.Errorf("relay: the lease (%s) must be more than twice the publish timeout (%s)", c.LeaseTTL, c.PublishTimeout)
	}
	return nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Relay publishes the event store's global stream to JetStream.
type Relay struct {
	cfg   Config
	db    database.DB
	store *eventstore.Store
	log   *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	position  atomic.Int64
	active    atomic.Bool
	published atomic.Int64
	lastErr   atomic.Pointer[string]
	// rowMade: the checkpoint row exists (Run's goroutine only).
	rowMade bool
}

// New returns a relay of store's events (on db) to the NATS server in
// cfg.URL. It returns an error when cfg is not valid; it does not connect.
func New(db database.DB, store *eventstore.Store, cfg Config) (*Relay, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg, db: db, store: store, log: cfg.Logger.With("component", "relay", "stream", cfg.Stream)}, nil
}

// Start runs the relay in its own goroutine until Stop. Starting a running
// relay does nothing.
func (r *Relay) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return nil
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	done := r.done
	go func() {
		defer close(done)
		r.Run(rctx)
	}()
	return nil
}

// Stop ends the relay started by Start and waits until it has released its
// lease and closed its connection.
func (r *Relay) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Active reports whether this relay holds the lease (it is the one
// publishing).
func (r *Relay) Active() bool { return r.active.Load() }

// Position is the checkpoint this relay last read or wrote: every event up
// to it has been published.
func (r *Relay) Position() int64 { return r.position.Load() }

// Published counts the messages this relay has had acknowledged (including
// ones the stream reported as duplicates).
func (r *Relay) Published() int64 { return r.published.Load() }

// LastError is the relay's last failure, "" when its last attempt worked.
func (r *Relay) LastError() string {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Run relays until ctx ends, then releases the lease. Failures (NATS or
// the database unavailable) are logged and retried with a capped
// exponential backoff; the checkpoint stays where it was.
func (r *Relay) Run(ctx context.Context) {
	redacted := config.RedactDatabaseURL(r.cfg.URL)
	nc, err := nats.Connect(r.cfg.URL,
		nats.Name("insure-relay"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(r.cfg.MinBackoff),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(r.cfg, attempts) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				r.log.Warn("relay lost its NATS connection; reconnecting", "url", redacted, "error", err.Error())
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { r.log.Info("relay reconnected to NATS", "url", redacted) }),
	)
	if err != nil {
		r.log.Error("relay cannot use EVENT_BUS_URL; not relaying", "url", redacted, "error", err.Error())
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		r.log.Error("relay cannot use JetStream; not relaying", "url", redacted, "error", err.Error())
		return
	}
	defer r.release()
	r.log.Info("relay started", "url", redacted, "owner", r.cfg.Owner, "subject_prefix", r.cfg.SubjectPrefix)

	var (
		failures    int
		lastLogged  time.Time
		streamReady bool
	)
	for ctx.Err() == nil {
		wait, err := r.step(ctx, js, &streamReady)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			streamReady = false
			failures++
			msg := err.Error()
			r.lastErr.Store(&msg)
			wait = backoff(r.cfg, failures)
			// Warn on the first failure, then at most once a minute.
			if failures == 1 || r.cfg.Now().Sub(lastLogged) >= time.Minute {
				lastLogged = r.cfg.Now()
				r.log.Warn("relay failed; retrying", "error", msg, "failures", failures, "retry_in", wait.String(), "position", r.Position())
			}
		} else if failures > 0 {
			r.log.Info("relay recovered", "after_failures", failures, "position", r.Position())
			failures = 0
			r.lastErr.Store(nil)
		}
		sleep(ctx, wait)
	}
}

// backoff is the wait after n failures in a row: MinBackoff doubled n-1
// times, capped at MaxBackoff.
func backoff(c Config, n int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// step takes or renews the lease and, holding it, publishes one batch and
// moves the checkpoint. It returns how long to wait before the next step.
func (r *Relay) step(ctx context.Context, js jetstream.JetStream, streamReady *bool) (time.Duration, error) {
	leased := r.cfg.Now()
	pos, ok, err := r.acquire(ctx, leased)
	if err != nil {
		return 0, err
	}
	if !ok {
		if r.active.Swap(false) {
			r.log.Info("relay lease taken by another process; standing by", "owner", r.cfg.Owner)
		}
		// A standby needs to look only a few times per lease.
		return max(r.cfg.PollInterval, r.cfg.LeaseTTL/4), nil
	}
	r.position.Store(pos)
	if !r.active.Swap(true) {
		r.log.Info("relay is the active one", "owner", r.cfg.Owner, "position", pos)
	}
	if !*streamReady {
		if err := r.ensureStream(ctx, js); err != nil {
			return 0, err
		}
		*streamReady = true
	}
	envs, err := r.store.ReadAll(ctx, r.db, pos, r.cfg.BatchSize, nil)
	if err != nil {
		return 0, fmt.Errorf("relay: %w", err)
	}
	if len(envs) == 0 {
		return r.cfg.PollInterval, nil
	}
	// Stop publishing well before the lease runs out, so that no other
	// relay can have taken over while this one still publishes.
	stopAt := leased.Add(r.cfg.LeaseTTL - r.cfg.PublishTimeout)
	last := pos
	var perr error
	for _, env := range envs {
		if !r.cfg.Now().Before(stopAt) {
			break
		}
		if perr = r.publish(ctx, js, env); perr != nil {
			break
		}
		last = env.Position
	}
	if last > pos {
		if err := r.commit(ctx, last); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				r.active.Store(false)
				r.log.Info("relay lease taken by another process; standing by", "owner", r.cfg.Owner)
				return r.cfg.PollInterval, nil
			}
			return 0, errors.Join(perr, err)
		}
	}
	return 0, perr
}

func (r *Relay) ensureStream(ctx context.Context, js jetstream.JetStream) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	_, err := js.Stream(cctx, r.cfg.Stream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("relay: look up stream %s: %w", r.cfg.Stream, err)
	}
	_, err = js.CreateStream(cctx, jetstream.StreamConfig{
		Name:        r.cfg.Stream,
		Description: "insure domain events, relayed from the event store",
		Subjects:    []string{r.cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  r.cfg.DuplicateWindow,
		Replicas:    r.cfg.Replicas,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("relay: create stream %s on %s.>: %w", r.cfg.Stream, r.cfg.SubjectPrefix, err)
	}
	if err == nil {
		r.log.Info("relay created its stream", "subjects", r.cfg.SubjectPrefix+".>", "duplicate_window", r.cfg.DuplicateWindow.String())
	}
	return nil
}

func (r *Relay) publish(ctx context.Context, js jetstream.JetStream, env event.Envelope) error {
	msg, routable, err := Message(r.cfg.SubjectPrefix, env)
	if err != nil {
		return err
	}
	if !routable {
		r.log.Warn("event cannot be a subject; published as unroutable", "event_id", env.EventID, "position", env.Position, "subject", msg.Subject)
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	if _, err := js.PublishMsg(pctx, msg, jetstream.WithExpectStream(r.cfg.Stream)); err != nil {
		return fmt.Errorf("relay: publish event %s at position %d: %w", env.EventID, env.Position, err)
	}
	r.published.Add(1)
	return nil
}

// wireEnvelope is the body of a message: the stored event. Metadata leaves
// out the caller's IP address and user agent, which the event store keeps
// unsealed for the audit trail but other services do not need.
type wireEnvelope struct {
	Position         int64           `json:"position"`
	EventID          string          `json:"event_id"`
	EventName        string          `json:"event_name"`
	AggregateType    string          `json:"aggregate_type"`
	AggregateID      string          `json:"aggregate_id"`
	AggregateVersion int64           `json:"aggregate_version"`
	SchemaVersion    int             `json:"schema_version"`
	Data             json.RawMessage `json:"data"`
	Metadata         event.Metadata  `json:"metadata"`
	OccurredAt       time.Time       `json:"occurred_at"`
}

// Message returns the message that carries env on a stream whose subjects
// start with prefix, and whether env could be given its own subject (when
// not, the subject is <prefix>._unroutable). env.Data is sent as given:
// pass events as stored (ReadAll) so personal fields stay sealed.
func Message(prefix string, env event.Envelope) (*nats.Msg, bool, error) {
	meta := env.Metadata
	meta.IP, meta.UserAgent = "", ""
	body, err := json.Marshal(wireEnvelope{
		Position: env.Position, EventID: env.EventID, EventName: env.EventName,
		AggregateType: env.AggregateType, AggregateID: env.AggregateID,
		AggregateVersion: env.AggregateVersion, SchemaVersion: env.SchemaVersion,
		Data: env.Data, Metadata: meta, OccurredAt: env.OccurredAt.UTC(),
	})
	if err != nil {
		return nil, false, fmt.Errorf("relay: encode event %s at position %d: %w", env.EventID, env.Position, err)
	}
	subject, routable := Subject(prefix, env.AggregateType, env.EventName)
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, env.EventID)
	msg.Header.Set(HeaderPosition, strconv.FormatInt(env.Position, 10))
	msg.Header.Set(HeaderAggregateType, env.AggregateType)
	msg.Header.Set(HeaderAggregateID, env.AggregateID)
	msg.Header.Set(HeaderAggregateVersion, strconv.FormatInt(env.AggregateVersion, 10))
	msg.Header.Set(HeaderEventName, env.EventName)
	msg.Header.Set(HeaderSchemaVersion, strconv.Itoa(env.SchemaVersion))
	return msg, routable, nil
}
