package projection_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/communication"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/rating"
)

// t0 is when the tests' events start. It has microsecond precision, which is
// what PostgreSQL keeps, so stored instants compare exactly on both engines.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)

// ist is a zone other than UTC. Envelopes in it prove that the projector
// stores instants in UTC: SQLite compares timestamps as text.
var ist = time.FixedZone("IST", 5*3600+1800)

// as turns a payload into the form a caller hands to Project.
type as func(event.Payload) event.Payload

// asValue passes a payload as built by a command.
func asValue(p event.Payload) event.Payload { return p }

// asPointer passes a pointer to a copy of p, as the registry decodes it.
func asPointer(p event.Payload) event.Payload {
	v := reflect.New(reflect.TypeOf(p))
	v.Elem().Set(reflect.ValueOf(p))
	return v.Interface().(event.Payload)
}

// eachForm runs fn once per payload form and dialect, each with its own
// migrated, empty database.
func eachForm(t *testing.T, fn func(t *testing.T, db database.DB, as as)) {
	t.Helper()
	for _, f := range []struct {
		name string
		as   as
	}{{"value", asValue}, {"pointer", asPointer}} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			if f.name == "pointer" && reflect.TypeOf(f.as(customer.Registered{})).Kind() != reflect.Pointer {
				t.Fatal("asPointer did not make a pointer")
			}
			dbtest.Each(t, func(t *testing.T, db database.DB) {
				t.Parallel()
				fn(t, db, f.as)
			})
		})
	}
}

// step is one event to project.
type step struct {
	version int64
	at      time.Time
	payload event.Payload
}

// projectTx projects steps in one transaction and returns their envelopes.
func projectTx(t testing.TB, db database.DB, steps ...step) ([]event.Envelope, error) {
	t.Helper()
	pr := projector(t, db)
	var envs []event.Envelope
	err := db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
		envs = envs[:0]
		for _, s := range steps {
			env := event.Envelope{
				EventID:          event.NewID(),
				EventName:        s.payload.EventName(),
				AggregateVersion: s.version,
				OccurredAt:       s.at,
			}
			if err := pr.Project(ctx, tx, env, s.payload); err != nil {
				return fmt.Errorf("project %s (version %d): %w", env.EventName, s.version, err)
			}
			envs = append(envs, env)
		}
		return nil
	})
	return envs, err
}

func project(t *testing.T, db database.DB, steps ...step) []event.Envelope {
	t.Helper()
	envs, err := projectTx(t, db, steps...)
	if err != nil {
		t.Fatal(err)
	}
	return envs
}

func ptr[T any](v T) *T { return &v }

func date(t *testing.T, s string) policy.Date {
	t.Helper()
	d, err := policy.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// equateJSON compares raw JSON by meaning: PostgreSQL's JSONB does not keep
// the spacing or the order of keys.
var equateJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
})

// wantInvalidAfter fails t unless err is an Invalid error naming "after".
func wantInvalidAfter(t *testing.T, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid || e.Field != "after" {
		t.Errorf("err = %v, want an %s error naming field \"after\"", err, apperr.Invalid)
	}
}

func registered(id, name, email string) customer.Registered {
	return customer.Registered{
		CustomerID:  id,
		Name:        name,
		Email:       email,
		Phone:       "+919800000001",
		Channel:     "web",
		Preferences: customer.DefaultPreferences(),
	}
}

