// Package mailpittest runs a real Mailpit (https://mailpit.axllent.org) for
// tests: an SMTP server that keeps every message it receives, and its HTTP
// API to read them back.
//
// Start finds the mailpit binary in $MAILPIT_BIN, then PATH, then
// $(go env GOPATH)/bin, and fails the test with the command that installs
// it when there is none:
//
//	go install github.com/axllent/mailpit@v1.33.1
//
// Each Server is its own process on free loopback ports, with its database
// file in the test's temporary directory (so messages survive Restart), and
// tests may run in parallel. It runs as
//
//	mailpit --smtp 127.0.0.1:P1 --listen 127.0.0.1:P2 --database DIR/mailpit.db \
//	  --smtp-auth-accept-any --smtp-auth-allow-insecure \
//	  --smtp-disable-rdns --disable-version-check --max 0
//
// so SMTP AUTH accepts any user name and password, also over plain SMTP.
// StartWith can add TLS to the SMTP port; see Options.
package mailpittest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Mailpit release these helpers are written and tested
// against.
const Version = "v1.33.1"

// InstallCommand installs the mailpit binary into $(go env GOPATH)/bin.
const InstallCommand = "go install github.com/axllent/mailpit@" + Version

// Timeouts of the helpers.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
	httpTimeout  = 10 * time.Second
	pollInterval = 20 * time.Millisecond
)

// Options configure StartWith. The zero value is what Start uses.
type Options struct {
	// TLSCertFile and TLSKeyFile (PEM) enable TLS on the SMTP port:
	// STARTTLS, or implicit TLS when ImplicitTLS is set.
	TLSCertFile, TLSKeyFile string
	// RequireSTARTTLS makes Mailpit refuse MAIL before STARTTLS.
	RequireSTARTTLS bool
	// ImplicitTLS makes the SMTP port speak TLS from the first byte
	// (smtps).
	ImplicitTLS bool
	// Unless one of the two is set, Mailpit accepts AUTH PLAIN and LOGIN
	// over plain SMTP (--smtp-auth-allow-insecure).
}

// Server is a running Mailpit.
type Server struct {
	// SMTPAddr is the SMTP listener, "127.0.0.1:port".
	SMTPAddr string
	// APIURL is the base of the web UI and API, "http://127.0.0.1:port".
	APIURL string

	bin    string
	args   []string
	client *http.Client

	mu   sync.Mutex
	proc *process // nil when stopped
	logs *syncBuffer
}

// process is one run of the binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // the exit status, set before done is closed
}

// Start runs Mailpit for t (see StartWith) and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith runs Mailpit with opts on free loopback ports, keeping its
// messages in a database file in t.TempDir(), waits until both its API and
// its SMTP port answer, and stops it when t ends. It fails t when the
// binary is missing or Mailpit does not come up.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	s := &Server{
		bin:    bin,
		client: &http.Client{Timeout: httpTimeout},
		logs:   &syncBuffer{},
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("mailpit output:\n%s", s.logs.String())
		}
	})
	dir := t.TempDir()
	// A port found free may be taken before Mailpit binds it (by a test
	// running in parallel): then try other ports.
	for try := 1; ; try++ {
		smtpPort, httpPort := freePorts(t)
		s.SMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort))
		s.APIURL = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
		s.args = []string{
			"--smtp", s.SMTPAddr,
			"--listen", strings.TrimPrefix(s.APIURL, "http://"),
			"--database", filepath.Join(dir, "mailpit.db"),
			"--smtp-auth-accept-any",
			"--smtp-disable-rdns",
			"--disable-version-check",
			"--max", "0", // keep every message
		}
		if opts.TLSCertFile != "" || opts.TLSKeyFile != "" {
			s.args = append(s.args, "--smtp-tls-cert", opts.TLSCertFile, "--smtp-tls-key", opts.TLSKeyFile)
		}
		switch {
		case opts.ImplicitTLS:
			s.args = append(s.args, "--smtp-require-tls")
		case opts.RequireSTARTTLS:
			s.args = append(s.args, "--smtp-require-starttls")
		default: // Mailpit refuses the two together
			s.args = append(s.args, "--smtp-auth-allow-insecure")
		}
		exited, err := s.start()
		if err == nil {
			return s
		}
		if exited && try < 3 && strings.Contains(s.logs.String(), "address already in use") {
			s.logs.Reset()
			continue
		}
		t.Fatalf("mailpittest: %v", err)
	}
}

