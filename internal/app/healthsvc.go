package app

import (
	"context"
	"time"

	"insure/internal/breaker"
	"insure/internal/database"
	"insure/internal/queue"
)

// HealthService answers readiness: the database (critical), whether this
// process works the queues, and each provider's circuit breaker.
type HealthService struct {
	DB       database.DB
	Breakers *breaker.Set
	Queue    *queue.Queue
	Drivers  map[string]string // provider → driver
}

// Ready runs the checks.
func (h *HealthService) Ready(ctx context.Context) Readiness {
	r := Readiness{Status: "ok", Checks: []Check{}}
	add := func(c Check) {
		r.Checks = append(r.Checks, c)
		switch {
		case c.Status == "failing" && c.Critical:
			r.Status = "failing"
		case c.Status != "ok" && r.Status == "ok":
			r.Status = "degraded"
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.DB.Ping(pctx); err != nil {
		add(Check{Name: "database", Status: "failing", Critical: true, Detail: "no round trip to the database: " + err.Error()})
	} else {
		add(Check{Name: "database", Status: "ok", Critical: true, Detail: string(h.DB.Dialect())})
	}
	if h.Queue != nil {
		detail := "this process works the queues"
		if !h.Queue.Working() {
			detail = "this process runs no workers (other processes may)"
		}
		add(Check{Name: "workers", Status: "ok", Detail: detail})
	}
	for _, p := range h.Providers(ctx) {
		c := Check{Name: "provider:" + p.Name, Status: "ok", Detail: p.Driver + " driver, breaker " + p.State}
		if p.State != "closed" {
			c.Status = "degraded"
		}
		add(c)
	}
	return r
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
