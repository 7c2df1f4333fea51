package dashboard_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"insure/internal/auth"
	"insure/internal/dashboard"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/projection"
	"insure/internal/queue"
)

// harness is a dashboard on a real token and session store (SQLite in
// t.TempDir()) with fakes for everything else.
type harness struct {
	t         testing.TB
	handler   http.Handler
	tokens    *auth.Store
	clock     *clock
	dls       *fakeDeadLetters
	events    *fakeEvents
	customers *fakeCustomers
	access    *fakeAccess
}

const customerID = "0190f3a2-6b1c-7d3e-8f40-123456789abc"

func setup(t testing.TB, tweak ...func(*dashboard.Config)) *harness {
	t.Helper()
	db := dbtest.Open(t, database.SQLite)
	clk := &clock{now: time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)}
	events := &fakeEvents{}
	events.Append("CustomerRegistered", customerID)
	events.Append("QuotationRequested", "0190f3a2-6b1c-7d3e-8f40-000000000001")
	events.Append("CustomerProfileUpdated", customerID)
	hs := &harness{t: t, tokens: auth.NewStore(db, clk.Now), clock: clk, dls: newFakeDeadLetters(1, 2, 3), events: events,
		customers: &fakeCustomers{events: events, customer: projection.Customer{ID: customerID, Name: "Asha Verma",
			Email: "asha@example.com", Phone: "+919876543210", Version: 2, CreatedAt: clk.now}},
		access: &fakeAccess{}}
	cfg := dashboard.Config{
		Auth: hs.tokens, Sessions: dashboard.NewSQLSessions(db), Metrics: &fakeMetrics{now: clk.Now},
		DeadLetters: hs.dls, Projections: fakeProjections{}, Breakers: fakeBreakers{}, Events: events,
		Customers: hs.customers, Access: hs.access,
		EventNames: []string{"CustomerRegistered", "CustomerProfileUpdated", "QuotationRequested"},
		SessionTTL: time.Hour, Now: clk.Now, Refresh: 20 * time.Millisecond, EventPoll: 10 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	h, err := dashboard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.handler = h
	return hs
}

// token creates a token of role and returns it.
func (hs *harness) token(name string, role auth.Role) string {
	hs.t.Helper()
	raw, _, err := hs.tokens.Create(context.Background(), name, role)
	if err != nil {
		hs.t.Fatal(err)
	}
	return raw
}

// browser is a client with a cookie jar of its own, sending requests
// straight to the handler.
type browser struct {
	hs      *harness
	t       testing.TB
	cookies map[string]*http.Cookie
	tls     bool
	// origin is the Origin header of POSTs ("" for none).
	origin string
}

func (hs *harness) browser() *browser {
	return &browser{hs: hs, t: hs.t, cookies: map[string]*http.Cookie{}, origin: "http://example.com"}
}

type page struct {
	status int
	header http.Header
	body   string
	res    *http.Response
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	if b.tls {
		req.TLS = &tls.ConnectionState{}
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	b.hs.handler.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw), res: res}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var (
	nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	csrfRe  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// login logs in with raw and returns the answer to the login POST.
func (b *browser) login(raw string) page {
	b.t.Helper()
	p := b.get("/dashboard/login")
	m := nonceRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		b.t.Fatalf("login page: %d %s", p.status, p.body)
	}
	return b.post("/dashboard/login", url.Values{"nonce": {m[1]}, "token": {raw}})
}

// loggedIn returns a browser logged in with a new token of role.
func (hs *harness) loggedIn(role auth.Role) *browser {
	hs.t.Helper()
	b := hs.browser()
	if p := b.login(hs.token("t-"+string(role), role)); p.status != http.StatusSeeOther {
		hs.t.Fatalf("login as %s: %d %s", role, p.status, p.body)
	}
	return b
}

// csrf returns the CSRF token the overview page carries.
func (b *browser) csrf() string {
	b.t.Helper()
	p := b.get("/dashboard/")
	m := csrfRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		b.t.Fatalf("overview: %d, no csrf field", p.status)
	}
	return m[1]
}

func location(p page) string { return p.header.Get("Location") }