func TestCustomerLifecycle(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		r := newReader(t, db)
		id, otherID := event.NewID(), event.NewID()
		project(t, db, step{1, t0, as(registered(otherID, "Other Person", "other@example.com"))})

		want := projection.Customer{
			ID: id, Name: "Asha Rao", Email: "asha@example.com", Phone: "+919800000001", Channel: "web",
			Preferences: projection.Preferences{Email: true}, Version: 1, CreatedAt: t0, UpdatedAt: t0,
		}
		steps := []struct {
			name   string
			step   step
			change func(c *projection.Customer)
		}{
			{
				name:   "registered without a date of birth",
				step:   step{1, t0, registered(id, "Asha Rao", "asha@example.com")},
				change: func(*projection.Customer) {},
			},
			{
				name: "email verified",
				step: step{2, t0.Add(time.Minute), customer.EmailVerified{CustomerID: id, Email: "asha@example.com", VerifiedAt: t0}},
				change: func(c *projection.Customer) {
					c.EmailVerified, c.Version, c.UpdatedAt = true, 2, t0.Add(time.Minute)
				},
			},
			{
				name: "profile updated",
				step: step{3, t0.Add(time.Hour).In(ist), customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
					customer.FieldName:             {Old: "Asha Rao", New: "Asha R. Rao"},
					customer.FieldEmail:            {Old: "asha@example.com", New: "asha.rao@example.com"},
					customer.FieldPhone:            {Old: "+919800000001", New: "+919800000002"},
					customer.FieldDateOfBirth:      {Old: "", New: "1990-04-01"},
					customer.FieldPreferencesEmail: {Old: true, New: false},
					customer.FieldPreferencesWA:    {Old: false, New: true},
				}}},
				change: func(c *projection.Customer) {
					c.Name, c.Email, c.Phone, c.DateOfBirth = "Asha R. Rao", "asha.rao@example.com", "+919800000002", ptr("1990-04-01")
					c.Preferences = projection.Preferences{Email: false, WhatsApp: true}
					c.EmailVerified, c.Version, c.UpdatedAt = false, 3, t0.Add(time.Hour)
				},
			},
			{
				name: "date of birth removed",
				step: step{4, t0.Add(2 * time.Hour), customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
					customer.FieldDateOfBirth: {Old: "1990-04-01", New: ""},
				}}},
				change: func(c *projection.Customer) {
					c.DateOfBirth, c.Version, c.UpdatedAt = nil, 4, t0.Add(2*time.Hour)
				},
			},
			{
				name: "new email verified",
				step: step{5, t0.Add(3 * time.Hour), customer.EmailVerified{CustomerID: id, Email: "asha.rao@example.com", VerifiedAt: t0}},
				change: func(c *projection.Customer) {
					c.EmailVerified, c.Version, c.UpdatedAt = true, 5, t0.Add(3*time.Hour)
				},
			},
			{
				name: "email changed alone",
				step: step{6, t0.Add(4 * time.Hour), customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
					customer.FieldEmail: {Old: "asha.rao@example.com", New: "asha@example.org"},
				}}},
				change: func(c *projection.Customer) {
					c.Email, c.EmailVerified, c.Version, c.UpdatedAt = "asha@example.org", false, 6, t0.Add(4*time.Hour)
				},
			},
			{
				name: "preferences only",
				step: step{7, t0.Add(5 * time.Hour), customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
					customer.FieldPreferencesEmail: {Old: false, New: true},
				}}},
				change: func(c *projection.Customer) {
					c.Preferences.Email, c.Version, c.UpdatedAt = true, 7, t0.Add(5*time.Hour)
				},
			},
		}
		for _, s := range steps {
			project(t, db, step{s.step.version, s.step.at, as(s.step.payload)})
			s.change(&want)
			got, err := r.Customer(t.Context(), nil, id)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: customer mismatch (-want +got):\n%s", s.name, diff)
			}
		}

		other, err := r.Customer(t.Context(), nil, otherID)
		if err != nil {
			t.Fatal(err)
		}
		wantOther := projection.Customer{
			ID: otherID, Name: "Other Person", Email: "other@example.com", Phone: "+919800000001", Channel: "web",
			Preferences: projection.Preferences{Email: true}, Version: 1, CreatedAt: t0, UpdatedAt: t0,
		}
		if diff := cmp.Diff(wantOther, other); diff != "" {
			t.Errorf("another customer's events changed this one (-want +got):\n%s", diff)
		}
	})
}

func TestProfileUpdatedUnknownFieldFails(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		id := event.NewID()
		project(t, db, step{1, t0, as(registered(id, "Asha Rao", "asha@example.com"))})

		_, err := projectTx(t, db, step{2, t0.Add(time.Minute), as(customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
			customer.FieldName: {Old: "Asha Rao", New: "Someone Else"},
			"nickname":         {Old: "", New: "Ash"},
		}})})
		if err == nil || !strings.Contains(err.Error(), `"nickname"`) {
			t.Fatalf("err = %v, want an error naming the unknown field \"nickname\"", err)
		}
		got, err := newReader(t, db).Customer(t.Context(), nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Asha Rao" || got.Version != 1 {
			t.Errorf("after a failed update: name %q version %d, want the registered %q at version 1", got.Name, got.Version, "Asha Rao")
		}
	})
}

