package reliability

// The shared harness of the fault-injection suite. Its API is used by every
// scenario file of this package; keep it stable and documented.
//
//	bin := Binary(t)                      // go build -tags faults, once per package run
//	s := NewStack(t, database.SQLite, StackOptions{})  // database, Mailpit, WhatsApp test server
//	p := s.Start(t)                       // insure serve on s.Addr, waits for /healthz
//	res := s.NewLoad().Run(ctx, 0, 200)   // 200 customers, one quotation each
//	p.Kill(t); p = s.Start(t)             // SIGKILL and restart
//	s.WaitIdle(t, ctx, time.Minute)       // no listener job left to do
//	s.Check(t, ctx, res, CheckOptions{})  // the invariants
//
// Everything it starts is stopped when the test ends; the logs of the
// processes are printed when the test fails.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/notify/mailpittest"
	"insure/internal/notify/whatsapptest"
)

// Credentials the harness gives every process: the admin API token the load
// authenticates with, the master key, and the WhatsApp test server's phone
// number id and access token.
const (
	AdminToken      = "insure_reliability-admin-token-0123456789abcdef"
	MasterKey       = "dGVzdC1tYXN0ZXIta2V5LW9mLWluc3VyZS10ZXN0cyE="
	WhatsAppPhoneID = "106540352242922"
	WhatsAppToken   = "reliability-whatsapp-token"
)

// SMTPTimeout is the SMTP timeout the harness configures (SMTP_URL's
// timeout=): short, so a stalled server costs little.
const SMTPTimeout = 500 * time.Millisecond

// Expected is, per event name, the listeners every event of that name
// starts in the load's workflow (customers who accept email and WhatsApp,
// one quotation each), sorted and comma-separated. Events of other names
// start none.
var Expected = map[string]string{
	"CustomerRegistered":     "CreateCustomerAuditLog,NotifyAdminOfRegistration,SendWelcomeEmail",
	"QuotationRequested":     "CreateCustomerAuditLog,GenerateQuotation",
	"QuotationGenerated":     "CreateCustomerAuditLog,GenerateQuotationPDF,SendQuotationEmail,SendQuotationWhatsApp",
	"PDFGenerationRequested": "RenderDocument",
	"EmailQueued":            "ProcessEmailMessage",
	"WhatsAppMessageQueued":  "ProcessWhatsAppMessage",
}

// listenerQueueWorkers is QUEUE_WORKERS for the harness: few workers per
// queue, as on a small machine.
const listenerQueueWorkers = "high-priority=3,normal=2,low-priority=1,email-priority=2,email-normal=2," +
	"whatsapp-priority=2,whatsapp-normal=2,pdf-priority=2,pdf-normal=2,audit-normal=2"

