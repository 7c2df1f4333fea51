package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"insure/internal/auth"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// checkNoInline parses an HTML page and fails for anything the CSP would
// block or that runs script inline: a script element with a body or
// without src, a style element or attribute, an event handler attribute,
// a javascript: URL, or an asset from another origin.
func checkNoInline(t *testing.T, name, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not HTML: %v", name, err)
	}
	scripts := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[strings.ToLower(a.Key)] = a.Val
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") {
					t.Errorf("%s: <%s> has an event handler attribute %s", name, n.Data, a.Key)
				}
				if key == "style" {
					t.Errorf("%s: <%s> has an inline style attribute", name, n.Data)
				}
				if (key == "href" || key == "src" || key == "action" || key == "formaction") &&
					(strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") || strings.Contains(a.Val, "//")) {
					t.Errorf("%s: <%s %s=%q> leaves the dashboard's origin or runs script", name, n.Data, a.Key, a.Val)
				}
			}
			switch n.Data {
			case "script":
				scripts++
				if attrs["src"] == "" || n.FirstChild != nil {
					t.Errorf("%s: an inline <script>", name)
				}
			case "style":
				t.Errorf("%s: an inline <style> element", name)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 {
		t.Errorf("%s: %d script elements, want the one dashboard.js", name, scripts)
	}
}

