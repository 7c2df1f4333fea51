package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"insure/internal/database/dbtest"
	"insure/internal/notify/mailpittest"
)

// Settings of the scale-out run: a job whose process died is rescued
// QUEUE_RESCUE_AFTER after it started (plus up to River's rescuer interval
// of 30 s), and an SMTP row left 'sending' belongs to its dead attempt for
// 10 × the SMTP timeout.
const (
	scaleJobTimeout  = 3 * time.Second
	scaleRescueAfter = 6 * time.Second
	scaleSMTPTimeout = 500 * time.Millisecond
	scaleWorkers     = 3
)

// scaleExpected is, per event name, the listeners that every event of that
// name starts in the scale-out workflow (customers accept email and
// WhatsApp). Events of other names start none.
var scaleExpected = map[string]string{
	"CustomerRegistered":     "CreateCustomerAuditLog,NotifyAdminOfRegistration,SendWelcomeEmail",
	"QuotationRequested":     "CreateCustomerAuditLog,GenerateQuotation",
	"QuotationGenerated":     "CreateCustomerAuditLog,GenerateQuotationPDF,SendQuotationEmail,SendQuotationWhatsApp",
	"PDFGenerationRequested": "RenderDocument",
	"EmailQueued":            "ProcessEmailMessage",
	"WhatsAppMessageQueued":  "ProcessWhatsAppMessage",
}

