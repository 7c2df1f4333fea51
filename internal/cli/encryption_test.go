package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"insure/internal/config"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/httpapi/contracttest"
	"insure/internal/keyring"
)

// probe is a customer whose every personal value is distinctive, so that
// finding one of them anywhere in the database means it was stored in
// clear.
type probe struct {
	name, email, phone, dob string
	// needles are the strings that must not appear: each name token, the
	// email's local part and domain, the phone's national digits, the date.
	needles []string
}

func newProbe(tag string) probe {
	digit := string(rune('0' + (tag[0]-'A'+1)%10))
	p := probe{
		name:  "Zenobia Quillfeather " + tag,
		email: "zenobia.quill." + strings.ToLower(tag) + "@plaintext-probe.example",
		phone: "+91 98111 2233" + digit,
		dob:   "1961-07-23",
	}
	p.needles = []string{"Zenobia", "zenobia", "Quillfeather", "quillfeather", "Quillfeather " + tag,
		"plaintext-probe", "zenobia.quill", "98111 2233" + digit, "981112233" + digit, "1961-07-23"}
	return p
}

func (p probe) register(c client) string {
	c.t.Helper()
	r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
		"name": p.name, "email": p.email, "phone": p.phone, "date_of_birth": p.dob, "channel": "web",
		"preferences": map[string]bool{"email": true, "whatsapp": true}})
	id, _ := r.json(c.t)["id"].(string)
	if id == "" {
		c.t.Fatalf("registration returned no id: %s", r.body)
	}
	return id
}

// quoteAndInsure requests a quotation for customer id, waits for it and
// issues a policy from it that ends soon (so a renewal reminder follows).
func quoteAndInsure(t *testing.T, s *System, c client, id string) string {
	t.Helper()
	r := c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "motor", "sum_insured": 50_000_000,
		"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": s.Now().Year() - 2}})
	qid, _ := r.json(t)["id"].(string)
	var premium float64
	waitUntil(t, "quotation generated", func() bool {
		q := c.expect(200, "GET", "/api/v1/quotations/"+qid, nil).json(t)
		quotes, _ := q["quotes"].([]any)
		for _, x := range quotes {
			m, _ := x.(map[string]any)
			if m["insurer"] == "acme" && m["declined"] != true {
				premium, _ = m["premium"].(float64)
			}
		}
		return q["status"] == "generated"
	})
	today := s.Now()
	pr := c.expect(201, "POST", "/api/v1/policies", map[string]any{"customer_id": id, "quotation_id": qid, "insurer": "acme",
		"product": "motor", "premium": premium, "sum_insured": 50_000_000,
		"start_date": today.AddDate(0, 0, -355).Format("2006-01-02"), "end_date": today.AddDate(0, 0, 10).Format("2006-01-02")})
	pid, _ := pr.json(t)["id"].(string)
	return pid
}

// TestPersonalDataEncryptedAtRest writes known personal values through the
// API, runs every workflow over them (emails, WhatsApp messages, PDFs,
// audit), then reads the raw database (the SQLite file with its WAL, or
// every table of the PostgreSQL schema) and finds none of them in clear,
// while the API still returns them and search by email, phone and name
// still finds the customer.
func TestPersonalDataEncryptedAtRest(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t, d)
			s := startSystem(t, cfg)
			srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
			t.Cleanup(srv.Close)
			c := client{t: t, base: srv.URL}

			p := newProbe("A")
			id := p.register(c)
			newName := "Zenobia Quillfeather-Marsh"
			c.expect(200, "PATCH", "/api/v1/customers/"+id, map[string]any{"name": newName, "phone": "+91 98111 22336"})
			p.needles = append(p.needles, "Marsh", "9811122336")
			quoteAndInsure(t, s, c, id)
			c.expect(200, "POST", "/api/v1/policies/expiry-scan", nil)
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}

			// The API returns the values, and search finds the customer.
			got := c.expect(200, "GET", "/api/v1/customers/"+id, nil).json(t)
			if got["name"] != newName || got["email"] != p.email || got["phone"] != "+919811122336" || got["date_of_birth"] != p.dob {
				t.Fatalf("customer read back = %v", got)
			}
			for _, q := range []string{"email=" + url.QueryEscape(strings.ToUpper(p.email)), "phone=" + url.QueryEscape("+91 98111-22336"),
				"name=" + url.QueryEscape("marsh ZENOBIA"), "name=quillfeather&email=" + url.QueryEscape(p.email)} {
				found := c.expect(200, "GET", "/api/v1/customers?"+q, nil).json(t)
				list, _ := found["customers"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["id"] != id {
					t.Errorf("search %s found %v, want customer %s", q, list, id)
				}
			}
			// The stored copies of the messages hold the values too (the
			// log drivers record them): their absence below means sealed.
			if n := count(t, s.DB, `SELECT COUNT(*) FROM outbound_mail`); n < 3 {
				t.Fatalf("only %d emails recorded; the scan would prove little", n)
			}

			var hits []string
			switch d {
			case database.SQLite:
				hits = scanSQLiteFiles(t, s, cfg, p.needles)
			case database.Postgres:
				hits = scanPostgresTables(t, s, p.needles)
			}
			for _, h := range hits {
				t.Error(h)
			}
		})
	}
}