// ---------------------------------------------------------------------------
// The binary

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// TestMain removes the binary built by Binary after the package's tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary returns the path of cmd/insure built with -tags faults. It is
// built once per run of the package (the first caller waits for it) and
// removed when the package's tests end.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		started := time.Now()
		buildDir, buildErr = os.MkdirTemp("", "insure-reliability-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "insure")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "faults", "-o", buildBin, "./cmd/insure")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build -tags faults: %v\n%s", err, out)
			return
		}
		t.Logf("built %s (-tags faults) in %s", buildBin, time.Since(started).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// ---------------------------------------------------------------------------
// The stack: database, providers, configuration

// StackOptions change what NewStack sets up.
type StackOptions struct {
	// Env adds or overrides environment variables of every process
	// (NAME=value), after the harness's own.
	Env []string
	// SMTPAddr, when set, is the SMTP server the processes send to
	// instead of Mailpit's own port.
	SMTPAddr string
	// SMTPProxy puts a StallProxy in front of Mailpit (Stack.SMTPProxy),
	// and the processes send through it.
	SMTPProxy bool
	// NoWhatsApp uses WhatsApp's log driver instead of the test server.
	NoWhatsApp bool
}

// Stack is one fresh installation: a database, Mailpit, the WhatsApp test
// server, a working directory and the environment of its processes. Every
// process it starts listens on the same Addr, so a client keeps its base
// URL across restarts.
type Stack struct {
	Dialect database.Dialect
	// Dir is the working directory (documents, archive, logs, the SQLite
	// file).
	Dir string
	// DatabaseURL is the processes' DATABASE_URL.
	DatabaseURL string
	// Addr is the HTTP address of every serve process, 127.0.0.1:port.
	Addr string
	// Mail is the Mailpit every email goes to.
	Mail *mailpittest.Server
	// WhatsApp is the Cloud API test server (nil with NoWhatsApp).
	WhatsApp *whatsapptest.Server
	// SMTPProxy is the proxy in front of Mailpit (StackOptions.SMTPProxy;
	// nil otherwise).
	SMTPProxy *StallProxy
	// Env is the environment of every process; change it before Start to
	// affect the next process.
	Env []string

	t        testing.TB
	pgSchema string
	db       database.DB
	nproc    atomic.Int32
}

// NewStack makes a fresh installation of dialect d for t: an SQLite file
// in a temporary directory, or a new PostgreSQL schema (dropped when t
// ends) on the test server. It skips t with -short, and when PostgreSQL is
// unreachable unless CI is set.
func NewStack(t testing.TB, d database.Dialect, opts StackOptions) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault-injection suite runs the real binary; skipped with -short")
	}
	s := &Stack{Dialect: d, Dir: t.TempDir(), t: t}
	switch d {
	case database.SQLite:
		s.DatabaseURL = "sqlite://" + filepath.Join(s.Dir, "insure.db")
	case database.Postgres:
		RequirePostgres(t)
		s.pgSchema = dbtest.NewSchema(t)
		s.DatabaseURL = dbtest.PostgresURL() + "&search_path=" + s.pgSchema
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	s.Mail = mailpittest.Start(t)
	smtpAddr := s.Mail.SMTPAddr
	if opts.SMTPProxy {
		s.SMTPProxy = NewStallProxy(t, s.Mail.SMTPAddr)
		smtpAddr = s.SMTPProxy.Addr
	}
	if opts.SMTPAddr != "" {
		smtpAddr = opts.SMTPAddr
	}
	s.Addr = FreeAddr(t)
	s.Env = append(os.Environ(),
		"DATABASE_URL="+s.DatabaseURL,
		"SQLITE_SYNCHRONOUS=NORMAL",
		"INSURE_MASTER_KEY="+MasterKey,
		"INSURE_MASTER_KEY_FILE=",
		"INSURE_ADMIN_TOKEN="+AdminToken,
		"HTTP_ADDR="+s.Addr,
		"MAIL_DRIVER=smtp",
		"SMTP_URL=smtp://"+smtpAddr+"?security=none&timeout="+SMTPTimeout.String(),
		"DOCUMENTS_DIR="+filepath.Join(s.Dir, "documents"),
		"ARCHIVE_DIR="+filepath.Join(s.Dir, "archive"),
		"QUEUE_JOB_TIMEOUT=3s",
		"QUEUE_RESCUE_AFTER=4s",
		"QUEUE_SNOOZE=200ms",
		"QUEUE_BACKOFF=100ms,300ms,1s",
		"QUEUE_MAX_ATTEMPTS=20",
		"QUEUE_FETCH_POLL_INTERVAL=50ms",
		"BREAKER_FAILURES=1000",
		"BREAKER_OPEN_FOR=300ms",
		"QUEUE_WORKERS="+listenerQueueWorkers,
		"DB_MAX_CONNS=10",
		"LOG_LEVEL=info",
		"LOG_FORMAT=json",
	)
	if opts.NoWhatsApp {
		s.Env = append(s.Env, "WHATSAPP_DRIVER=log")
	} else {
		s.WhatsApp = whatsapptest.Start(t, WhatsAppPhoneID, WhatsAppToken)
		s.Env = append(s.Env, "WHATSAPP_DRIVER=cloudapi", "WHATSAPP_API_URL="+s.WhatsApp.URL,
			"WHATSAPP_PHONE_NUMBER_ID="+WhatsAppPhoneID, "WHATSAPP_TOKEN="+WhatsAppToken)
	}
	s.Env = append(s.Env, opts.Env...)
	return s
}

// SetEnv sets NAME=value for the processes started from now on.
func (s *Stack) SetEnv(name, value string) {
	s.Env = append(s.Env, name+"="+value)
}