func TestEveryPageHasTheCSPAndNoInlineScript(t *testing.T) {
	t.Parallel()
	hs := setup(t)
	anon := hs.browser()
	login := anon.get("/dashboard/login")
	pages := map[string]page{"login": login}
	b := hs.loggedIn(auth.RoleAdmin)
	csrf := b.csrf()
	for name, path := range map[string]string{
		"overview": "/dashboard/", "dead letters": "/dashboard/dead-letters", "events": "/dashboard/events",
		"events filtered": "/dashboard/events?type=CustomerRegistered", "event": "/dashboard/events/1",
		"customers": "/dashboard/customers", "customer": "/dashboard/customers/" + customerID,
		"not found": "/dashboard/nope", "bad filter": "/dashboard/events?type=Nope",
	} {
		pages[name] = b.get(path)
	}
	pages["search"] = b.post("/dashboard/customers", url.Values{"csrf": {csrf}, "name": {"asha"}})
	pages["confirm"] = b.post("/dashboard/dead-letters/retry", url.Values{"csrf": {csrf}, "scope": {"all"}})
	pages["forbidden"] = b.post("/dashboard/dead-letters/retry", url.Values{"one": {"1"}})
	for name, p := range pages {
		if got := p.header.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("%s: CSP %q", name, got)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
			if got := p.header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", name, h, got, want)
			}
		}
		if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q", name, p.header.Get("Content-Type"))
		}
		checkNoInline(t, name, p.body)
	}
	for name, want := range map[string]int{"not found": 404, "bad filter": 422, "forbidden": 403, "event": 200, "search": 200} {
		if pages[name].status != want {
			t.Errorf("%s: status %d, want %d", name, pages[name].status, want)
		}
	}
	// The assets are served, with the CSP too, and the script has no eval.
	for _, path := range []string{"/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css"} {
		p := anon.get(path)
		if p.status != http.StatusOK || p.header.Get("Content-Security-Policy") != wantCSP || len(p.body) < 100 {
			t.Fatalf("%s: %d", path, p.status)
		}
		for _, bad := range []string{"eval(", "new Function", "document.write", "cdn", "http://", "https://"} {
			if strings.Contains(p.body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestAgentSeesNoEventData(t *testing.T) {
	t.Parallel()
	hs := setup(t)
	agent := hs.loggedIn(auth.RoleAgent)
	admin := hs.loggedIn(auth.RoleAdmin)

	// The stream page: names, positions and ids, but no data or metadata.
	p := agent.get("/dashboard/events")
	if p.status != http.StatusOK || !strings.Contains(p.body, "CustomerProfileUpdated") || !strings.Contains(p.body, hs.events.events[0].EventID) {
		t.Fatalf("agent's stream page: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, secretMarker) || strings.Contains(p.body, "event-data") {
		t.Fatal("the agent's stream page shows event data")
	}
	if p := admin.get("/dashboard/events"); !strings.Contains(p.body, secretMarker) {
		t.Fatal("the admin's stream page lacks the event data")
	}

	// The raw event page is refused on the server.
	if p := agent.get("/dashboard/events/1"); p.status != http.StatusForbidden || strings.Contains(p.body, secretMarker) {
		t.Fatalf("agent's event page: %d", p.status)
	}
	if p := admin.get("/dashboard/events/1"); p.status != http.StatusOK || !strings.Contains(p.body, secretMarker) {
		t.Fatalf("admin's event page: %d", p.status)
	}

	// The customer's timeline: the agent sees the events' names only.
	p = agent.get("/dashboard/customers/" + customerID)
	if p.status != http.StatusOK || !strings.Contains(p.body, "CustomerRegistered") || strings.Contains(p.body, secretMarker) {
		t.Fatalf("agent's timeline: %d, has data: %v", p.status, strings.Contains(p.body, secretMarker))
	}
	if p := admin.get("/dashboard/customers/" + customerID); !strings.Contains(p.body, secretMarker) {
		t.Fatal("the admin's timeline lacks the event data")
	}
	// The agent's stream page recorded no read of event data; the admin's did.
	for _, a := range hs.access.Records() {
		if a.Role == "agent" && a.Action != "customer.profile" {
			t.Errorf("agent read recorded as %s", a.Action)
		}
	}

	// The live stream sends the agent new events without their data.
	srv := httptest.NewServer(hs.handler)
	t.Cleanup(srv.Close)
	events := openLive(t, srv.URL, agent, "/dashboard/live?panels=summary&stream=1&after=3")
	hs.events.Append("CustomerEmailVerified", customerID)
	msg := events.next(t, "events")
	if !strings.Contains(msg["html"].(string), "CustomerEmailVerified") || strings.Contains(msg["html"].(string), secretMarker) {
		t.Fatalf("agent's live events: %v", msg)
	}
	adminEvents := openLive(t, srv.URL, admin, "/dashboard/live?panels=summary&stream=1&after=3")
	if msg := adminEvents.next(t, "events"); !strings.Contains(msg["html"].(string), secretMarker) {
		t.Fatalf("admin's live events lack the data: %v", msg)
	}
}

// liveStream reads a live connection's messages.
type liveStream struct {
	sc   *bufio.Scanner
	body func() error
}

func openLive(t *testing.T, base string, b *browser, path string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return &liveStream{sc: bufio.NewScanner(res.Body), body: res.Body.Close}
}

// next returns the data of the next message named name, skipping others;
// it fails after 10 seconds.
func (l *liveStream) next(t *testing.T, name string) map[string]any {
	t.Helper()
	type msg struct {
		name string
		data map[string]any
		err  error
	}
	ch := make(chan msg, 1)
	go func() {
		var event string
		for l.sc.Scan() {
			line := l.sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == name:
				var m map[string]any
				err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m)
				ch <- msg{name: event, data: m, err: err}
				return
			}
		}
		ch <- msg{err: l.sc.Err()}
	}()
	select {
	case m := <-ch:
		if m.err != nil || m.data == nil {
			t.Fatalf("live stream ended before a %s message: %v", name, m.err)
		}
		return m.data
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s message within 10s", name)
	}
	return nil
}

func TestLive(t *testing.T) {
	t.Parallel()
	hs := setup(t)
	b := hs.loggedIn(auth.RoleAdmin)
	srv := httptest.NewServer(hs.handler)
	t.Cleanup(srv.Close)
	l := openLive(t, srv.URL, b, "/dashboard/live?panels=summary,deadletters,chart&stream=1&after=3&type=CustomerRegistered")
	seen := map[string]string{}
	for len(seen) < 3 {
		m := l.next(t, "panel")
		seen[m["id"].(string)] = m["html"].(string)
	}
	if !strings.Contains(seen["deadletters"], `id="dead-letter-2"`) || !strings.Contains(seen["chart"], "<rect") ||
		!strings.Contains(seen["summary"], `id="events-last-hour">7<`) {
		t.Fatalf("panels: %v", seen)
	}
	// A change is sent: the dead letter list without the retried one.
	if _, err := hs.dls.Retry(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	m := l.next(t, "panel")
	if m["id"] != "deadletters" || strings.Contains(m["html"].(string), `id="dead-letter-2"`) {
		t.Fatalf("after a retry: %v", m)
	}
	// New events of the filtered type only.
	hs.events.Append("QuotationRequested", customerID)
	e := hs.events.Append("CustomerRegistered", "0190f3a2-6b1c-7d3e-8f40-000000000009")
	m = l.next(t, "events")
	if html := m["html"].(string); !strings.Contains(html, e.EventID) || strings.Contains(html, "QuotationRequested") || m["last"] != float64(e.Position) {
		t.Fatalf("events: %v", m)
	}
	// A revoked token ends the live page.
	if _, err := hs.tokens.Revoke(context.Background(), "t-admin"); err != nil {
		t.Fatal(err)
	}
	l.next(t, "ended")

	// Bad parameters are refused before the stream opens.
	b2 := hs.loggedIn(auth.RoleAuditor)
	for _, q := range []string{"panels=nope", "panels=summary&stream=1", "panels=summary&stream=1&after=0&type=Nope"} {
		if p := b2.get("/dashboard/live?" + q); p.status == http.StatusOK {
			t.Errorf("live?%s: %d", q, p.status)
		}
	}
}
