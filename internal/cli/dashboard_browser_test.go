package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"insure/internal/auth"
	"insure/internal/database"
)

// chromiumPath finds Debian's Chromium. Without it the test fails under CI
// (CI=true), where .ci/run installs it, and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; the dashboard's browser test needs Debian's chromium package (apt-get install chromium, as .ci/run does)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the dashboard's browser test")
	return ""
}

// screenshotDir is where the test saves its screenshots: docs/screenshots
// with UPDATE_SCREENSHOTS=1 (to refresh the README's pictures), a
// temporary directory otherwise.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("UPDATE_SCREENSHOTS") != "1" {
		return t.TempDir()
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserSession drives one headless Chromium tab.
type browserSession struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot directory
}

// step runs actions with a deadline, failing the test with what it did.
func (b *browserSession) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func evalIn[T any](b *browserSession, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (30s at most).
func (b *browserSession) waitFor(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		b.t.Fatalf("browser: waiting for %s (%s): %v", what, cond, err)
	}
}

// screenshot saves the whole page as name.png.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shot, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// login logs in on the login page with token and waits for the overview.
func (b *browserSession) login(token string) {
	b.t.Helper()
	b.step("log in",
		chromedp.Navigate(b.base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#volume-chart")),
	)
}

func (b *browserSession) logout() {
	b.t.Helper()
	b.step("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")))
}

