package policy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/policy"
)

// TestRoundTrip creates, warns, renews and warns again, stores the events
// as envelopes and rebuilds the policy from them alone.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	p := &policy.Policy{}
	var all []event.Payload
	step := func(ps []event.Payload, err error) {
		t.Helper()
		apply(t, p, must(t)(ps, err))
		all = append(all, ps...)
	}
	step(policy.CreatePolicy(polID, validCreate(), now))
	step(p.WarnExpiry(day(t, "2026-12-10")))
	step(p.WarnExpiry(day(t, "2027-01-02")))
	step(p.Renew(policy.Renew{Premium: ptr(int64(2_500_000))}, day(t, "2027-01-03")))
	step(p.WarnExpiry(day(t, "2027-12-25")))

	envs := envelopes(t, polID, 0, now, all...)
	got, err := policy.Rebuild(envs, reg)
	if err != nil {
		t.Fatal(err)
	}
	want := &policy.Policy{
		ID: polID, Number: "MOT-2026-0F3A9C21", CustomerID: custID, QuotationID: quoteID,
		Insurer: "acme", Product: "motor", Premium: 2_500_000, SumInsured: 65_000_000, Currency: "INR",
		StartDate: day(t, "2027-01-09"), EndDate: day(t, "2028-01-09"),
		PreviousStartDate: day(t, "2026-01-10"), PreviousEndDate: day(t, "2027-01-09"),
		Renewals: 1, Warned: []int{15}, Version: 5,
		CreatedAt: now, UpdatedAt: now.Add(4 * time.Minute),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("rebuilt policy (-want +got):\n%s", diff)
	}
	for i, env := range envs {
		d, err := reg.Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(all[i], d); diff != "" {
			t.Fatalf("event %d (-decided +decoded):\n%s", i, diff)
		}
	}
}

func TestRebuildErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	create := must(t)(policy.CreatePolicy(polID, validCreate(), now))[0]
	renew := &policy.Renewed{PolicyID: polID,
		PreviousStartDate: day(t, "2026-01-10"), PreviousEndDate: day(t, "2027-01-09"),
		StartDate: day(t, "2027-01-09"), EndDate: day(t, "2028-01-09"), Premium: 1, SumInsured: 1}
	warn := &policy.ExpiringWarning{PolicyID: polID, CustomerID: custID, PolicyNumber: "N", EndDate: day(t, "2027-01-09"),
		AsOf: day(t, "2027-01-02"), DaysLeft: 7, Threshold: 7, Urgency: "high"}
	tests := []struct {
		name    string
		envs    func(t *testing.T) []event.Envelope
		wantErr string
	}{
		{"no events", func(t *testing.T) []event.Envelope { return nil }, "not found"},
		{"other aggregate type", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, polID, 0, now, create)
			envs[0].AggregateType = "quotation"
			return envs
		}, `aggregate type "quotation"`},
		{"other aggregate", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, polID, 0, now, create), envelopes(t, otherID, 1, now, warn)...)
		}, "belongs to policy"},
		{"payload for another policy", func(t *testing.T) []event.Envelope { return envelopes(t, otherID, 0, now, create) }, "is for policy"},
		{"gap", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, polID, 0, now, create), envelopes(t, polID, 2, now, warn)...)
		}, "version 3, want 2"},
		{"renewal first", func(t *testing.T) []event.Envelope { return envelopes(t, polID, 0, now, renew) }, "before PolicyCreated"},
		{"created twice", func(t *testing.T) []event.Envelope { return envelopes(t, polID, 0, now, create, create) }, "already created"},
		{"renewal of another term", func(t *testing.T) []event.Envelope {
			r := *renew
			r.PreviousStartDate = day(t, "2025-01-10")
			return envelopes(t, polID, 0, now, create, &r)
		}, "but the current term is"},
		{"renewed twice from the same term", func(t *testing.T) []event.Envelope {
			return envelopes(t, polID, 0, now, create, renew, renew)
		}, "but the current term is"},
		{"warning for another end date", func(t *testing.T) []event.Envelope {
			return envelopes(t, polID, 0, now, create, renew, warn)
		}, "but the policy ends on"},
		{"corrupt warning", func(t *testing.T) []event.Envelope {
			w := *warn
			w.Urgency = "low"
			return envelopes(t, polID, 0, now, create, &w)
		}, "urgency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := policy.Rebuild(tt.envs(t), reg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rebuild = %+v, %v; want an error containing %q", p, err, tt.wantErr)
			}
		})
	}
}

