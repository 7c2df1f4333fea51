package cli

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/audit"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/httpapi/contracttest"
	"insure/internal/keyring"
	"insure/internal/policy"
)

// TestTimeTravel reads a customer (registered, then updated twice, then
// erased) and a policy (created, then renewed) as they were at several
// moments of their history through the real HTTP API, on SQLite and
// PostgreSQL, with snapshots taken every two events. It checks that a
// customer's snapshot is sealed and goes with the erasure.
func TestTimeTravel(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, d)
			cfg.SnapshotEvery = 2
			s := startSystem(t, cfg)
			srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
			t.Cleanup(srv.Close)
			t.Run("customer", func(t *testing.T) { customerTimeTravel(t, s, client{t: t, base: srv.URL}) })
			t.Run("policy", func(t *testing.T) { policyTimeTravel(t, s, client{t: t, base: srv.URL}) })
		})
	}
}

// occurredAt returns when each event of an aggregate occurred, as stored.
func occurredAt(t *testing.T, s *System, aggregateType, id string) []time.Time {
	t.Helper()
	envs, err := s.Store.Load(context.Background(), s.DB, aggregateType, id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, len(envs))
	for i, e := range envs {
		out[i] = e.OccurredAt
	}
	return out
}

// between is the moment halfway between a and b.
func between(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }

// asOf is the query string of a read as of t.
func asOf(t time.Time) string { return "?as_of=" + url.QueryEscape(t.Format(time.RFC3339Nano)) }

// stepApart waits so that the next event occurs measurably later than the
// last one, on every engine's clock precision.
func stepApart() { time.Sleep(5 * time.Millisecond) }

