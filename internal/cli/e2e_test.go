package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"insure/internal/config"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/httpapi/contracttest"
	"insure/internal/notify"
	"insure/internal/policy"
	"insure/internal/queue"
)

// testConfig is the configuration of a test system on dialect d: its own
// database, documents directory and fast retries.
func testConfig(t *testing.T, d database.Dialect) config.Config {
	t.Helper()
	return benchConfig(t, d)
}

// benchConfig is testConfig for any testing.TB.
func benchConfig(t testing.TB, d database.Dialect) config.Config {
	t.Helper()
	cfg := config.Default()
	dir := t.TempDir()
	switch d {
	case database.SQLite:
		cfg.DatabaseURL = filepath.Join(dir, "insure.db")
		cfg.SQLiteSynchronous = "NORMAL"
	case database.Postgres:
		cfg.DatabaseURL = dbtest.PostgresURL() + "&search_path=" + dbtest.NewSchema(t)
		// PostgreSQL needs a configured master key; SQLite makes its own
		// file next to the database, which the SQLite runs exercise.
		cfg.MasterKey = testMasterKey
	}
	cfg.DocumentsDir = filepath.Join(dir, "documents")
	cfg.HTTPAddr = "127.0.0.1:0"
	selfCheckTuning(&cfg)
	cfg.BreakerOpenFor = 200 * time.Millisecond
	cfg.AdminToken = testAdminToken
	cfg.LogLevel = slog.LevelError
	return cfg
}

func startSystem(t *testing.T, cfg config.Config) *System {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Workers: true, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Queue.Stop(ctx)
		_ = s.Close()
	})
	return s
}