// TestScaleOutPostgres runs the real binary as one API process
// (serve --workers=0) and three worker processes on one PostgreSQL schema,
// with email delivered to a real Mailpit. Phase 1 pushes thousands of
// events through every listener and checks that each (listener, event)
// pair ran as exactly one completed job, that every side effect happened
// once, and that all three workers took part. Phase 2 kills one worker
// with SIGKILL while it runs jobs and checks that the others rescue them
// after QUEUE_RESCUE_AFTER, with no side effect repeated.
func TestScaleOutPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four insure processes and Mailpit; skipped with -short")
	}
	scaleRequirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), scaleBudget(t, 4*time.Minute))
	defer cancel()
	started := time.Now()

	bin := scaleBuild(t, ctx)
	t.Logf("built the binary in %s", time.Since(started).Round(time.Millisecond))

	mp := mailpittest.Start(t)
	dir := t.TempDir()
	dbURL := dbtest.PostgresURL() + "&search_path=" + dbtest.NewSchema(t)
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"INSURE_MASTER_KEY="+testMasterKey,
		"INSURE_MASTER_KEY_FILE=",
		"INSURE_ADMIN_TOKEN="+testAdminToken,
		"SMTP_URL=smtp://"+mp.SMTPAddr+"?security=none&timeout="+scaleSMTPTimeout.String(),
		"MAIL_DRIVER=smtp",
		"WHATSAPP_DRIVER=log",
		"DOCUMENTS_DIR="+filepath.Join(dir, "documents"),
		"ARCHIVE_DIR="+filepath.Join(dir, "archive"),
		"QUEUE_JOB_TIMEOUT="+scaleJobTimeout.String(),
		"QUEUE_RESCUE_AFTER="+scaleRescueAfter.String(),
		"QUEUE_SNOOZE=300ms",
		"QUEUE_BACKOFF=100ms,500ms,1s",
		"QUEUE_MAX_ATTEMPTS=20",
		"BREAKER_FAILURES=1000",
		// 24 workers per process over 12 connections: a job that waits
		// for a connection spends its QUEUE_JOB_TIMEOUT waiting (see the
		// README on sizing).
		"QUEUE_WORKERS=high-priority=3,normal=1,low-priority=1,email-priority=3,email-normal=3,"+
			"whatsapp-priority=2,whatsapp-normal=2,pdf-priority=3,pdf-normal=3,audit-normal=3",
		"DB_MAX_CONNS=12",
		"LOG_LEVEL=info",
		"LOG_FORMAT=json",
	)

	apiAddr := scaleAddr(t)
	api := scaleStart(t, ctx, bin, env, dir, "api", "serve", "--workers=0", "--addr", apiAddr)
	scaleWaitHTTP(t, ctx, api, "http://"+apiAddr+"/healthz")
	workers := make([]*scaleProc, scaleWorkers)
	for i := range workers {
		addr := scaleAddr(t)
		workers[i] = scaleStart(t, ctx, bin, env, dir, fmt.Sprintf("worker-%d", i+1), "worker", "--addr", addr)
		workers[i].ops = "http://" + addr
	}
	for _, w := range workers {
		scaleWaitHTTP(t, ctx, w, w.ops+"/healthz")
		w.clientID = w.waitLog(t, ctx, regexp.MustCompile(`"msg":"River client started".*"client_id":"([^"]+)"`))
	}
	t.Logf("API and %d workers up after %s", scaleWorkers, time.Since(started).Round(time.Millisecond))

	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	c := &scaleLoad{base: "http://" + apiAddr, http: &http.Client{Timeout: 30 * time.Second}}

	// Phase 1: load through every listener with all three workers.
	// 16 events each: 2,400 events. SCALEOUT_CUSTOMERS changes the load
	// (and drops the 2,000-event floor) for a quicker or a heavier run.
	batch, minEvents := 150, 2000
	if v, err := strconv.Atoi(os.Getenv("SCALEOUT_CUSTOMERS")); err == nil && v > 0 {
		batch, minEvents = v, 0
	}
	p1 := time.Now()
	if err := c.push(ctx, 0, batch); err != nil {
		t.Fatal(err)
	}
	pushed := time.Since(p1)
	scaleWaitIdle(t, ctx, db, 90*time.Second)
	events := scaleCount(t, ctx, db, `SELECT COUNT(*) FROM event_store`)
	jobs := scaleCount(t, ctx, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener'`)
	t.Logf("phase 1: %d customers and quotations pushed in %s, %d events and %d listener jobs done in %s",
		batch, pushed.Round(time.Millisecond), events, jobs, time.Since(p1).Round(time.Millisecond))
	if events < minEvents {
		t.Errorf("only %d events went through the listeners, want at least %d", events, minEvents)
	}
	scaleCheckJobs(t, ctx, db)
	scaleCheckEffects(t, ctx, db, mp, batch, 0)

	var pids []int
	for _, w := range workers {
		pids = append(pids, w.cmd.Process.Pid)
	}
	rows, err := db.Query(ctx, `SELECT pid FROM worker_heartbeats ORDER BY pid`)
	if err != nil {
		t.Fatal(err)
	}
	beating, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	sort.Ints(pids)
	if fmt.Sprint(beating) != fmt.Sprint(pids) {
		t.Errorf("worker heartbeats from pids %v, want the three worker processes %v", beating, pids)
	}
	for _, w := range workers {
		byDB := scaleCount(t, ctx, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND $1 = ANY(attempted_by)`, w.clientID)
		byMetrics := scaleScrapeJobs(t, ctx, w.ops+"/metrics")
		t.Logf("%s (%s): %d jobs attempted (river_job.attempted_by), %d counted in insure_listener_jobs_total", w.name, w.clientID, byDB, byMetrics)
		if byDB == 0 || byMetrics == 0 {
			t.Errorf("%s did no work: %d jobs in river_job, %d in its metrics", w.name, byDB, byMetrics)
		}
	}
	if t.Failed() {
		return
	}

	// Phase 2: more load, and one worker killed while it runs jobs.
	p2 := time.Now()
	victim, survivors := workers[0], workers[1:]
	pushErr := make(chan error, 1)
	more := batch * 2 / 3
	go func() { pushErr <- c.push(ctx, batch, batch+more) }()
	var running int
	for running < 3 {
		if ctx.Err() != nil || time.Since(p2) > 30*time.Second {
			t.Fatalf("%s never ran 3 jobs at once (last %d)", victim.name, running)
		}
		running = scaleCount(t, ctx, db, `SELECT COUNT(*) FROM river_job WHERE state = 'running'
			AND attempted_by[array_length(attempted_by, 1)] = $1`, victim.clientID)
		time.Sleep(5 * time.Millisecond)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killedAt := time.Now()
	// What the dead process held: rows it left 'running' (it cannot finish
	// them any more), and when their attempts started.
	rows, err = db.Query(ctx, `SELECT id, attempted_at FROM river_job WHERE state = 'running'
		AND attempted_by[array_length(attempted_by, 1)] = $1 ORDER BY id`, victim.clientID)
	if err != nil {
		t.Fatal(err)
	}
	orphans := map[int64]time.Time{}
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		orphans[id] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var leader string
	_ = db.QueryRow(ctx, `SELECT leader_id FROM river_leader`).Scan(&leader)
	t.Logf("phase 2: killed %s (pid %d, leader %v) %s into the load with %d jobs running, %d of them left orphaned",
		victim.name, victim.cmd.Process.Pid, leader == victim.clientID, killedAt.Sub(p2).Round(time.Millisecond), running, len(orphans))
	if len(orphans) == 0 {
		t.Fatalf("%s finished all its jobs before the kill landed; nothing to rescue", victim.name)
	}
	if err := <-pushErr; err != nil {
		t.Fatal(err)
	}
	scaleWaitIdle(t, ctx, db, 90*time.Second)
	t.Logf("phase 2: everything completed %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	for id, killedAttempt := range orphans {
		var (
			state, name string
			by          []string
			at          time.Time
		)
		err := db.QueryRow(ctx, `SELECT state, args->>'listener', attempted_by, attempted_at FROM river_job WHERE id = $1`, id).Scan(&state, &name, &by, &at)
		if err != nil {
			t.Fatal(err)
		}
		last := by[len(by)-1]
		if state != "completed" || last == victim.clientID || !slices.Contains(scaleClientIDs(survivors), last) {
			t.Errorf("orphaned job %d: state %s, attempted by %v; want completed by a surviving worker", id, state, by)
			continue
		}
		// The rescue must wait QUEUE_RESCUE_AFTER from the dead attempt's
		// start: sooner, a slow live job could run twice at once.
		if wait := at.Sub(killedAttempt); wait < scaleRescueAfter {
			t.Errorf("orphaned job %d taken over %s after its attempt started, sooner than QUEUE_RESCUE_AFTER=%s", id, wait, scaleRescueAfter)
		} else {
			t.Logf("orphaned job %d (%s) rescued %s after its attempt started, completed by %s", id, name, wait.Round(time.Millisecond), last)
		}
	}
	scaleCheckJobs(t, ctx, db)
	scaleCheckEffects(t, ctx, db, mp, batch+more, len(orphans))
	t.Logf("scale-out run took %s", time.Since(started).Round(time.Millisecond))
}

func scaleClientIDs(ws []*scaleProc) []string {
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.clientID)
	}
	return ids
}

// scaleCheckJobs checks that every event started exactly the listeners its
// name calls for, each as one completed River job, and that no job points
// at an event that does not exist.
func scaleCheckJobs(t *testing.T, ctx context.Context, db *pgx.Conn) {
	t.Helper()
	states := map[string]int{}
	rows, err := db.Query(ctx, `SELECT state, COUNT(*) FROM river_job WHERE kind = 'insure.listener' GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		states[s] = n
	}
	rows.Close()
	if len(states) != 1 || states["completed"] == 0 {
		t.Errorf("listener jobs by state: %v, want all completed", states)
	}
	if n := scaleCount(t, ctx, db, `SELECT COUNT(*) FROM (SELECT 1 FROM river_job WHERE kind = 'insure.listener'
		GROUP BY args->>'listener', args->>'event_id' HAVING COUNT(*) > 1) d`); n != 0 {
		t.Errorf("%d (listener, event) pairs have more than one job", n)
	}
	if n := scaleCount(t, ctx, db, `SELECT COUNT(*) FROM river_job j WHERE kind = 'insure.listener'
		AND NOT EXISTS (SELECT 1 FROM event_store e WHERE e.event_id::text = j.args->>'event_id')`); n != 0 {
		t.Errorf("%d listener jobs point at no stored event", n)
	}
	rows, err = db.Query(ctx, `SELECT e.event_name, COALESCE(string_agg(j.args->>'listener', ',' ORDER BY j.args->>'listener'), ''), COUNT(*) OVER ()
		FROM event_store e LEFT JOIN river_job j ON j.kind = 'insure.listener' AND j.args->>'event_id' = e.event_id::text
		GROUP BY e.event_id, e.event_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	wrong := map[string]int{}
	for rows.Next() {
		var name, got string
		var total int
		if err := rows.Scan(&name, &got, &total); err != nil {
			t.Fatal(err)
		}
		if got != scaleExpected[name] {
			wrong[name+": "+got]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for k, n := range wrong {
		t.Errorf("%d events started listeners %q, want %v", n, k, scaleExpected)
	}
}

// scaleCheckEffects checks the side effects of n customers, each with one
// quotation: the emails at Mailpit (each message id at most once, and
// exactly once unless its delivery is recorded uncertain), the WhatsApp
// messages, audit rows and documents. orphans (jobs killed mid-run) bound
// how many emails may be uncertain.
func scaleCheckEffects(t *testing.T, ctx context.Context, db *pgx.Conn, mp *mailpittest.Server, n, orphans int) {
	t.Helper()
	// The SMTP driver's record of every send.
	deliveries := map[string]string{} // header id → state
	rows, err := db.Query(ctx, `SELECT header_id, state FROM mail_deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h, s string
		if err := rows.Scan(&h, &s); err != nil {
			t.Fatal(err)
		}
		deliveries[strings.Trim(h, "<>")] = s
	}
	rows.Close()
	if len(deliveries) != 3*n {
		t.Errorf("%d emails recorded in mail_deliveries, want %d (welcome, admin and quotation per customer)", len(deliveries), 3*n)
	}
	msgs := mp.Messages(t)
	seen := map[string]int{}
	perTo := map[string]int{}
	for _, m := range msgs {
		seen[m.MessageID]++
		for _, to := range m.To {
			perTo[to.Address]++
		}
	}
	uncertain, missing := 0, 0
	for h, state := range deliveries {
		switch {
		case seen[h] > 1:
			t.Errorf("email %s delivered %d times", h, seen[h])
		case state == "sent" && seen[h] != 1:
			t.Errorf("email %s recorded sent but Mailpit holds it %d times", h, seen[h])
		case state == "uncertain":
			uncertain++
			if seen[h] == 0 {
				missing++
			}
		case state != "sent":
			t.Errorf("email %s left in state %s", h, state)
		}
	}
	for id, k := range seen {
		if _, ok := deliveries[id]; !ok {
			t.Errorf("Mailpit holds %d copies of %s, which insure did not record", k, id)
		}
	}
	if uncertain > orphans {
		t.Errorf("%d emails uncertain, more than the %d jobs the kill interrupted", uncertain, orphans)
	}
	if len(msgs) != 3*n-missing {
		t.Errorf("Mailpit holds %d emails, want %d", len(msgs), 3*n-missing)
	}
	if uncertain > 0 {
		t.Logf("%d emails recorded uncertain (the kill came between the final \".\" and its reply); %d of them did not reach Mailpit", uncertain, missing)
	}
	if got := perTo["admin@insure.local"]; got > n || got < n-missing {
		t.Errorf("admin received %d registration notices, want %d", got, n)
	}
	for i := range n {
		to := scaleEmail(i)
		if got := perTo[to]; got > 2 || (missing == 0 && got != 2) {
			t.Errorf("%s received %d emails, want 2 (welcome and quotation)", to, got)
		}
	}
	for _, q := range []struct {
		what, sql string
		want      int
	}{
		{"audit rows (registration, quotation requested, quoted)", `SELECT COUNT(*) FROM audit_log`, 3 * n},
		{"audited events", `SELECT COUNT(DISTINCT source_event_id) FROM audit_log`, 3 * n},
		{"quotation PDFs generated", `SELECT COUNT(*) FROM documents WHERE status = 'generated'`, n},
		{"documents", `SELECT COUNT(*) FROM documents`, n},
		{"WhatsApp messages recorded", `SELECT COUNT(*) FROM outbound_whatsapp`, n},
		{"messages", `SELECT COUNT(*) FROM messages`, 4 * n},
		{"messages sent", `SELECT COUNT(*) FROM messages WHERE status = 'sent'`, 4 * n},
		{"quoted quotations", `SELECT COUNT(*) FROM event_store WHERE event_name = 'QuotationGenerated'`, n},
		{"dead letters", `SELECT COUNT(*) FROM dead_letters`, 0},
	} {
		if got := scaleCount(t, ctx, db, q.sql); got != q.want {
			t.Errorf("%s: %d, want %d", q.what, got, q.want)
		}
	}
}

func scaleEmail(i int) string { return fmt.Sprintf("scale-%04d@example.com", i) }

// scaleLoad pushes registrations and quotations at the API.
type scaleLoad struct {
	base string
	http *http.Client
}

// push registers customers from..to-1, each with one quotation, 16 at a
// time.
func (c *scaleLoad) push(ctx context.Context, from, to int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := c.one(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := from; i < to && ctx.Err() == nil; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

func (c *scaleLoad) one(ctx context.Context, i int) error {
	var cust struct{ ID string }
	if err := c.post(ctx, "/api/v1/customers", 201, map[string]any{
		"name": fmt.Sprintf("Scale Customer %d", i), "email": scaleEmail(i), "phone": fmt.Sprintf("+91 98%08d", i),
		"channel": "web", "preferences": map[string]bool{"email": true, "whatsapp": true}}, &cust); err != nil {
		return err
	}
	sum := 85_000_000
	if i%2 == 1 {
		sum = 150_000_000 // high value: the priority queues
	}
	return c.post(ctx, "/api/v1/quotations", 202, map[string]any{"customer_id": cust.ID, "product": "motor", "sum_insured": sum,
		"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": time.Now().Year() - 2}}, nil)
}

func (c *scaleLoad) post(ctx context.Context, path string, want int, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: %d, want %d: %s", path, res.StatusCode, want, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// scaleProc is an insure process the test started.
type scaleProc struct {
	name     string
	cmd      *exec.Cmd
	log      string
	done     chan struct{}
	ops      string // base URL of its /metrics and health checks (workers)
	clientID string // its River client id (workers)
}

// scaleStart runs bin with args, its output in a log file that is printed
// when t fails, and stops it (SIGTERM, then SIGKILL) when t ends.
func scaleStart(t *testing.T, ctx context.Context, bin string, env []string, dir, name string, args ...string) *scaleProc {
	t.Helper()
	p := &scaleProc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr, p.cmd.Dir = env, f, f, dir
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s (%s) output:\n%s", name, strings.Join(args, " "), scaleTail(string(b), 80))
		}
	})
	_ = ctx
	return p
}

