package reliability

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"insure/internal/database"
)

// outageFor is how long the database stays down in the outage scenario.
const outageFor = 3 * time.Second

// promptly bounds how long a request may take while the database is down:
// a refused connection is seen at once, so anything near the load's 10 s
// client timeout is a hang.
const promptly = 3 * time.Second

// requestTimeout is HTTP_REQUEST_TIMEOUT in the outage scenario: how long
// a request may wait on a database that stopped answering.
const requestTimeout = 2 * time.Second

// TestDatabaseOutage restarts PostgreSQL (a private server, see
// pgcluster_test.go) in the middle of the load. While it is down the API
// answers 503 unavailable at once (not 500, not a hang), /readyz reports
// failing and /healthz still answers; when it is back the same process
// reconnects by itself, its readiness recovers, new commands succeed, and
// the queue finishes every job. Then the server hangs (every process
// stopped with SIGSTOP: connections are accepted, nothing answers) under
// load: requests are answered 503 within HTTP_REQUEST_TIMEOUT rather than
// held, and all is well again once it resumes. Then the suite's
// invariants must hold.
func TestDatabaseOutage(t *testing.T) {
	ctx, cancel := Budget(t, 90*time.Second)
	defer cancel()
	started := time.Now()
	s := NewStack(t, database.Postgres, StackOptions{Env: []string{"HTTP_REQUEST_TIMEOUT=" + requestTimeout.String()}})
	pg := startPGCluster(t)
	usePostgres(t, s, pg.CreateDatabase(ctx, "insure"))
	p := s.Start(t)
	l := s.NewLoad()
	// A failed command pauses its worker, so the outage costs a few
	// dozen indexes rather than hundreds.
	l.Pause = 250 * time.Millisecond
	var acks atomic.Int32
	l.OnAck = func(Ack) { acks.Add(1) }
	var res LoadResult

	// Before: a healthy run.
	res.Merge(l.Run(ctx, 0, 40))
	if len(res.Failures) > 0 {
		t.Fatalf("%d commands failed before the outage, the first: %+v", len(res.Failures), res.Failures[0])
	}

	// During: the load runs on while the server goes down and comes back.
	during := make(chan LoadResult, 1)
	before := acks.Load()
	go func() { during <- l.Run(ctx, 40, 200) }()
	WaitFor(t, 20*time.Second, "the load to get going", func() bool { return acks.Load() >= before+20 })
	pg.Stop()
	down := time.Now()
	t.Logf("PostgreSQL stopped %s into the test, %d commands acknowledged", down.Sub(started).Round(time.Millisecond), acks.Load())
	probes := 0
	for time.Since(down) < outageFor {
		probeDown(t, s)
		probes++
		time.Sleep(200 * time.Millisecond)
	}
	downAcks := acks.Load()
	pg.Start()
	up := time.Now()
	t.Logf("PostgreSQL back after %s (%d probes while down); %d commands acknowledged by then", up.Sub(down).Round(time.Millisecond), probes, downAcks)
	if p.Exited() {
		t.Fatalf("insure serve exited during the outage: %v", p.ExitErr)
	}
	WaitFor(t, 30*time.Second, "/readyz to answer 200 again without a restart", func() bool {
		status, _ := get(t, "http://"+s.Addr+"/readyz")
		return status == http.StatusOK
	})
	t.Logf("ready again %s after PostgreSQL came back", time.Since(up).Round(time.Millisecond))
	mid := <-during
	res.Merge(mid)

	// After: the same process takes commands again.
	after := l.Run(ctx, 200, 240)
	if len(after.Failures) > 0 {
		t.Errorf("%d commands failed after the database came back, the first: %+v", len(after.Failures), after.Failures[0])
	}
	res.Merge(after)
	if p.Exited() {
		t.Fatalf("insure serve exited: %v", p.ExitErr)
	}

	// What the clients saw during the outage: 503 unavailable, never a
	// 500 nor a timeout.
	if len(mid.Failures) == 0 {
		t.Errorf("no command failed during the outage: the load did not overlap it (%d acknowledged)", len(mid.Acks))
	}
	want503(t, "during the outage", mid.Failures, "unavailable")
	t.Logf("during the outage: %d commands acknowledged, %d failed by status %v", len(mid.Acks), len(mid.Failures), mid.Statuses())

	// Hung: the server accepts connections but answers nothing.
	hung := make(chan LoadResult, 1)
	before = acks.Load()
	go func() { hung <- l.Run(ctx, 240, 300) }()
	WaitFor(t, 20*time.Second, "the load to get going", func() bool { return acks.Load() >= before+5 })
	pg.Freeze()
	frozen := time.Now()
	probeHung(t, s)
	// The freeze lasts a second past the request timeout.
	time.Sleep(requestTimeout + time.Second - time.Since(frozen))
	pg.Thaw()
	t.Logf("PostgreSQL hung for %s", time.Since(frozen).Round(time.Millisecond))
	WaitFor(t, 30*time.Second, "/readyz to answer 200 once the server answers again", func() bool {
		status, _ := get(t, "http://"+s.Addr+"/readyz")
		return status == http.StatusOK
	})
	stalled := <-hung
	res.Merge(stalled)
	want503(t, "while the server hung", stalled.Failures, "unavailable")
	t.Logf("while the server hung: %d commands acknowledged, %d failed by status %v", len(stalled.Acks), len(stalled.Failures), stalled.Statuses())
	if p.Exited() {
		t.Fatalf("insure serve exited: %v", p.ExitErr)
	}

	checkAfterFault(t, ctx, s, p, res, 100, "while the database was down")
	t.Logf("outage scenario took %s", time.Since(started).Round(time.Millisecond))
}