func TestCustomersPagination(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		r := newReader(t, db)
		ids := make([]string, 5)
		for i := range ids {
			ids[i] = event.NewID() // time-ordered, so registration order is id order
			p := registered(ids[i], fmt.Sprintf("Customer %d", i), fmt.Sprintf("c%d@example.com", i))
			project(t, db, step{1, t0.Add(time.Duration(i) * time.Second), []as{asValue, asPointer}[i%2](p)})
		}

		tests := []struct {
			name      string
			limit     int
			wantPages [][]string
			wantNext  []string
		}{
			{"limit 2", 2, [][]string{ids[0:2], ids[2:4], ids[4:5]}, []string{ids[1], ids[3], ""}},
			{"limit 4", 4, [][]string{ids[0:4], ids[4:5]}, []string{ids[3], ""}},
			{"limit equal to the count", 5, [][]string{ids}, []string{""}},
			{"limit 0 means the default", 0, [][]string{ids}, []string{""}},
			{"negative limit means the default", -3, [][]string{ids}, []string{""}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var pages [][]string
				var nexts []string
				after := ""
				for range 10 {
					got, next, err := r.Customers(t.Context(), projection.CustomerFilter{}, after, tc.limit)
					if err != nil {
						t.Fatal(err)
					}
					page := make([]string, len(got))
					for i, c := range got {
						page[i] = c.ID
					}
					pages, nexts = append(pages, page), append(nexts, next)
					if next == "" {
						break
					}
					after = next
				}
				if diff := cmp.Diff(tc.wantPages, pages); diff != "" {
					t.Errorf("pages (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantNext, nexts); diff != "" {
					t.Errorf("next cursors (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		r := newReader(t, db)
		reads := []struct {
			name string
			read func(ctx context.Context, id string) error
		}{
			{"customer", func(ctx context.Context, id string) error { _, err := r.Customer(ctx, nil, id); return err }},
			{"quotation", func(ctx context.Context, id string) error { _, err := r.Quotation(ctx, id); return err }},
			{"policy", func(ctx context.Context, id string) error { _, err := r.Policy(ctx, id, t0); return err }},
			{"document", func(ctx context.Context, id string) error { _, err := r.Document(ctx, nil, id); return err }},
		}
		for _, rd := range reads {
			for _, id := range []string{"not-a-uuid", "", "'; DROP TABLE customers; --", event.NewID()} {
				t.Run(rd.name+"/"+id, func(t *testing.T) {
					t.Parallel()
					err := rd.read(t.Context(), id)
					if !apperr.IsCode(err, apperr.NotFound) {
						t.Errorf("%s %q: err = %v, want %s", rd.name, id, err, apperr.NotFound)
					}
				})
			}
		}
	})
}

func TestQuotationLifecycle(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		ctx := t.Context()
		r := newReader(t, db)
		custID, qid, failedID, docID := event.NewID(), event.NewID(), event.NewID(), event.NewID()
		details := json.RawMessage(`{"vehicle_make":"Maruti","vehicle_model":"Swift","vehicle_year":2021,"ncb_percent":20}`)
		requested := func(id string) quotation.Requested {
			return quotation.Requested{QuotationID: id, CustomerID: custID, Product: "motor", SumInsured: 60000000, Currency: "INR", Details: details}
		}
		check := func(name string, want projection.Quotation) {
			t.Helper()
			got, err := r.Quotation(ctx, want.ID)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(want, got, equateJSON); diff != "" {
				t.Errorf("%s: quotation mismatch (-want +got):\n%s", name, diff)
			}
		}

		project(t, db, step{1, t0, as(requested(qid))}, step{1, t0, as(requested(failedID))})
		want := projection.Quotation{
			ID: qid, CustomerID: custID, Product: "motor", SumInsured: 60000000, Currency: "INR", Details: details,
			Status: "requested", Version: 1, CreatedAt: t0, UpdatedAt: t0,
		}
		check("requested", want)

		quotes := []rating.Quote{
			{
				Insurer: "acko", InsurerName: "Acko General", Premium: 1234500, SumInsured: 60000000, Currency: "INR", Coverage: "comprehensive",
				AddOns:    []rating.AddOn{{Code: "zero_dep", Name: "Zero depreciation", Premium: 150000}},
				Breakdown: &rating.Breakdown{Base: 900000, Loading: 50000, Discount: 54000, AddOns: 150000, Tax: 188500},
			},
			{Insurer: "digit", InsurerName: "Go Digit", SumInsured: 60000000, Currency: "INR", Coverage: "comprehensive", Declined: true, DeclineReason: "vehicle too old"},
		}
		project(t, db, step{2, t0.Add(time.Minute).In(ist), as(quotation.Generated{
			QuotationID: qid, CustomerID: custID, Product: "motor", SumInsured: 60000000, Currency: "INR", Quotes: quotes,
		})})
		want.Status, want.Quotes, want.Version, want.UpdatedAt = "generated", quotes, 2, t0.Add(time.Minute)
		check("generated", want)

		project(t, db,
			step{1, t0.Add(2 * time.Minute), as(document.GenerationRequested{
				DocumentID: docID, Kind: document.KindQuotation, SubjectType: quotation.AggregateType, SubjectID: qid,
				SourceEventID: event.NewID(), Priority: "high",
			})},
			step{2, t0.Add(3 * time.Minute), as(document.Generated{
				DocumentID: docID, Kind: document.KindQuotation, SubjectType: quotation.AggregateType, SubjectID: qid,
				ContentType: "application/pdf", Size: 48213, SHA256: strings.Repeat("ab", 32),
			})})
		want.DocumentID = &docID
		check("pdf generated", want)

		project(t, db, step{2, t0.Add(4 * time.Minute), as(quotation.GenerationFailed{QuotationID: failedID, Reason: "no insurer quoted"})})
		check("failed", projection.Quotation{
			ID: failedID, CustomerID: custID, Product: "motor", SumInsured: 60000000, Currency: "INR", Details: details,
			Status: "failed", FailureReason: ptr("no insurer quoted"), Version: 2, CreatedAt: t0, UpdatedAt: t0.Add(4 * time.Minute),
		})
		check("other quotation unchanged", want)
	})
}

func policyCreated(t *testing.T, id, customerID, quotationID, number, start, end string) policy.Created {
	t.Helper()
	return policy.Created{
		PolicyID: id, PolicyNumber: number, CustomerID: customerID, QuotationID: quotationID, Insurer: "acko", Product: "motor",
		Premium: 1234500, SumInsured: 60000000, Currency: "INR", StartDate: date(t, start), EndDate: date(t, end),
	}
}

func TestPolicyLifecycle(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		ctx := t.Context()
		r := newReader(t, db)
		custID, quoteID, pid, bareID, docID := event.NewID(), event.NewID(), event.NewID(), event.NewID(), event.NewID()
		today := time.Date(2026, 6, 1, 15, 30, 0, 0, time.UTC)
		check := func(name string, id string, today time.Time, want projection.Policy) {
			t.Helper()
			got, err := r.Policy(ctx, id, today)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: policy mismatch (-want +got):\n%s", name, diff)
			}
		}

		project(t, db,
			step{1, t0, as(policyCreated(t, pid, custID, quoteID, "POL-2026-000001", "2026-01-01", "2026-12-31"))},
			step{1, t0, as(policyCreated(t, bareID, custID, "", "POL-2026-000002", "2026-01-01", "2026-12-31"))},
		)
		want := projection.Policy{
			ID: pid, CustomerID: custID, QuotationID: &quoteID, PolicyNumber: "POL-2026-000001", Insurer: "acko", Product: "motor",
			Premium: 1234500, SumInsured: 60000000, Currency: "INR", StartDate: "2026-01-01", EndDate: "2026-12-31",
			Status: "active", DaysToExpiry: 213, Version: 1, CreatedAt: t0, UpdatedAt: t0,
		}
		check("created", pid, today, want)
		bare := want
		bare.ID, bare.QuotationID, bare.PolicyNumber = bareID, nil, "POL-2026-000002"
		check("created without a quotation", bareID, today, bare)

		statuses := []struct {
			today      time.Time
			wantStatus string
			wantDays   int
		}{
			{time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), "scheduled", 365},
			{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "active", 364},
			{time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), "active", 31},
			{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "expiring", 30},
			{time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), "expiring", 0},
			{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "expired", -1},
			{time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), "expired", -60},
		}
		for _, s := range statuses {
			got, err := r.Policy(ctx, pid, s.today)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != s.wantStatus || got.DaysToExpiry != s.wantDays {
				t.Errorf("on %s: status %q, %d days to expiry; want %q, %d", s.today, got.Status, got.DaysToExpiry, s.wantStatus, s.wantDays)
			}
		}

		project(t, db, step{2, t0.Add(time.Hour).In(ist), as(policy.Renewed{
			PolicyID: pid, PreviousStartDate: date(t, "2026-01-01"), PreviousEndDate: date(t, "2026-12-31"),
			StartDate: date(t, "2027-01-01"), EndDate: date(t, "2027-12-31"), Premium: 1300000, SumInsured: 55000000,
			Changes: map[string]policy.Change{
				policy.ChangeStartDate:  {Old: "2026-01-01", New: "2027-01-01"},
				policy.ChangeEndDate:    {Old: "2026-12-31", New: "2027-12-31"},
				policy.ChangePremium:    {Old: int64(1234500), New: int64(1300000)},
				policy.ChangeSumInsured: {Old: int64(60000000), New: int64(55000000)},
			},
		})})
		want.StartDate, want.EndDate, want.Premium, want.SumInsured = "2027-01-01", "2027-12-31", 1300000, 55000000
		want.Renewals, want.Version, want.UpdatedAt = 1, 2, t0.Add(time.Hour)
		// Renewed before its end: the old term still runs, so the policy is
		// in force (active), not "scheduled" (the aggregate's rule).
		want.Status, want.DaysToExpiry = "active", 578
		check("renewed", pid, today, want)
		if got, err := r.Policy(ctx, pid, date(t, "2025-12-31").Time); err != nil || got.Status != "scheduled" {
			t.Fatalf("before the first term: %q, %v; want scheduled", got.Status, err)
		}

		project(t, db, step{3, t0.Add(2 * time.Hour), as(policy.ExpiringWarning{
			PolicyID: pid, CustomerID: custID, PolicyNumber: "POL-2026-000001", EndDate: date(t, "2027-12-31"),
			AsOf: date(t, "2027-12-01"), DaysLeft: 30, Threshold: 30, Urgency: policy.UrgencyFor(30),
		})})
		want.Version, want.UpdatedAt = 3, t0.Add(2*time.Hour)
		check("expiring warning", pid, today, want)

		project(t, db, step{2, t0.Add(3 * time.Hour), as(document.Generated{
			DocumentID: docID, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: pid,
			ContentType: "application/pdf", Size: 51234, SHA256: strings.Repeat("cd", 32),
		})})
		want.DocumentID = &docID
		check("schedule generated", pid, today, want)
		check("other policy unchanged", bareID, today, bare)
	})
}

