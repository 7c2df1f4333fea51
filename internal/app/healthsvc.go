package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"insure/internal/breaker"
	"insure/internal/database"
	"insure/internal/monitor"
	"insure/internal/projection"
)

// HealthService answers readiness: the database (critical), the processes
// working the queues (critical for this process's own workers), each
// provider's circuit breaker, queue lag and projection lag.
type HealthService struct {
	DB       database.DB
	Breakers *breaker.Set
	Drivers  map[string]string // provider → driver
	// Monitor reads queue lag and the worker heartbeats; nil skips those
	// checks.
	Monitor *monitor.Monitor
	// Heart is this process's worker heartbeat; nil when this process runs
	// no workers.
	Heart *monitor.Heart
	// Projections reports where each read model is; nil skips the check.
	Projections func(ctx context.Context) ([]projection.Status, error)
	// Relay reports how many events the event relay to NATS is behind and
	// its last failure ("" when none); nil skips the check (no relay in
	// this process). The check is never critical.
	Relay func(ctx context.Context) (lag int64, lastError string, err error)
	// QueueLag and ProjectionLag are the ages beyond which a waiting job or
	// an unapplied event makes the check degraded (READY_QUEUE_LAG,
	// READY_PROJECTION_LAG); zero: 5 minutes and 1 minute.
	QueueLag      time.Duration
	ProjectionLag time.Duration
	Now           func() time.Time
}

// The readiness statuses.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusFailing  = "failing"
)

// beatsMissed is how many heartbeat intervals a worker may miss before it
// counts as gone.
const beatsMissed = 3

func (h *HealthService) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// Ready runs the checks. Each has its own short deadline, so a slow
// database cannot hold a probe for long.
func (h *HealthService) Ready(ctx context.Context) Readiness {
	r := Readiness{Status: StatusOK, Checks: []Check{}}
	add := func(c Check) {
		r.Checks = append(r.Checks, c)
		switch {
		case c.Status == StatusFailing && c.Critical:
			r.Status = StatusFailing
		case c.Status != StatusOK && r.Status == StatusOK:
			r.Status = StatusDegraded
		}
	}
	// check runs one check with its own deadline.
	check := func(f func(ctx context.Context) Check) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		add(f(cctx))
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.DB.Ping(pctx); err != nil {
		add(Check{Name: "database", Status: StatusFailing, Critical: true, Detail: "no round trip to the database: " + err.Error()})
	} else {
		add(Check{Name: "database", Status: StatusOK, Critical: true, Detail: string(h.DB.Dialect())})
	}
	if h.Monitor != nil {
		check(h.workers)
		check(h.queueLag)
	}
	for _, p := range h.Providers(ctx) {
		c := Check{Name: "provider:" + p.Name, Status: StatusOK, Detail: p.Driver + " driver, breaker " + p.State}
		if p.State != "closed" {
			c.Status = StatusDegraded
		}
		add(c)
	}
	if h.Projections != nil {
		check(h.projections)
	}
	if h.Relay != nil {
		check(h.relay)
	}
	return r
}

// relay checks the event relay to NATS: degraded while it fails (NATS
// down, the stream unavailable); the events wait in the event store.
func (h *HealthService) relay(ctx context.Context) Check {
	c := Check{Name: "relay", Status: StatusOK}
	lag, lastErr, err := h.Relay(ctx)
	switch {
	case err != nil:
		c.Status, c.Detail = StatusDegraded, "relay position could not be read: "+err.Error()
	case lastErr != "":
		// The error text (it may name the server) stays in the logs.
		c.Status, c.Detail = StatusDegraded, fmt.Sprintf("relay to NATS failing, retrying; %d events waiting (see the logs)", lag)
	default:
		c.Detail = fmt.Sprintf("%d events not yet relayed", lag)
	}
	return c
}