func TestLogin(t *testing.T) {
	t.Parallel()
	hs := setup(t)

	t.Run("a good token starts a session", func(t *testing.T) {
		b := hs.browser()
		p := b.login(hs.token("ops", auth.RoleAdmin))
		if p.status != http.StatusSeeOther || location(p) != "/dashboard/" {
			t.Fatalf("login: %d to %q", p.status, location(p))
		}
		var c *http.Cookie
		for _, x := range p.res.Cookies() {
			if x.Name == "insure_dashboard" {
				c = x
			}
		}
		if c == nil {
			t.Fatal("no session cookie")
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/dashboard" || c.Secure {
			t.Fatalf("session cookie over plain HTTP: %+v", c)
		}
		if c.MaxAge != int(time.Hour/time.Second) {
			t.Errorf("cookie Max-Age %d, want the session TTL", c.MaxAge)
		}
		home := b.get("/dashboard/")
		if home.status != http.StatusOK || !strings.Contains(home.body, "Log out") {
			t.Fatalf("overview after login: %d", home.status)
		}
		// The login page sends a logged-in user on.
		if p := b.get("/dashboard/login"); p.status != http.StatusSeeOther {
			t.Fatalf("login page when logged in: %d", p.status)
		}
	})

	t.Run("over TLS the cookie is Secure", func(t *testing.T) {
		b := hs.browser()
		b.tls, b.origin = true, "https://example.com"
		p := b.login(hs.token("ops-tls", auth.RoleAdmin))
		if p.status != http.StatusSeeOther {
			t.Fatalf("login over TLS: %d %s", p.status, p.body)
		}
		for _, c := range p.res.Cookies() {
			if c.Name == "insure_dashboard" && !c.Secure {
				t.Fatalf("session cookie over TLS is not Secure: %+v", c)
			}
		}
		if p.header.Get("Strict-Transport-Security") == "" {
			t.Error("no HSTS over TLS")
		}
	})

	t.Run("behind a proxy that ends TLS", func(t *testing.T) {
		// The request reaches insure over plain HTTP, with the proxy's
		// Host; the browser's Origin is the public URL.
		proxied := setup(t, func(c *dashboard.Config) { c.PublicURL = "https://insure.example.com" })
		b := proxied.browser()
		b.origin = "https://insure.example.com"
		p := b.login(proxied.token("ops-proxy", auth.RoleAdmin))
		if p.status != http.StatusSeeOther {
			t.Fatalf("login through the proxy: %d %s", p.status, p.body)
		}
		for _, c := range p.res.Cookies() {
			if c.Name == "insure_dashboard" && !c.Secure {
				t.Fatalf("session cookie with an https public URL is not Secure: %+v", c)
			}
		}
		// Another origin is still refused.
		b.origin = "https://evil.example"
		if p := b.post("/dashboard/logout", url.Values{"csrf": {b.csrf()}}); p.status != http.StatusForbidden {
			t.Fatalf("cross-origin POST through the proxy: %d", p.status)
		}
	})

	for name, raw := range map[string]string{
		"an unknown token":   "insure_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
		"a malformed token":  "let me in",
		"no token":           "",
		"an injected cookie": "x; insure_dashboard=y",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			b := hs.browser()
			p := b.login(raw)
			if p.status != http.StatusUnauthorized || b.cookies["insure_dashboard"] != nil {
				t.Fatalf("login with %s: %d, cookies %v", name, p.status, b.cookies)
			}
			if got := b.get("/dashboard/"); got.status != http.StatusSeeOther || location(got) != "/dashboard/login" {
				t.Fatalf("overview without a session: %d to %q", got.status, location(got))
			}
		})
	}

	t.Run("a revoked token is refused", func(t *testing.T) {
		raw := hs.token("gone", auth.RoleAdmin)
		if _, err := hs.tokens.Revoke(context.Background(), "gone"); err != nil {
			t.Fatal(err)
		}
		if p := hs.browser().login(raw); p.status != http.StatusUnauthorized {
			t.Fatalf("login with a revoked token: %d", p.status)
		}
	})

	t.Run("a service token cannot log in", func(t *testing.T) {
		b := hs.browser()
		p := b.login(hs.token("feed", auth.RoleService))
		if p.status != http.StatusForbidden || b.cookies["insure_dashboard"] != nil || !strings.Contains(p.body, "cannot log in") {
			t.Fatalf("service login: %d %s", p.status, p.body)
		}
	})

	t.Run("a login form from elsewhere is refused", func(t *testing.T) {
		raw := hs.token("csrf-login", auth.RoleAdmin)
		// No nonce cookie: the form was not served to this browser.
		b := hs.browser()
		if p := b.post("/dashboard/login", url.Values{"nonce": {"x"}, "token": {raw}}); p.status != http.StatusForbidden {
			t.Fatalf("login without the nonce cookie: %d", p.status)
		}
		// A cross-site origin.
		b = hs.browser()
		b.get("/dashboard/login")
		b.origin = "https://evil.example"
		if p := b.login(raw); p.status != http.StatusForbidden {
			t.Fatalf("cross-origin login: %d", p.status)
		}
	})

	t.Run("failed logins are limited per address", func(t *testing.T) {
		hs := setup(t, func(c *dashboard.Config) { c.LoginFailures = 3 })
		raw := hs.token("limited", auth.RoleAdmin)
		b := hs.browser()
		for range 3 {
			if p := b.login("insure_wrongwrongwrongwrongwrongwrongwrongwrongwro"); p.status != http.StatusUnauthorized {
				t.Fatalf("bad login: %d", p.status)
			}
		}
		if p := b.login(raw); p.status != http.StatusTooManyRequests {
			t.Fatalf("login after 3 failures: %d", p.status)
		}
		hs.clock.Add(6 * time.Minute)
		if p := b.login(raw); p.status != http.StatusSeeOther {
			t.Fatalf("login after the window: %d", p.status)
		}
	})
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()

	t.Run("when its token is revoked", func(t *testing.T) {
		hs := setup(t)
		b := hs.browser()
		b.login(hs.token("revokee", auth.RoleAdmin))
		if p := b.get("/dashboard/"); p.status != http.StatusOK {
			t.Fatalf("before revoke: %d", p.status)
		}
		if _, err := hs.tokens.Revoke(context.Background(), "revokee"); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/dashboard/"); p.status != http.StatusSeeOther || location(p) != "/dashboard/login" {
			t.Fatalf("after revoke: %d to %q", p.status, location(p))
		}
		if p := b.get("/dashboard/live?panels=summary"); p.status != http.StatusUnauthorized {
			t.Fatalf("live after revoke: %d", p.status)
		}
	})

	t.Run("when it expires", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAdmin)
		hs.clock.Add(59 * time.Minute)
		if p := b.get("/dashboard/"); p.status != http.StatusOK {
			t.Fatalf("just before expiry: %d", p.status)
		}
		hs.clock.Add(time.Minute)
		if p := b.get("/dashboard/"); p.status != http.StatusSeeOther || location(p) != "/dashboard/login" {
			t.Fatalf("at expiry: %d to %q", p.status, location(p))
		}
	})

	t.Run("at logout", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAgent)
		stolen := *b.cookies["insure_dashboard"]
		p := b.post("/dashboard/logout", url.Values{"csrf": {b.csrf()}})
		if p.status != http.StatusSeeOther || location(p) != "/dashboard/login" || b.cookies["insure_dashboard"] != nil {
			t.Fatalf("logout: %d to %q, cookies %v", p.status, location(p), b.cookies)
		}
		// The old cookie no longer works anywhere.
		b.cookies["insure_dashboard"] = &stolen
		if p := b.get("/dashboard/"); p.status != http.StatusSeeOther {
			t.Fatalf("old cookie after logout: %d", p.status)
		}
	})

	t.Run("a forged cookie is no session", func(t *testing.T) {
		hs := setup(t)
		b := hs.browser()
		b.cookies["insure_dashboard"] = &http.Cookie{Name: "insure_dashboard", Value: strings.Repeat("A", 43)}
		if p := b.get("/dashboard/"); p.status != http.StatusSeeOther {
			t.Fatalf("forged cookie: %d", p.status)
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	hs := setup(t)
	b := hs.loggedIn(auth.RoleAdmin)
	token := b.csrf()
	// A token that differs from the right one in its first character.
	wrong := "A" + token[1:]
	if token[0] == 'A' {
		wrong = "B" + token[1:]
	}
	retry := func(form url.Values, headers ...string) page {
		form.Set("one", "1")
		return b.post("/dashboard/dead-letters/retry", form, headers...)
	}
	for name, p := range map[string]page{
		"no token":    retry(url.Values{}),
		"wrong token": retry(url.Values{"csrf": {wrong}}),
		"another session's token": func() page {
			other := hs.loggedIn(auth.RoleAgent)
			return retry(url.Values{"csrf": {other.csrf()}})
		}(),
		"cross-site fetch metadata": retry(url.Values{"csrf": {token}}, "Sec-Fetch-Site", "cross-site"),
		"same-site fetch metadata":  retry(url.Values{"csrf": {token}}, "Sec-Fetch-Site", "same-site"),
	} {
		if p.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, p.status)
		}
	}
	b.origin = "https://evil.example"
	if p := retry(url.Values{"csrf": {token}}); p.status != http.StatusForbidden {
		t.Errorf("cross-site Origin: status %d, want 403", p.status)
	}
	b.origin = "null"
	if p := retry(url.Values{"csrf": {token}}); p.status != http.StatusForbidden {
		t.Errorf("null Origin: status %d, want 403", p.status)
	}
	if calls := hs.dls.Calls(); len(calls) != 0 {
		t.Fatalf("refused requests resolved dead letters: %v", calls)
	}
	// The right token, in the form or in the header, from the same origin
	// (or with no Origin at all, as older browsers send).
	b.origin = "http://example.com"
	if p := retry(url.Values{"csrf": {token}}, "Sec-Fetch-Site", "same-origin"); p.status != http.StatusSeeOther {
		t.Fatalf("good token in the form: %d %s", p.status, p.body)
	}
	b.origin = ""
	if p := b.post("/dashboard/dead-letters/retry", url.Values{"one": {"2"}}, "X-CSRF-Token", token); p.status != http.StatusSeeOther {
		t.Fatalf("good token in the header: %d %s", p.status, p.body)
	}
	if calls := hs.dls.Calls(); strings.Join(calls, ",") != "retry 1,retry 2" {
		t.Fatalf("calls %v", calls)
	}
	// Logout is a change too.
	if p := b.post("/dashboard/logout", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("logout without a token: %d", p.status)
	}
}