// checkAfterFault waits for the queue to be idle and checks the suite's
// invariants, and that at least customers customers' worth of events (16
// each) went through; it logs how many listener attempts the fault
// released for later.
func checkAfterFault(t *testing.T, ctx context.Context, s *Stack, p *Proc, res LoadResult, customers int, when string) {
	t.Helper()
	s.WaitIdle(t, ctx, time.Minute)
	if n := s.Check(t, ctx, res, CheckOptions{}); n < customers*16 {
		t.Errorf("%d events, want at least %d: too little load went through", n, customers*16)
	}
	if n := len(p.LogLines("listener released for later: the database is unavailable")); n > 0 {
		t.Logf("%d listener attempts were released for later (no attempt used) %s", n, when)
	}
}

// want503 fails t for each failure (the first ten of them) that is not a
// 503 with the error code: a 500, a hang (no answer within the load's
// client timeout) or another status.
func want503(t *testing.T, when string, failures []Failure, code string) {
	t.Helper()
	bad := 0
	for _, f := range failures {
		if f.Status == http.StatusServiceUnavailable && strings.Contains(f.Err, `"code":"`+code+`"`) {
			continue
		}
		if bad++; bad <= 10 {
			t.Errorf("command %s %d %s: HTTP %d %s; want 503 %s", f.Kind, f.Index, when, f.Status, f.Err, code)
		}
	}
	if bad > 10 {
		t.Errorf("… and %d more commands %s not answered 503 %s", bad-10, when, code)
	}
}

// probeDown checks what the API answers while the database is down: a
// command is refused with 503 unavailable, /readyz reports failing with
// the database check failing, /healthz still answers 200; each promptly.
func probeDown(t *testing.T, s *Stack) {
	t.Helper()
	base := "http://" + s.Addr
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/customers",
		strings.NewReader(`{"name":"Outage Probe","email":"outage-probe@example.com","phone":"+91 9999999999","channel":"web"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	status, body, took := do(t, req)
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(body, &e)
	if status != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || took > promptly {
		t.Errorf("POST /api/v1/customers while the database is down: HTTP %d %q after %s; want 503 unavailable within %s",
			status, body, took.Round(time.Millisecond), promptly)
	}

	req, _ = http.NewRequest(http.MethodGet, base+"/readyz", nil)
	status, body, took = do(t, req)
	var rd struct {
		Status string
		Checks []struct{ Name, Status string }
	}
	_ = json.Unmarshal(body, &rd)
	dbFailing := false
	for _, c := range rd.Checks {
		dbFailing = dbFailing || (c.Name == "database" && c.Status == "failing")
	}
	if status != http.StatusServiceUnavailable || rd.Status != "failing" || !dbFailing || took > promptly {
		t.Errorf("GET /readyz while the database is down: HTTP %d after %s: %.400s; want 503, failing, with the database check failing",
			status, took.Round(time.Millisecond), body)
	}

	req, _ = http.NewRequest(http.MethodGet, base+"/healthz", nil)
	if status, body, _ = do(t, req); status != http.StatusOK {
		t.Errorf("GET /healthz while the database is down: HTTP %d %s; want 200 (the process is alive)", status, body)
	}
}

// probeHung checks that, against a server that accepts connections but
// never answers, a command and /readyz are answered 503 within
// HTTP_REQUEST_TIMEOUT (and a little), not held.
func probeHung(t *testing.T, s *Stack) {
	t.Helper()
	base := "http://" + s.Addr
	limit := requestTimeout + 2*time.Second
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/customers",
		strings.NewReader(`{"name":"Hang Probe","email":"hang-probe@example.com","phone":"+91 9999999998","channel":"web"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	status, body, took := do(t, req)
	if status != http.StatusServiceUnavailable || took > limit {
		t.Errorf("POST /api/v1/customers while the server hangs: HTTP %d %q after %s; want 503 within %s", status, body, took.Round(time.Millisecond), limit)
	} else {
		t.Logf("POST /api/v1/customers while the server hangs: 503 after %s: %s", took.Round(time.Millisecond), body)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/readyz", nil)
	status, body, took = do(t, req)
	if status != http.StatusServiceUnavailable || took > limit {
		t.Errorf("GET /readyz while the server hangs: HTTP %d after %s: %.300s; want 503 within %s", status, took.Round(time.Millisecond), body, limit)
	}
}

// do sends req with a client timeout well above promptly and returns the
// status (0 when no answer came), the body and how long it took.
func do(t *testing.T, req *http.Request) (int, []byte, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), time.Since(start)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, time.Since(start)
}

// get is do for a plain GET.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := do(t, req)
	return status, body
}

// usePostgres points s, a PostgreSQL stack, at the database url instead
// of its schema on the shared test server: its processes and its checks.
func usePostgres(t *testing.T, s *Stack, url string) {
	t.Helper()
	s.DatabaseURL = url
	s.SetEnv("DATABASE_URL", url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.OpenPostgres(ctx, url, database.PostgresOptions{MaxConns: 4})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// The harness's checks use this connection (Stack.DB).
	s.db = db
	t.Cleanup(func() { _ = db.Close() })
}
