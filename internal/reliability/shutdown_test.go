package reliability

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
)

// TestGracefulShutdown is scenario 5: SIGTERM during the load, on SQLite
// and on PostgreSQL.
//
// SHUTDOWN_GRACE is 2 s. The SMTP server stalls (the proxy holds every
// connection before the greeting, with an SMTP timeout of 20 s), so email
// jobs are running, stuck, when the signal arrives; one HTTP request is in
// flight (its body half sent). Then:
//
//   - the listener closes at once: a new connection is refused while the
//     process is still draining;
//   - the in-flight request completes: its body is finished after the
//     signal and it is answered 201, and its events are stored;
//   - the process exits with status 0 within the grace (plus a margin),
//     and leaves no job running: the stuck email jobs were cancelled at the
//     end of the grace and released for retry (their mail_deliveries rows
//     say "cancelled"), not left for the rescuer;
//   - after a restart with the SMTP server back, every email is delivered
//     exactly once and every other invariant holds: nothing was lost.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			gracefulShutdown(t, d)
		})
	}
}

func gracefulShutdown(t *testing.T, d database.Dialect) {
	ctx, cancel := Budget(t, 2*time.Minute)
	defer cancel()
	const grace = 2 * time.Second
	s := NewStack(t, d, StackOptions{SMTPProxy: true, Env: []string{
		"SHUTDOWN_GRACE=" + grace.String(),
		"QUEUE_JOB_TIMEOUT=30s",
		"QUEUE_RESCUE_AFTER=60s",
	}})
	s.SetEnv("SMTP_URL", "smtp://"+s.SMTPProxy.Addr+"?security=none&timeout=20s")
	s.SMTPProxy.Stall()
	p := s.Start(t)

	// The request that will be in flight: headers and half its body sent.
	const slowIndex = 99_999
	body, _ := json.Marshal(map[string]any{"name": "Slow Customer", "email": Email(slowIndex), "phone": Phone(slowIndex),
		"channel": "web", "preferences": map[string]bool{"email": true, "whatsapp": true}})
	slow, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	half := len(body) / 2
	if _, err := fmt.Fprintf(slow, "POST /api/v1/customers HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", s.Addr, AdminToken, len(body), body[:half]); err != nil {
		t.Fatal(err)
	}

	// The load, and SIGTERM in its middle once email jobs hang at the
	// stalled SMTP server.
	var acks atomic.Int32
	reached := make(chan struct{})
	load := s.NewLoad()
	load.OnAck = func(Ack) {
		if acks.Add(1) == 100 {
			close(reached)
		}
	}
	done := make(chan LoadResult, 1)
	go func() { done <- load.Run(ctx, 0, 120) }()
	<-reached
	WaitFor(t, 20*time.Second, "email jobs to hang at the stalled SMTP server", func() bool {
		return s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'running' AND queue LIKE 'email-%'`) > 0
	})
	p.Term(t)
	termAt := time.Now()
	p.WaitLog(t, regexp.MustCompile(`"msg":"shutting down"`), 5*time.Second)

	// New connections are refused while the process drains.
	WaitFor(t, 2*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	if p.Exited() {
		t.Fatalf("serve exited (%v) before the in-flight request finished", p.ExitErr)
	}
	t.Logf("connections refused %s after SIGTERM, process still draining", time.Since(termAt).Round(time.Millisecond))

	// The in-flight request completes.
	if _, err := slow.Write(body[half:]); err != nil {
		t.Fatalf("finish the in-flight request: %v", err)
	}
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	var cust struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&cust); err != nil || res.StatusCode != http.StatusCreated || cust.ID == "" {
		t.Fatalf("the in-flight request: HTTP %d, id %q, %v; want 201", res.StatusCode, cust.ID, err)
	}
	res.Body.Close()

	// The process exits within the grace, leaving no job running.
	if err := p.Wait(t, grace+10*time.Second); err != nil {
		t.Errorf("serve exited with %v after SIGTERM, want status 0", err)
	}
	took := time.Since(termAt)
	t.Logf("serve exited %s after SIGTERM (grace %s)", took.Round(time.Millisecond), grace)
	// The stuck email jobs had the whole grace: the signal itself must
	// not cancel running jobs.
	if took < grace {
		t.Errorf("serve stopped %s after SIGTERM, before the grace %s ended, although email jobs were still running", took, grace)
	}
	if took > grace+3*time.Second {
		t.Errorf("serve took %s to stop, more than the grace %s and a 3 s margin", took, grace)
	}
	if n := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'running'`); n != 0 {
		t.Errorf("%d jobs left running after a graceful shutdown; they should have finished or been released", n)
	}
	released := s.Count(t, ctx, `SELECT COUNT(*) FROM mail_deliveries WHERE state = 'failed' AND error LIKE '%cancelled%'`)
	if released == 0 {
		t.Errorf("no email attempt was cancelled by the shutdown; the stall did not hold any job past the grace")
	}
	if s.SMTPProxy.Held.Load() == 0 {
		t.Error("the SMTP proxy held no connection")
	}
	t.Logf("%d email attempts cancelled at the end of the grace and released for retry", released)

	lr := <-done
	lr.Acks = append(lr.Acks, Ack{Kind: "customer", Index: slowIndex, ID: cust.ID, Status: http.StatusCreated, At: time.Now()})
	for status, n := range lr.Statuses() {
		if status != 0 {
			t.Errorf("%d commands answered HTTP %d during the shutdown; want only refused connections", n, status)
		}
	}
	t.Logf("load: %d commands acknowledged, %d refused after SIGTERM", len(lr.Acks), len(lr.Failures))

	// Restart with the SMTP server back: nothing was lost, nothing is sent twice.
	s.SMTPProxy.Release()
	s.Start(t)
	lr.Merge(s.NewLoad().Run(ctx, 200, 220))
	s.WaitIdle(t, ctx, 60*time.Second)
	s.Check(t, ctx, lr, CheckOptions{})
}
