package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"insure/internal/auth"
)

// apiLevel is one load level of the api scenario.
type apiLevel struct {
	Name string `json:"name"`
	// Clients is the closed loop's concurrency (0 for the open loop);
	// Rate the open loop's requests per second (0 for a closed loop).
	Clients    int     `json:"clients"`
	Rate       int     `json:"rate"`
	Seconds    float64 `json:"seconds"`
	Requests   uint64  `json:"requests"`
	Errors     uint64  `json:"errors"`
	Throughput float64 `json:"throughput"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	// StatusCodes counts the responses by status ("0": no response).
	StatusCodes map[string]int `json:"status_codes"`
	FirstError  string         `json:"first_error,omitempty"`
}

type apiResult struct {
	Endpoint string     `json:"endpoint"`
	Levels   []apiLevel `json:"levels"`
}

// memoryResult is the serve process's resident memory.
type memoryResult struct {
	PID       int     `json:"pid"`
	IdleRSSMB float64 `json:"idle_rss_mb"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// benchAPI starts `insure serve` as a child process on a fresh database
// and drives POST /api/v1/customers with vegeta from this process.
func benchAPI(ctx context.Context, b *benchDB, o benchOptions) (*apiResult, *memoryResult, error) {
	bin, err := benchServerBinary(o)
	if err != nil {
		return nil, nil, err
	}
	dbURL, err := b.fresh(ctx, "api")
	if err != nil {
		return nil, nil, err
	}
	// The API allows each token 600 requests a minute: the load rotates
	// over enough tokens to stay under that budget.
	tokens, err := benchTokens(ctx, b, dbURL, o.apiTokens)
	if err != nil {
		return nil, nil, fmt.Errorf("create tokens: %w", err)
	}
	child, err := startServeChild(ctx, b, bin, dbURL, "api")
	if err != nil {
		return nil, nil, err
	}
	defer child.stop()
	base := child.base
	// Let start-up work (migrations, the first expiry scan) settle.
	time.Sleep(time.Second)
	pid := child.pid
	mem := &memoryResult{PID: pid}
	idle, err := procField("/proc/"+strconv.Itoa(pid)+"/status", "VmRSS:")
	if err != nil {
		return nil, nil, err
	}
	mem.IdleRSSMB = float64(idle) / 1024

	res := &apiResult{Endpoint: "POST /api/v1/customers"}
	targeter := registrations(base, tokens, "api", "96")
	if o.openRate > 0 {
		res.Levels = append(res.Levels, attack(targeter, fmt.Sprintf("open %d/s", o.openRate), 0, o.openRate, o.duration))
	}
	for _, c := range o.clients {
		res.Levels = append(res.Levels, attack(targeter, fmt.Sprintf("%d clients", c), c, 0, o.duration))
	}
	peak, err := procField("/proc/"+strconv.Itoa(pid)+"/status", "VmHWM:")
	if err != nil {
		return nil, nil, err
	}
	mem.PeakRSSMB = float64(peak) / 1024
	return res, mem, nil
}

// serveChild is `insure serve` running as a child process of the bench.
type serveChild struct {
	base    string // http://127.0.0.1:port
	pid     int
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *os.File
}

// startServeChild starts `bin serve` on dbURL at a free loopback port, with its
// workers, the recording mail and WhatsApp drivers and LOG_LEVEL=warn into
// b.dir/name-serve.log, and waits until GET /readyz answers 200. The
// caller stops it with stop.
func startServeChild(ctx context.Context, b *benchDB, bin, dbURL, name string) (*serveChild, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var tok [20]byte
	_, _ = rand.Read(tok[:])
	token := "insure_bench-" + hex.EncodeToString(tok[:])
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"DATABASE_URL=" + dbURL, "HTTP_ADDR=" + addr, "INSURE_ADMIN_TOKEN=" + token, "INSURE_MASTER_KEY=" + b.masterKey,
		"MAIL_DRIVER=log", "WHATSAPP_DRIVER=log", "LOG_LEVEL=warn", "DOCUMENTS_DIR=" + b.dir + "/" + name + "-documents",
		"HOME=" + b.dir, "TMPDIR=" + os.TempDir(),
	}
	c := &serveChild{base: "http://" + addr, logPath: b.dir + "/" + name + "-serve.log", cmd: cmd, exited: make(chan struct{})}
	if c.log, err = os.Create(c.logPath); err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		c.log.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	c.pid = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(c.exited) }()
	if err := waitReady(ctx, c.base, c.exited); err != nil {
		c.stop()
		log, _ := os.ReadFile(c.logPath)
		return nil, fmt.Errorf("%w\nserve's log:\n%s", err, log)
	}
	return c, nil
}