type foreign struct{}

func (foreign) EventName() string { return "QuotationRequested" }

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	p := created(t, validCreate())
	before := *p
	for i, e := range []event.Payload{nil, foreign{}, (*policy.Created)(nil), (*policy.Renewed)(nil), (*policy.ExpiringWarning)(nil),
		&policy.ExpiringWarning{PolicyID: otherID, EndDate: p.EndDate, Threshold: 1}} {
		if err := p.Apply(e); err == nil {
			t.Errorf("Apply(#%d %T) succeeded", i, e)
		}
		if diff := cmp.Diff(before, *p); diff != "" {
			t.Fatalf("Apply(#%d) changed the policy on error:\n%s", i, diff)
		}
	}
	w := policy.ExpiringWarning{PolicyID: polID, EndDate: p.EndDate, Threshold: 30}
	if err := p.Apply(w); err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(&w); err != nil { // a repeat is recorded once
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{30}, p.Warned); diff != "" || p.Version != before.Version+2 {
		t.Fatalf("Warned %v, version %d", p.Warned, p.Version)
	}
}

func TestPayloadValidate(t *testing.T) {
	t.Parallel()
	c := *must(t)(policy.CreatePolicy(polID, validCreate(), now))[0].(*policy.Created)
	r := *must(t)(created(t, validCreate()).Renew(policy.Renew{Premium: ptr(int64(5))}, day(t, "2026-12-20")))[0].(*policy.Renewed)
	w := policy.ExpiringWarning{PolicyID: polID, CustomerID: custID, PolicyNumber: "N", EndDate: day(t, "2027-01-09"),
		AsOf: day(t, "2027-01-02"), DaysLeft: 7, Threshold: 7, Urgency: "high"}
	tests := []struct {
		name string
		p    interface{ Validate() error }
		ok   bool
	}{
		{"created", c, true},
		{"created bad id", func() policy.Created { e := c; e.PolicyID = "p"; return e }(), false},
		{"created no number", func() policy.Created { e := c; e.PolicyNumber = ""; return e }(), false},
		{"created bad customer", func() policy.Created { e := c; e.CustomerID = "c"; return e }(), false},
		{"created bad quotation", func() policy.Created { e := c; e.QuotationID = "q"; return e }(), false},
		{"created no quotation", func() policy.Created { e := c; e.QuotationID = ""; return e }(), true},
		{"created bad insurer", func() policy.Created { e := c; e.Insurer = "A B"; return e }(), false},
		{"created bad product", func() policy.Created { e := c; e.Product = "x"; return e }(), false},
		{"created zero premium", func() policy.Created { e := c; e.Premium = 0; return e }(), false},
		{"created zero sum", func() policy.Created { e := c; e.SumInsured = 0; return e }(), false},
		{"created bad currency", func() policy.Created { e := c; e.Currency = "rs"; return e }(), false},
		{"created no start", func() policy.Created { e := c; e.StartDate = policy.Date{}; return e }(), false},
		{"created ends first", func() policy.Created { e := c; e.EndDate = e.StartDate; return e }(), false},
		{"renewed", r, true},
		{"renewed bad id", func() policy.Renewed { e := r; e.PolicyID = ""; return e }(), false},
		{"renewed zero premium", func() policy.Renewed { e := r; e.Premium = 0; return e }(), false},
		{"renewed bad previous term", func() policy.Renewed { e := r; e.PreviousEndDate = e.PreviousStartDate; return e }(), false},
		{"renewed bad term", func() policy.Renewed { e := r; e.EndDate = policy.Date{}; return e }(), false},
		{"renewed unknown change", func() policy.Renewed {
			e := r
			e.Changes = map[string]policy.Change{"insurer": {Old: "a", New: "b"}}
			return e
		}(), false},
		{"renewed float amount", func() policy.Renewed {
			e := r
			e.Changes = map[string]policy.Change{"premium": {Old: 1.5, New: int64(2)}}
			return e
		}(), false},
		{"renewed date not a string", func() policy.Renewed {
			e := r
			e.Changes = map[string]policy.Change{"end_date": {Old: int64(1), New: "2027-01-01"}}
			return e
		}(), false},
		{"renewed no changes", func() policy.Renewed { e := r; e.Changes = nil; return e }(), true},
		{"warning", w, true},
		{"warning bad threshold", func() policy.ExpiringWarning { e := w; e.Threshold = 10; return e }(), false},
		{"warning days over threshold", func() policy.ExpiringWarning {
			e := w
			e.Threshold = 1
			e.Urgency = "critical"
			e.DaysLeft = 1
			return e
		}(), false},
		{"warning days disagree with dates", func() policy.ExpiringWarning { e := w; e.DaysLeft = 6; return e }(), false},
		{"warning wrong urgency", func() policy.ExpiringWarning { e := w; e.Urgency = "low"; return e }(), false},
		{"warning no number", func() policy.ExpiringWarning { e := w; e.PolicyNumber = " "; return e }(), false},
		{"warning no customer", func() policy.ExpiringWarning { e := w; e.CustomerID = ""; return e }(), false},
		{"warning no as_of", func() policy.ExpiringWarning { e := w; e.AsOf = policy.Date{}; return e }(), false},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && apperr.CodeOf(err) != apperr.Internal {
			t.Errorf("%s: Validate returned an application error %v; stored-event errors must be plain", tt.name, err)
		}
	}
}