func TestPoliciesListing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		r := newReader(t, db)
		today := time.Date(2026, 6, 1, 15, 30, 0, 0, time.UTC)
		custID := event.NewID()
		// Ids in id order. tieA and tieB end on the same day; tieB is
		// projected first, so only the id can put tieA before it.
		ended, endsToday, tieA, tieB, boundary, later := event.NewID(), event.NewID(), event.NewID(), event.NewID(), event.NewID(), event.NewID()
		ends := []struct{ id, end string }{
			{later, "2026-07-02"},     // today + 31: outside a 30-day window
			{tieB, "2026-06-11"},      // today + 10
			{endsToday, "2026-06-01"}, // today
			{boundary, "2026-07-01"},  // today + 30
			{tieA, "2026-06-11"},      // today + 10
			{ended, "2026-05-31"},     // yesterday
		}
		for i, e := range ends {
			p := policyCreated(t, e.id, custID, "", fmt.Sprintf("POL-%d", i), "2025-08-01", e.end)
			project(t, db, step{1, t0, []as{asValue, asPointer}[i%2](p)})
		}

		tests := []struct {
			name      string
			within    *int
			limit     int
			wantPages [][]string
			wantNext  []string
		}{
			{
				name: "within 30 days, by 2", within: ptr(30), limit: 2,
				wantPages: [][]string{{endsToday, tieA}, {tieB, boundary}},
				wantNext:  []string{"2026-06-11_" + tieA, ""},
			},
			{
				name: "within 30 days, by 3", within: ptr(30), limit: 3,
				wantPages: [][]string{{endsToday, tieA, tieB}, {boundary}},
				wantNext:  []string{"2026-06-11_" + tieB, ""},
			},
			{
				name: "within 30 days, default limit", within: ptr(30), limit: 0,
				wantPages: [][]string{{endsToday, tieA, tieB, boundary}},
				wantNext:  []string{""},
			},
			{
				name: "within 0 days", within: ptr(0), limit: 10,
				wantPages: [][]string{{endsToday}},
				wantNext:  []string{""},
			},
			{
				name: "within 9 days", within: ptr(9), limit: 10,
				wantPages: [][]string{{endsToday}},
				wantNext:  []string{""},
			},
			{
				name: "every policy, by 4", limit: 4,
				wantPages: [][]string{{ended, endsToday, tieA, tieB}, {boundary, later}},
				wantNext:  []string{"2026-06-11_" + tieB, ""},
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var pages [][]string
				var nexts []string
				after := ""
				for range 10 {
					got, next, err := r.Policies(t.Context(), tc.within, today, after, tc.limit)
					if err != nil {
						t.Fatal(err)
					}
					page := make([]string, len(got))
					for i, p := range got {
						page[i] = p.ID
					}
					pages, nexts = append(pages, page), append(nexts, next)
					if next == "" {
						break
					}
					after = next
				}
				if diff := cmp.Diff(tc.wantPages, pages); diff != "" {
					t.Errorf("pages (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantNext, nexts); diff != "" {
					t.Errorf("next cursors (-want +got):\n%s", diff)
				}
			})
		}

		t.Run("status computed for today", func(t *testing.T) {
			t.Parallel()
			got, _, err := r.Policies(t.Context(), nil, today, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				ID, Status string
				Days       int
			}
			var rows []row
			for _, p := range got {
				rows = append(rows, row{p.ID, p.Status, p.DaysToExpiry})
			}
			want := []row{
				{ended, "expired", -1}, {endsToday, "expiring", 0}, {tieA, "expiring", 10}, {tieB, "expiring", 10},
				{boundary, "expiring", 30}, {later, "active", 31},
			}
			if diff := cmp.Diff(want, rows); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		})

		for _, cursor := range []string{"garbage", "2026-06-11", "2026-13-01_" + tieA, "11/06/2026_" + tieA, "_" + tieA, t0.Format(time.RFC3339) + "_" + tieA} {
			for _, within := range []*int{nil, ptr(30)} {
				t.Run(fmt.Sprintf("bad cursor %q within %v", cursor, within != nil), func(t *testing.T) {
					t.Parallel()
					got, next, err := r.Policies(t.Context(), within, today, cursor, 2)
					wantInvalidAfter(t, err)
					if len(got) != 0 || next != "" {
						t.Errorf("a bad cursor returned %d policies and next %q", len(got), next)
					}
				})
			}
		}

		day := func(d string) time.Time { return date(t, d).Time }
		ranges := []struct {
			name     string
			from, to time.Time
			want     []string
		}{
			{"today to ten days on", today, today.AddDate(0, 0, 10), []string{endsToday, tieA, tieB}},
			{"ten to thirty days on", day("2026-06-11"), day("2026-07-01"), []string{tieA, tieB, boundary}},
			{"one day", day("2026-05-31"), day("2026-05-31").Add(23 * time.Hour), []string{ended}},
			{"nothing ends in between", day("2026-06-02"), day("2026-06-10"), nil},
			{"to before from", day("2026-07-01"), day("2026-06-01"), nil},
		}
		for _, rg := range ranges {
			t.Run("expiring ids "+rg.name, func(t *testing.T) {
				t.Parallel()
				got, err := r.ExpiringPolicyIDs(t.Context(), rg.from, rg.to)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(rg.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("ExpiringPolicyIDs(%s, %s) (-want +got):\n%s", rg.from, rg.to, diff)
				}
			})
		}
	})
}