// DB returns a connection to the stack's database for the checks (opened
// on first use, closed when the test ends). Call it after a process has
// started, so the migrations have run. Queries must work on both dialects.
func (s *Stack) DB(t testing.TB) database.DB {
	t.Helper()
	if s.db != nil {
		return s.db
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch s.Dialect {
	case database.SQLite:
		s.db, err = database.OpenSQLite(ctx, strings.TrimPrefix(s.DatabaseURL, "sqlite://"), database.SQLiteOptions{Synchronous: "NORMAL", Readers: 2})
	case database.Postgres:
		s.db, err = database.OpenPostgres(ctx, dbtest.PostgresURL(), database.PostgresOptions{SearchPath: s.pgSchema, MaxConns: 4})
	}
	if err != nil {
		t.Fatalf("open the stack's database: %v", err)
	}
	db := s.db
	s.t.Cleanup(func() { _ = db.Close() })
	return s.db
}

// Count runs a query that returns one integer (both dialects).
func (s *Stack) Count(t testing.TB, ctx context.Context, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB(t).QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// ---------------------------------------------------------------------------
// Processes

// Proc is an insure process the harness started.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	// LogPath holds its stdout and stderr (JSON log lines).
	LogPath string
	// Done is closed when it has exited; ExitErr is then its exit status.
	Done    chan struct{}
	ExitErr error
}

// Start runs `insure serve --addr s.Addr` with s.Env plus extra (NAME=value)
// and waits until its /healthz answers. See StartArgs.
func (s *Stack) Start(t testing.TB, extra ...string) *Proc {
	t.Helper()
	p := s.StartArgs(t, []string{"serve", "--addr", s.Addr}, extra...)
	WaitHTTP(t, p, "http://"+s.Addr+"/healthz", 60*time.Second)
	return p
}

// StartWorker runs `insure worker --addr <a free address>` with s.Env plus
// extra (NAME=value), waits until its /healthz answers, and returns it with
// the base URL (http://addr) of its /metrics, /healthz and /readyz.
func (s *Stack) StartWorker(t testing.TB, extra ...string) (*Proc, string) {
	t.Helper()
	addr := FreeAddr(t)
	p := s.StartArgs(t, []string{"worker", "--addr", addr}, extra...)
	WaitHTTP(t, p, "http://"+addr+"/healthz", 60*time.Second)
	return p, "http://" + addr
}

// StartArgs runs the binary with args (e.g. "serve", "--addr", …) and the
// environment s.Env plus extra, without waiting for it to be ready. Its
// output goes to a log file in s.Dir that is printed (its tail) when t
// fails. When t ends a process still running is stopped (SIGTERM, then
// SIGKILL after 15 s).
func (s *Stack) StartArgs(t testing.TB, args []string, extra ...string) *Proc {
	t.Helper()
	n := s.nproc.Add(1)
	p := &Proc{Name: fmt.Sprintf("%s-%d", args[0], n), Done: make(chan struct{})}
	p.LogPath = filepath.Join(s.Dir, p.Name+".log")
	f, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	p.Cmd = exec.Command(Binary(t), args...)
	p.Cmd.Env = append(append([]string{}, s.Env...), extra...)
	p.Cmd.Stdout, p.Cmd.Stderr, p.Cmd.Dir = f, f, s.Dir
	if err := p.Cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		p.ExitErr = p.Cmd.Wait()
		f.Close()
		close(p.Done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.Cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.Done:
			case <-time.After(15 * time.Second):
				_ = p.Cmd.Process.Kill()
				<-p.Done
			}
		}
		if t.Failed() {
			t.Logf("%s (%s) output:\n%s", p.Name, strings.Join(args, " "), Tail(p.Log(), 60))
		}
	})
	return p
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.Done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil && !p.Exited() {
		t.Fatalf("kill %s: %v", p.Name, err)
	}
	<-p.Done
}

// Term sends SIGTERM (a graceful shutdown) and returns at once; use Wait
// for the exit.
func (p *Proc) Term(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
		t.Fatalf("SIGTERM %s: %v", p.Name, err)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// status (nil for exit code 0). It fails t when it is still running.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.Done:
		return p.ExitErr
	case <-time.After(timeout):
		t.Fatalf("%s still running %s after it was asked to stop", p.Name, timeout)
		return nil
	}
}

