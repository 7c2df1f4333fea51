package httpapi

import (
	"fmt"
	"net/http"

	"insure/internal/app"
)

// Readiness statuses, as app.Readiness and app.Check report them.
const (
	readyOK       = "ok"
	readyDegraded = "degraded"
	readyFailing  = "failing"
)

// health answers GET /healthz: the process is up. It checks nothing else;
// /readyz does.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready answers GET /readyz: 200 while the application can serve (ok, or
// degraded when only a non-critical check fails), 503 with the same body
// when a critical check fails.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	rd := app.Readiness{Status: readyOK}
	if s.svc.Health != nil {
		rd = s.svc.Health.Ready(r.Context())
	}
	rd.Checks = nonNil(rd.Checks)
	switch rd.Status {
	case readyOK, readyDegraded:
		return writeJSON(w, http.StatusOK, rd)
	case readyFailing:
		return writeJSON(w, http.StatusServiceUnavailable, rd)
	}
	return fmt.Errorf("readiness status %q is not %s, %s or %s", rd.Status, readyOK, readyDegraded, readyFailing)
}

// providerList is the body of GET /api/v1/providers.
type providerList struct {
	Providers []app.ProviderStatus `json:"providers"`
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) error {
	var items []app.ProviderStatus
	if s.svc.Health != nil {
		items = s.svc.Health.Providers(r.Context())
	}
	return writeJSON(w, http.StatusOK, providerList{Providers: nonNil(items)})
}
