package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"insure/internal/app"
	"insure/internal/database"
)

// runHealth runs insure health with args and the given environment.
func runHealth(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	e := env{lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, stdout: &out, stderr: &errs}
	code := run(context.Background(), append([]string{"health"}, args...), e)
	return code, out.String(), errs.String()
}

// startServe runs insure serve on cfg until the test ends and returns its
// address.
func startServe(t *testing.T, vars map[string]string, workers bool) string {
	t.Helper()
	cfg := testConfig(t, database.SQLite)
	for k, v := range vars {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	e := env{lookup: func(string) (string, bool) { return "", false }, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, e, cfg, workers, 5*time.Second, ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down")
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

func TestHealthCommandAgainstServe(t *testing.T) {
	t.Parallel()

	t.Run("with workers: ok", func(t *testing.T) {
		t.Parallel()
		addr := startServe(t, nil, true)
		var (
			code     int
			out, err string
		)
		// The workers' first heartbeat lands just after start.
		waitUntil(t, "insure health to report ok", func() bool {
			code, out, err = runHealth(t, nil, "--url", "http://"+addr)
			return code == healthOK
		})
		for _, want := range []string{"/readyz: ok (HTTP 200)", "database", "workers", "queue_lag", "projections", "provider:email"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s%s", want, out, err)
			}
		}
		// The default URL comes from HTTP_ADDR.
		code, out, _ = runHealth(t, map[string]string{"HTTP_ADDR": addr}, "--json")
		var rd app.Readiness
		if jerr := json.Unmarshal([]byte(out), &rd); code != healthOK || jerr != nil || rd.Status != "ok" || len(rd.Checks) < 5 {
			t.Errorf("--json with HTTP_ADDR: exit %d, %v, %+v", code, jerr, rd)
		}
	})

	t.Run("without workers anywhere: degraded", func(t *testing.T) {
		t.Parallel()
		addr := startServe(t, nil, false)
		code, out, errs := runHealth(t, nil, "--url", "http://"+addr+"/")
		if code != healthDegraded || !strings.Contains(out, "no process works the queues") {
			t.Errorf("exit %d, want %d, with the workers check degraded:\n%s%s", code, healthDegraded, out, errs)
		}
	})
}

func TestHealthCommandAnswers(t *testing.T) {
	t.Parallel()
	answer := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/base/readyz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/base"
	}
	failing := `{"status":"failing","checks":[{"name":"database","status":"failing","critical":true,"detail":"no round trip"}]}`
	degraded := `{"status":"degraded","checks":[{"name":"provider:email","status":"degraded","critical":false,"detail":"breaker open"}]}`

	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()

	tests := []struct {
		name    string
		args    []string
		code    int
		out     string // in stdout
		errText string // in stderr
	}{
		{"failing", []string{"--url", answer(503, failing)}, healthFailing, "no round trip", ""},
		{"degraded", []string{"--url", answer(200, degraded)}, healthDegraded, "breaker open", ""},
		{"server error", []string{"--url", answer(500, "boom")}, healthUnknown, "", "HTTP 500, not a readiness answer"},
		{"not json", []string{"--url", answer(200, "<html>")}, healthUnknown, "", "not a readiness answer"},
		{"unknown status", []string{"--url", answer(200, `{"status":"fine"}`)}, healthUnknown, "", `readiness status "fine"`},
		{"status mismatch", []string{"--url", answer(200, failing)}, healthUnknown, "", "does not match"},
		{"unreachable", []string{"--url", closed}, healthUnknown, "", "connect"},
		{"not a URL", []string{"--url", "127.0.0.1:8080"}, healthUnknown, "", "is not a URL"},
		{"not http", []string{"--url", "ftp://127.0.0.1:8080"}, healthUnknown, "", "expected an http or https URL"},
		{"query", []string{"--url", "http://127.0.0.1:1/?x=1"}, healthUnknown, "", "no credentials, query or fragment"},
		{"bad timeout", []string{"--url", "http://127.0.0.1:1", "--timeout", "0s"}, healthUnknown, "", "--timeout"},
		{"unknown flag", []string{"--ur", "x"}, healthUnknown, "", "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runHealth(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.errText) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q in stdout and %q in stderr", code, tt.code, out, errs, tt.out, tt.errText)
			}
		})
	}

	t.Run("bad HTTP_ADDR", func(t *testing.T) {
		t.Parallel()
		code, _, errs := runHealth(t, map[string]string{"HTTP_ADDR": "nonsense"})
		if code != healthUnknown || !strings.Contains(errs, "HTTP_ADDR") {
			t.Errorf("exit %d, stderr %s", code, errs)
		}
	})
}

func TestWorkerServesMetricsAndHealth(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	logs := &syncBuffer{}
	e := env{lookup: func(k string) (string, bool) {
		if k == "DATABASE_URL" {
			return cfg.DatabaseURL, true
		}
		return "", false
	}, stdout: &bytes.Buffer{}, stderr: logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"worker", "--addr", "127.0.0.1:0", "--pprof", "127.0.0.1:0", "--shutdown-grace", "5s"}, e)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("worker exited %d:\n%s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
	})
	var addr, pprofAddr string
	waitUntil(t, "the worker to log its addresses", func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil {
				switch rec.Msg {
				case "worker metrics and health checks served":
					addr = rec.Addr
				case "profiles served (net/http/pprof)":
					pprofAddr = rec.Addr
				}
			}
		}
		return addr != "" && pprofAddr != ""
	})
	// The profiles are on their own listener only.
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(res.Body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b.String()
	}
	if code, body := get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("goroutine profile on --pprof: %d %.200s", code, body)
	}
	if code, _ := get("http://" + addr + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on the metrics address: %d, want 404", code)
	}
	var out string
	waitUntil(t, "insure health on the worker to report ok", func() bool {
		var code int
		code, out, _ = runHealth(t, nil, "--url", "http://"+addr)
		return code == healthOK
	})
	if !strings.Contains(out, "this one included") {
		t.Errorf("the worker's readiness does not count its own heartbeat:\n%s", out)
	}
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go_goroutines", "insure_queue_jobs{", "insure_projection_lag_events{"} {
		if res.StatusCode != 200 || !strings.Contains(body.String(), want) {
			t.Errorf("GET /metrics on the worker: %d, no %q", res.StatusCode, want)
		}
	}
}