// Log returns everything the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitLog waits up to timeout until the process's log has a line matching
// re and returns the match's first group (or the whole match when re has
// no group). It fails t at the deadline.
func (p *Proc) WaitLog(t testing.TB, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Log()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log line matching %s within %s", p.Name, re, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogLines returns the JSON log lines of the process whose "msg" is msg,
// decoded.
func (p *Proc) LogLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.Log()))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// WaitHTTP waits up to timeout until url answers 200, failing t when p
// exits first or at the deadline.
func WaitHTTP(t testing.TB, p *Proc, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if p.Exited() {
			t.Fatalf("%s exited while starting (%v):\n%s", p.Name, p.ExitErr, Tail(p.Log(), 40))
		}
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer 200 within %s", p.Name, url, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines left out", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// RequirePostgres skips t when the PostgreSQL test server cannot be
// reached, unless CI is set: there it fails.
func RequirePostgres(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	db, err := database.OpenPostgres(ctx, dbtest.PostgresURL(), database.PostgresOptions{MaxConns: 1})
	if err == nil {
		_ = db.Close()
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL at %s is unreachable (CI is set, so this fails): %v", dbtest.PostgresURL(), err)
	}
	t.Skipf("PostgreSQL at %s is unreachable: %v", dbtest.PostgresURL(), err)
}

// Budget returns a context that ends after limit, or 5 s before the test
// binary's -timeout when that comes sooner.
func Budget(t testing.TB, limit time.Duration) (context.Context, context.CancelFunc) {
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := tt.Deadline(); ok && time.Until(d)-5*time.Second < limit {
			limit = time.Until(d) - 5*time.Second
		}
	}
	return context.WithTimeout(context.Background(), limit)
}

// ---------------------------------------------------------------------------
// Load

// Load pushes commands at a serve process: per customer index i, the
// registration of Email(i) (201) and then one motor quotation (202; odd
// indexes are high value, so the priority queues get work too). It records
// every acknowledged command with the id the API answered. A command that
// fails (connection refused or reset during a crash, a timeout, a 5xx, a
// 503 while shutting down) is counted and not retried; the customer's
// quotation is then not sent.
type Load struct {
	// Base is the API's base URL, http://addr.
	Base string
	// Concurrency is how many commands are in flight at once (default 8).
	Concurrency int
	// Pause is how long a worker waits after a failed command before its
	// next one (default 50 ms), so a dead server does not eat the indexes.
	Pause time.Duration
	// HTTP is the client (default: 10 s timeout, keep-alive).
	HTTP *http.Client
	// OnAck, when set, is called after every acknowledged command (from
	// the load's goroutines).
	OnAck func(Ack)
}

// Ack is one command the API acknowledged with a 2xx.
type Ack struct {
	Kind   string // "customer" or "quotation"
	Index  int    // the customer index
	ID     string // the aggregate id the API answered
	Status int
	At     time.Time
}

// Failure is one command that was not acknowledged.
type Failure struct {
	Kind   string
	Index  int
	Status int    // 0 when no answer came
	Err    string // the transport error or the answer's body
}

// LoadResult is what a Load run did.
type LoadResult struct {
	Acks     []Ack
	Failures []Failure
	Took     time.Duration
}

// Customers returns the acknowledged registrations.
func (r *LoadResult) Customers() []Ack { return r.of("customer") }

// Quotations returns the acknowledged quotation requests.
func (r *LoadResult) Quotations() []Ack { return r.of("quotation") }