func TestResolveDeadLetters(t *testing.T) {
	t.Parallel()

	t.Run("retry one at once", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAdmin)
		p := b.post("/dashboard/dead-letters/retry", url.Values{"csrf": {b.csrf()}, "one": {"2"}, "sel": {"1", "3"}})
		if p.status != http.StatusSeeOther || !strings.HasPrefix(location(p), "/dashboard/dead-letters?") {
			t.Fatalf("retry: %d to %q", p.status, location(p))
		}
		if calls := hs.dls.Calls(); strings.Join(calls, ",") != "retry 2" {
			t.Fatalf("calls %v, want only the button's dead letter", calls)
		}
		list := b.get(location(p))
		if !strings.Contains(list.body, "Retried 1 dead letter.") || strings.Contains(list.body, `id="dead-letter-2"`) ||
			!strings.Contains(list.body, `id="dead-letter-1"`) {
			t.Fatalf("list after retry:\n%s", list.body)
		}
	})

	t.Run("discard one after confirming", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAgent)
		csrf := b.csrf()
		p := b.post("/dashboard/dead-letters/discard", url.Values{"csrf": {csrf}, "one": {"3"}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Discard 1 dead letter?") || len(hs.dls.Calls()) != 0 {
			t.Fatalf("discard without confirmation: %d, calls %v\n%s", p.status, hs.dls.Calls(), p.body)
		}
		p = b.post("/dashboard/dead-letters/discard", url.Values{"csrf": {csrf}, "scope": {"one"}, "sel": {"3"}, "confirm": {"yes"}})
		if p.status != http.StatusSeeOther || hs.dls.Status(3) != "discarded" {
			t.Fatalf("confirmed discard: %d, status %s", p.status, hs.dls.Status(3))
		}
	})

	t.Run("a selection", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAdmin)
		csrf := b.csrf()
		p := b.post("/dashboard/dead-letters/retry", url.Values{"csrf": {csrf}, "scope": {"selected"}, "sel": {"1", "3"}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Retry 2 dead letters?") || len(hs.dls.Calls()) != 0 {
			t.Fatalf("selection: %d %v", p.status, hs.dls.Calls())
		}
		p = b.post("/dashboard/dead-letters/retry", url.Values{"csrf": {csrf}, "scope": {"selected"}, "sel": {"1", "3", "9"}, "confirm": {"yes"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("confirmed selection: %d", p.status)
		}
		if calls := strings.Join(hs.dls.Calls(), ","); calls != "retry 1,retry 3,retry 9" {
			t.Fatalf("calls %s", calls)
		}
		if got := b.get(location(p)).body; !strings.Contains(got, "Retried 2 dead letters. 1 had already been resolved or did not exist.") {
			t.Fatalf("flash:\n%s", got)
		}
		if p := b.post("/dashboard/dead-letters/retry", url.Values{"csrf": {csrf}, "scope": {"selected"}}); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("empty selection: %d", p.status)
		}
	})

	t.Run("all", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAdmin)
		csrf := b.csrf()
		p := b.post("/dashboard/dead-letters/discard", url.Values{"csrf": {csrf}, "scope": {"all"}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "Discard all 3 dead letters?") || len(hs.dls.Calls()) != 0 {
			t.Fatalf("all: %d %v\n%s", p.status, hs.dls.Calls(), p.body)
		}
		m := regexp.MustCompile(`name="upto" value="(\d+)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("the confirmation names no bound:\n%s", p.body)
		}
		// A confirmation that does not say what it covers is refused.
		if p := b.post("/dashboard/dead-letters/discard", url.Values{"csrf": {csrf}, "scope": {"all"}, "confirm": {"yes"}}); p.status != http.StatusBadRequest || len(hs.dls.Calls()) != 0 {
			t.Fatalf("confirmed all without a bound: %d %v", p.status, hs.dls.Calls())
		}
		// A dead letter that arrives after the confirmation page is not
		// discarded with those the operator saw.
		hs.dls.add(queue.DeadLetter{ID: 99, JobID: 990, Listener: "SendWelcomeEmail", Queue: "email-normal", EventID: "late", Status: "dead"})
		p = b.post("/dashboard/dead-letters/discard", url.Values{"csrf": {csrf}, "scope": {"all"}, "confirm": {"yes"}, "upto": {m[1]}})
		if p.status != http.StatusSeeOther || strings.Join(hs.dls.Calls(), ",") != "discard-all" {
			t.Fatalf("confirmed all: %d %v", p.status, hs.dls.Calls())
		}
		got := b.get("/dashboard/dead-letters").body
		if strings.Contains(got, `id="dead-letter-1"`) || !strings.Contains(got, `id="dead-letter-99"`) {
			t.Fatal("after discarding all: want the three confirmed ones gone and the late one kept")
		}
	})

	t.Run("auditors change nothing", func(t *testing.T) {
		hs := setup(t)
		b := hs.loggedIn(auth.RoleAuditor)
		list := b.get("/dashboard/dead-letters")
		if list.status != http.StatusOK || !strings.Contains(list.body, `id="dead-letter-1"`) || strings.Contains(list.body, "retry-one") {
			t.Fatalf("auditor's list: %d", list.status)
		}
		p := b.post("/dashboard/dead-letters/retry", url.Values{"csrf": {b.csrf()}, "one": {"1"}})
		if p.status != http.StatusForbidden || len(hs.dls.Calls()) != 0 {
			t.Fatalf("auditor retry: %d %v", p.status, hs.dls.Calls())
		}
	})
}

func TestAccessIsRecorded(t *testing.T) {
	t.Parallel()
	hs := setup(t)
	b := hs.loggedIn(auth.RoleAdmin)
	p := b.post("/dashboard/customers", url.Values{"csrf": {b.csrf()}, "email": {"asha@example.com"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "/dashboard/customers/"+customerID) {
		t.Fatalf("search: %d\n%s", p.status, p.body)
	}
	if p := b.get("/dashboard/customers/" + customerID); p.status != http.StatusOK || !strings.Contains(p.body, "Asha Verma") {
		t.Fatalf("customer: %d", p.status)
	}
	var got []string
	for _, a := range hs.access.Records() {
		if a.Actor != "token:t-admin" || a.Role != "admin" || a.Channel != "dashboard" {
			t.Errorf("record %+v", a)
		}
		got = append(got, a.Action+"/"+a.SubjectType+"/"+a.SubjectID)
	}
	want := "customer.list/customer_list/,customer.profile/customer/" + customerID + ",customer.events/customer/" + customerID
	if strings.Join(got, ",") != want {
		t.Fatalf("recorded %v\nwant %s", got, want)
	}
	// An invalid search answers with the reason, and records nothing.
	before := len(hs.access.Records())
	p = b.post("/dashboard/customers", url.Values{"csrf": {b.csrf()}, "phone": {"not-a-phone"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "is not a phone number") || len(hs.access.Records()) != before {
		t.Fatalf("invalid search: %d", p.status)
	}
	// A read that cannot be recorded is not served.
	hs.access.mu.Lock()
	hs.access.fail = true
	hs.access.mu.Unlock()
	p = b.get("/dashboard/customers/" + customerID)
	if p.status != http.StatusServiceUnavailable || strings.Contains(p.body, "asha@example.com") {
		t.Fatalf("unrecorded read: %d", p.status)
	}
	if p := b.get("/dashboard/customers/0190f3a2-6b1c-7d3e-8f40-00000000dead"); p.status != http.StatusNotFound {
		t.Fatalf("unknown customer: %d", p.status)
	}
}