// findBinary looks for mailpit in $MAILPIT_BIN, PATH and GOPATH/bin.
func findBinary() (string, error) {
	if p := os.Getenv("MAILPIT_BIN"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("MAILPIT_BIN=%s is not an executable file; unset it or install mailpit with: %s", p, InstallCommand)
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	var tried []string
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, "mailpit")
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("the mailpit binary was not found ($MAILPIT_BIN, PATH, %s); install it with: %s",
		strings.Join(tried, ", "), InstallCommand)
}

// goBinDirs lists where go install puts binaries: $GOBIN, then each
// GOPATH entry's bin.
func goBinDirs() []string {
	var dirs []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil {
			dirs = append(dirs, filepath.Join(home, "go", "bin"))
		}
		return dirs
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		dirs = append(dirs, strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
			if p != "" {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	return dirs
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// freePorts returns two different loopback TCP ports that were free a
// moment ago.
func freePorts(t testing.TB) (int, int) {
	t.Helper()
	var ports []int
	for len(ports) < 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("mailpittest: find a free port: %v", err)
		}
		defer l.Close() // held until both are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1]
}

// start runs the binary and waits until it is ready. exited reports that
// the process ended while starting.
func (s *Server) start() (exited bool, err error) {
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	// Same process group as the test: an interrupted go test (Ctrl-C)
	// stops Mailpit too.
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	implicitTLS := s.implicitTLS()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			s.Stop()
			return true, fmt.Errorf("mailpit exited while starting (%v); output:\n%s", p.err, s.logs.String())
		default:
		}
		last := s.ready(implicitTLS)
		if last == nil {
			return false, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return false, fmt.Errorf("mailpit not ready after %s: %v; output:\n%s", startTimeout, last, s.logs.String())
		}
		time.Sleep(pollInterval)
	}
}

// ready checks that the API answers /readyz and that the SMTP port greets.
func (s *Server) ready(implicitTLS bool) error {
	resp, err := s.client.Get(s.APIURL + "/readyz")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s", resp.Status)
	}
	conn, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if implicitTLS { // the listener accepts; the TLS handshake is the client's
		return nil
	}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	_ = tc.PrintfLine("QUIT")
	_, _, _ = tc.ReadResponse(221)
	return nil
}

// Stop ends the Mailpit process (SIGTERM, then SIGKILL after 10 seconds)
// and waits until it has exited, so its ports refuse connections. The
// messages stay in its database for Restart. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Restart stops Mailpit if it runs and starts it again on the same ports
// with the same database, so the messages it held are still there.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if _, err := s.start(); err != nil {
		t.Fatalf("mailpittest: restart: %v", err)
	}
}

func (s *Server) implicitTLS() bool {
	for _, a := range s.args {
		if a == "--smtp-require-tls" {
			return true
		}
	}
	return false
}

// Address is an email address as Mailpit reports it.
type Address struct {
	Name    string
	Address string
}

// Summary is a message in the list GET /api/v1/messages returns.
type Summary struct {
	ID          string // Mailpit's database id, for Message and Attachment
	MessageID   string // the Message-ID header without its angle brackets
	From        *Address
	To          []Address
	Cc          []Address
	Bcc         []Address
	Subject     string
	Created     time.Time
	Username    string // the SMTP AUTH user name, if any
	Size        uint64
	Attachments int
	Snippet     string
}