func (r *LoadResult) of(kind string) []Ack {
	var out []Ack
	for _, a := range r.Acks {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// Merge adds o's acks and failures to r.
func (r *LoadResult) Merge(o LoadResult) {
	r.Acks = append(r.Acks, o.Acks...)
	r.Failures = append(r.Failures, o.Failures...)
	r.Took += o.Took
}

// Statuses counts the failures by HTTP status (0: no answer).
func (r *LoadResult) Statuses() map[int]int {
	out := map[int]int{}
	for _, f := range r.Failures {
		out[f.Status]++
	}
	return out
}

// NewLoad returns a Load against the stack's address with the defaults.
func (s *Stack) NewLoad() *Load {
	return &Load{Base: "http://" + s.Addr}
}

// Email is the email address of customer index i.
func Email(i int) string { return fmt.Sprintf("rel-%05d@example.com", i) }

// Phone is the phone number of customer index i.
func Phone(i int) string { return fmt.Sprintf("+91 98%08d", i) }

// Run registers customers from…to-1, each with one quotation, and returns
// when all were tried or ctx ended.
func (l *Load) Run(ctx context.Context, from, to int) LoadResult {
	conc := l.Concurrency
	if conc <= 0 {
		conc = 8
	}
	pause := l.Pause
	if pause <= 0 {
		pause = 50 * time.Millisecond
	}
	client := l.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	started := time.Now()
	var (
		mu  sync.Mutex
		res LoadResult
		wg  sync.WaitGroup
	)
	work := make(chan int)
	for range conc {
		wg.Go(func() {
			for i := range work {
				acks, fails := l.one(ctx, client, i)
				mu.Lock()
				res.Acks = append(res.Acks, acks...)
				res.Failures = append(res.Failures, fails...)
				mu.Unlock()
				if l.OnAck != nil {
					for _, a := range acks {
						l.OnAck(a)
					}
				}
				if len(fails) > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}
		})
	}
feed:
	for i := from; i < to; i++ {
		select {
		case <-ctx.Done():
			break feed
		case work <- i:
		}
	}
	close(work)
	wg.Wait()
	res.Took = time.Since(started)
	return res
}

func (l *Load) one(ctx context.Context, client *http.Client, i int) ([]Ack, []Failure) {
	var cust struct{ ID string }
	status, err := l.post(ctx, client, "/api/v1/customers", 201, map[string]any{
		"name": fmt.Sprintf("Reliability Customer %d", i), "email": Email(i), "phone": Phone(i),
		"channel": "web", "preferences": map[string]bool{"email": true, "whatsapp": true}}, &cust)
	if err != nil {
		return nil, []Failure{{Kind: "customer", Index: i, Status: status, Err: err.Error()}}
	}
	acks := []Ack{{Kind: "customer", Index: i, ID: cust.ID, Status: status, At: time.Now()}}
	sum := 85_000_000
	if i%2 == 1 {
		sum = 150_000_000 // high value: the priority queues
	}
	var q struct{ ID string }
	status, err = l.post(ctx, client, "/api/v1/quotations", 202, map[string]any{"customer_id": cust.ID, "product": "motor", "sum_insured": sum,
		"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": time.Now().Year() - 2}}, &q)
	if err != nil {
		return acks, []Failure{{Kind: "quotation", Index: i, Status: status, Err: err.Error()}}
	}
	return append(acks, Ack{Kind: "quotation", Index: i, ID: q.ID, Status: status, At: time.Now()}), nil
}

// post sends body and decodes a want answer into out. A 2xx other than
// want is an error too (the contract says which).
func (l *Load) post(ctx context.Context, client *http.Client, path string, want int, body, out any) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.Base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, fmt.Errorf("read the answer: %w", err)
	}
	if res.StatusCode != want {
		return res.StatusCode, fmt.Errorf("POST %s: %d, want %d: %.300s", path, res.StatusCode, want, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return res.StatusCode, fmt.Errorf("POST %s: decode %.300s: %w", path, b, err)
	}
	return res.StatusCode, nil
}

// ---------------------------------------------------------------------------
// Waiting

// pendingStates are the River states of a job that is not done yet.
const pendingStates = `('available','running','retryable','scheduled','pending')`

// WaitIdle waits up to limit until no listener job is pending or running,
// and fails t at the deadline, listing what is stuck. This is the "no job
// left stuck" invariant.
func (s *Stack) WaitIdle(t testing.TB, ctx context.Context, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND state IN `+pendingStates)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			for _, j := range s.Jobs(t, context.Background()) {
				if strings.Contains(pendingStates, "'"+j.State+"'") {
					t.Logf("stuck: job %d %s for %s, %s, attempt %d: %.300s", j.ID, j.Listener, j.EventID, j.State, j.Attempt, j.Errors)
				}
			}
			t.Fatalf("%d listener jobs still pending after %s", n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitFor polls cond every 20 ms until it is true, failing t with what
// after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Reading the database

// Job is a listener job as River recorded it.
type Job struct {
	ID       int64
	State    string
	Queue    string
	Listener string
	EventID  string
	Attempt  int
	Errors   string // River's errors column, raw JSON
}

// JSONText is the SQL expression that reads the JSON column col as text:
// River's SQLite driver stores JSON as SQLite's binary JSONB.
func (s *Stack) JSONText(col string) string {
	if s.Dialect == database.SQLite {
		return "json(" + col + ")"
	}
	return "CAST(" + col + " AS TEXT)"
}

// Jobs returns every listener job.
func (s *Stack) Jobs(t testing.TB, ctx context.Context) []Job {
	t.Helper()
	rows, err := s.DB(t).Query(ctx, `SELECT id, state, queue, `+s.JSONText("args")+`, attempt, COALESCE(`+s.JSONText("errors")+`, '')
		FROM river_job WHERE kind = 'insure.listener' ORDER BY id`)
	if err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var (
			j    Job
			args string
		)
		if err := rows.Scan(&j.ID, &j.State, &j.Queue, &args, &j.Attempt, &j.Errors); err != nil {
			t.Fatalf("scan job: %v", err)
		}
		var raw struct {
			Listener string `json:"listener"`
			EventID  string `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(args), &raw); err != nil {
			t.Fatalf("job %d args %q: %v", j.ID, args, err)
		}
		j.Listener, j.EventID = raw.Listener, raw.EventID
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Event is a stored event's identity.
type Event struct {
	ID          string
	Name        string
	AggregateID string
}