func TestMessages(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		r := newReader(t, db)
		custA, custB := event.NewID(), event.NewID()
		doc1, doc2, doc3, src := event.NewID(), event.NewID(), event.NewID(), event.NewID()
		// Ids in id order; m5 and m6 are queued at the same instant.
		m1, m2, m3, m4, m5, m6 := event.NewID(), event.NewID(), event.NewID(), event.NewID(), event.NewID(), event.NewID()
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

		email := func(id, cust, role, template string, docs ...string) communication.EmailQueued {
			e := communication.EmailQueued{MessageID: id, CustomerID: cust, RecipientRole: role, Template: template,
				Priority: communication.PriorityHigh, SourceEventID: src}
			for _, d := range docs {
				e.Attachments = append(e.Attachments, communication.Attachment{DocumentID: d, Name: d + ".pdf", ContentType: "application/pdf"})
			}
			return e
		}
		whatsapp := func(id, cust, doc string) communication.WhatsAppMessageQueued {
			return communication.WhatsAppMessageQueued{MessageID: id, CustomerID: cust, Template: communication.TemplateQuotation,
				Priority: communication.PriorityNormal, DocumentID: doc, SourceEventID: src}
		}
		project(t, db,
			step{1, at(0), as(email(m1, custA, communication.RoleCustomer, communication.TemplateQuotation, doc1, doc2))},
			step{1, at(1).In(ist), as(whatsapp(m2, custA, doc3))},
			step{1, at(2), as(email(m3, "", communication.RoleAdmin, communication.TemplateAdminRegistration))},
			step{1, at(3), as(whatsapp(m4, custB, ""))},
			step{1, at(4), as(email(m6, custA, communication.RoleCustomer, communication.TemplateWelcome))},
			step{1, at(4), as(email(m5, custA, communication.RoleCustomer, communication.TemplateWelcome))},
		)
		project(t, db,
			step{2, at(10), as(communication.MessageSent{MessageID: m1, Channel: communication.ChannelEmail, ProviderMessageID: "smtp-123", SentAt: at(9).In(ist)})},
			step{2, at(11), as(communication.MessageFailed{MessageID: m2, Channel: communication.ChannelWhatsApp, Reason: "recipient not on whatsapp"})},
			step{2, at(12), as(communication.MessageSkipped{MessageID: m4, Channel: communication.ChannelWhatsApp, Reason: "customer opted out"})},
		)

		queued := func(id string, cust *string, channel, template, role, priority string, docs []string, queuedAt time.Time) projection.Message {
			return projection.Message{ID: id, CustomerID: cust, Channel: channel, Template: template, RecipientRole: role, Priority: priority,
				Status: "queued", DocumentIDs: docs, SourceEventID: src, QueuedAt: queuedAt, UpdatedAt: queuedAt}
		}
		want := map[string]projection.Message{
			m1: queued(m1, &custA, "email", communication.TemplateQuotation, "customer", "high", []string{doc1, doc2}, at(0)),
			m2: queued(m2, &custA, "whatsapp", communication.TemplateQuotation, "customer", "normal", []string{doc3}, at(1)),
			m3: queued(m3, nil, "email", communication.TemplateAdminRegistration, "admin", "high", []string{}, at(2)),
			m4: queued(m4, &custB, "whatsapp", communication.TemplateQuotation, "customer", "normal", []string{}, at(3)),
			m5: queued(m5, &custA, "email", communication.TemplateWelcome, "customer", "high", []string{}, at(4)),
			m6: queued(m6, &custA, "email", communication.TemplateWelcome, "customer", "high", []string{}, at(4)),
		}
		sent := want[m1]
		sent.Status, sent.ProviderMessageID, sent.SentAt, sent.UpdatedAt = "sent", ptr("smtp-123"), ptr(at(9)), at(10)
		want[m1] = sent
		failed := want[m2]
		failed.Status, failed.Error, failed.UpdatedAt = "failed", ptr("recipient not on whatsapp"), at(11)
		want[m2] = failed
		skipped := want[m4]
		skipped.Status, skipped.Error, skipped.UpdatedAt = "skipped", ptr("customer opted out"), at(12)
		want[m4] = skipped

		all, next, err := r.Messages(t.Context(), "", "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		wantAll := []projection.Message{want[m1], want[m2], want[m3], want[m4], want[m5], want[m6]}
		if diff := cmp.Diff(wantAll, all); diff != "" || next != "" {
			t.Errorf("all messages, next %q (-want +got):\n%s", next, diff)
		}

		cursor := func(id string) string { return want[id].QueuedAt.Format(time.RFC3339Nano) + "_" + id }
		tests := []struct {
			name              string
			customer, channel string
			limit             int
			wantPages         [][]string
			wantNext          []string
		}{
			{name: "customer", customer: custA, limit: 10, wantPages: [][]string{{m1, m2, m5, m6}}, wantNext: []string{""}},
			{name: "channel", channel: "whatsapp", limit: 10, wantPages: [][]string{{m2, m4}}, wantNext: []string{""}},
			{name: "customer and channel", customer: custA, channel: "email", limit: 10, wantPages: [][]string{{m1, m5, m6}}, wantNext: []string{""}},
			{name: "customer without messages on the channel", customer: custB, channel: "email", limit: 10, wantPages: [][]string{{}}, wantNext: []string{""}},
			{name: "unknown customer", customer: event.NewID(), limit: 10, wantPages: [][]string{{}}, wantNext: []string{""}},
			{
				name: "customer by 1", customer: custA, limit: 1,
				wantPages: [][]string{{m1}, {m2}, {m5}, {m6}},
				wantNext:  []string{cursor(m1), cursor(m2), cursor(m5), ""},
			},
			{
				name: "customer by 3, through a tie", customer: custA, limit: 3,
				wantPages: [][]string{{m1, m2, m5}, {m6}},
				wantNext:  []string{cursor(m5), ""},
			},
			{
				name: "everything by 4", limit: 4,
				wantPages: [][]string{{m1, m2, m3, m4}, {m5, m6}},
				wantNext:  []string{cursor(m4), ""},
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var pages [][]string
				var nexts []string
				after := ""
				for range 10 {
					got, next, err := r.Messages(t.Context(), tc.customer, tc.channel, after, tc.limit)
					if err != nil {
						t.Fatal(err)
					}
					page := make([]string, len(got))
					for i, m := range got {
						page[i] = m.ID
						if diff := cmp.Diff(want[m.ID], m); diff != "" {
							t.Errorf("message %s (-want +got):\n%s", m.ID, diff)
						}
					}
					pages, nexts = append(pages, page), append(nexts, next)
					if next == "" {
						break
					}
					after = next
				}
				if diff := cmp.Diff(tc.wantPages, pages); diff != "" {
					t.Errorf("pages (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantNext, nexts); diff != "" {
					t.Errorf("next cursors (-want +got):\n%s", diff)
				}
			})
		}

		for _, bad := range []string{"garbage", "2026-11-27_" + m1, t0.Format(time.RFC3339Nano), "_" + m1, "2026-06-11_" + m1} {
			t.Run("bad cursor "+bad, func(t *testing.T) {
				t.Parallel()
				got, next, err := r.Messages(t.Context(), custA, "", bad, 2)
				wantInvalidAfter(t, err)
				if len(got) != 0 || next != "" {
					t.Errorf("a bad cursor returned %d messages and next %q", len(got), next)
				}
			})
		}
	})
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		ctx := t.Context()
		r := newReader(t, db)
		pid, docID, otherDoc := event.NewID(), event.NewID(), event.NewID()
		sha := strings.Repeat("0f", 32)

		project(t, db,
			step{1, t0, as(policyCreated(t, pid, event.NewID(), "", "POL-DOC-1", "2026-01-01", "2026-12-31"))},
			step{1, t0.Add(time.Second), as(document.GenerationRequested{
				DocumentID: docID, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: pid,
				SourceEventID: event.NewID(), Priority: "high",
			})},
			step{1, t0.Add(time.Second), as(document.GenerationRequested{
				DocumentID: otherDoc, Kind: document.KindQuotation, SubjectType: "archive", SubjectID: "box-7",
				SourceEventID: event.NewID(), Priority: "normal",
			})},
		)
		want := projection.Document{
			ID: docID, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: pid,
			Status: "requested", ContentType: "application/pdf", RequestedAt: t0.Add(time.Second),
		}
		got, err := r.Document(ctx, nil, docID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("requested (-want +got):\n%s", diff)
		}
		if p, err := r.Policy(ctx, pid, t0); err != nil || p.DocumentID != nil {
			t.Errorf("before generation: policy document %v, err %v; want none", p.DocumentID, err)
		}

		project(t, db,
			step{2, t0.Add(time.Minute).In(ist), as(document.Generated{
				DocumentID: docID, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: pid,
				ContentType: "application/pdf", Size: 48213, SHA256: sha,
			})},
			step{2, t0.Add(time.Minute), as(document.Generated{
				DocumentID: otherDoc, Kind: document.KindQuotation, SubjectType: "archive", SubjectID: "box-7",
				ContentType: "application/pdf", Size: 100, SHA256: sha,
			})},
		)
		want.Status, want.Size, want.SHA256, want.GeneratedAt = "generated", ptr(int64(48213)), &sha, ptr(t0.Add(time.Minute))
		got, err = r.Document(ctx, nil, docID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("generated (-want +got):\n%s", diff)
		}
		p, err := r.Policy(ctx, pid, t0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&docID, p.DocumentID); diff != "" {
			t.Errorf("policy document (-want +got):\n%s", diff)
		}
		other, err := r.Document(ctx, nil, otherDoc)
		if err != nil {
			t.Fatal(err)
		}
		if other.Status != "generated" || other.Size == nil || *other.Size != 100 {
			t.Errorf("document of another subject type: status %q size %v, want generated with size 100", other.Status, other.Size)
		}
	})
}