// serveWithoutWorkers opens a system on cfg without workers (no listener
// appends events and no projection runner catches up behind the test's
// back) and serves its API, checked against the contract, to the client
// it returns.
func serveWithoutWorkers(t *testing.T, cfg config.Config) (*System, client) {
	t.Helper()
	s, err := Open(context.Background(), cfg, newLogger(cfg, io.Discard), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
	t.Cleanup(srv.Close)
	return s, client{t: t, base: srv.URL}
}

// testAdminToken is the admin token every test system seeds
// (INSURE_ADMIN_TOKEN); the test client sends it unless told otherwise.
const testAdminToken = "insure_test-admin-token-0123456789abcdefghij"

// testMasterKey is the master key of the PostgreSQL test systems.
const testMasterKey = "dGVzdC1tYXN0ZXIta2V5LW9mLWluc3VyZS10ZXN0cyE="

// client talks to the API through the contract checker.
type client struct {
	t    *testing.T
	base string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (c client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

func (c client) expect(want int, method, path string, body any, headers ...string) response {
	c.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func errorField(t *testing.T, r response) (code, field string) {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

// TestEndToEnd drives every workflow through the real HTTP API, with real
// workers, on SQLite and PostgreSQL, checking every request and response
// against api/openapi.yaml.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			s := startSystem(t, testConfig(t, d))
			srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
			t.Cleanup(srv.Close)
			endToEnd(t, s, client{t: t, base: srv.URL})
		})
	}
}

func endToEnd(t *testing.T, s *System, c client) {
	ctx := context.Background()
	skip := contracttest.SkipRequestHeader

	// Workflow 1: registration.
	r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
		"name": "Asha Verma", "email": "Asha@Example.com", "phone": "+91 98765 43210",
		"date_of_birth": "1990-04-01", "channel": "web", "preferences": map[string]bool{"email": true, "whatsapp": true}})
	cust := r.json(t)
	id, _ := cust["id"].(string)
	if cust["email"] != "asha@example.com" || cust["phone"] != "+919876543210" || cust["version"] != float64(1) {
		t.Fatalf("registered customer: %v", cust)
	}
	if r.header.Get("ETag") != `"1"` {
		t.Fatalf("ETag %q", r.header.Get("ETag"))
	}
	r = c.expect(409, "POST", "/api/v1/customers", map[string]any{"name": "Other", "email": "asha@example.COM", "phone": "9876500000"})
	if code, field := errorField(t, r); code != "conflict" || field != "email" {
		t.Fatalf("duplicate email: %s", r.body)
	}
	r = c.expect(422, "POST", "/api/v1/customers", map[string]any{"name": "X", "email": "not-an-email", "phone": "9876500000"}, skip, "1")
	if _, field := errorField(t, r); field != "email" {
		t.Fatalf("bad email: %s", r.body)
	}
	c.expect(400, "POST", "/api/v1/customers", `{"name": "X",`, skip, "1")
	c.expect(400, "POST", "/api/v1/customers", `{"name":"X","email":"x@example.com","phone":"9876500000","admin":true}`, skip, "1")
	c.expect(413, "POST", "/api/v1/customers", `{"name":"`+strings.Repeat("a", 1<<20)+`"}`, skip, "1")
	c.expect(404, "GET", "/api/v1/customers/"+strings.Replace(id, id[:8], "00000000", 1), nil)
	c.expect(404, "GET", "/api/v1/customers/not-a-uuid", nil, skip, "1")
	list := c.expect(200, "GET", "/api/v1/customers?limit=10", nil).json(t)
	if items, _ := list["customers"].([]any); len(items) != 1 {
		t.Fatalf("customer list: %v", list)
	}

	c.expect(409, "PATCH", "/api/v1/customers/"+id, map[string]any{"name": "Asha V."}, "If-Match", `"7"`)
	r = c.expect(200, "PATCH", "/api/v1/customers/"+id, map[string]any{"name": "Asha V."}, "If-Match", `"1"`)
	if got := r.json(t); got["name"] != "Asha V." || got["version"] != float64(2) {
		t.Fatalf("patched: %v", got)
	}

	// The welcome email carries the verification token; the token works.
	token, err := s.Customers.Secrets.VerificationToken(ctx, id, "asha@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var welcome notify.RecordedEmail
	waitUntil(t, "the welcome email", func() bool {
		mails, err := notify.RecordedEmails(ctx, s.DB, s.Vault)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			if m.To == "asha@example.com" && strings.Contains(m.Subject, "Welcome") {
				welcome = m
				return true
			}
		}
		return false
	})
	if !strings.Contains(welcome.Text, token) || !strings.Contains(welcome.HTML, token) {
		t.Fatalf("welcome email lacks the verification token:\n%s", welcome.Text)
	}
	r = c.expect(422, "POST", "/api/v1/customers/"+id+"/verify-email", map[string]string{"token": "wrong"})
	if _, field := errorField(t, r); field != "token" {
		t.Fatalf("wrong token: %s", r.body)
	}
	if got := c.expect(200, "POST", "/api/v1/customers/"+id+"/verify-email", map[string]string{"token": token}).json(t); got["email_verified"] != true {
		t.Fatalf("verified: %v", got)
	}

	// Workflow 2: quotation, rated across insurers, with its PDF.
	r = c.expect(422, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "motor", "sum_insured": 65_000_000,
		"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": 1900}}, skip, "1")
	if _, field := errorField(t, r); field != "details.vehicle_year" {
		t.Fatalf("bad vehicle year: %s", r.body)
	}
	r = c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "motor", "sum_insured": 120_000_000,
		"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": time.Now().Year() - 3, "ncb_percent": 25}})
	qt := r.json(t)
	qid, _ := qt["id"].(string)
	if qt["status"] != "requested" {
		t.Fatalf("quotation: %v", qt)
	}
	var generated map[string]any
	waitUntil(t, "the quotation to be generated with its PDF", func() bool {
		generated = c.expect(200, "GET", "/api/v1/quotations/"+qid, nil).json(t)
		doc, _ := generated["document_id"].(string)
		return generated["status"] == "generated" && doc != ""
	})
	quotes, _ := generated["quotes"].([]any)
	if len(quotes) < 3 {
		t.Fatalf("want a quote per insurer, got %v", generated["quotes"])
	}
	var cheapest int64
	for _, q := range quotes {
		m := q.(map[string]any)
		if m["insurer"] == "" || m["premium"] == nil {
			t.Fatalf("quote %v", m)
		}
		if p := int64(m["premium"].(float64)); m["declined"] != true && (cheapest == 0 || p < cheapest) {
			cheapest = p
		}
	}
	pdf := c.expect(200, "GET", "/api/v1/documents/"+generated["document_id"].(string), nil)
	if !bytes.HasPrefix(pdf.body, []byte("%PDF-")) || pdf.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("document: %s %q", pdf.header.Get("Content-Type"), pdf.body[:min(20, len(pdf.body))])
	}

	// Policies: creation, validation, expiry scan, renewal.
	today := policy.DateOf(time.Now())
	r = c.expect(422, "POST", "/api/v1/policies", map[string]any{"customer_id": id, "insurer": "acme", "product": "motor",
		"premium": cheapest, "sum_insured": 120_000_000, "start_date": today.String(), "end_date": today.AddDays(-1).String()})
	if _, field := errorField(t, r); field != "end_date" {
		t.Fatalf("policy ending before it starts: %s", r.body)
	}
	r = c.expect(201, "POST", "/api/v1/policies", map[string]any{"customer_id": id, "quotation_id": qid, "insurer": "acme", "product": "motor",
		"premium": cheapest, "sum_insured": 120_000_000, "start_date": today.AddDays(-355).String(), "end_date": today.AddDays(10).String()})
	pol := r.json(t)
	pid, _ := pol["id"].(string)
	if pol["status"] != "expiring" || pol["days_to_expiry"] != float64(10) {
		t.Fatalf("policy: %v", pol)
	}
	scan := c.expect(200, "POST", "/api/v1/policies/expiry-scan", map[string]any{}).json(t)
	warned, _ := scan["warned"].([]any)
	if len(warned) != 1 {
		t.Fatalf("scan: %v", scan)
	}
	if w := warned[0].(map[string]any); w["threshold"] != float64(15) || w["urgency"] != "medium" || w["days_left"] != float64(10) {
		t.Fatalf("warning: %v", w)
	}
	again := c.expect(200, "POST", "/api/v1/policies/expiry-scan", nil).json(t)
	if w, _ := again["warned"].([]any); len(w) != 0 {
		t.Fatalf("second scan warned again: %v", again)
	}
	exp := c.expect(200, "GET", "/api/v1/policies?expiring_within_days=30", nil).json(t)
	if ps, _ := exp["policies"].([]any); len(ps) != 1 {
		t.Fatalf("expiring policies: %v", exp)
	}
	c.expect(422, "GET", "/api/v1/policies?expiring_within_days=-1", nil, skip, "1")
	renewed := c.expect(200, "POST", "/api/v1/policies/"+pid+"/renew", map[string]any{}).json(t)
	if renewed["end_date"] != today.AddDays(10).AddYears(1).String() || renewed["renewals"] != float64(1) {
		t.Fatalf("renewed: %v", renewed)
	}
	c.expect(409, "POST", "/api/v1/policies/"+pid+"/renew", nil)

	// Workflow 4: every queued message is delivered exactly once.
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := c.expect(200, "GET", "/api/v1/messages?customer_id="+id, nil).json(t)
	items, _ := msgs["messages"].([]any)
	byTemplate := map[string]int{}
	for _, it := range items {
		m := it.(map[string]any)
		if m["status"] != "sent" {
			t.Errorf("message %v is %v", m["template"], m["status"])
		}
		byTemplate[fmt.Sprint(m["channel"], "/", m["template"])]++
	}
	want := map[string]int{"email/welcome": 1, "email/quotation": 1, "whatsapp/quotation": 1, "email/renewal_reminder": 1,
		"whatsapp/renewal_reminder": 1, "email/policy_confirmation": 2, "whatsapp/policy_confirmation": 2}
	for k, n := range want {
		if byTemplate[k] != n {
			t.Errorf("%s: %d messages, want %d (all: %v)", k, byTemplate[k], n, byTemplate)
		}
	}
	mails, err := notify.RecordedEmails(ctx, s.DB, s.Vault)
	if err != nil {
		t.Fatal(err)
	}
	admin := 0
	for _, m := range mails {
		if m.To == s.Config.AdminEmail {
			admin++
		}
		if strings.Contains(m.Subject, "quotation") || strings.Contains(m.Subject, "Quotation") {
			if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/pdf" || m.Attachments[0].Size == 0 {
				t.Errorf("quotation email attachments: %+v", m.Attachments)
			}
		}
	}
	if admin != 1 {
		t.Errorf("%d admin notifications, want 1", admin)
	}
	c.expect(422, "GET", "/api/v1/messages?channel=sms", nil, skip, "1")

	// The event history and the global stream.
	hist := c.expect(200, "GET", "/api/v1/customers/"+id+"/events", nil).json(t)
	evs, _ := hist["events"].([]any)
	var names []string
	for _, e := range evs {
		names = append(names, e.(map[string]any)["event_name"].(string))
	}
	if strings.Join(names, ",") != "CustomerRegistered,CustomerProfileUpdated,CustomerEmailVerified" {
		t.Fatalf("customer history: %v", names)
	}
	stream := c.expect(200, "GET", "/api/v1/events?after=0&limit=2&type=PolicyCreated,PolicyRenewed", nil).json(t)
	sevs, _ := stream["events"].([]any)
	if len(sevs) != 2 || sevs[0].(map[string]any)["event_name"] != "PolicyCreated" || stream["next"] != sevs[1].(map[string]any)["position"] {
		t.Fatalf("stream: %v", stream)
	}
	if dl := c.expect(200, "GET", "/api/v1/dead-letters", nil).json(t); len(dl["dead_letters"].([]any)) != 0 {
		t.Fatalf("dead letters after a clean run: %v", dl)
	}
	c.expect(404, "POST", "/api/v1/dead-letters/999999/retry", nil)
	c.expect(404, "POST", "/api/v1/dead-letters/999999/discard", nil)
	c.expect(200, "GET", "/healthz", nil)

	// Who may do what: no token is 401, an agent cannot read the raw
	// stream, and events name the token that caused them.
	c.expect(401, "GET", "/api/v1/customers", nil, "Authorization", "", skip, "1")
	c.expect(401, "GET", "/api/v1/customers", nil, "Authorization", "Bearer insure_not-a-real-token-000000000000000000")
	agent, _, err := s.Tokens.Create(ctx, "agent-1", "agent")
	if err != nil {
		t.Fatal(err)
	}
	c.expect(403, "GET", "/api/v1/events", nil, "Authorization", "Bearer "+agent)
	c.expect(200, "GET", "/api/v1/customers/"+id, nil, "Authorization", "Bearer "+agent)
	if actor := evs[0].(map[string]any)["metadata"].(map[string]any)["actor"]; actor != "token:INSURE_ADMIN_TOKEN" {
		t.Fatalf("the registration's actor is %v, want the token's name", actor)
	}
	// Who saw what: the reads above were recorded, and an auditor can list them.
	auditor, _, err := s.Tokens.Create(ctx, "auditor-1", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	acc := c.expect(200, "GET", "/api/v1/audit/access?subject="+id, nil, "Authorization", "Bearer "+auditor).json(t)
	actions := map[string]int{}
	for _, a := range acc["accesses"].([]any) {
		am := a.(map[string]any)
		actions[fmt.Sprint(am["actor"], " ", am["action"])]++
	}
	if actions["token:INSURE_ADMIN_TOKEN customer.events"] != 1 || actions["token:agent-1 customer.profile"] != 1 {
		t.Fatalf("recorded accesses: %v", actions)
	}
	c.expect(403, "GET", "/api/v1/audit/access", nil, "Authorization", "Bearer "+agent)
	c.expect(404, "GET", "/api/v1/nothing-here", nil, skip, "1")
	c.expect(405, "DELETE", "/api/v1/customers", nil, skip, "1")
}

