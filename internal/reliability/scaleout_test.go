package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"insure/internal/database"
)

// Settings of the scale-out run: a job whose process died is rescued
// QUEUE_RESCUE_AFTER after it started (plus up to River's rescuer interval
// of 30 s), and an SMTP row left 'sending' belongs to its dead attempt for
// 10 × the SMTP timeout (SMTPTimeout).
const (
	scaleRescueAfter = 6 * time.Second
	scaleWorkers     = 3
)

// scaleEnv is the scale-out run's environment on top of the harness's:
// QUEUE_JOB_TIMEOUT=3s and the SMTP timeout are the harness's own.
var scaleEnv = []string{
	"QUEUE_RESCUE_AFTER=" + scaleRescueAfter.String(),
	"QUEUE_SNOOZE=300ms",
	"QUEUE_BACKOFF=100ms,500ms,1s",
	"QUEUE_FETCH_POLL_INTERVAL=200ms", // the default: PostgreSQL notifies
	// 24 workers per process over 12 connections: a job that waits for a
	// connection spends its QUEUE_JOB_TIMEOUT waiting (see the README on
	// sizing).
	"QUEUE_WORKERS=high-priority=3,normal=1,low-priority=1,email-priority=3,email-normal=3," +
		"whatsapp-priority=2,whatsapp-normal=2,pdf-priority=3,pdf-normal=3,audit-normal=3",
	"DB_MAX_CONNS=12",
}

// scaleWorker is one `insure worker` process of the run.
type scaleWorker struct {
	*Proc
	ops      string // base URL of its /metrics and health checks
	clientID string // its River client id
	app      string // the application_name of its database connections
}

