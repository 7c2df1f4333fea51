package httpapi_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/httpapi"
	"insure/internal/httpapi/contracttest"
)

// harness is a Server over happy fakes, wrapped in the contract check.
type harness struct {
	t        testing.TB
	f        *fakes
	contract *contracttest.Contract
	h        http.Handler
	logs     *syncBuffer
}

// setup returns a harness. Tests change the fakes' function fields to
// steer the services.
func setup(t testing.TB) *harness {
	t.Helper()
	return setupWith(t, contracttest.New(t))
}

func setupWith(t testing.TB, c *contracttest.Contract) *harness {
	t.Helper()
	return newHarness(t, c, nil)
}

// setupServices is setup with the services changed by edit before the
// server is built over them: for a service or setting left out.
func setupServices(t testing.TB, edit func(*httpapi.Services)) *harness {
	t.Helper()
	return newHarness(t, contracttest.New(t), edit)
}

func newHarness(t testing.TB, c *contracttest.Contract, edit func(*httpapi.Services)) *harness {
	t.Helper()
	svc, f := happyServices()
	svc.Limits = generousLimits
	if edit != nil {
		edit(&svc)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := httpapi.NewServer(svc, logger, func() time.Time { return testNow })
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return &harness{t: t, f: f, contract: c, h: c.Wrap(t, srv), logs: logs}
}

// generousLimits are the harness's rate limits: high enough that no test
// trips them unless it sets its own (the access matrix alone sends every
// route a bad token from one address).
var generousLimits = httpapi.RateLimits{PerToken: 1 << 20, PerIP: 1 << 20, FailedAuthPerIP: 1 << 20, Window: time.Hour}

// option changes a request before it is sent.
type option func(*http.Request)

func header(k, v string) option { return func(r *http.Request) { r.Header.Set(k, v) } }

// as sends the request with token as its bearer token, instead of
// adminToken.
func as(token string) option { return header("Authorization", "Bearer "+token) }

// anonymous sends the request without an Authorization header. On a
// protected route that is wrong on purpose; add wrong() there.
func anonymous() option { return func(r *http.Request) { r.Header.Del("Authorization") } }

// from sends the request from the given remote address ("host:port").
func from(addr string) option { return func(r *http.Request) { r.RemoteAddr = addr } }

// overTLS marks the request as received over TLS.
func overTLS() option { return func(r *http.Request) { r.TLS = &tls.ConnectionState{} } }

// wrong marks a request that is wrong on purpose: the contract check skips
// the request but still checks the response.
func wrong() option { return header(contracttest.SkipRequestHeader, "1") }

// do sends a request with adminToken as its bearer token; a non-empty body
// is sent as application/json unless an option sets another Content-Type.
func (h *harness) do(method, target, body string, opts ...option) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:54321"
	r.Header.Set("User-Agent", "insure-test/1.0")
	r.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

// decodeJSON decodes the response body into a T, failing the test on error.
func decodeJSON[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, w.Body.String(), err)
	}
	return v
}

func wantStatus(t testing.TB, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", w.Code, status, w.Body.String())
	}
}

// apiError is the JSON error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// wantError checks the status, the error code and the field, and returns
// the message.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code, field string) string {
	t.Helper()
	wantStatus(t, w, status)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	e := decodeJSON[apiError](t, w)
	if e.Error.Code != code || e.Error.Field != field {
		t.Errorf("error = {code %q, field %q}, want {code %q, field %q}; message %q",
			e.Error.Code, e.Error.Field, code, field, e.Error.Message)
	}
	if e.Error.Message == "" {
		t.Error("error message is empty")
	}
	return e.Error.Message
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// newTestServer serves h on a local port until the test ends and returns
// its base URL.
func newTestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