// Message is one message as GET /api/v1/message/{ID} returns it, with its
// headers from GET /api/v1/message/{ID}/headers.
type Message struct {
	ID          string
	MessageID   string // the Message-ID header without its angle brackets
	From        *Address
	To          []Address
	Cc          []Address
	Bcc         []Address
	ReplyTo     []Address
	Subject     string
	Date        time.Time
	Username    string
	Text        string
	HTML        string
	Size        uint64
	Inline      []Attachment
	Attachments []Attachment
	// Headers are the message's top-level headers, keys in canonical form
	// ("Message-Id"); see Header.
	Headers map[string][]string `json:"-"`
}

// Header returns the first value of the named header, as sent (for
// Message-ID: with its angle brackets).
func (m Message) Header(name string) string {
	if v := m.Headers[textproto.CanonicalMIMEHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Attachment is a part of a message; PartID fetches its bytes.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        uint64
}

// Messages returns every message Mailpit holds, newest first, reading all
// pages of GET /api/v1/messages.
func (s *Server) Messages(t testing.TB) []Summary {
	t.Helper()
	msgs, err := s.messages(pageSize)
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	return msgs
}

// pageSize is how many messages Messages asks for at a time.
const pageSize = 200

func (s *Server) messages(limit int) ([]Summary, error) {
	// Mailpit lists newest first, so a message that arrives between two
	// pages shifts the offsets: keep paging, but drop ids already seen.
	var all []Summary
	seen := map[string]bool{}
	for start := 0; ; start += limit {
		var page struct {
			MessagesCount int       `json:"messages_count"`
			Start         int       `json:"start"`
			Messages      []Summary `json:"messages"`
		}
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}}
		if err := s.getJSON("/api/v1/messages?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		for _, m := range page.Messages {
			if !seen[m.ID] {
				seen[m.ID] = true
				all = append(all, m)
			}
		}
		if len(page.Messages) < limit || start+limit >= page.MessagesCount {
			return all, nil
		}
	}
}

// Message returns the message with Mailpit's id (Summary.ID), with its
// headers.
func (s *Server) Message(t testing.TB, id string) Message {
	t.Helper()
	var m Message
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id)+"/headers", &m.Headers); err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	return m
}

// Raw returns the message as Mailpit received it.
func (s *Server) Raw(t testing.TB, id string) []byte {
	t.Helper()
	b, err := s.get("/api/v1/message/" + url.PathEscape(id) + "/raw")
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	return b
}

// Attachment returns the decoded bytes of part partID of message id.
func (s *Server) Attachment(t testing.TB, id, partID string) []byte {
	t.Helper()
	b, err := s.get("/api/v1/message/" + url.PathEscape(id) + "/part/" + url.PathEscape(partID))
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	return b
}

// WaitForCount waits until Mailpit holds exactly n messages and returns
// them. It fails t when more than n arrive, or when there are still fewer
// after timeout.
func (s *Server) WaitForCount(t testing.TB, n int, timeout time.Duration) []Summary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs, err := s.messages(pageSize)
		switch {
		case err != nil:
			t.Fatalf("mailpittest: %v", err)
		case len(msgs) == n:
			return msgs
		case len(msgs) > n:
			t.Fatalf("mailpittest: want %d messages, Mailpit holds %d: %s", n, len(msgs), subjects(msgs))
		case time.Now().After(deadline):
			t.Fatalf("mailpittest: want %d messages, Mailpit holds %d after %s: %s", n, len(msgs), timeout, subjects(msgs))
		}
		time.Sleep(pollInterval)
	}
}

func subjects(msgs []Summary) string {
	s := make([]string, len(msgs))
	for i, m := range msgs {
		s[i] = strconv.Quote(m.Subject)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// DeleteAll deletes every message.
func (s *Server) DeleteAll(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, s.APIURL+"/api/v1/messages", nil)
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	if _, err := s.do(req); err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
}

func (s *Server) getJSON(path string, v any) error {
	b, err := s.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

func (s *Server) get(path string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, s.APIURL+path, nil)
	if err != nil {
		return nil, err
	}
	return s.do(req)
}

func (s *Server) do(req *http.Request) ([]byte, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// syncBuffer collects the process's output; the last lines are shown when
// a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return lastLines(b.buf.String(), 50)
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines left out", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