// waitLog waits until the process's log has a line matching re and
// returns its first group.
func (p *scaleProc) waitLog(t *testing.T, ctx context.Context, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.log)
		if m := re.FindSubmatch(b); m != nil {
			return string(m[1])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no log line matching %s", p.name, re)
	return ""
}

func scaleTail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines left out", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// scaleWaitHTTP waits until url answers 200, failing when p exits first.
func scaleWaitHTTP(t *testing.T, ctx context.Context, p *scaleProc, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited while starting", p.name)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: %s did not answer 200", p.name, url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scaleScrapeJobs sums insure_listener_jobs_total at url.
func scaleScrapeJobs(t *testing.T, ctx context.Context, url string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "insure_listener_jobs_total{") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			total += v
		}
	}
	return int(total)
}

// scaleWaitIdle waits until no listener job is pending or running.
func scaleWaitIdle(t *testing.T, ctx context.Context, db *pgx.Conn, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n := scaleCount(t, ctx, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener'
			AND state IN ('available','running','retryable','scheduled','pending')`)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			rows, err := db.Query(context.Background(), `SELECT id, state, args->>'listener', attempt, max_attempts,
				COALESCE(attempted_by, '{}'), COALESCE(scheduled_at::text, ''), COALESCE(errors::text, '')
				FROM river_job WHERE kind = 'insure.listener' AND state NOT IN ('completed') ORDER BY id LIMIT 20`)
			if err == nil {
				for rows.Next() {
					var (
						id                    int64
						state, name, at, errs string
						attempt, maxAttempts  int
						by                    []string
					)
					if rows.Scan(&id, &state, &name, &attempt, &maxAttempts, &by, &at, &errs) == nil {
						t.Logf("job %d %s %s attempt %d/%d by %v scheduled %s errors %.300s", id, name, state, attempt, maxAttempts, by, at, errs)
					}
				}
				rows.Close()
			}
			t.Fatalf("%d listener jobs still pending after %s", n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func scaleCount(t *testing.T, ctx context.Context, db *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// scaleRequirePostgres skips t when the test server cannot be reached, unless
// CI is set: there it fails.
func scaleRequirePostgres(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbtest.PostgresURL())
	if err == nil {
		conn.Close(ctx)
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL at %s is unreachable (CI is set, so this fails): %v", dbtest.PostgresURL(), err)
	}
	t.Skipf("PostgreSQL at %s is unreachable: %v", dbtest.PostgresURL(), err)
}

// scaleBudget is limit, or less when the test binary's -timeout ends sooner.
func scaleBudget(t *testing.T, limit time.Duration) time.Duration {
	if d, ok := t.Deadline(); ok && time.Until(d)-5*time.Second < limit {
		return time.Until(d) - 5*time.Second
	}
	return limit
}

// scaleBuild builds cmd/insure into a temporary directory.
func scaleBuild(t *testing.T, ctx context.Context) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "insure")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/insure")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// scaleAddr returns a loopback address whose port was free a moment ago.
func scaleAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeWorkersFlag checks that --workers=0, as the scale-out docs
// write it, turns the workers off like --workers=false.
func TestServeWorkersFlag(t *testing.T) {
	t.Parallel()
	for arg, want := range map[string]bool{"": true, "--workers=0": false, "--workers=false": false, "--workers=1": true, "--workers": true} {
		cmd := newServeCmd(env{stdout: io.Discard, stderr: io.Discard}, &globals{})
		var args []string
		if arg != "" {
			args = []string{arg}
		}
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatalf("%q: %v", arg, err)
		}
		if got, err := cmd.Flags().GetBool("workers"); err != nil || got != want {
			t.Errorf("serve %s: workers %v (%v), want %v", arg, got, err, want)
		}
	}
}