func TestChangeJSON(t *testing.T) {
	t.Parallel()
	var got map[string]policy.Change
	in := `{"premium":{"old":2274008,"new":2500000},"end_date":{"old":"2027-01-09","new":"2028-01-09"},"x":{"old":1.5,"new":null}}`
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]policy.Change{
		"premium":  {Old: int64(2274008), New: int64(2500000)},
		"end_date": {Old: "2027-01-09", New: "2028-01-09"},
		"x":        {Old: 1.5, New: nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	for _, bad := range []string{`{"a":{"old":1,"new":2,"extra":3}}`, `{"a":{"old":1e999,"new":2}}`, `{"a":[1]}`} {
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(policy.EventCreated, []byte(`{"policy_id":"`+polID+`","policy_number":"MOT-2026-0F3A9C21","customer_id":"`+custID+`","quotation_id":"`+quoteID+`","insurer":"acme","product":"motor","premium":2274008,"sum_insured":65000000,"currency":"INR","start_date":"2026-01-10","end_date":"2027-01-09"}`))
	f.Add(policy.EventRenewed, []byte(`{"policy_id":"`+polID+`","previous_start_date":"2026-01-10","previous_end_date":"2027-01-09","start_date":"2027-01-09","end_date":"2028-01-09","premium":5,"sum_insured":65000000,"changes":{"start_date":{"old":"2026-01-10","new":"2027-01-09"},"premium":{"old":2274008,"new":5}}}`))
	f.Add(policy.EventRenewed, []byte(`{"policy_id":"`+polID+`","previous_start_date":"2026-01-10","previous_end_date":"2027-01-09","start_date":"2027-01-09","end_date":"2028-01-09","premium":5,"sum_insured":6,"changes":{"premium":{"old":1.0,"new":2e3}}}`))
	f.Add(policy.EventExpiringWarning, []byte(`{"policy_id":"`+polID+`","customer_id":"`+custID+`","policy_number":"N","end_date":"2027-01-09","as_of":"2027-01-02","days_left":7,"threshold":7,"urgency":"high"}`))
	f.Add(policy.EventExpiringWarning, []byte(`{"policy_id":"`+polID+`","end_date":null,"as_of":"9999-12-31","days_left":-1}`))
	f.Add("Other", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		reg := event.NewRegistry()
		if err := reg.Register(policy.Events()...); err != nil {
			t.Fatal(err)
		}
		env := event.Envelope{EventID: event.NewID(), EventName: name, AggregateType: policy.AggregateType,
			AggregateID: polID, AggregateVersion: 1, SchemaVersion: 1, Data: data}
		if p, err := policy.Rebuild([]event.Envelope{env}, reg); err == nil {
			today := p.EndDate.AddDays(-3)
			p.Status(today)
			_, _ = p.WarnExpiry(today)
			_, _ = p.Renew(policy.Renew{}, today)
		}
		d, err := reg.Decode(env)
		if err != nil {
			return
		}
		b1, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal decoded %s: %v", name, err)
		}
		env.Data = b1
		d2, err := reg.Decode(env)
		if err != nil {
			t.Fatalf("re-decode %s %s: %v", name, b1, err)
		}
		if diff := cmp.Diff(d, d2); diff != "" {
			t.Fatalf("decode, encode, decode changed the payload:\n%s", diff)
		}
		var p policy.Policy
		_ = p.Apply(d)
		_ = p.Apply(d)
	})
}
