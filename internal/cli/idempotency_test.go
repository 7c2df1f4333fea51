package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"insure/internal/database/dbtest"
	"insure/internal/idempotency"
)

// TestIdempotencyKeys drives Idempotency-Key through the wired server, on
// SQLite and PostgreSQL: a repeat does nothing again (the event store does
// not grow), the recorder marks the key in the command's own transaction,
// and the two crash windows (before the commit, and between the commit and
// storing the response) are recovered from as documented.
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, c := serveWithoutWorkers(t, testConfig(t, d))

			count := func(table string) int {
				t.Helper()
				var n int
				if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			register := func(name, email string) string {
				raw, err := json.Marshal(map[string]any{"name": name, "email": email, "phone": "+91 98765 43210", "channel": "web"})
				if err != nil {
					t.Fatal(err)
				}
				return string(raw)
			}

			// The same key and body twice: one customer, one set of events.
			body := register("Asha Verma", "asha@example.com")
			first := c.expect(201, "POST", "/api/v1/customers", body, "Idempotency-Key", "reg-asha")
			events, customers := count("event_store"), count("customers")
			again := c.expect(201, "POST", "/api/v1/customers", body, "Idempotency-Key", "reg-asha")
			if again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, first.body) ||
				again.header.Get("Location") != first.header.Get("Location") ||
				again.header.Get("X-Event-Position") != first.header.Get("X-Event-Position") {
				t.Fatalf("repeat: %v %s; want the first response %v %s, replayed", again.header, again.body, first.header, first.body)
			}
			if count("event_store") != events || count("customers") != customers {
				t.Fatalf("the repeat recorded events or customers: events %d→%d, customers %d→%d",
					events, count("event_store"), customers, count("customers"))
			}
			id, _ := first.json(t)["id"].(string)

			// The recorder marked the key in the command's transaction.
			var committedAt int64
			var resource string
			if err := s.DB.QueryRow(ctx, `SELECT COALESCE(committed_at, 0), resource_type || ':' || resource_id FROM idempotency_keys WHERE idem_key = $1`,
				"reg-asha").Scan(&committedAt, &resource); err != nil {
				t.Fatal(err)
			}
			if committedAt == 0 || resource != "customer:"+id {
				t.Fatalf("key committed at %d on %q, want a commit on customer:%s", committedAt, resource, id)
			}

			// The same key with another body.
			r := c.expect(422, "POST", "/api/v1/customers", register("Ravi Kumar", "ravi@example.com"), "Idempotency-Key", "reg-asha")
			if code, field := errorField(t, r); code != "idempotency_key_reused" || field != "Idempotency-Key" {
				t.Fatalf("reused key: %s", r.body)
			}

			// The process died between the commit and storing the response:
			// the repeat does not register again, it says where to look.
			body = register("Meera Shah", "meera@example.com")
			c.expect(201, "POST", "/api/v1/customers", body, "Idempotency-Key", "reg-meera")
			if _, err := s.DB.Exec(ctx, `UPDATE idempotency_keys SET completed_at = NULL, response_status = 0, response_body = NULL, response_subject = ''
WHERE idem_key = $1`, "reg-meera"); err != nil {
				t.Fatal(err)
			}
			events = count("event_store")
			r = c.expect(409, "POST", "/api/v1/customers", body, "Idempotency-Key", "reg-meera")
			if code, _ := errorField(t, r); code != "idempotency_response_lost" || !strings.Contains(string(r.body), "/api/v1/customers/") {
				t.Fatalf("lost response: %s", r.body)
			}
			if count("event_store") != events {
				t.Fatal("a committed request ran again after its response was lost")
			}

			// The process died before its commit: once the claim's lease
			// has run out, the repeat runs the request.
			var principal string
			if err := s.DB.QueryRow(ctx, `SELECT id FROM api_tokens WHERE name = $1`, "INSURE_ADMIN_TOKEN").Scan(&principal); err != nil {
				t.Fatal(err)
			}
			body = register("Kiran Rao", "kiran@example.com")
			long := time.Now().Add(-time.Hour).UnixMilli()
			if _, err := s.DB.Exec(ctx, `INSERT INTO idempotency_keys (principal, idem_key, method, route, request_hash, owner, claimed_at, created_at, expires_at)
VALUES ($1, $2, 'POST', '/api/v1/customers', $3, 'dead-process', $4, $4, $5)`,
				principal, "reg-kiran", idempotency.Hash("POST", "/api/v1/customers", "", []byte(body)), long, time.Now().Add(time.Hour).UnixMilli()); err != nil {
				t.Fatal(err)
			}
			events = count("event_store")
			r = c.expect(201, "POST", "/api/v1/customers", body, "Idempotency-Key", "reg-kiran")
			if r.header.Get("Idempotent-Replayed") != "" || count("event_store") == events {
				t.Fatalf("the request of the dead claim did not run: %v", r.header)
			}

			// An expired key runs again.
			quote := map[string]any{"customer_id": id, "product": "motor", "sum_insured": 85_000_000,
				"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": time.Now().Year() - 2, "ncb_percent": 25}}
			q1 := c.expect(202, "POST", "/api/v1/quotations", quote, "Idempotency-Key", "quote-1")
			q2 := c.expect(202, "POST", "/api/v1/quotations", quote, "Idempotency-Key", "quote-1")
			if !bytes.Equal(q1.body, q2.body) || q2.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("quotation repeat: %s, want %s replayed", q2.body, q1.body)
			}
			if _, err := s.DB.Exec(ctx, `UPDATE idempotency_keys SET expires_at = $1 WHERE idem_key = $2`, time.Now().Add(-time.Second).UnixMilli(), "quote-1"); err != nil {
				t.Fatal(err)
			}
			q3 := c.expect(202, "POST", "/api/v1/quotations", quote, "Idempotency-Key", "quote-1")
			if q3.header.Get("Idempotent-Replayed") != "" || q3.json(t)["id"] == q1.json(t)["id"] {
				t.Fatalf("expired key: %s, want a new quotation", q3.body)
			}

			// The cleanup deletes only expired keys.
			keys := count("idempotency_keys")
			if _, err := s.DB.Exec(ctx, `UPDATE idempotency_keys SET expires_at = $1 WHERE idem_key = $2`, time.Now().Add(-time.Second).UnixMilli(), "reg-asha"); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Idempotency.DeleteExpired(ctx); err != nil || n != 1 || count("idempotency_keys") != keys-1 {
				t.Fatalf("DeleteExpired = %d, %v; keys %d → %d, want one deleted", n, err, keys, count("idempotency_keys"))
			}
		})
	}
}