// workers checks the heartbeats: this process's own (critical: its workers
// are stuck or cannot reach the database), and that some process works
// the queues at all.
func (h *HealthService) workers(ctx context.Context) Check {
	c := Check{Name: "workers", Status: StatusOK}
	every := 10 * time.Second
	if h.Heart != nil {
		every = h.Heart.Interval()
		c.Critical = true
		last := h.Heart.LastBeat()
		if age := h.now().Sub(last); last.IsZero() || age > beatsMissed*every {
			c.Status = StatusFailing
			c.Detail = "this process's workers have recorded no heartbeat"
			if !last.IsZero() {
				c.Detail += " for " + age.Round(time.Second).String()
			}
			if e := h.Heart.LastError(); e != "" {
				c.Detail += "; the last attempt failed: " + e
			}
			return c
		}
	}
	ws, err := h.Monitor.Workers(ctx, h.now().Add(-beatsMissed*every))
	if err != nil {
		c.Status, c.Detail = StatusDegraded, "worker heartbeats could not be read: "+err.Error()
		return c
	}
	switch {
	case len(ws) == 0:
		c.Status, c.Detail = StatusDegraded, "no process works the queues: jobs wait until a worker starts (insure worker, or insure serve with workers)"
	case h.Heart != nil && h.Heart.LastError() != "":
		// Its last beat, a write, failed though reads work: so do its
		// other writes (commands, job outcomes), a full disk say.
		c.Status = StatusDegraded
		c.Detail = "this process could not record its last heartbeat, so its writes may be failing: " + h.Heart.LastError()
	case h.Heart != nil:
		c.Detail = fmt.Sprintf("%d worker process(es) alive, this one included", len(ws))
	default:
		c.Detail = fmt.Sprintf("%d worker process(es) alive; this process runs none", len(ws))
	}
	return c
}

// queueLag checks the age of the oldest job that could run but waits.
func (h *HealthService) queueLag(ctx context.Context) Check {
	c := Check{Name: "queue_lag", Status: StatusOK}
	limit := h.QueueLag
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	lags, err := h.Monitor.QueueLags(ctx)
	if err != nil {
		c.Status, c.Detail = StatusDegraded, "queue lag could not be read: "+err.Error()
		return c
	}
	var (
		worst monitor.QueueLag
		over  []string
	)
	for _, l := range lags {
		if l.Oldest > worst.Oldest {
			worst = l
		}
		if l.Oldest > limit {
			over = append(over, fmt.Sprintf("%s %s", l.Queue, l.Oldest.Round(time.Second)))
		}
	}
	if len(over) > 0 {
		c.Status = StatusDegraded
		c.Detail = fmt.Sprintf("jobs wait longer than %s: %s", limit, strings.Join(over, ", "))
		return c
	}
	if worst.Oldest == 0 {
		c.Detail = "no job is waiting"
		return c
	}
	c.Detail = fmt.Sprintf("oldest waiting job %s (%s); threshold %s", worst.Oldest.Round(time.Millisecond), worst.Queue, limit)
	return c
}

// projections checks how far each read model is behind the stream, and
// whether its catch-up keeps failing.
func (h *HealthService) projections(ctx context.Context) Check {
	c := Check{Name: "projections", Status: StatusOK}
	limit := h.ProjectionLag
	if limit <= 0 {
		limit = time.Minute
	}
	sts, err := h.Projections(ctx)
	if err != nil {
		c.Status, c.Detail = StatusDegraded, "projection positions could not be read: "+err.Error()
		return c
	}
	var (
		problems []string
		lag      int64
	)
	for _, st := range sts {
		lag = max(lag, st.Lag)
		switch {
		case st.LastError != "":
			// The error text stays out of this public answer: insure
			// projections list shows it.
			problems = append(problems, st.Name+" catch-up failing (see insure projections list)")
		case st.Age > limit:
			problems = append(problems, fmt.Sprintf("%s %d events (%s) behind", st.Name, st.Lag, st.Age.Round(time.Second)))
		}
	}
	if len(problems) > 0 {
		c.Status = StatusDegraded
		c.Detail = fmt.Sprintf("read models behind by more than %s or failing: %s", limit, strings.Join(problems, "; "))
		return c
	}
	c.Detail = fmt.Sprintf("%d read models; the furthest behind is %d events behind", len(sts), lag)
	return c
}

// Providers lists the outbound providers with their breaker state.
func (h *HealthService) Providers(context.Context) []ProviderStatus {
	out := []ProviderStatus{}
	if h.Breakers == nil {
		return out
	}
	for _, st := range h.Breakers.Statuses() {
		out = append(out, ProviderStatus{Name: st.Name, Driver: h.Drivers[st.Name], State: st.State, ConsecutiveFailures: st.ConsecutiveFailures})
	}
	return out
}