// Events returns every stored event, in store order.
func (s *Stack) Events(t testing.TB, ctx context.Context) []Event {
	t.Helper()
	rows, err := s.DB(t).Query(ctx, `SELECT CAST(event_id AS TEXT), event_name, aggregate_id FROM event_store ORDER BY position`)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.ID, &e.Name, &e.AggregateID); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// DeadLetter is a row of dead_letters.
type DeadLetter struct {
	JobID    int64
	Listener string
	EventID  string
	Attempts int
	Error    string
	Status   string
}

// DeadLetters returns every dead letter.
func (s *Stack) DeadLetters(t testing.TB, ctx context.Context) []DeadLetter {
	t.Helper()
	rows, err := s.DB(t).Query(ctx, `SELECT job_id, listener, event_id, attempts, error, status FROM dead_letters ORDER BY id`)
	if err != nil {
		t.Fatalf("list dead letters: %v", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.JobID, &d.Listener, &d.EventID, &d.Attempts, &d.Error, &d.Status); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// The invariants

// JobKey names one listener's job for one event.
type JobKey struct{ Listener, EventID string }

// CheckOptions tune Check for a scenario.
type CheckOptions struct {
	// Dead are the jobs that must have been given up (dead-lettered); all
	// others must have completed, and there must be no other dead letter.
	Dead []JobKey
}

// Check runs every invariant of the suite on the stack after the load
// res, once the queue is idle (call WaitIdle first):
//
//  1. every acknowledged command has its event (CustomerRegistered for a
//     customer, QuotationRequested for a quotation, on the id the API
//     answered);
//  2. every event started exactly the listeners Expected names, one job
//     each, completed (or dead-lettered when in opts.Dead); no job points
//     at a missing event; no job is pending;
//  3. every listener's effect exists for every event whose job completed:
//     an audit row per audited event, the messages each event queues, a
//     generated document per PDF request, a QuotationGenerated per
//     QuotationRequested, and every queued message sent;
//  4. no email twice: every Message-ID at most once at Mailpit, exactly
//     once when mail_deliveries says sent, nothing at Mailpit insure did
//     not record; the same for WhatsApp at the test server
//     (whatsapp_deliveries against the requests the server accepted);
//  5. the dead letters are exactly opts.Dead.
//
// It reports every violation with t.Errorf and returns the number of
// events checked.
func (s *Stack) Check(t testing.TB, ctx context.Context, res LoadResult, opts CheckOptions) int {
	t.Helper()
	events := s.Events(t, ctx)
	jobs := s.Jobs(t, ctx)
	dead := map[JobKey]bool{}
	for _, k := range opts.Dead {
		dead[k] = true
	}

	// 1. Acknowledged commands have their events.
	byAgg := map[string]map[string]int{} // aggregate id → event name → count
	byName := map[string]int{}
	eventByID := map[string]Event{}
	for _, e := range events {
		if byAgg[e.AggregateID] == nil {
			byAgg[e.AggregateID] = map[string]int{}
		}
		byAgg[e.AggregateID][e.Name]++
		byName[e.Name]++
		eventByID[e.ID] = e
	}
	lost := 0
	for _, a := range res.Acks {
		want := map[string]string{"customer": "CustomerRegistered", "quotation": "QuotationRequested"}[a.Kind]
		if byAgg[a.ID][want] != 1 {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged %s %d (%s, HTTP %d) has %d %s events, want 1", a.Kind, a.Index, a.ID, a.Status, byAgg[a.ID][want], want)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged commands lost their events", lost, len(res.Acks))
	}

	// 2. Jobs: exactly the expected listeners per event, completed.
	jobsOf := map[string][]Job{}
	states := map[string]int{}
	for _, j := range jobs {
		states[j.State]++
		if _, ok := eventByID[j.EventID]; !ok {
			t.Errorf("job %d (%s) points at event %s, which is not stored", j.ID, j.Listener, j.EventID)
		}
		jobsOf[j.EventID] = append(jobsOf[j.EventID], j)
	}
	wrong := map[string]int{}
	completed := map[string]int{} // listener → events whose job completed
	for _, e := range events {
		var names []string
		for _, j := range jobsOf[e.ID] {
			names = append(names, j.Listener)
			k := JobKey{j.Listener, e.ID}
			switch {
			case dead[k]:
				if j.State != "discarded" && j.State != "cancelled" {
					t.Errorf("job %d (%s for %s %s) is %s, want dead-lettered (discarded or cancelled)", j.ID, j.Listener, e.Name, e.ID, j.State)
				}
			case j.State == "completed":
				completed[j.Listener]++
			default:
				wrong[fmt.Sprintf("%s job for %s in state %s", j.Listener, e.Name, j.State)]++
			}
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != Expected[e.Name] {
			wrong[fmt.Sprintf("%s started %q, want %q", e.Name, got, Expected[e.Name])]++
		}
	}
	for k, n := range wrong {
		t.Errorf("%d × %s", n, k)
	}

	// 3. Effects, per listener: the number of events whose job completed
	// must equal the number of effects found.
	for _, c := range []struct {
		listener, what, sql string
	}{
		{"CreateCustomerAuditLog", "audited events", `SELECT COUNT(DISTINCT source_event_id) FROM audit_log`},
		{"SendWelcomeEmail", "welcome emails queued", `SELECT COUNT(*) FROM messages WHERE template = 'welcome'`},
		{"NotifyAdminOfRegistration", "admin notices queued", `SELECT COUNT(*) FROM messages WHERE template = 'admin_registration'`},
		{"SendQuotationEmail", "quotation emails queued", `SELECT COUNT(*) FROM messages WHERE template = 'quotation' AND channel = 'email'`},
		{"SendQuotationWhatsApp", "quotation WhatsApp messages queued", `SELECT COUNT(*) FROM messages WHERE template = 'quotation' AND channel = 'whatsapp'`},
		{"GenerateQuotation", "quotations generated", `SELECT COUNT(*) FROM event_store WHERE event_name = 'QuotationGenerated'`},
		{"GenerateQuotationPDF", "PDFs requested", `SELECT COUNT(*) FROM documents`},
		{"RenderDocument", "PDFs generated", `SELECT COUNT(*) FROM documents WHERE status = 'generated'`},
		{"ProcessEmailMessage", "emails sent", `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND status IN ('sent','delivered')`},
		{"ProcessWhatsAppMessage", "WhatsApp messages sent", `SELECT COUNT(*) FROM messages WHERE channel = 'whatsapp' AND status IN ('sent','delivered')`},
	} {
		if got := s.Count(t, ctx, c.sql); got != completed[c.listener] {
			t.Errorf("%s: %d, want %d (one per completed %s job)", c.what, got, completed[c.listener], c.listener)
		}
	}

	// 4. No message delivered twice.
	s.checkMail(t, ctx)
	if s.WhatsApp != nil {
		s.checkWhatsApp(t, ctx)
	}

	// 5. Dead letters.
	dls := s.DeadLetters(t, ctx)
	got := map[JobKey]bool{}
	for _, d := range dls {
		k := JobKey{d.Listener, d.EventID}
		got[k] = true
		if !dead[k] {
			t.Errorf("unexpected dead letter: job %d %s for event %s after %d attempts: %.300s", d.JobID, d.Listener, d.EventID, d.Attempts, d.Error)
		}
	}
	for k := range dead {
		if !got[k] {
			t.Errorf("no dead letter for %s on event %s", k.Listener, k.EventID)
		}
	}
	t.Logf("checked %d events (%v), %d listener jobs by state %v, %d acknowledged commands, %d dead letters",
		len(events), byName, len(jobs), states, len(res.Acks), len(dls))
	return len(events)
}

// checkMail compares mail_deliveries with what Mailpit holds.
func (s *Stack) checkMail(t testing.TB, ctx context.Context) {
	t.Helper()
	rows, err := s.DB(t).Query(ctx, `SELECT header_id, state FROM mail_deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	deliveries := map[string]string{}
	for rows.Next() {
		var h, st string
		if err := rows.Scan(&h, &st); err != nil {
			t.Fatal(err)
		}
		deliveries[strings.Trim(h, "<>")] = st
	}
	rows.Close()
	seen := map[string]int{}
	for _, m := range s.Mail.Messages(t) {
		seen[m.MessageID]++
	}
	uncertain := 0
	for h, st := range deliveries {
		switch {
		case seen[h] > 1:
			t.Errorf("email %s delivered %d times", h, seen[h])
		case st == "sent" && seen[h] != 1:
			t.Errorf("email %s recorded sent, but Mailpit holds it %d times", h, seen[h])
		case st == "uncertain":
			uncertain++
		case st != "sent":
			t.Errorf("email %s left in state %s", h, st)
		}
	}
	for id, n := range seen {
		if _, ok := deliveries[id]; !ok {
			t.Errorf("Mailpit holds %d copies of %s, which insure did not record", n, id)
		}
	}
	if uncertain > 0 {
		t.Logf("%d emails recorded uncertain (no reply to the final \".\")", uncertain)
	}
}

// checkWhatsApp compares whatsapp_deliveries with the requests the test
// server accepted.
func (s *Stack) checkWhatsApp(t testing.TB, ctx context.Context) {
	t.Helper()
	if v := s.WhatsApp.Violations(); len(v) > 0 {
		t.Errorf("the WhatsApp test server saw requests off the documented shape: %v", v)
	}
	byWamid := map[string]int{}
	byContent := map[string]int{}
	for _, r := range s.WhatsApp.Requests() {
		byWamid[r.ProviderMessageID]++
		byContent[r.To+"|"+r.Template+"|"+strings.Join(r.Params, "|")]++
	}
	for k, n := range byContent {
		if n > 1 {
			t.Errorf("WhatsApp message %q sent %d times", k, n)
		}
	}
	rows, err := s.DB(t).Query(ctx, `SELECT state, COALESCE(provider_message_id, '') FROM whatsapp_deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	recorded := map[string]bool{}
	for rows.Next() {
		var st, wamid string
		if err := rows.Scan(&st, &wamid); err != nil {
			t.Fatal(err)
		}
		switch st {
		case "sent":
			recorded[wamid] = true
			if byWamid[wamid] != 1 {
				t.Errorf("WhatsApp message %s recorded sent, but the test server accepted it %d times", wamid, byWamid[wamid])
			}
		case "uncertain":
		default:
			t.Errorf("WhatsApp delivery left in state %s", st)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(byWamid) < len(recorded) {
		t.Errorf("%d WhatsApp messages recorded sent, the test server accepted %d", len(recorded), len(byWamid))
	}
}

// ---------------------------------------------------------------------------
// A stalling TCP proxy

// StallProxy is a TCP proxy (for SMTP: in front of Mailpit) that can stall.
// While stalled it accepts connections and sends nothing, not even the
// greeting, so a client times out before anything reaches the server: no
// message can be half-accepted, and exactly-once stays provable (a stall
// after DATA's final "." would make the delivery uncertain; see the
// README). A connection held by the stall is piped to the server once the
// stall ends, if its client is still waiting. Connections made while not
// stalled are piped at once.
type StallProxy struct {
	// Addr is the proxy's address, 127.0.0.1:port.
	Addr string
	// Held counts the connections that met a stall.
	Held atomic.Int64

	upstream string
	l        net.Listener
	mu       sync.Mutex
	release  chan struct{} // nil when not stalled; closed when the stall ends
	wg       sync.WaitGroup
	conns    map[net.Conn]bool
}

// NewStallProxy listens on a free loopback port and forwards to upstream.
// It is closed, with every connection, when t ends.
func NewStallProxy(t testing.TB, upstream string) *StallProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &StallProxy{Addr: l.Addr().String(), upstream: upstream, l: l, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		l.Close()
		p.Release()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Stall makes new connections wait (see StallProxy).
func (p *StallProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release == nil {
		p.release = make(chan struct{})
	}
}

// Release ends the stall: held connections are piped through.
func (p *StallProxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release != nil {
		close(p.release)
		p.release = nil
	}
}

func (p *StallProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *StallProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		release := p.release
		p.mu.Unlock()
		p.track(c, true)
		p.wg.Go(func() {
			defer p.track(c, false)
			defer c.Close()
			var early []byte // what the client sent during the stall
			if release != nil {
				p.Held.Add(1)
				// Wait for the end of the stall, or for the client to give
				// up (a read returns: it closed, or sent something).
				gone := make(chan struct{})
				var (
					b    [1]byte
					n    int
					rerr error
				)
				go func() {
					n, rerr = c.Read(b[:])
					close(gone)
				}()
				select {
				case <-release:
					_ = c.SetReadDeadline(time.Now()) // stop the read
					<-gone
					_ = c.SetReadDeadline(time.Time{})
					if n == 0 && !errors.Is(rerr, os.ErrDeadlineExceeded) {
						return // the client closed
					}
					early = b[:n]
				case <-gone:
					return
				}
			}
			up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
			if err != nil {
				return
			}
			p.track(up, true)
			defer p.track(up, false)
			defer up.Close()
			if _, err := up.Write(early); err != nil {
				return
			}
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
			<-done
		})
	}
}