// TestDeadLettersCLI breaks the documents directory so that rendering gives
// up, lists and retries the dead letter with the CLI, and checks the retried
// job then produces the PDF.
func TestDeadLettersCLI(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	cfg.QueueMaxAttempts = 2
	s := startSystem(t, cfg)
	ctx := context.Background()
	// Replace the documents directory by a file: every write fails.
	if err := os.RemoveAll(cfg.DocumentsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DocumentsDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c := client{t: t, base: srv.URL}
	id := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Rohan Mehta", "email": "rohan@example.com", "phone": "9820012345"}).json(t)["id"].(string)
	qid := c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "health", "sum_insured": 50_000_000,
		"details": map[string]any{"age": 40, "members": 2}}).json(t)["id"].(string)
	waitUntil(t, "a dead letter", func() bool {
		dls, err := s.Queue.DeadLetters(ctx, "dead", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(dls) == 1 && dls[0].Listener == "RenderDocument"
	})
	e := env{lookup: func(k string) (string, bool) {
		switch k {
		case "DATABASE_URL":
			return cfg.DatabaseURL, true
		case "DOCUMENTS_DIR":
			return filepath.Join(t.TempDir(), "elsewhere"), true
		}
		return "", false
	}}
	var out bytes.Buffer
	var errOut bytes.Buffer
	e.stdout, e.stderr = &out, &errOut
	if code := run(ctx, []string{"dlq", "list"}, e); code != 0 || !strings.Contains(out.String(), "RenderDocument") || !strings.Contains(out.String(), "1 dead letters") {
		t.Fatalf("dlq list (exit %d):\n%s", code, out.String())
	}
	// Fix the directory, then retry everything.
	if err := os.Remove(cfg.DocumentsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DocumentsDir, 0o750); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	waitUntil(t, "dlq retry --all", func() bool {
		out.Reset()
		return run(ctx, []string{"dlq", "retry", "--all"}, e) == 0 && strings.Contains(out.String(), "1 dead letters retried")
	})
	waitUntil(t, "the PDF after the retry", func() bool {
		q := c.expect(200, "GET", "/api/v1/quotations/"+qid, nil).json(t)
		return q["document_id"] != nil
	})
	out.Reset()
	if code := run(ctx, []string{"dlq", "retry", "1"}, e); code == 0 {
		t.Fatalf("retrying a retried dead letter succeeded:\n%s", out.String())
	}
	if code := run(ctx, []string{"dlq", "retry", "abc"}, e); code == 0 {
		t.Fatal("a non-numeric id was accepted")
	}
	if code := run(ctx, []string{"dlq", "list", "--status", "gone"}, e); code == 0 {
		t.Fatal("an unknown --status was accepted")
	}

	// Break the directory again: the next quotation's PDF dies too, and
	// this time it is discarded, for good.
	if err := os.RemoveAll(cfg.DocumentsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DocumentsDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "health", "sum_insured": 50_000_000,
		"details": map[string]any{"age": 41, "members": 1}})
	var dead queue.DeadLetter
	waitUntil(t, "a second dead letter", func() bool {
		dls, err := s.Queue.DeadLetters(ctx, "dead", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) == 1 {
			dead = dls[0]
		}
		return len(dls) == 1
	})
	// The worker records the dead letter a moment before River finishes
	// the job; until then discard refuses (the job is still running).
	waitUntil(t, "dlq discard", func() bool {
		out.Reset()
		return run(ctx, []string{"dlq", "discard", strconv.FormatInt(dead.ID, 10)}, e) == 0 &&
			strings.Contains(out.String(), "discarded "+strconv.FormatInt(dead.ID, 10))
	})
	out.Reset()
	if code := run(ctx, []string{"dlq", "list", "--status", "discarded"}, e); code != 0 || !strings.Contains(out.String(), "1 dead letters (discarded)") {
		t.Fatalf("dlq list --status discarded (exit %d):\n%s", code, out.String())
	}
	if code := run(ctx, []string{"dlq", "retry", strconv.FormatInt(dead.ID, 10)}, e); code == 0 {
		t.Fatal("a discarded dead letter was retried")
	}
	// Whatever else died meanwhile (the broken directory fails more than
	// the one PDF) goes too, once its job has finished.
	waitUntil(t, "dlq discard --all", func() bool {
		out.Reset()
		if run(ctx, []string{"dlq", "discard", "--all"}, e) != 0 || !strings.Contains(out.String(), "dead letters discarded") {
			return false
		}
		out.Reset()
		return run(ctx, []string{"dlq", "list"}, e) == 0 && strings.Contains(out.String(), "0 dead letters (dead)")
	})
}