// TestScaleOutPostgres runs the real binary as one API process
// (serve --workers=0) and three worker processes on one PostgreSQL schema,
// with email delivered to a real Mailpit (WhatsApp through the log
// driver). Phase 1 pushes thousands of events through every listener and
// checks that each (listener, event) pair ran as exactly one completed job,
// that every side effect happened once, and that all three workers took
// part. Phase 2 kills one worker with SIGKILL while it runs jobs and checks
// that the others rescue them after QUEUE_RESCUE_AFTER, with no side
// effect repeated. SCALEOUT_CUSTOMERS=N changes the load.
func TestScaleOutPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := Budget(t, 4*time.Minute)
	defer cancel()
	started := time.Now()
	s := NewStack(t, database.Postgres, StackOptions{NoWhatsApp: true, Env: scaleEnv})

	api := s.StartArgs(t, []string{"serve", "--workers=0", "--addr", s.Addr})
	WaitHTTP(t, api, "http://"+s.Addr+"/healthz", 60*time.Second)
	clientStarted := regexp.MustCompile(`"msg":"River client started".*"client_id":"([^"]+)"`)
	workers := make([]*scaleWorker, scaleWorkers)
	for i := range workers {
		// Each worker's connections carry its own application_name, so the
		// test can tell when the server has ended a killed worker's.
		app := fmt.Sprintf("insure-scale-worker-%d", i)
		p, ops := s.StartWorker(t, "DATABASE_URL="+s.DatabaseURL+"&application_name="+app)
		workers[i] = &scaleWorker{Proc: p, ops: ops, app: app, clientID: p.WaitLog(t, clientStarted, 20*time.Second)}
	}
	t.Logf("API and %d workers up after %s", scaleWorkers, time.Since(started).Round(time.Millisecond))

	load := s.NewLoad()
	load.Concurrency = 16
	load.HTTP = &http.Client{Timeout: 30 * time.Second}

	// Phase 1: load through every listener with all three workers.
	// 16 events each: 2,400 events. SCALEOUT_CUSTOMERS changes the load
	// (and drops the 2,000-event floor) for a quicker or a heavier run.
	batch, minEvents := 150, 2000
	if v, err := strconv.Atoi(os.Getenv("SCALEOUT_CUSTOMERS")); err == nil && v > 0 {
		batch, minEvents = v, 0
	}
	p1 := time.Now()
	res := load.Run(ctx, 0, batch)
	requireAllAcked(t, res)
	s.WaitIdle(t, ctx, 90*time.Second)
	events := s.Count(t, ctx, `SELECT COUNT(*) FROM event_store`)
	jobs := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener'`)
	t.Logf("phase 1: %d customers and quotations pushed in %s, %d events and %d listener jobs done in %s",
		batch, res.Took.Round(time.Millisecond), events, jobs, time.Since(p1).Round(time.Millisecond))
	if events < minEvents {
		t.Errorf("only %d events went through the listeners, want at least %d", events, minEvents)
	}
	s.Check(t, ctx, res, CheckOptions{})
	scaleCheckEffects(t, ctx, s, batch, 0)

	var pids []int
	for _, w := range workers {
		pids = append(pids, w.Cmd.Process.Pid)
	}
	sort.Ints(pids)
	var beating []int
	rows, err := s.DB(t).Query(ctx, `SELECT pid FROM worker_heartbeats ORDER BY pid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		beating = append(beating, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if !slices.Equal(beating, pids) {
		t.Errorf("worker heartbeats from pids %v, want the three worker processes %v", beating, pids)
	}
	for _, w := range workers {
		byDB := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND $1 = ANY(attempted_by)`, w.clientID)
		byMetrics := scrapeListenerJobs(t, ctx, w.ops+"/metrics")
		t.Logf("%s (%s): %d jobs attempted (river_job.attempted_by), %d counted in insure_listener_jobs_total", w.Name, w.clientID, byDB, byMetrics)
		if byDB == 0 || byMetrics == 0 {
			t.Errorf("%s did no work: %d jobs in river_job, %d in its metrics", w.Name, byDB, byMetrics)
		}
	}
	if t.Failed() {
		return
	}

	// Phase 2: more load, and one worker killed while it runs jobs.
	p2 := time.Now()
	victim, survivors := workers[0], workers[1:]
	more := batch * 2 / 3
	pushed := make(chan LoadResult, 1)
	go func() { pushed <- load.Run(ctx, batch, batch+more) }()
	var running int
	for running < 3 {
		if ctx.Err() != nil || time.Since(p2) > 30*time.Second {
			t.Fatalf("%s never ran 3 jobs at once (last %d)", victim.Name, running)
		}
		running = s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'running'
			AND attempted_by[array_length(attempted_by, 1)] = $1`, victim.clientID)
		time.Sleep(5 * time.Millisecond)
	}
	victim.Kill(t)
	killedAt := time.Now()
	// A statement the victim sent just before it died (a completion's
	// COMMIT) still runs to its end on the server: wait until the server
	// has ended all of the victim's connections, so that what is left
	// 'running' below is what no one will finish.
	for s.Count(t, ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1`, victim.app) > 0 {
		if ctx.Err() != nil || time.Since(killedAt) > 30*time.Second {
			t.Fatalf("the server kept %s's connections open for 30 s after the kill", victim.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What the dead process held: rows it left 'running' (it cannot finish
	// them any more), and when their attempts started.
	rows, err = s.DB(t).Query(ctx, `SELECT id, attempted_at FROM river_job WHERE state = 'running'
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
	rows.Close()
	var leader string
	_ = s.DB(t).QueryRow(ctx, `SELECT leader_id FROM river_leader`).Scan(&leader)
	t.Logf("phase 2: killed %s (pid %d, leader %v) %s into the load with %d jobs running, %d of them left orphaned",
		victim.Name, victim.Cmd.Process.Pid, leader == victim.clientID, killedAt.Sub(p2).Round(time.Millisecond), running, len(orphans))
	if len(orphans) == 0 {
		t.Fatalf("%s finished all its jobs before the kill landed; nothing to rescue", victim.Name)
	}
	res2 := <-pushed
	requireAllAcked(t, res2)
	res.Merge(res2)
	s.WaitIdle(t, ctx, 90*time.Second)
	t.Logf("phase 2: everything completed %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	var survivorIDs []string
	for _, w := range survivors {
		survivorIDs = append(survivorIDs, w.clientID)
	}
	for id, killedAttempt := range orphans {
		var (
			state, name string
			by          []string
			at          time.Time
		)
		err := s.DB(t).QueryRow(ctx, `SELECT state, args->>'listener', attempted_by, attempted_at FROM river_job WHERE id = $1`, id).Scan(&state, &name, &by, &at)
		if err != nil {
			t.Fatal(err)
		}
		last := by[len(by)-1]
		if state != "completed" || last == victim.clientID || !slices.Contains(survivorIDs, last) {
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
	s.Check(t, ctx, res, CheckOptions{})
	scaleCheckEffects(t, ctx, s, batch+more, len(orphans))
	t.Logf("scale-out run took %s", time.Since(started).Round(time.Millisecond))
}

// requireAllAcked fails t unless the API acknowledged every command of res:
// nothing is killed on the API side, so no command may fail.
func requireAllAcked(t *testing.T, res LoadResult) {
	t.Helper()
	if len(res.Failures) > 0 {
		f := res.Failures[0]
		t.Fatalf("%d commands failed (HTTP statuses %v); the first, %s %d: HTTP %d: %s",
			len(res.Failures), res.Statuses(), f.Kind, f.Index, f.Status, f.Err)
	}
}

// scaleCheckEffects checks the side effects of n customers (indexes
// 0…n-1), each with one quotation, beyond Stack.Check's: the number of
// emails recorded and held at Mailpit (exactly 3n, less those recorded
// uncertain that never arrived), per recipient, and absolute counts of
// audit rows, documents, WhatsApp messages and messages. orphans (jobs
// killed mid-run) bound how many emails may be uncertain.
func scaleCheckEffects(t *testing.T, ctx context.Context, s *Stack, n, orphans int) {
	t.Helper()
	// The SMTP driver's record of every send.
	deliveries := map[string]string{} // header id → state
	rows, err := s.DB(t).Query(ctx, `SELECT header_id, state FROM mail_deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h, st string
		if err := rows.Scan(&h, &st); err != nil {
			t.Fatal(err)
		}
		deliveries[strings.Trim(h, "<>")] = st
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(deliveries) != 3*n {
		t.Errorf("%d emails recorded in mail_deliveries, want %d (welcome, admin and quotation per customer)", len(deliveries), 3*n)
	}
	msgs := s.Mail.Messages(t)
	seen := map[string]int{}
	perTo := map[string]int{}
	for _, m := range msgs {
		seen[m.MessageID]++
		for _, to := range m.To {
			perTo[to.Address]++
		}
	}
	// Stack.Check has compared each Message-ID with its record; here the
	// uncertain ones are counted.
	uncertain, missing := 0, 0
	for h, st := range deliveries {
		if st == "uncertain" {
			uncertain++
			if seen[h] == 0 {
				missing++
			}
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
		to := Email(i)
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
		if got := s.Count(t, ctx, q.sql); got != q.want {
			t.Errorf("%s: %d, want %d", q.what, got, q.want)
		}
	}
}

// scrapeListenerJobs sums insure_listener_jobs_total at url (a /metrics).
func scrapeListenerJobs(t *testing.T, ctx context.Context, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	total := 0.0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
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
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return int(total)
}
