package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/app"
	"insure/internal/httpapi"
)

func TestReady(t *testing.T) {
	t.Parallel()
	degraded := app.Readiness{Status: "degraded", Checks: []app.Check{
		{Name: "database", Status: "ok", Critical: true},
		{Name: "smtp", Status: "failing", Critical: false, Detail: "dial tcp: connection refused"},
	}}
	failing := app.Readiness{Status: "failing", Checks: []app.Check{
		{Name: "database", Status: "failing", Critical: true, Detail: "the database is unreachable"},
	}}
	tests := []struct {
		name   string
		ready  app.Readiness
		status int
		want   app.Readiness
	}{
		{name: "ok", ready: testReadiness(), status: http.StatusOK, want: testReadiness()},
		{name: "degraded", ready: degraded, status: http.StatusOK, want: degraded},
		{name: "failing", ready: failing, status: http.StatusServiceUnavailable, want: failing},
		{
			name: "no checks", ready: app.Readiness{Status: "ok"}, status: http.StatusOK,
			want: app.Readiness{Status: "ok", Checks: []app.Check{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			h.f.health.ReadyFn = func(context.Context) app.Readiness { return tt.ready }
			w := h.do("GET", "/readyz", "")
			wantStatus(t, w, tt.status)
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if diff := cmp.Diff(tt.want, decodeJSON[app.Readiness](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("without a health service", func(t *testing.T) {
		t.Parallel()
		h := setupServices(t, func(s *httpapi.Services) { s.Health = nil })
		w := h.do("GET", "/readyz", "")
		wantStatus(t, w, http.StatusOK)
		if got, want := w.Body.String(), `{"status":"ok","checks":[]}`+"\n"; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})

	t.Run("unknown status is a bug", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.health.ReadyFn = func(context.Context) app.Readiness { return app.Readiness{Status: "fine"} }
		w := h.do("GET", "/readyz", "")
		wantError(t, w, http.StatusInternalServerError, "internal", "")
	})
}

func TestProviders(t *testing.T) {
	t.Parallel()

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("GET", "/api/v1/providers", "")
		wantStatus(t, w, http.StatusOK)
		got := decodeJSON[struct {
			Providers []app.ProviderStatus `json:"providers"`
		}](t, w)
		if diff := cmp.Diff(testProviders(), got.Providers); diff != "" {
			t.Errorf("providers (-want +got):\n%s", diff)
		}
	})

	empty := `{"providers":[]}` + "\n"
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.health.ProvidersFn = func(context.Context) []app.ProviderStatus { return nil }
		w := h.do("GET", "/api/v1/providers", "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Body.String(); got != empty {
			t.Errorf("body = %q, want %q", got, empty)
		}
	})

	t.Run("without a health service", func(t *testing.T) {
		t.Parallel()
		h := setupServices(t, func(s *httpapi.Services) { s.Health = nil })
		w := h.do("GET", "/api/v1/providers", "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Body.String(); got != empty {
			t.Errorf("body = %q, want %q", got, empty)
		}
	})
}
