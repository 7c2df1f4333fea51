package cli

import (
	"context"
	"net/http"
	"time"

	"insure/internal/app"
	"insure/internal/dashboard"
	"insure/internal/monitor"
)

// mountDashboard serves the operator dashboard at /dashboard/ beside api,
// which keeps every other path.
func (s *System) mountDashboard(api http.Handler, access *app.AccessService) (http.Handler, error) {
	d, err := dashboard.New(dashboard.Config{
		Auth:        s.Tokens,
		Sessions:    dashboard.NewSQLSessions(s.DB),
		Metrics:     dashboardMetrics{s.Monitor},
		DeadLetters: s.Queue,
		Projections: s.Projections,
		Breakers:    s.Breakers,
		Events:      dashboardEvents{EventQueries: app.EventQueries{Store: s.Store}},
		Customers:   s.Customers,
		Access:      access,
		EventNames:  s.Registry.Names(),
		SessionTTL:  s.Config.DashboardSessionTTL,
		PublicURL:   s.Config.PublicURL,
		Logger:      s.Logger,
		Now:         s.Now,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(dashboard.Prefix+"/", d)
	mux.Handle(dashboard.Prefix, http.RedirectHandler(dashboard.Prefix+"/", http.StatusMovedPermanently))
	return mux, nil
}

// dashboardEvents is the event stream as the dashboard reads it: the
// API's event queries, and the head.
type dashboardEvents struct{ app.EventQueries }

// Head returns the newest position.
func (e dashboardEvents) Head(ctx context.Context) (int64, error) {
	return e.Store.Head(ctx, e.Store.DB())
}

// dashboardMetrics gives the dashboard the monitor's figures.
type dashboardMetrics struct{ m *monitor.Monitor }

var _ dashboard.Metrics = dashboardMetrics{}

func (d dashboardMetrics) QueueDepths(ctx context.Context) ([]dashboard.QueueDepth, error) {
	in, err := d.m.QueueDepths(ctx)
	out := make([]dashboard.QueueDepth, len(in))
	for i, q := range in {
		out[i] = dashboard.QueueDepth{Queue: q.Queue, State: q.State, Jobs: q.Jobs}
	}
	return out, err
}

func (d dashboardMetrics) QueueLags(ctx context.Context) ([]dashboard.QueueLag, error) {
	in, err := d.m.QueueLags(ctx)
	out := make([]dashboard.QueueLag, len(in))
	for i, q := range in {
		out[i] = dashboard.QueueLag{Queue: q.Queue, Oldest: q.Oldest}
	}
	return out, err
}

func (d dashboardMetrics) DeadLetterCounts(ctx context.Context) (map[string]int64, error) {
	return d.m.DeadLetterCounts(ctx)
}

func (d dashboardMetrics) EventVolume(ctx context.Context, since time.Time) ([]dashboard.VolumePoint, error) {
	in, err := d.m.EventVolume(ctx, since)
	out := make([]dashboard.VolumePoint, len(in))
	for i, p := range in {
		out[i] = dashboard.VolumePoint{Minute: p.Minute, EventName: p.EventName, Events: p.Events}
	}
	return out, err
}

func (d dashboardMetrics) ListenerStats(ctx context.Context, since time.Time) ([]dashboard.ListenerStat, error) {
	in, err := d.m.ListenerStats(ctx, since)
	out := make([]dashboard.ListenerStat, len(in))
	for i, l := range in {
		out[i] = dashboard.ListenerStat{Listener: l.Listener, Jobs: l.Jobs, Failed: l.Failed, Attempts: l.Attempts,
			FailedAttempts: l.FailedAttempts, P50: l.P50, P95: l.P95, FailureRate: l.FailureRate}
	}
	return out, err
}

func (d dashboardMetrics) Workers(ctx context.Context, since time.Time) ([]dashboard.Worker, error) {
	in, err := d.m.Workers(ctx, since)
	out := make([]dashboard.Worker, len(in))
	for i, w := range in {
		out[i] = dashboard.Worker{ID: w.ID, Host: w.Host, PID: w.PID, Queues: w.Queues, StartedAt: w.StartedAt, BeatAt: w.BeatAt}
	}
	return out, err
}
