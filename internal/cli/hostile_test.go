package cli

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"insure/internal/database/dbtest"
	"insure/internal/httpapi/contracttest"
	"insure/internal/notify"
)

// TestHostileInput sends hostile text through the real HTTP API, with real
// workers, on SQLite and PostgreSQL: valid but nasty text is stored and
// returned intact, invalid input is rejected with a 4xx and writes nothing,
// and names reach the HTML part of emails escaped.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			s := startSystem(t, testConfig(t, d))
			srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
			t.Cleanup(srv.Close)
			// The invalid input runs first, on a quiet system, so that
			// no listener writes while rows are counted.
			t.Run("invalid input is rejected", func(t *testing.T) {
				hostileInvalid(t, s, client{t: t, base: srv.URL})
			})
			t.Run("valid text is kept intact", func(t *testing.T) {
				hostileValid(t, s, client{t: t, base: srv.URL})
			})
			t.Run("emails escape names in HTML", func(t *testing.T) {
				hostileEscaping(t, s, client{t: t, base: srv.URL})
			})
		})
	}
}

// hostileNames are valid customer names that tend to break careless code.
func hostileNames() []string {
	return []string{
		"Robert'); DROP TABLE customers;--",
		`" OR 1=1 --`,
		`%_\`,
		`%_\\`,
		"'; DELETE FROM event_store; SELECT '",
		"<script>alert(1)</script>",
		`<img src=x onerror="alert('x')">`,
		"&amp; &lt;b&gt; &#x27; &#39; &nbsp; &",
		"😀 Asha 👨‍👩‍👧 Verma 🇮🇳",
		"आशा वर्मा",
		"தமிழ்செல்வி இராமசாமி",
		"مرحبا بالعالم",
		"שָׁלוֹם עֲלֵיכֶם",
		"\u202eevil\u202c.exe",
		"{{.Token}} ${jndi:ldap://x/a} %s %n %!v",
		strings.Repeat("अ", 200), // the longest name allowed, 600 bytes
		strings.Repeat("😀", 200),
	}
}

// hostileEmails are valid addresses with special characters in the local
// part, already in normal form (lower case).
func hostileEmails() []string {
	return []string{
		"o'brien+test@example.com",
		"x'or'1'='1--@example.com",
		"a%b_c{d}|e~f@example.com",
		"!#$&*/=?^`{|}~@example.com",
	}
}