// scanSQLiteFiles checkpoints the WAL into the database file and reads
// every file of the database (main, WAL, shared memory) as raw bytes.
func scanSQLiteFiles(t *testing.T, s *System, cfg config.Config, needles []string) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.DB.Exec(ctx, `PRAGMA wal_checkpoint(FULL)`); err != nil {
		t.Fatal(err)
	}
	target, err := cfg.Database()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(target.Path + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files at %s*: %v", target.Path, err)
	}
	var hits []string
	scanned := 0
	for _, f := range files {
		if strings.HasSuffix(f, masterKeySuffix) {
			continue // the key file is not the database
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scanned += len(raw)
		for _, n := range needles {
			if bytes.Contains(raw, []byte(n)) {
				hits = append(hits, fmt.Sprintf("%s holds %q in clear", filepath.Base(f), n))
			}
		}
	}
	if scanned < 64<<10 {
		t.Fatalf("scanned only %d bytes of database files", scanned)
	}
	return hits
}

// scanPostgresTables reads every row of every table in the test schema
// (insure's and the queue's) as text.
func scanPostgresTables(t *testing.T, s *System, needles []string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := s.DB.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 15 {
		t.Fatalf("only %d tables in the schema: %v", len(tables), tables)
	}
	var hits []string
	total := 0
	for _, table := range tables {
		rs, err := s.DB.Query(ctx, `SELECT t::text FROM "`+table+`" t`)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for rs.Next() {
			var row string
			if err := rs.Scan(&row); err != nil {
				t.Fatal(err)
			}
			total++
			for _, n := range needles {
				if strings.Contains(row, n) {
					hits = append(hits, fmt.Sprintf("table %s holds %q in clear: %.300s", table, n, row))
				}
			}
		}
		if err := rs.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if total < 50 {
		t.Fatalf("scanned only %d rows", total)
	}
	return hits
}

// TestErasure erases a customer's personal data through the API and checks
// what the issue promises: the events still load and replay with the
// personal fields erased, the read model shows the customer erased, the
// event stream as exported holds only values nobody can open any more, the
// policy and its premium stay readable, and nothing new can be done for
// the customer.
func TestErasure(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := startSystem(t, testConfig(t, d))
			srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
			t.Cleanup(srv.Close)
			c := client{t: t, base: srv.URL}

			p := newProbe("B")
			id := p.register(c)
			pid := quoteAndInsure(t, s, c, id)
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			before := c.expect(200, "GET", "/api/v1/policies/"+pid, nil).json(t)

			r := c.expect(200, "DELETE", "/api/v1/customers/"+id+"/personal-data", nil)
			erased := r.json(t)
			if erased["erased"] != true || erased["name"] != event.Erased || erased["email"] != event.Erased || erased["phone"] != event.Erased {
				t.Fatalf("erasure answered %v", erased)
			}
			got := c.expect(200, "GET", "/api/v1/customers/"+id, nil).json(t)
			if got["erased"] != true || got["name"] != event.Erased || got["date_of_birth"] != nil || got["erased_at"] == nil {
				t.Fatalf("erased customer reads %v", got)
			}

			// The history still loads and replays, personal fields erased.
			evs := c.expect(200, "GET", "/api/v1/customers/"+id+"/events", nil).json(t)["events"].([]any)
			first, last := evs[0].(map[string]any), evs[len(evs)-1].(map[string]any)
			if first["event_name"] != customer.EventRegistered || last["event_name"] != customer.EventErased {
				t.Fatalf("history = %v … %v", first["event_name"], last["event_name"])
			}
			if data := first["data"].(map[string]any); data["name"] != event.Erased || data["email"] != event.Erased ||
				data["phone"] != event.Erased || data["date_of_birth"] != event.Erased || data["channel"] != "web" {
				t.Fatalf("registration replays as %v", data)
			}
			agg, err := s.Customers.Aggregate(ctx, nil, id)
			if err != nil || !agg.Erased || agg.Name != event.Erased || agg.Email != event.Erased {
				t.Fatalf("aggregate after erasure = %+v, %v", agg, err)
			}

			// The exported stream holds the sealed values, which no key opens.
			stream := c.expect(200, "GET", "/api/v1/events?type="+customer.EventRegistered, nil).json(t)["events"].([]any)
			var sealedName string
			for _, e := range stream {
				m := e.(map[string]any)
				if m["aggregate_id"] == id {
					sealedName, _ = m["data"].(map[string]any)["name"].(string)
				}
			}
			if !keyring.IsSealed(sealedName) {
				t.Fatalf("the event stream carries the name as %q, want a sealed value", sealedName)
			}
			_, err = s.Keys.Open(ctx, s.DB, id, "event:"+customer.EventRegistered+":name", sealedName)
			if !errors.Is(err, keyring.ErrErased) {
				t.Fatalf("opening the exported name after erasure = %v, want ErrErased", err)
			}

			// Policies and premiums stay.
			after := c.expect(200, "GET", "/api/v1/policies/"+pid, nil).json(t)
			if after["premium"] != before["premium"] || after["policy_number"] != before["policy_number"] || after["customer_id"] != id {
				t.Fatalf("policy after erasure = %v, before = %v", after, before)
			}

			// Search no longer finds them; the address is free again.
			for _, q := range []string{"email=" + url.QueryEscape(p.email), "name=zenobia", "phone=" + url.QueryEscape(p.phone)} {
				list := c.expect(200, "GET", "/api/v1/customers?"+q, nil).json(t)["customers"].([]any)
				if len(list) != 0 {
					t.Errorf("search %s after erasure found %v", q, list)
				}
			}

			// Nothing about them can change, and nothing new is made for them.
			c.expect(409, "PATCH", "/api/v1/customers/"+id, map[string]any{"name": "Someone Else"})
			q := c.expect(422, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "health", "sum_insured": 50_000_000,
				"details": map[string]any{"age": 40, "members": 2}})
			if _, field := errorField(t, q); field != "customer_id" {
				t.Fatalf("quotation for an erased customer: %s", q.body)
			}

			// Erasing again changes nothing.
			n := count(t, s.DB, `SELECT COUNT(*) FROM event_store WHERE aggregate_id = $1`, id)
			c.expect(200, "DELETE", "/api/v1/customers/"+id+"/personal-data", nil)
			if m := count(t, s.DB, `SELECT COUNT(*) FROM event_store WHERE aggregate_id = $1`, id); m != n {
				t.Fatalf("a second erasure recorded %d more events", m-n)
			}
			c.expect(404, "DELETE", "/api/v1/customers/"+event.NewID()+"/personal-data", nil)

			// The audit trail records the erasure, without personal data.
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM audit_log WHERE customer_id = $1 AND source_event_name = $2`, id, customer.EventErased); n != 1 {
				t.Fatalf("%d audit entries for the erasure, want 1", n)
			}
			c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "New Holder", "email": p.email, "phone": "+91 90000 11111"})
		})
	}
}