func customerTimeTravel(t *testing.T, s *System, c client) {
	ctx := context.Background()
	r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
		"name": "Asha Verma", "email": "asha.tt@example.com", "phone": "+91 98765 43210",
		"date_of_birth": "1990-04-01", "channel": "web"})
	id, _ := r.json(t)["id"].(string)
	path := "/api/v1/customers/" + id
	stepApart()
	c.expect(200, "PATCH", path, map[string]any{"name": "Asha V."})
	stepApart()
	c.expect(200, "PATCH", path, map[string]any{"name": "Asha Rao", "phone": "+91 99887 76655"})
	at := occurredAt(t, s, customer.AggregateType, id)
	if len(at) != 3 {
		t.Fatalf("%d customer events, want 3", len(at))
	}

	type moment struct {
		name          string
		at            time.Time
		version       float64
		wantName      string
		wantPhone     string
		wantUpdatedAt time.Time
	}
	moments := []moment{
		{"at the registration", at[0], 1, "Asha Verma", "+919876543210", at[0]},
		{"between registration and first update", between(at[0], at[1]), 1, "Asha Verma", "+919876543210", at[0]},
		{"at the first update", at[1], 2, "Asha V.", "+919876543210", at[1]},
		{"between the updates", between(at[1], at[2]), 2, "Asha V.", "+919876543210", at[1]},
		{"after the last update", at[2].Add(time.Second), 3, "Asha Rao", "+919988776655", at[2]},
		{"in the future", time.Now().AddDate(5, 0, 0), 3, "Asha Rao", "+919988776655", at[2]},
	}
	for _, m := range moments {
		r := c.expect(200, "GET", path+asOf(m.at), nil)
		got := r.json(t)
		if got["version"] != m.version || got["name"] != m.wantName || got["phone"] != m.wantPhone ||
			got["email"] != "asha.tt@example.com" || got["date_of_birth"] != "1990-04-01" || got["erased"] != false {
			t.Errorf("%s (%s): %v", m.name, m.at.Format(time.RFC3339Nano), got)
		}
		if got["created_at"] != at[0].Format(time.RFC3339Nano) || got["updated_at"] != m.wantUpdatedAt.Format(time.RFC3339Nano) {
			t.Errorf("%s: created_at %v, updated_at %v; want %s and %s", m.name, got["created_at"], got["updated_at"],
				at[0].Format(time.RFC3339Nano), m.wantUpdatedAt.Format(time.RFC3339Nano))
		}
		if want := fmt.Sprintf(`"%d"`, int(m.version)); r.header.Get("ETag") != want {
			t.Errorf("%s: ETag %q, want %q", m.name, r.header.Get("ETag"), want)
		}
	}
	// The same moment in another zone, its "+" escaped.
	ist := time.FixedZone("IST", 5*3600+1800)
	if got := c.expect(200, "GET", path+asOf(between(at[1], at[2]).In(ist)), nil).json(t); got["version"] != float64(2) {
		t.Errorf("as of a time with an offset: %v", got)
	}
	// As of now it is the customer the read model serves.
	var current map[string]any
	waitUntil(t, "the read model to show the last update", func() bool {
		current = c.expect(200, "GET", path, nil).json(t)
		return current["version"] == float64(3)
	})
	if diff := cmp.Diff(current, c.expect(200, "GET", path+asOf(time.Now().Add(time.Minute)), nil).json(t)); diff != "" {
		t.Errorf("as of now differs from the current customer (-current +as_of):\n%s", diff)
	}

	// Before the registration: 404, saying so.
	r = c.expect(404, "GET", path+asOf(at[0].Add(-time.Millisecond)), nil)
	if msg := errorMessage(t, r); !strings.Contains(msg, "did not exist yet") {
		t.Errorf("before the registration: %s", r.body)
	}
	c.expect(404, "GET", "/api/v1/customers/"+event.NewID()+asOf(at[2]), nil)
	for _, bad := range []string{"yesterday", "2026-01-31", url.QueryEscape("2026-01-31 12:00"), "2026-01-31T12:00:00"} {
		r := c.expect(422, "GET", path+"?as_of="+bad, nil, contracttest.SkipRequestHeader, "1")
		if code, field := errorField(t, r); code != "invalid" || field != "as_of" {
			t.Errorf("as_of=%s: %s", bad, r.body)
		}
	}

	// Reads as of a moment are reads of personal data: recorded.
	before := accessCount(t, s.DB, id)
	c.expect(200, "GET", path+asOf(at[1]), nil)
	waitUntil(t, "the as_of read to be recorded", func() bool { return accessCount(t, s.DB, id) == before+1 })

	// The customer's snapshot (every 2 events) is sealed: none of their
	// personal data is in it in clear.
	if _, err := s.Customers.Aggregate(ctx, nil, id); err != nil {
		t.Fatal(err)
	}
	var state string
	var version int64
	err := s.DB.QueryRow(ctx, `SELECT state, version FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2`,
		customer.AggregateType, id).Scan(&state, &version)
	if err != nil {
		t.Fatalf("the customer's snapshot: %v", err)
	}
	if version < 2 || !keyring.IsSealed(state) {
		t.Errorf("snapshot at version %d, sealed %t", version, keyring.IsSealed(state))
	}
	for _, plain := range []string{"Asha", "asha.tt@example.com", "9876543210", "9988776655", "1990-04-01"} {
		if strings.Contains(state, plain) {
			t.Errorf("the customer's snapshot holds %q in clear", plain)
		}
	}

	// Erased: the snapshot goes with the key, and every moment reads
	// "[erased]".
	c.expect(200, "DELETE", path+"/personal-data", nil)
	if n := count(t, s.DB, `SELECT COUNT(*) FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2`,
		customer.AggregateType, id); n != 0 {
		t.Errorf("the erased customer's snapshot is still stored (%d)", n)
	}
	past := c.expect(200, "GET", path+asOf(between(at[1], at[2])), nil).json(t)
	if past["name"] != event.Erased || past["email"] != event.Erased || past["phone"] != event.Erased ||
		past["date_of_birth"] != nil || past["erased"] != false || past["version"] != float64(2) {
		t.Errorf("erased customer as of before the erasure: %v", past)
	}
	now := c.expect(200, "GET", path+asOf(time.Now().Add(time.Minute)), nil).json(t)
	if now["name"] != event.Erased || now["erased"] != true || now["erased_at"] == nil || now["version"] != float64(4) {
		t.Errorf("erased customer as of now: %v", now)
	}
	for range 3 { // loads past SNAPSHOT_EVERY take no snapshot of an erased customer
		if _, err := s.Customers.Aggregate(ctx, nil, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2`,
		customer.AggregateType, id); n != 0 {
		t.Errorf("a snapshot of the erased customer was taken (%d)", n)
	}
}

func policyTimeTravel(t *testing.T, s *System, c client) {
	r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
		"name": "Ravi Kumar", "email": "ravi.tt@example.com", "phone": "9876500001"})
	customerID, _ := r.json(t)["id"].(string)
	today := policy.DateOf(time.Now().UTC())
	firstEnd := today.AddYears(1).AddDays(-1)
	r = c.expect(201, "POST", "/api/v1/policies", map[string]any{
		"customer_id": customerID, "insurer": "acme", "product": "motor", "premium": 1_500_000,
		"sum_insured": 50_000_000, "start_date": today.String(), "end_date": firstEnd.String()})
	id, _ := r.json(t)["id"].(string)
	path := "/api/v1/policies/" + id
	stepApart()
	renewed := c.expect(200, "POST", path+"/renew", map[string]any{"premium": 1_600_000}).json(t)
	newEnd, _ := renewed["end_date"].(string)
	at := occurredAt(t, s, policy.AggregateType, id)
	if len(at) != 2 {
		t.Fatalf("%d policy events, want 2", len(at))
	}

	c.expect(404, "GET", path+asOf(at[0].Add(-time.Millisecond)), nil)
	created := c.expect(200, "GET", path+asOf(between(at[0], at[1])), nil).json(t)
	wantDays := float64(policy.DaysBetween(policy.DateOf(between(at[0], at[1]).UTC()), firstEnd))
	if created["version"] != float64(1) || created["end_date"] != firstEnd.String() || created["premium"] != float64(1_500_000) ||
		created["renewals"] != float64(0) || created["status"] != "active" || created["days_to_expiry"] != wantDays ||
		created["created_at"] != at[0].Format(time.RFC3339Nano) || created["updated_at"] != at[0].Format(time.RFC3339Nano) {
		t.Errorf("as created: %v", created)
	}
	if _, ok := created["document_id"]; ok {
		t.Errorf("a policy as of a moment has a document_id: %v", created)
	}
	after := c.expect(200, "GET", path+asOf(at[1]), nil).json(t)
	if after["version"] != float64(2) || after["end_date"] != newEnd || after["start_date"] != firstEnd.String() ||
		after["premium"] != float64(1_600_000) || after["renewals"] != float64(1) || after["status"] != "active" {
		t.Errorf("as renewed: %v", after)
	}
	// Status and days to expiry are those of the as_of day: a year on, the
	// policy is in its renewed term; past the new end, expired.
	nextYear := c.expect(200, "GET", path+asOf(firstEnd.Add(36*time.Hour)), nil).json(t)
	if nextYear["status"] != "active" || nextYear["version"] != float64(2) {
		t.Errorf("as of the renewed term: %v", nextYear)
	}
	end, err := policy.ParseDate(newEnd)
	if err != nil {
		t.Fatal(err)
	}
	expired := c.expect(200, "GET", path+asOf(end.AddDays(1).Time), nil).json(t)
	if expired["status"] != "expired" || expired["days_to_expiry"] != float64(-1) {
		t.Errorf("as of the day after the end: %v", expired)
	}
	expiring := c.expect(200, "GET", path+asOf(end.AddDays(-10).Add(12*time.Hour)), nil).json(t)
	if expiring["status"] != "expiring" || expiring["days_to_expiry"] != float64(10) {
		t.Errorf("as of 10 days before the end: %v", expiring)
	}
	// As of now it is the policy the read model serves, but for its
	// document.
	var current map[string]any
	waitUntil(t, "the read model to show the renewal", func() bool {
		current = c.expect(200, "GET", path, nil).json(t)
		return current["version"] == float64(2)
	})
	delete(current, "document_id")
	if diff := cmp.Diff(current, c.expect(200, "GET", path+asOf(time.Now()), nil).json(t)); diff != "" {
		t.Errorf("as of now differs from the current policy (-current +as_of):\n%s", diff)
	}

	r = c.expect(422, "GET", path+"?as_of=tomorrow", nil, contracttest.SkipRequestHeader, "1")
	if code, field := errorField(t, r); code != "invalid" || field != "as_of" {
		t.Errorf("as_of=tomorrow: %s", r.body)
	}
}

func errorMessage(t *testing.T, r response) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// accessCount is how many reads of subject's data were recorded.
func accessCount(t *testing.T, db database.DB, subject string) int {
	t.Helper()
	return count(t, db, `SELECT COUNT(*) FROM event_store WHERE event_name = $1 AND CAST(event_data AS TEXT) LIKE $2`,
		audit.EventDataAccessed, "%"+subject+"%")
}