func TestServeAndMigrateCommands(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	var out, errs bytes.Buffer
	e := env{lookup: func(k string) (string, bool) {
		if k == "DATABASE_URL" {
			return cfg.DatabaseURL, true
		}
		return "", false
	}, stdout: &out, stderr: &errs}
	if code := run(context.Background(), []string{"migrate"}, e); code != 0 || !strings.Contains(out.String(), "insure 00001") {
		t.Fatalf("migrate (exit %d): %s %s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"migrate"}, e); code != 0 || !strings.Contains(out.String(), "already applied") {
		t.Fatalf("second migrate: %s", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, e, cfg, true, 5*time.Second, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve shut down with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

func TestBadConfigurationStopsStartUp(t *testing.T) {
	t.Parallel()
	for name, vars := range map[string]map[string]string{
		"database": {"DATABASE_URL": "mysql://localhost/insure"},
		"attempts": {"QUEUE_MAX_ATTEMPTS": "many"},
		"backoff":  {"QUEUE_BACKOFF": "60s,soon"},
	} {
		var out, errs bytes.Buffer
		e := env{lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, stdout: &out, stderr: &errs}
		code := run(context.Background(), []string{"migrate"}, e)
		for k := range vars {
			if code == 0 || !strings.Contains(errs.String(), k) {
				t.Errorf("%s: exit %d, stderr %q: want a failure naming %s", name, code, errs.String(), k)
			}
		}
	}
}

// TestDemoCommand runs the README's first command: the demo seeds its sample
// data, runs the workflows, and ends with a passing self-check.
func TestDemoCommand(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	var out, errs bytes.Buffer
	e := env{lookup: func(k string) (string, bool) {
		if k == "DOCUMENTS_DIR" {
			return cfg.DocumentsDir, true
		}
		return "", false
	}, stdout: &out, stderr: &errs}
	if code := run(context.Background(), []string{"events", "test", "--demo", "--database-url", cfg.DatabaseURL}, e); code != 0 {
		t.Fatalf("demo exit %d:\n%s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"issue a health policy", "run the daily expiry scan", "MessageSent", "self-check passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSelfCheckCommand(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, d)
			var out, errs bytes.Buffer
			e := env{lookup: func(k string) (string, bool) {
				switch k {
				case "DOCUMENTS_DIR":
					return cfg.DocumentsDir, true
				case "INSURE_MASTER_KEY":
					return cfg.MasterKey, cfg.MasterKey != ""
				}
				return "", false
			}, stdout: &out, stderr: &errs}
			args := []string{"events", "test", "--database-url", cfg.DatabaseURL}
			if code := run(context.Background(), args, e); code != 0 {
				t.Fatalf("self-check exit %d:\n%s\n%s", code, out.String(), errs.String())
			}
			if strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "self-check passed") {
				t.Fatalf("self-check output:\n%s", out.String())
			}
			for _, want := range []string{"SendWelcomeEmail", "GenerateQuotationPDF", "SendPolicyRenewalReminder", "ProcessWhatsAppMessage"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("no row for %s", want)
				}
			}
		})
	}
}

// TestREADMEConfigTable keeps the README's configuration table equal to the
// variables the code reads.
func TestREADMEConfigTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	begin, end := strings.Index(readme, "<!-- config:begin -->\n"), strings.Index(readme, "<!-- config:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md lacks the config:begin/config:end markers")
	}
	if got, want := readme[begin+len("<!-- config:begin -->\n"):end], VarsMarkdown(); got != want {
		t.Fatalf("README configuration table is stale; regenerate it with `insure config --markdown`.\nwant:\n%s", want)
	}
}
