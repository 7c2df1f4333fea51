package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"insure/internal/httpapi/contracttest"
	"insure/internal/projection"
)

// securityHeaderValues are the headers every response carries, over TLS
// or not.
var securityHeaderValues = map[string]string{
	"X-Content-Type-Options":  "nosniff",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
}

// wantSecurityHeaders checks the security headers of a response, and that
// Strict-Transport-Security is there exactly when it came over TLS.
func wantSecurityHeaders(t testing.TB, h http.Header, overTLS bool) {
	t.Helper()
	for k, want := range securityHeaderValues {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	hsts := h.Get("Strict-Transport-Security")
	switch {
	case overTLS && hsts != "max-age=31536000":
		t.Errorf("Strict-Transport-Security = %q over TLS, want max-age=31536000", hsts)
	case !overTLS && hsts != "":
		t.Errorf("Strict-Transport-Security = %q without TLS, want none", hsts)
	}
}

// TestSecurityHeaders: every response carries the security headers,
// whatever its status and content type.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target, body string
		status                     int
		opts                       []option
	}{
		{name: "success", method: "GET", target: "/api/v1/customers/" + customerID, status: 200},
		{name: "created", method: "POST", target: "/api/v1/customers", body: `{"name":"A","email":"a@example.com","phone":"9876543210"}`, status: 201},
		{name: "public", method: "GET", target: "/healthz", status: 200},
		{name: "webhook text", method: "GET", target: "/api/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1", status: 200},
		{name: "PDF", method: "GET", target: "/api/v1/documents/" + documentID, status: 200},
		{name: "404", method: "GET", target: "/nope", status: 404},
		{name: "405", method: "DELETE", target: "/api/v1/customers", status: 405},
		{name: "401", method: "GET", target: "/api/v1/customers/" + customerID, status: 401, opts: []option{anonymous(), wrong()}},
		{name: "403", method: "GET", target: "/api/v1/customers/" + customerID, status: 403, opts: []option{as(serviceToken)}},
		{name: "422", method: "GET", target: "/api/v1/customers?limit=0", status: 422, opts: []option{wrong()}},
	}
	for _, tt := range tests {
		for _, tls := range []bool{false, true} {
			name := tt.name
			if tls {
				name += " over TLS"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := setup(t)
				opts := tt.opts
				if tls {
					opts = append(opts[:len(opts):len(opts)], overTLS())
				}
				w := h.do(tt.method, tt.target, tt.body, opts...)
				wantStatus(t, w, tt.status)
				wantSecurityHeaders(t, w.Header(), tls)
			})
		}
	}

	t.Run("500 from a panic", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) { panic("boom") }
		w := h.do("GET", "/api/v1/customers/"+customerID, "")
		wantStatus(t, w, http.StatusInternalServerError)
		wantSecurityHeaders(t, w.Header(), false)
	})
}

// TestSecurityHeadersOnTheWire serves the API on real listeners, plain and
// TLS: Strict-Transport-Security comes only over TLS.
func TestSecurityHeadersOnTheWire(t *testing.T) {
	t.Parallel()
	svc, _ := happyServices()
	h := contracttest.Middleware(t, newServer(t, svc))
	for _, tls := range []bool{false, true} {
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(h)
		} else {
			srv = httptest.NewServer(h)
		}
		t.Cleanup(srv.Close)
		for _, target := range []string{"/healthz", "/api/v1/documents/" + documentID, "/nope"} {
			req, err := http.NewRequest("GET", srv.URL+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+auditorToken)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			t.Logf("%s over TLS %v: %d", target, tls, resp.StatusCode)
			wantSecurityHeaders(t, resp.Header, tls)
		}
	}
}
