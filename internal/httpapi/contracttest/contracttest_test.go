package contracttest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"insure/internal/httpapi/contracttest"
)

// recordingTB captures failures instead of failing the real test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

const (
	goodID      = "01956a3e-7c2b-7d4e-8f00-000000000001"
	requestID   = "01956a3e-7c2b-7d4e-8f00-000000000007"
	healthBody  = `{"status":"ok"}`
	errNotFound = `{"error":{"code":"not_found","message":"no such customer"}}`
	errUnauth   = `{"error":{"code":"unauthorized","message":"send a token"}}`
	errForbid   = `{"error":{"code":"forbidden","message":"role agent may not call GET /api/v1/events"}}`
	challenge   = `Bearer realm="insure"`
	goodAuth    = "Bearer any-token"
)

// respond returns a handler that answers with the given status, headers and
// body.
func respond(status int, body string, headers ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", requestID)
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func TestContractReportsMismatches(t *testing.T) {
	t.Parallel()
	c := contracttest.New(t)

	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		skip    bool
		auth    string // the Authorization header; goodAuth when "", none when "-"
		handler http.Handler
		want    string // a substring of the failure; "" for no failure
	}{
		{
			name: "good response", method: "GET", target: "/healthz",
			handler: respond(200, healthBody),
		},
		{
			name: "wrong body", method: "GET", target: "/healthz",
			handler: respond(200, `{"status":"fine"}`), want: "response body doesn't match",
		},
		{
			name: "missing X-Request-ID", method: "GET", target: "/healthz",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(healthBody))
			}),
			want: `"X-Request-ID" missing`,
		},
		{
			name: "undocumented status", method: "GET", target: "/healthz",
			handler: respond(418, errNotFound), want: "status is not supported",
		},
		{
			name: "wrong content type", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(404, errNotFound, "Content-Type", "text/plain"), want: "response header Content-Type",
		},
		{
			name: "error body not in the error shape", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(404, `{"message":"nope"}`), want: "response body doesn't match",
		},
		{
			name: "500 that leaks", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(500, `{"error":{"code":"internal","message":"pq: connection refused"}}`), want: "internal error",
		},
		{
			name: "missing ETag", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(200, `{}`), want: `"ETag" missing`,
		},
		{
			name: "invalid request", method: "GET", target: "/api/v1/customers?limit=0",
			handler: respond(422, `{"error":{"code":"invalid","message":"bad","field":"limit"}}`), want: "request GET /api/v1/customers?limit=0 does not match",
		},
		{
			name: "invalid request on purpose", method: "GET", target: "/api/v1/customers?limit=0", skip: true,
			handler: respond(422, `{"error":{"code":"invalid","message":"bad","field":"limit"}}`),
		},
		{
			name: "invalid request body", method: "POST", target: "/api/v1/customers/" + goodID + "/verify-email", body: `{"token":""}`,
			handler: respond(422, `{"error":{"code":"invalid","message":"bad","field":"token"}}`), want: "does not match the spec",
		},
		{
			name: "unknown route answered 404", method: "GET", target: "/nope",
			handler: respond(404, errNotFound),
		},
		{
			name: "unknown route answered 200", method: "GET", target: "/nope",
			handler: respond(200, healthBody), want: "is not in the spec",
		},
		{
			name: "unknown route with a bad 404 body", method: "GET", target: "/nope",
			handler: respond(404, `not found`), want: "does not match the spec",
		},
		{
			name: "429 with Retry-After", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(429, `{"error":{"code":"rate_limited","message":"slow down"}}`, "Retry-After", "60"),
		},
		{
			name: "429 without Retry-After", method: "GET", target: "/healthz",
			handler: respond(429, `{"error":{"code":"rate_limited","message":"slow down"}}`), want: `"Retry-After" missing`,
		},
		{
			name: "405 with Allow", method: "DELETE", target: "/healthz",
			handler: respond(405, `{"error":{"code":"method_not_allowed","message":"use GET"}}`, "Allow", "GET, HEAD"),
		},
		{
			name: "405 without Allow", method: "DELETE", target: "/healthz",
			handler: respond(405, `{"error":{"code":"method_not_allowed","message":"use GET"}}`), want: `"Allow" missing`,
		},
		{
			name: "public operation without a token", method: "GET", target: "/healthz", auth: "-",
			handler: respond(200, healthBody),
		},
		{
			name: "protected operation without a token", method: "GET", target: "/api/v1/customers/" + goodID, auth: "-",
			handler: respond(401, errUnauth, "WWW-Authenticate", challenge), want: "authorization failed",
		},
		{
			name: "protected operation without a token on purpose", method: "GET", target: "/api/v1/customers/" + goodID, auth: "-", skip: true,
			handler: respond(401, errUnauth, "WWW-Authenticate", challenge),
		},
		{
			name: "another scheme", method: "GET", target: "/api/v1/customers/" + goodID, auth: "Basic YTpi",
			handler: respond(401, errUnauth, "WWW-Authenticate", challenge), want: "is not Bearer <token>",
		},
		{
			name: "bearer with no token", method: "GET", target: "/api/v1/customers/" + goodID, auth: "Bearer ",
			handler: respond(401, errUnauth, "WWW-Authenticate", challenge), want: "is not Bearer <token>",
		},
		{
			name: "any token, scheme in any case", method: "GET", target: "/api/v1/customers/" + goodID, auth: "bEARER whatever",
			handler: respond(401, errUnauth, "WWW-Authenticate", challenge+`, error="invalid_token"`),
		},
		{
			name: "401 without a challenge", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(401, errUnauth), want: `"WWW-Authenticate" missing`,
		},
		{
			name: "401 with another challenge", method: "GET", target: "/api/v1/customers/" + goodID,
			handler: respond(401, errUnauth, "WWW-Authenticate", `Basic realm="insure"`), want: `"WWW-Authenticate" doesn't match schema`,
		},
		{
			name: "403", method: "GET", target: "/api/v1/events",
			handler: respond(403, errForbid),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			var seenSkipHeader bool
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seenSkipHeader = r.Header.Get(contracttest.SkipRequestHeader) != ""
				tt.handler.ServeHTTP(w, r)
			})
			h := c.Wrap(rec, inner)
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			if tt.skip {
				r.Header.Set(contracttest.SkipRequestHeader, "1")
			}
			switch tt.auth {
			case "":
				r.Header.Set("Authorization", goodAuth)
			case "-":
			default:
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if seenSkipHeader {
				t.Error("the handler saw the skip header")
			}
			got := strings.Join(rec.errors, "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("unexpected failure:\n%s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("failure %q does not mention %q", got, tt.want)
			}
		})
	}
}