// hostileVehicleText are valid vehicle makes and models (at most 64
// characters).
func hostileVehicleText() []string {
	return []string{
		"Robert'); DROP TABLE quotations;--",
		`" OR 1=1 --`,
		`%_\`,
		"<script>alert(1)</script>",
		"&lt;Maruti&gt; &amp;",
		"मारुति सुज़ुकी",
		"தமிழ் கார்",
		"🚗 Swift 😀",
		"\u202eTfiws",
		strings.Repeat("ऑ", 64),
	}
}

func hostileValid(t *testing.T, s *System, c client) {
	ctx := context.Background()
	type registered struct{ id, name, email string }
	var all []registered
	prefs := map[string]bool{"email": true, "whatsapp": true}

	names := hostileNames()
	for i, name := range names {
		email := fmt.Sprintf("hostile%d@example.com", i)
		r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
			"name": name, "email": email, "phone": fmt.Sprintf("98100%05d", i), "preferences": prefs})
		got := r.json(t)
		id, _ := got["id"].(string)
		if got["name"] != name {
			t.Errorf("registration %d answered name %q, want %q", i, got["name"], name)
		}
		all = append(all, registered{id: id, name: name, email: email})
	}
	for i, name := range hostileEmails() {
		phone := fmt.Sprintf("98200%05d", i)
		r := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Mail " + name, "email": name, "phone": phone})
		all = append(all, registered{id: r.json(t)["id"].(string), name: "Mail " + name, email: name})
		// The same address in another case is the same address.
		r = c.expect(409, "POST", "/api/v1/customers", map[string]any{"name": "Twin", "email": strings.ToUpper(name), "phone": phone})
		if code, field := errorField(t, r); code != "conflict" || field != "email" {
			t.Errorf("duplicate %q: %s", strings.ToUpper(name), r.body)
		}
	}

	// Everything comes back as it was sent, and so does the registration
	// event.
	for _, reg := range all {
		got := c.expect(200, "GET", "/api/v1/customers/"+reg.id, nil).json(t)
		if got["name"] != reg.name || got["email"] != reg.email {
			t.Errorf("GET %s: name %q email %q, want %q %q", reg.id, got["name"], got["email"], reg.name, reg.email)
		}
		evs := hostileHistory(c, reg.id)
		if len(evs) != 1 || evs[0]["event_name"] != "CustomerRegistered" {
			t.Errorf("history of %q: %v", reg.name, evs)
			continue
		}
		if data := evs[0]["data"].(map[string]any); data["name"] != reg.name || data["email"] != reg.email {
			t.Errorf("CustomerRegistered data: name %q email %q, want %q %q", data["name"], data["email"], reg.name, reg.email)
		}
	}

	// Renaming each hostile customer to the next hostile name keeps both,
	// in the answer and in the change event.
	for i, reg := range all[:len(names)] {
		next := names[(i+1)%len(names)]
		got := c.expect(200, "PATCH", "/api/v1/customers/"+reg.id, map[string]any{"name": next}, "If-Match", `"1"`).json(t)
		if got["name"] != next || got["version"] != float64(2) {
			t.Errorf("PATCH %q -> %q answered %q version %v", reg.name, next, got["name"], got["version"])
		}
		if got := c.expect(200, "GET", "/api/v1/customers/"+reg.id, nil).json(t); got["name"] != next {
			t.Errorf("GET after PATCH: %q, want %q", got["name"], next)
		}
		evs := hostileHistory(c, reg.id)
		if len(evs) != 2 || evs[1]["event_name"] != "CustomerProfileUpdated" {
			t.Errorf("history of %q after PATCH: %v", next, evs)
			continue
		}
		changes, _ := evs[1]["data"].(map[string]any)["changes"].(map[string]any)
		ch, _ := changes["name"].(map[string]any)
		if ch["old"] != reg.name || ch["new"] != next || len(changes) != 1 {
			t.Errorf("CustomerProfileUpdated changes: %v, want name %q -> %q", changes, reg.name, next)
		}
		all[i].name = next
	}
	// An address with special characters can be changed to another one.
	mailer := all[len(names)]
	got := c.expect(200, "PATCH", "/api/v1/customers/"+mailer.id, map[string]any{"email": "o'brien+new@example.com"}, "If-Match", `"1"`).json(t)
	if got["email"] != "o'brien+new@example.com" {
		t.Errorf("PATCH email: %v", got["email"])
	}
	all[len(names)].email = "o'brien+new@example.com"
	evs := hostileHistory(c, mailer.id)
	if ch, _ := evs[len(evs)-1]["data"].(map[string]any)["changes"].(map[string]any)["email"].(map[string]any); ch["old"] != mailer.email || ch["new"] != "o'brien+new@example.com" {
		t.Errorf("email change event: %v", evs[len(evs)-1]["data"])
	}

	// Vehicle makes and models, in a quotation's answer and its event; the
	// quotation is rated and its PDF rendered all the same.
	vt := hostileVehicleText()
	want := map[string][2]string{} // quotation id -> make, model
	for i, mk := range vt {
		model := vt[(i+1)%len(vt)]
		r := c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": all[i].id, "product": "motor", "sum_insured": 50_000_000,
			"details": map[string]any{"vehicle_make": mk, "vehicle_model": model, "vehicle_year": time.Now().Year() - 2}})
		q := r.json(t)
		details, _ := q["details"].(map[string]any)
		if details["vehicle_make"] != mk || details["vehicle_model"] != model {
			t.Errorf("quotation answered %q / %q, want %q / %q", details["vehicle_make"], details["vehicle_model"], mk, model)
		}
		want[q["id"].(string)] = [2]string{mk, model}
	}
	for id, mm := range want {
		var q map[string]any
		waitUntil(t, "quotation "+id+" to be generated", func() bool {
			q = c.expect(200, "GET", "/api/v1/quotations/"+id, nil).json(t)
			return q["status"] != "requested"
		})
		details, _ := q["details"].(map[string]any)
		if q["status"] != "generated" || details["vehicle_make"] != mm[0] || details["vehicle_model"] != mm[1] {
			t.Errorf("quotation %s: status %v (%v), details %q / %q, want %q / %q",
				id, q["status"], q["failure_reason"], details["vehicle_make"], details["vehicle_model"], mm[0], mm[1])
		}
	}
	page := c.expect(200, "GET", "/api/v1/events?type=QuotationRequested&limit=1000", nil).json(t)
	seen := 0
	for _, e := range page["events"].([]any) {
		data := e.(map[string]any)["data"].(map[string]any)
		mm, ok := want[data["quotation_id"].(string)]
		if !ok {
			continue
		}
		seen++
		details, _ := data["details"].(map[string]any)
		if details["vehicle_make"] != mm[0] || details["vehicle_model"] != mm[1] {
			t.Errorf("QuotationRequested details %q / %q, want %q / %q", details["vehicle_make"], details["vehicle_model"], mm[0], mm[1])
		}
	}
	if seen != len(want) {
		t.Errorf("%d QuotationRequested events, want %d", seen, len(want))
	}

	// The tables are all still there, and every listener coped.
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	list := c.expect(200, "GET", "/api/v1/customers?limit=200", nil).json(t)
	byID := map[string]string{}
	for _, it := range list["customers"].([]any) {
		m := it.(map[string]any)
		byID[m["id"].(string)] = m["name"].(string)
	}
	for _, reg := range all {
		if byID[reg.id] != reg.name {
			t.Errorf("customer list: %s is %q, want %q", reg.id, byID[reg.id], reg.name)
		}
	}
	if n := count(t, s.DB, "SELECT COUNT(*) FROM customers"); n != len(byID) {
		t.Errorf("%d customers in the table, %d in the list", n, len(byID))
	}
	if dl := c.expect(200, "GET", "/api/v1/dead-letters", nil).json(t); len(dl["dead_letters"].([]any)) != 0 {
		t.Errorf("dead letters after hostile text: %s", c.do("GET", "/api/v1/dead-letters", nil).body)
	}
	msgs := c.expect(200, "GET", "/api/v1/messages?limit=200", nil).json(t)
	for _, it := range msgs["messages"].([]any) {
		if m := it.(map[string]any); m["status"] != "sent" {
			t.Errorf("message %v/%v to %v is %v", m["channel"], m["template"], m["customer_id"], m["status"])
		}
	}
}

// hostileHistory returns the events of customer id, oldest first.
func hostileHistory(c client, id string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for _, e := range c.expect(200, "GET", "/api/v1/customers/"+id+"/events", nil).json(c.t)["events"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// hostileRows counts the rows of the tables a write would touch.
func hostileRows(t *testing.T, s *System) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, q := range []string{
		"SELECT COUNT(*) FROM event_store",
		"SELECT COUNT(*) FROM customers",
		"SELECT COUNT(*) FROM customer_emails",
		"SELECT COUNT(*) FROM quotations",
	} {
		out[q] = count(t, s.DB, q)
	}
	return out
}

// hostileCase is one hostile request that must be refused.
type hostileCase struct {
	name         string
	method, path string
	body         any
	want         int  // the status; 0 means any 4xx
	specValid    bool // the request itself matches the spec
}

func hostileInvalid(t *testing.T, s *System, c client) {
	ctx := context.Background()
	base := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Base Customer", "email": "base@example.com", "phone": "9876500000"}).json(t)
	id := base["id"].(string)
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	year := time.Now().Year() - 2

	// Each registration has its own address, so that none is refused as a
	// duplicate when an earlier one was wrongly accepted.
	n := 0
	email := func() string { n++; return fmt.Sprintf("new%d@example.com", n) }
	register := func(name string) map[string]any {
		return map[string]any{"name": name, "email": email(), "phone": "9876500001"}
	}
	quote := func(sum any, mk, model string) map[string]any {
		return map[string]any{"customer_id": id, "product": "motor", "sum_insured": sum,
			"details": map[string]any{"vehicle_make": mk, "vehicle_model": model, "vehicle_year": year}}
	}
	rawRegister := func(nameJSON string) string {
		return `{"name":` + nameJSON + `,"email":"` + email() + `","phone":"9876500001"}`
	}
	rawQuote := func(sumJSON, makeJSON string) string {
		return `{"customer_id":"` + id + `","product":"motor","sum_insured":` + sumJSON +
			`,"details":{"vehicle_make":` + makeJSON + `,"vehicle_model":"Swift","vehicle_year":` + fmt.Sprint(year) + `}}`
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	huge := `"` + strings.Repeat("a", 1<<20) + `"`
	customer := "/api/v1/customers/" + id

	cases := []hostileCase{
		// Invalid UTF-8 sent as raw bytes.
		{name: "invalid UTF-8 in a name", method: "POST", path: "/api/v1/customers", body: []byte(rawRegister("\"Asha \xff\xfe Verma\""))},
		{name: "overlong UTF-8 in a name", method: "POST", path: "/api/v1/customers", body: []byte(rawRegister("\"Asha \xc0\xaf\""))},
		{name: "UTF-8 surrogate in a name", method: "POST", path: "/api/v1/customers", body: []byte(rawRegister("\"Asha \xed\xa0\x80\""))},
		{name: "invalid UTF-8 in a new name", method: "PATCH", path: customer, body: []byte("{\"name\":\"Asha \xff\"}")},
		{name: "invalid UTF-8 in a vehicle make", method: "POST", path: "/api/v1/quotations", body: []byte(rawQuote("50000000", "\"Maruti \xff\""))},
		{name: "unpaired surrogate escape in a name", method: "POST", path: "/api/v1/customers", body: rawRegister(`"Asha \ud800 Verma"`)},

		// Control characters, escaped and raw.
		{name: "NUL escape in a name", method: "POST", path: "/api/v1/customers", body: register("Asha\x00Verma"), want: 422, specValid: true},
		{name: "BEL in a name", method: "POST", path: "/api/v1/customers", body: register("Asha\aVerma"), want: 422, specValid: true},
		{name: "ESC sequence in a name", method: "POST", path: "/api/v1/customers", body: register("\x1b[31mAsha\x1b[0m"), want: 422, specValid: true},
		{name: "DEL in a name", method: "POST", path: "/api/v1/customers", body: register("Asha\x7f"), want: 422, specValid: true},
		{name: "NEL in a name", method: "POST", path: "/api/v1/customers", body: register("Asha\u0085Verma"), want: 422, specValid: true},
		{name: "newline in a name", method: "POST", path: "/api/v1/customers", body: register("Asha\nVerma"), want: 422, specValid: true},
		{name: "raw NUL byte in a JSON string", method: "POST", path: "/api/v1/customers", body: []byte(rawRegister("\"Asha\x00Verma\"")), want: 400},
		{name: "raw ESC byte in a JSON string", method: "POST", path: "/api/v1/customers", body: []byte(rawRegister("\"Asha\x1bVerma\"")), want: 400},
		{name: "NUL escape in a new name", method: "PATCH", path: customer, body: map[string]any{"name": "Asha\x00"}, want: 422, specValid: true},
		{name: "BEL in a new name", method: "PATCH", path: customer, body: map[string]any{"name": "\a"}, want: 422, specValid: true},
		{name: "NUL escape in a vehicle make", method: "POST", path: "/api/v1/quotations", body: quote(50_000_000, "Maruti\x00", "Swift"), want: 422, specValid: true},
		{name: "ESC in a vehicle model", method: "POST", path: "/api/v1/quotations", body: quote(50_000_000, "Maruti", "\x1b[2JSwift"), want: 422, specValid: true},

		// Names that are too long or empty.
		{name: "a 10 000-character name", method: "POST", path: "/api/v1/customers", body: register(strings.Repeat("a", 10_000)), want: 422},
		{name: "a 201-character name", method: "POST", path: "/api/v1/customers", body: register(strings.Repeat("आ", 201)), want: 422},
		{name: "a 10 000-character new name", method: "PATCH", path: customer, body: map[string]any{"name": strings.Repeat("a", 10_000)}, want: 422},
		{name: "a name of spaces", method: "POST", path: "/api/v1/customers", body: register("     "), want: 422, specValid: true},
		{name: "a name of Unicode spaces", method: "POST", path: "/api/v1/customers", body: register("\u00a0\u2003\u3000"), want: 422, specValid: true},
		{name: "a new name of spaces", method: "PATCH", path: customer, body: map[string]any{"name": "  "}, want: 422, specValid: true},
		{name: "a 65-character vehicle make", method: "POST", path: "/api/v1/quotations", body: quote(50_000_000, strings.Repeat("m", 65), "Swift"), want: 422, specValid: false},
		{name: "a vehicle model of spaces", method: "POST", path: "/api/v1/quotations", body: quote(50_000_000, "Maruti", "   "), want: 422, specValid: true},

		// Bodies too large or too deep.
		{name: "a 1 MiB name", method: "POST", path: "/api/v1/customers", body: rawRegister(huge), want: 413},
		{name: "a 1 MiB new name", method: "PATCH", path: customer, body: `{"name":` + huge + `}`, want: 413},
		{name: "a 1 MiB vehicle make", method: "POST", path: "/api/v1/quotations", body: rawQuote("50000000", huge), want: 413},
		{name: "a name nested 10 000 deep", method: "POST", path: "/api/v1/customers", body: rawRegister(deep(10_000)), want: 400},
		{name: "a name nested 100 000 deep", method: "POST", path: "/api/v1/customers", body: rawRegister(deep(100_000)), want: 400},
		{name: "a body nested 10 000 deep", method: "POST", path: "/api/v1/customers", body: deep(10_000), want: 400},
		{name: "details nested 10 000 deep", method: "POST", path: "/api/v1/quotations",
			body: `{"customer_id":"` + id + `","product":"motor","sum_insured":50000000,"details":` +
				strings.Repeat(`{"vehicle_make":`, 10_000) + `"x"` + strings.Repeat("}", 10_000) + `}`},

		// Numbers.
		{name: "sum_insured beyond int64", method: "POST", path: "/api/v1/quotations", body: rawQuote("9223372036854775808", `"Maruti"`), want: 400},
		{name: "sum_insured of 1e400", method: "POST", path: "/api/v1/quotations", body: rawQuote("1e400", `"Maruti"`), want: 400},
		{name: "fractional sum_insured", method: "POST", path: "/api/v1/quotations", body: rawQuote("1.5", `"Maruti"`), want: 400},
		{name: "sum_insured as a string", method: "POST", path: "/api/v1/quotations", body: rawQuote(`"50000000"`, `"Maruti"`), want: 400},
		{name: "negative sum_insured", method: "POST", path: "/api/v1/quotations", body: quote(-50_000_000, "Maruti", "Swift"), want: 422},
		{name: "zero sum_insured", method: "POST", path: "/api/v1/quotations", body: quote(0, "Maruti", "Swift"), want: 422},
		{name: "sum_insured above the maximum", method: "POST", path: "/api/v1/quotations", body: quote(100_000_000_001, "Maruti", "Swift"), want: 422},

		// Paths and query parameters.
		{name: "path traversal in a document id", method: "GET", path: "/api/v1/documents/..%2f..%2fetc%2fpasswd", want: 404},
		{name: "dot-encoded traversal in a document id", method: "GET", path: "/api/v1/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd", want: 404},
		{name: "backslash traversal in a document id", method: "GET", path: "/api/v1/documents/..%5c..%5cwindows%5cwin.ini", want: 404},
		{name: "SQL in a customer id", method: "GET", path: "/api/v1/customers/" + url.PathEscape("' OR '1'='1"), want: 404},
		{name: "SQL in channel", method: "GET", path: "/api/v1/messages?channel=" + url.QueryEscape("email'--"), want: 422},
		{name: "SQL in customer_id", method: "GET", path: "/api/v1/messages?customer_id=" + url.QueryEscape("' OR 1=1"), want: 422},
		{name: "SQL in a message cursor", method: "GET", path: "/api/v1/messages?after=" + url.QueryEscape("' OR 1=1 --"), want: 422, specValid: true},
		{name: "SQL in an event type", method: "GET", path: "/api/v1/events?type=" + url.QueryEscape("CustomerRegistered' OR '1'='1"), want: 422},
		{name: "a huge limit", method: "GET", path: "/api/v1/customers?limit=99999999999999999999999", want: 422},
		{name: "a limit of a million", method: "GET", path: "/api/v1/messages?limit=1000000", want: 422},
		{name: "a limit in exponent form", method: "GET", path: "/api/v1/events?limit=1e3", want: 422},
		{name: "a negative limit", method: "GET", path: "/api/v1/customers?limit=-1", want: 422},
	}
	for _, tc := range cases {
		// A wrongly accepted request starts listeners; let them finish
		// before counting, so that one failure does not hide the next.
		if err := s.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		before := hostileRows(t, s)
		headers := []string{}
		if !tc.specValid {
			headers = append(headers, contracttest.SkipRequestHeader, "1")
		}
		r := c.do(tc.method, tc.path, tc.body, headers...)
		switch {
		case r.status < 400 || r.status >= 500:
			t.Errorf("%s: status %d, want a 4xx: %.300s", tc.name, r.status, r.body)
		case tc.want != 0 && r.status != tc.want:
			t.Errorf("%s: status %d, want %d: %.300s", tc.name, r.status, tc.want, r.body)
		}
		if after := hostileRows(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: rows changed from %v to %v", tc.name, before, after)
		}
	}
	// The customer list takes any string as its cursor (an id to start
	// after) and binds it as a parameter: SQL in it is refused or harmless.
	r := c.do("GET", "/api/v1/customers?after="+url.QueryEscape("' OR 1=1 --"), nil)
	if r.status != 200 && r.status != 422 {
		t.Errorf("SQL in a customer cursor: status %d: %s", r.status, r.body)
	}
	if r.status == 200 {
		if got := len(r.json(t)["customers"].([]any)); got != count(t, s.DB, "SELECT COUNT(*) FROM customers") {
			t.Errorf("SQL in a customer cursor listed %d customers", got)
		}
	}
	if got := c.expect(200, "GET", customer, nil).json(t); got["name"] != "Base Customer" || got["version"] != float64(1) {
		t.Errorf("the base customer changed: %v", got)
	}

	// Duplicate keys. Today encoding/json accepts them and keeps the last
	// value, matching keys case-insensitively, so "Name" (not a field of
	// the spec) overrides "name". Refusing them (400) would be fine too;
	// either way what is stored must be what the answer and the event say,
	// and a refusal writes nothing.
	for i, tc := range []struct{ body, want string }{
		{`{"name":"First Name","name":"Second Name","email":"dup0@example.com","phone":"9876500010"}`, "Second Name"},
		{`{"name":"First Name","Name":"Second Name","email":"dup1@example.com","phone":"9876500011"}`, "Second Name"},
		{`{"NAME":"Upper Name","email":"dup2@example.com","phone":"9876500012"}`, "Upper Name"},
	} {
		if err := s.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		before := hostileRows(t, s)
		r := c.do("POST", "/api/v1/customers", tc.body, contracttest.SkipRequestHeader, "1")
		switch r.status {
		case 201:
			got := r.json(t)
			cid, _ := got["id"].(string)
			stored := c.expect(200, "GET", "/api/v1/customers/"+cid, nil).json(t)
			evs := hostileHistory(c, cid)
			if got["name"] != tc.want || stored["name"] != tc.want || len(evs) != 1 || evs[0]["data"].(map[string]any)["name"] != tc.want {
				t.Errorf("%s: answer %q, stored %q, events %v; want %q everywhere", tc.body, got["name"], stored["name"], evs, tc.want)
			}
		case 400:
			if after := hostileRows(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("refused duplicate keys %d: rows changed from %v to %v", i, before, after)
			}
		default:
			t.Errorf("%s: status %d, want 201 or 400: %s", tc.body, r.status, r.body)
		}
	}
}

func hostileEscaping(t *testing.T, s *System, c client) {
	ctx := context.Background()
	const name = "<script>alert(1)</script>"
	c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": name, "email": "xss@example.com", "phone": "9876500099"})
	var welcome notify.RecordedEmail
	waitUntil(t, "the welcome email", func() bool {
		mails, err := notify.RecordedEmails(ctx, s.DB, s.Vault)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			if m.To == "xss@example.com" && strings.Contains(m.Subject, "Welcome") {
				welcome = m
				return true
			}
		}
		return false
	})
	if !strings.Contains(welcome.Text, "Hello "+name+",") {
		t.Errorf("the text part lacks the raw name:\n%s", welcome.Text)
	}
	if !strings.Contains(welcome.HTML, "Hello &lt;script&gt;alert(1)&lt;/script&gt;,") {
		t.Errorf("the HTML part lacks the escaped name:\n%s", welcome.HTML)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	mails, err := notify.RecordedEmails(ctx, s.DB, s.Vault)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		for _, raw := range []string{"<script", "<img src=x", `onerror="alert`} {
			if strings.Contains(m.HTML, raw) {
				t.Errorf("email %q to %s has %q unescaped in its HTML part", m.Subject, m.To, raw)
			}
		}
	}
}