// TestDashboardInBrowser runs the real server on SQLite, makes some
// traffic and a dead letter, and drives the dashboard in headless
// Chromium: an admin sees the counts and the chart, retries a dead letter
// and sees it leave the list, discards the rest after confirming, and
// reads a customer's timeline; an agent sees the stream without any event
// data.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	t.Parallel()
	chromium := chromiumPath(t)
	cfg := testConfig(t, database.SQLite)
	cfg.QueueMaxAttempts = 2
	ctx := context.Background()
	// Debug logs, checked at the end for personal data.
	logs := &syncBuffer{}
	s, err := Open(ctx, cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Options{Workers: true, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Queue.Stop(sctx)
		_ = s.Close()
	})

	l, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	base := "http://" + l.Addr().String()
	c := client{t: t, base: base}

	// The demo workload: customers and quotations. With the documents
	// directory replaced by a file, rendering the quotations' PDFs gives
	// up: dead letters.
	if err := os.RemoveAll(cfg.DocumentsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DocumentsDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	var customerIDs []string
	for i, name := range []string{"Asha Verma", "Rohan Mehta", "Meera Iyer"} {
		id := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": name,
			"email": fmt.Sprintf("%s@example.com", strings.ToLower(strings.Fields(name)[0])), "phone": fmt.Sprintf("98200123%02d", i),
			"preferences": map[string]bool{"email": true}}).json(t)["id"].(string)
		customerIDs = append(customerIDs, id)
	}
	for _, id := range customerIDs[:2] {
		c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "health", "sum_insured": 50_000_000,
			"details": map[string]any{"age": 40, "members": 2}})
	}
	waitUntil(t, "two dead letters", func() bool {
		dls, err := s.Queue.DeadLetters(ctx, "dead", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(dls) == 2
	})
	dls, err := s.Queue.DeadLetters(ctx, "dead", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Repair the directory: a retry now succeeds.
	if err := os.Remove(cfg.DocumentsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DocumentsDir, 0o750); err != nil {
		t.Fatal(err)
	}
	agentToken, _, err := s.Tokens.Create(ctx, "front-desk", auth.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser; it must not have a deadline of its own.
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browserSession{t: t, ctx: browserCtx, base: base, shot: screenshotDir(t)}

	// An admin: the overview shows the traffic and a chart with data, and
	// keeps itself up to date.
	b.login(testAdminToken)
	b.waitFor("the live connection", `document.getElementById("live-status").dataset.state === "live"`)
	b.waitFor("non-zero event counts", `Number(document.getElementById("events-last-hour").textContent) > 0`)
	if n := evalIn[int](b, `document.querySelectorAll("#volume-chart rect").length`); n == 0 {
		t.Fatal("the chart has no bars")
	}
	if total := evalIn[string](b, `document.getElementById("volume-chart").dataset.total`); total == "0" || total == "" {
		t.Fatalf("the chart's total is %q", total)
	}
	b.waitFor("the listeners' figures", `document.querySelectorAll("#listeners tbody tr td").length > 1`)
	b.waitFor("a dead letter in the summary", `Number(document.getElementById("dead-letter-count").textContent) === 2`)
	// The live update: a new customer shows in the counts without a reload.
	before := evalIn[int](b, `Number(document.getElementById("stream-head").textContent)`)
	c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Kabir Shah", "email": "kabir@example.com", "phone": "9820012399"})
	b.waitFor("the new events, live", fmt.Sprintf(`Number(document.getElementById("stream-head").textContent) > %d`, before))
	b.screenshot("dashboard-overview")

	// Dead letters: retry one; it leaves the list.
	first, second := dls[0].ID, dls[1].ID
	b.step("open the dead letters", chromedp.Navigate(base+"/dashboard/dead-letters"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#dead-letter-%d", first))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#dead-letter-%d", second))))
	b.screenshot("dashboard-dead-letters")
	retried := false
	for deadline := time.Now().Add(30 * time.Second); !retried && time.Now().Before(deadline); {
		b.step("retry one", chromedp.Click(chromedp.CSS(fmt.Sprintf("#dead-letter-%d .retry-one", first))),
			chromedp.WaitVisible(chromedp.CSS("#flash")))
		// The job may still be finishing its last attempt: the flash says
		// so, and the button is pressed again.
		retried = evalIn[bool](b, fmt.Sprintf(`document.getElementById("dead-letter-%d") === null`, first))
	}
	if !retried {
		t.Fatalf("dead letter %d is still listed after retrying it: %s", first, evalIn[string](b, `document.getElementById("flash").textContent`))
	}
	if flash := evalIn[string](b, `document.getElementById("flash").textContent`); !strings.Contains(flash, "Retried 1 dead letter") {
		t.Fatalf("flash after the retry: %q", flash)
	}
	waitUntil(t, "the retried job to render the PDF", func() bool {
		d, err := s.Queue.DeadLetter(ctx, first)
		if err != nil || d.Status != "retried" {
			return false
		}
		jobs, err := s.Queue.JobsForEvent(ctx, d.EventID)
		return err == nil && len(jobs) == 1 && jobs[0].State == "completed"
	})
	// Discard the rest, after the confirmation.
	b.step("discard all", chromedp.Click(chromedp.CSS("#discard-all")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if h1 := evalIn[string](b, `document.querySelector("h1").textContent`); !strings.Contains(h1, "Discard all 1 dead letters?") {
		t.Fatalf("confirmation page: %q", h1)
	}
	b.step("confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#no-dead-letters")))
	if d, err := s.Queue.DeadLetter(ctx, second); err != nil || d.Status != "discarded" {
		t.Fatalf("dead letter %d after discarding all: %+v %v", second, d, err)
	}

	// The customer browser: search, open, read the timeline with data.
	b.step("search a customer", chromedp.Navigate(base+"/dashboard/customers"),
		chromedp.WaitVisible(chromedp.CSS("#search-email")),
		chromedp.SendKeys(chromedp.CSS("#search-email"), "asha@example.com"),
		chromedp.Click(chromedp.CSS("#search-button")),
		chromedp.WaitVisible(chromedp.CSS("#customers a")),
		chromedp.Click(chromedp.CSS("#customers a")),
		chromedp.WaitVisible(chromedp.CSS("#timeline .event-data")))
	if data := evalIn[string](b, `document.querySelector("#timeline .event-data").textContent`); !strings.Contains(data, "asha@example.com") {
		t.Fatalf("the timeline's first event data does not show the opened email: %s", data)
	}
	b.screenshot("dashboard-customer")
	// The stream, with data for the admin.
	b.step("open the stream", chromedp.Navigate(base+"/dashboard/events"), chromedp.WaitVisible(chromedp.CSS("#stream .event-row")))
	if n := evalIn[int](b, `document.querySelectorAll("#stream .event-data").length`); n == 0 {
		t.Fatal("the admin's stream shows no event data")
	}
	b.screenshot("dashboard-events")
	b.logout()

	// An agent: the stream and the timeline without event data, and the
	// event page refused.
	b.login(agentToken)
	b.step("open the stream as an agent", chromedp.Navigate(base+"/dashboard/events"), chromedp.WaitVisible(chromedp.CSS("#stream .event-row")))
	if n := evalIn[int](b, `document.querySelectorAll(".event-data, .event-metadata, #stream a").length`); n != 0 {
		t.Fatalf("the agent's stream shows %d event data elements", n)
	}
	text := evalIn[string](b, `document.body.innerText`)
	if !strings.Contains(text, "CustomerRegistered") || strings.Contains(text, "correlation_id") || strings.Contains(text, "asha@example.com") {
		t.Fatalf("the agent's stream page:\n%s", text)
	}
	// A new event reaches the agent live, without its data.
	c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Tara Nair", "email": "tara@example.com", "phone": "9820012398"})
	b.waitFor("the new event, live", `document.querySelector("#stream .event-row.new") !== null`)
	if text := evalIn[string](b, `document.getElementById("stream").innerText`); strings.Contains(text, "tara@example.com") || strings.Contains(text, "correlation_id") {
		t.Fatalf("the agent's live stream shows event data:\n%s", text)
	}
	b.step("open a customer as an agent", chromedp.Navigate(base+"/dashboard/customers/"+customerIDs[0]),
		chromedp.WaitVisible(chromedp.CSS("#timeline li")))
	if n := evalIn[int](b, `document.querySelectorAll(".event-data, .event-metadata").length`); n != 0 {
		t.Fatalf("the agent's timeline shows %d event data elements", n)
	}
	b.step("open an event as an agent", chromedp.Navigate(base+"/dashboard/events/1"), chromedp.WaitVisible(chromedp.CSS("#error")))
	if msg := evalIn[string](b, `document.getElementById("error").textContent`); !strings.Contains(msg, "does not see event data") {
		t.Fatalf("the agent's event page: %q", msg)
	}
	// A revoked token ends the session: the next page is the login page.
	if _, err := s.Tokens.Revoke(ctx, "front-desk"); err != nil {
		t.Fatal(err)
	}
	b.step("reload after the revocation", chromedp.Navigate(base+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#token")))

	// Nothing personal reached the logs: not the workload's, not the
	// search's, not the pages'.
	out := logs.String()
	if !strings.Contains(out, "dashboard: login") || !strings.Contains(out, "dashboard: dead letters resolved") {
		t.Fatalf("the logs lack the dashboard's lines; the check would prove nothing:\n%s", out[:min(len(out), 2000)])
	}
	for _, p := range []string{"Asha", "Verma", "Rohan", "Mehta", "Meera", "Iyer", "Kabir Shah", "Tara Nair", "@example.com",
		"9820012300", "9820012301", "9820012302", "9820012399", "9820012398"} {
		if i := strings.Index(out, p); i >= 0 {
			t.Errorf("log output contains personal data %q: …%s…", p, out[max(0, i-200):min(len(out), i+100)])
		}
	}
}