func TestContractPassesResponseThrough(t *testing.T) {
	t.Parallel()
	h := contracttest.Middleware(t, respond(200, healthBody, "X-Extra", "1"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 || w.Body.String() != healthBody || w.Header().Get("X-Extra") != "1" {
		t.Errorf("got %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}

func TestContractCoverage(t *testing.T) {
	t.Parallel()
	c := contracttest.New(t)
	ops := c.Operations()
	if len(ops) == 0 {
		t.Fatal("no operations")
	}
	h := c.Wrap(t, respond(200, healthBody))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	missing := c.Uncovered()
	if len(missing) != len(ops)-1 {
		t.Errorf("uncovered = %d operations, want %d", len(missing), len(ops)-1)
	}
	for _, op := range missing {
		if op == "GET /healthz" {
			t.Error("GET /healthz is reported uncovered")
		}
	}
	if got := c.Seen()["GET /healthz"]; len(got) != 1 || got[0] != 200 {
		t.Errorf("seen = %v", got)
	}
}

func TestLoadRejectsAnInvalidSpec(t *testing.T) {
	t.Parallel()
	rec := &fatalTB{recordingTB: recordingTB{TB: t}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		contracttest.Load(rec, []byte("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n"))
	}()
	<-done
	if !rec.fatal {
		t.Error("an invalid spec loaded")
	}
}

type fatalTB struct {
	recordingTB
	fatal bool
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.fatal = true
	panic("fatal")
}
