package projection

import (
	"context"
	"errors"
	"sync"
	"time"
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Interval is how often the runner looks for projections behind the
	// head (default 1s). Inline application keeps caught-up projections
	// there, so this only bounds how soon a new or failed one starts
	// catching up.
	Interval time.Duration
	// MaxBackoff caps the wait before retrying a projection that failed
	// (default 1 minute; the wait doubles from Interval).
	MaxBackoff time.Duration
}

// Runner catches up, in the background, every projection that is behind
// the head: a new one (from position 0), or one that an error stopped. A
// failing projection is retried with backoff, one event per batch, so its
// checkpoint stops just before the event that fails; the error is kept on
// the checkpoint (Status.LastError) and logged. Several runners (one per
// process) may run at once: the checkpoints' compare-and-set keeps each
// batch applied once.
type Runner struct {
	s   *Subscriptions
	cfg RunnerConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRunner returns a runner for s; Start it.
func (s *Subscriptions) NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	return &Runner{s: s, cfg: cfg}
}

// Start gives every projection a checkpoint (Ensure) and starts the runner
// until Stop or ctx ends. It fails if the runner is running.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("projection runner: already started")
	}
	if err := r.s.Ensure(ctx); err != nil {
		return err
	}
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	go r.run(ctx, r.done)
	return nil
}

// Stop stops the runner and waits for its batch in flight, which commits
// or rolls back whole.
func (r *Runner) Stop() {
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

// retry is a failing projection's schedule.
type retry struct {
	failures int
	at       time.Time
}

func (r *Runner) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	retries := map[string]*retry{}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		r.pass(ctx, retries)
		timer.Reset(r.cfg.Interval)
	}
}

// pass catches up every projection that is behind and not waiting to retry.
func (r *Runner) pass(ctx context.Context, retries map[string]*retry) {
	s := r.s
	sts, err := s.Status(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("projection runner: cannot read the checkpoints", "error", err)
		}
		return
	}
	for _, st := range sts {
		if !st.Started {
			if err := s.Ensure(ctx); err != nil {
				s.log.Warn("projection runner: cannot create the checkpoints", "error", err)
				return
			}
		}
	}
	for _, st := range sts {
		if st.Lag == 0 || ctx.Err() != nil {
			continue
		}
		rt := retries[st.Name]
		if rt != nil && s.now().Before(rt.at) {
			continue
		}
		p, _ := s.lookup(st.Name)
		limit := s.batch
		if rt != nil {
			limit = 1 // stop just before the event that fails
		}
		n, err := s.catchUp(ctx, p, Live, limit, never, nil)
		if err != nil && limit > 1 && ctx.Err() == nil {
			// Apply the events before the one that fails, one per batch.
			m, err1 := s.catchUp(ctx, p, Live, 1, never, nil)
			n, err = n+m, err1
		}
		switch {
		case err == nil:
			if rt != nil {
				s.log.Info("projection caught up after failing", "projection", st.Name, "applied", n)
				delete(retries, st.Name)
			} else if n > 0 {
				s.log.Info("projection caught up", "projection", st.Name, "applied", n)
			}
		case ctx.Err() != nil:
			return
		default:
			if rt == nil {
				rt = &retry{}
				retries[st.Name] = rt
			}
			rt.failures++
			wait := min(r.cfg.Interval<<min(rt.failures, 16), r.cfg.MaxBackoff)
			rt.at = s.now().Add(wait)
			s.recordError(ctx, st.Name, err)
			s.log.Error("projection stopped: it is skipped inline until the runner gets past the event", "projection", st.Name,
				"applied", n, "retry_in", wait.String(), "error", err)
		}
	}
}