func TestAudit(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		r := newReader(t, db)
		custA, custB := event.NewID(), event.NewID()
		logged := func(cust, action, name string) audit.ActionLogged {
			return audit.ActionLogged{CustomerID: cust, Action: action, SourceEventID: event.NewID(), SourceEventName: name,
				Actor: "system", Summary: "done"}
		}
		entries := []struct {
			at time.Time
			e  audit.ActionLogged
		}{
			{t0.Add(2 * time.Second), logged(custA, "customer.profile_updated", customer.EventProfileUpdated)},
			{t0, logged(custA, "customer.registered", customer.EventRegistered)},
			{t0.Add(time.Second).In(ist), logged(custA, "customer.email_verified", customer.EventEmailVerified)},
			{t0, logged(custB, "customer.registered", customer.EventRegistered)},
		}
		steps := make([]step, len(entries))
		for i, e := range entries {
			steps[i] = step{int64(i + 1), e.at, as(e.e)}
		}
		envs := project(t, db, steps...)
		entry := func(i int) projection.AuditEntry {
			e := entries[i].e
			return projection.AuditEntry{ID: envs[i].EventID, CustomerID: e.CustomerID, Action: e.Action, SourceEventID: e.SourceEventID,
				SourceEventName: e.SourceEventName, Actor: e.Actor, OccurredAt: entries[i].at}
		}

		tests := []struct {
			name     string
			customer string
			want     []projection.AuditEntry
		}{
			{"in time order", custA, []projection.AuditEntry{entry(1), entry(2), entry(0)}},
			{"another customer", custB, []projection.AuditEntry{entry(3)}},
			{"no entries", event.NewID(), []projection.AuditEntry{}},
		}
		for _, tc := range tests {
			got, err := r.Audit(t.Context(), tc.customer)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

// TestRollback proves the read models live in the caller's transaction: a
// transaction that fails leaves nothing behind.
func TestRollback(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		ctx := t.Context()
		r := newReader(t, db)
		custID, qid, pid, mid, docID := event.NewID(), event.NewID(), event.NewID(), event.NewID(), event.NewID()
		payloads := []event.Payload{
			registered(custID, "Asha Rao", "asha@example.com"),
			quotation.Requested{QuotationID: qid, CustomerID: custID, Product: "motor", SumInsured: 1, Currency: "INR", Details: json.RawMessage(`{}`)},
			policyCreated(t, pid, custID, qid, "POL-ROLLBACK", "2026-01-01", "2026-12-31"),
			communication.EmailQueued{MessageID: mid, CustomerID: custID, RecipientRole: "customer", Template: "welcome", Priority: "high", SourceEventID: event.NewID()},
			document.GenerationRequested{DocumentID: docID, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: pid, SourceEventID: event.NewID()},
			audit.ActionLogged{CustomerID: custID, Action: "customer.registered", SourceEventID: event.NewID(), SourceEventName: customer.EventRegistered, Actor: "system", Summary: "done"},
		}
		errBoom := errors.New("boom")
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			for _, p := range payloads {
				env := event.Envelope{EventID: event.NewID(), EventName: p.EventName(), AggregateVersion: 1, OccurredAt: t0}
				if err := projector(t, db).Project(ctx, tx, env, as(p)); err != nil {
					return err
				}
			}
			if _, err := r.Customer(ctx, tx, custID); err != nil {
				return fmt.Errorf("read the customer inside the transaction: %w", err)
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx = %v, want %v", err, errBoom)
		}

		for _, nf := range []struct {
			name string
			read func() error
		}{
			{"customer", func() error { _, err := r.Customer(ctx, nil, custID); return err }},
			{"quotation", func() error { _, err := r.Quotation(ctx, qid); return err }},
			{"policy", func() error { _, err := r.Policy(ctx, pid, t0); return err }},
			{"document", func() error { _, err := r.Document(ctx, nil, docID); return err }},
		} {
			if err := nf.read(); !apperr.IsCode(err, apperr.NotFound) {
				t.Errorf("%s after rollback: err = %v, want %s", nf.name, err, apperr.NotFound)
			}
		}

		customers, _, err := r.Customers(ctx, projection.CustomerFilter{}, "", 10)
		if err != nil || len(customers) != 0 {
			t.Errorf("customers after rollback: %d, err %v; want none", len(customers), err)
		}
		policies, _, err := r.Policies(ctx, nil, t0, "", 10)
		if err != nil || len(policies) != 0 {
			t.Errorf("policies after rollback: %d, err %v; want none", len(policies), err)
		}
		messages, _, err := r.Messages(ctx, "", "", "", 10)
		if err != nil || len(messages) != 0 {
			t.Errorf("messages after rollback: %d, err %v; want none", len(messages), err)
		}
		entries, err := r.Audit(ctx, custID)
		if err != nil || len(entries) != 0 {
			t.Errorf("audit entries after rollback: %d, err %v; want none", len(entries), err)
		}
	})
}

// unrelated is an event without a read model.
type unrelated struct{}

func (unrelated) EventName() string { return "Unrelated" }

func TestProjectIgnoresEventsWithoutReadModel(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		if _, err := projectTx(t, db, step{1, t0, as(unrelated{})}); err != nil {
			t.Errorf("Project(Unrelated) = %v, want nil", err)
		}
	})
}