// stop sends serve SIGTERM and kills it if it has not exited within 30 s.
func (c *serveChild) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.log.Close()
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// freeAddr returns a loopback address with a port free just now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls GET /readyz until it answers 200.
func waitReady(ctx context.Context, base string, exited <-chan struct{}) error {
	deadline := time.Now().Add(2 * time.Minute)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("serve exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("serve at %s was not ready within 2 minutes", base)
}

// benchTokens migrates the database at dbURL and creates n admin tokens
// in it, before serve starts.
func benchTokens(ctx context.Context, b *benchDB, dbURL string, n int) ([]string, error) {
	cfg, err := b.config(dbURL, "api")
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Migrate: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := make([]string, n)
	for i := range out {
		if out[i], _, err = s.Tokens.Create(ctx, fmt.Sprintf("bench-%d", i), auth.RoleAdmin); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// registrations returns a targeter of POST /api/v1/customers that rotates
// over tokens (the API allows each 600 requests a minute) and gives every
// registration its own email (prefix and a sequence number) and phone
// (phoneLead and the number), so that scenarios never collide.
func registrations(base string, tokens []string, prefix, phoneLead string) vegeta.Targeter {
	var seq atomic.Int64
	hdrs := make([]http.Header, len(tokens))
	for i, tk := range tokens {
		hdrs[i] = http.Header{"Authorization": {"Bearer " + tk}, "Content-Type": {"application/json"}}
	}
	return func(t *vegeta.Target) error {
		i := seq.Add(1)
		t.Method, t.URL, t.Header = http.MethodPost, base+"/api/v1/customers", hdrs[int(i)%len(hdrs)]
		t.Body = []byte(`{"name":"Bench Customer","email":"` + prefix + strconv.FormatInt(i, 10) + `@example.com","phone":"` + phoneLead +
			fmt.Sprintf("%08d", i) + `","channel":"web"}`)
		return nil
	}
}

// attack runs one load level for d: an open loop at rate requests a second
// when rate > 0, else a closed loop of clients, and sums it up.
func attack(targeter vegeta.Targeter, name string, clients, rate int, d time.Duration) apiLevel {
	workers := uint64(clients)
	if rate > 0 {
		workers = 16
	}
	maxWorkers := workers
	if rate > 0 {
		maxWorkers = 256
	}
	a := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers), vegeta.Connections(int(maxWorkers)),
		vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	var m vegeta.Metrics
	for r := range a.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, d, name) {
		m.Add(r)
	}
	m.Close()
	l := apiLevel{Name: name, Clients: clients, Rate: rate, Seconds: m.Duration.Seconds(), Requests: m.Requests,
		P50Ms: msOf(m.Latencies.P50), P99Ms: msOf(m.Latencies.P99), P999Ms: msOf(m.Latencies.Quantile(0.999)),
		MaxMs: msOf(m.Latencies.Max)}
	var ok uint64
	for code, n := range m.StatusCodes {
		if len(code) == 3 && code[0] == '2' {
			ok += uint64(n)
		}
	}
	l.Errors = m.Requests - ok
	l.StatusCodes = m.StatusCodes
	if len(m.Errors) > 0 {
		l.FirstError = m.Errors[0]
	}
	if m.Duration > 0 {
		l.Throughput = float64(ok) / (m.Duration + m.Wait).Seconds()
	}
	return l
}
