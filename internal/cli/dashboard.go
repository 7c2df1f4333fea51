package cli

import (
	"context"
	"net/http"

	"insure/internal/app"
	"insure/internal/dashboard"
)

// mountDashboard serves the operator dashboard at /dashboard/ beside api,
// which keeps every other path.
func (s *System) mountDashboard(api http.Handler, access *app.AccessService) (http.Handler, error) {
	d, err := dashboard.New(dashboard.Config{
		Auth:        s.Tokens,
		Sessions:    dashboard.NewSQLSessions(s.DB),
		Metrics:     s.Monitor,
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
