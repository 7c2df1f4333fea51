package quotation_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/quotation"
	"insure/internal/rating"
)

// TestRoundTrip requests a quotation, prices it with the default rate table
// (the rating package's worked example 3), records the quotes and rebuilds
// the quotation from stored envelopes.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	q := &quotation.Quotation{}
	var all []event.Payload
	ps, err := quotation.RequestQuotation(quoteID, motorRequest(), now)
	apply(t, q, ps, err)
	all = append(all, ps...)

	req, err := q.RatingRequest(now)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := rating.Request{Product: "motor", SumInsured: 25_000_000, Currency: "INR",
		Motor: &rating.MotorDetails{VehicleMake: "Honda", VehicleModel: "City", VehicleYear: 2012}, AsOf: now}
	if diff := cmp.Diff(wantReq, req); diff != "" {
		t.Fatalf("RatingRequest (-want +got):\n%s", diff)
	}
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	quotes, err := table.Rate(req)
	if err != nil {
		t.Fatal(err)
	}
	ps, err = q.Generate(quotes, now)
	apply(t, q, ps, err)
	all = append(all, ps...)

	envs := envelopes(t, quoteID, 0, now, all...)
	got, err := quotation.Rebuild(envs, reg)
	if err != nil {
		t.Fatal(err)
	}
	want := &quotation.Quotation{
		ID: quoteID, CustomerID: custID, Product: "motor", SumInsured: 25_000_000, Currency: "INR",
		Details:     json.RawMessage(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012}`),
		Status:      quotation.StatusGenerated,
		Quotes:      quotes,
		Version:     2,
		RequestedAt: now,
		UpdatedAt:   now.Add(time.Minute),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("rebuilt quotation (-want +got):\n%s", diff)
	}
	best, ok := got.Cheapest()
	if !ok || best.Insurer != "bharat" || best.Premium != 1473938 {
		t.Fatalf("Cheapest = %s %d, %v; want bharat 1473938", best.Insurer, best.Premium, ok)
	}
	for i, env := range envs {
		p, err := reg.Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(all[i], p); diff != "" {
			t.Fatalf("event %d (-decided +decoded):\n%s", i, diff)
		}
	}
}

func TestRoundTripFailed(t *testing.T) {
	t.Parallel()
	q := requested(t, healthRequest())
	ps, err := q.Fail("  rate table unavailable ", now)
	if err != nil {
		t.Fatal(err)
	}
	envs := envelopes(t, quoteID, 0, now, &quotation.Requested{
		QuotationID: quoteID, CustomerID: custID, Product: "health", SumInsured: 100_000_000, Currency: "INR",
		Details: json.RawMessage(`{"age":42,"members":4}`),
	})
	envs = append(envs, envelopes(t, quoteID, 1, now.Add(time.Hour), ps...)...)
	got, err := quotation.Rebuild(envs, setup(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != quotation.StatusFailed || got.FailureReason != "rate table unavailable" || got.Version != 2 || !got.UpdatedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("rebuilt = %+v", got)
	}
	req, err := got.RatingRequest(now)
	if err != nil || req.Health == nil || *req.Health != (rating.HealthDetails{Age: 42, Members: 4}) {
		t.Fatalf("RatingRequest = %+v, %v", req, err)
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status string // the state to start from
		quotes []rating.Quote
		events int
		code   apperr.Code // "" for success
		field  string
	}{
		{"requested", quotation.StatusRequested, []rating.Quote{quote("acme", 100), declined("coastal")}, 1, "", ""},
		{"all declined", quotation.StatusRequested, []rating.Quote{declined("acme"), declined("coastal")}, 1, "", ""},
		{"currency filled in", quotation.StatusRequested, []rating.Quote{{Insurer: "acme", Premium: 5}}, 1, "", ""},
		{"already generated", quotation.StatusGenerated, []rating.Quote{quote("acme", 100)}, 0, "", ""},
		{"already generated, no quotes", quotation.StatusGenerated, nil, 0, "", ""},
		{"after failure", quotation.StatusFailed, []rating.Quote{quote("acme", 100)}, 0, apperr.Conflict, ""},
		{"no quotes", quotation.StatusRequested, nil, 0, apperr.Invalid, "quotes"},
		{"no insurer", quotation.StatusRequested, []rating.Quote{quote("", 100)}, 0, apperr.Invalid, "quotes"},
		{"insurer twice", quotation.StatusRequested, []rating.Quote{quote("acme", 100), quote("acme", 90)}, 0, apperr.Invalid, "quotes"},
		{"zero premium", quotation.StatusRequested, []rating.Quote{quote("acme", 0)}, 0, apperr.Invalid, "quotes"},
		{"declined without reason", quotation.StatusRequested, []rating.Quote{{Insurer: "acme", Declined: true}}, 0, apperr.Invalid, "quotes"},
		{"declined with premium", quotation.StatusRequested, []rating.Quote{{Insurer: "acme", Declined: true, DeclineReason: "x", Premium: 4}}, 0, apperr.Invalid, "quotes"},
		{"other currency", quotation.StatusRequested, []rating.Quote{{Insurer: "acme", Premium: 4, Currency: "USD"}}, 0, apperr.Invalid, "quotes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := inState(t, tt.status)
			before := cloneQ(q)
			ps, err := q.Generate(tt.quotes, now)
			if diff := cmp.Diff(before, q); diff != "" {
				t.Fatalf("Generate changed the quotation:\n%s", diff)
			}
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if tt.code == apperr.Invalid {
					wantField(t, err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != tt.events {
				t.Fatalf("events = %v, want %d", ps, tt.events)
			}
			if tt.events == 1 {
				g := ps[0].(*quotation.Generated)
				for _, qt := range g.Quotes {
					if qt.Currency != "INR" {
						t.Fatalf("quote currency %q", qt.Currency)
					}
				}
				if err := g.Validate(); err != nil {
					t.Fatalf("decided event does not validate: %v", err)
				}
			}
		})
	}
}

func TestGenerateCopiesQuotes(t *testing.T) {
	t.Parallel()
	q := requested(t, motorRequest())
	quotes := []rating.Quote{quote("acme", 100)}
	quotes[0].AddOns = []rating.AddOn{{Code: "x", Premium: 1}}
	quotes[0].Breakdown = &rating.Breakdown{Base: 99}
	ps, err := q.Generate(quotes, now)
	if err != nil {
		t.Fatal(err)
	}
	quotes[0].AddOns[0].Premium = 7
	quotes[0].Breakdown.Base = 7
	g := ps[0].(*quotation.Generated)
	if g.Quotes[0].AddOns[0].Premium != 1 || g.Quotes[0].Breakdown.Base != 99 {
		t.Fatal("the event shares memory with the caller's quotes")
	}
}

func TestFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status string
		reason string
		events int
		code   apperr.Code
		field  string
	}{
		{"requested", quotation.StatusRequested, "no insurer answered", 1, "", ""},
		{"already failed", quotation.StatusFailed, "again", 0, "", ""},
		{"already failed, blank reason", quotation.StatusFailed, "", 0, "", ""},
		{"after generation", quotation.StatusGenerated, "late", 0, apperr.Conflict, ""},
		{"blank reason", quotation.StatusRequested, "  ", 0, apperr.Invalid, "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := inState(t, tt.status)
			ps, err := q.Fail(tt.reason, now)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if tt.code == apperr.Invalid {
					wantField(t, err, tt.field)
				}
				return
			}
			if err != nil || len(ps) != tt.events {
				t.Fatalf("Fail = %v, %v; want %d events", ps, err, tt.events)
			}
		})
	}
}

func TestNotRequested(t *testing.T) {
	t.Parallel()
	var q quotation.Quotation
	_, err := q.Generate([]rating.Quote{quote("acme", 1)}, now)
	wantCode(t, err, apperr.NotFound)
	_, err = q.Fail("x", now)
	wantCode(t, err, apperr.NotFound)
	_, err = q.RatingRequest(now)
	wantCode(t, err, apperr.NotFound)
}

func TestCheapest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		quotes []rating.Quote
		want   string
		wantOK bool
	}{
		{"none", nil, "", false},
		{"all declined", []rating.Quote{declined("a"), declined("b")}, "", false},
		{"lowest wins", []rating.Quote{quote("a", 300), quote("b", 100), quote("c", 200)}, "b", true},
		{"declined ignored", []rating.Quote{declined("a"), quote("b", 100)}, "b", true},
		{"first on a tie", []rating.Quote{quote("a", 100), quote("b", 100)}, "a", true},
	}
	for _, tt := range tests {
		q := quotation.Quotation{Quotes: tt.quotes}
		got, ok := q.Cheapest()
		if ok != tt.wantOK || got.Insurer != tt.want {
			t.Errorf("%s: Cheapest = %q, %v; want %q, %v", tt.name, got.Insurer, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRebuildErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	req := &quotation.Requested{QuotationID: quoteID, CustomerID: custID, Product: "health", SumInsured: 1, Currency: "INR", Details: json.RawMessage(`{"age":1,"members":1}`)}
	gen := &quotation.Generated{QuotationID: quoteID, CustomerID: custID, Product: "health", SumInsured: 1, Currency: "INR", Quotes: []rating.Quote{quote("acme", 10)}}
	fail := &quotation.GenerationFailed{QuotationID: quoteID, Reason: "x"}
	tests := []struct {
		name    string
		envs    func(t *testing.T) []event.Envelope
		wantErr string
	}{
		{"no events", func(t *testing.T) []event.Envelope { return nil }, "not found"},
		{"other aggregate type", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, quoteID, 0, now, req)
			envs[0].AggregateType = "customer"
			return envs
		}, `aggregate type "customer"`},
		{"other aggregate", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, quoteID, 0, now, req), envelopes(t, otherID, 1, now, fail)...)
		}, "belongs to quotation"},
		{"payload for another quotation", func(t *testing.T) []event.Envelope { return envelopes(t, otherID, 0, now, req) }, "is for quotation"},
		{"gap", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, quoteID, 0, now, req), envelopes(t, quoteID, 5, now, fail)...)
		}, "version 6, want 2"},
		{"outcome first", func(t *testing.T) []event.Envelope { return envelopes(t, quoteID, 0, now, fail) }, "before QuotationRequested"},
		{"requested twice", func(t *testing.T) []event.Envelope { return envelopes(t, quoteID, 0, now, req, req) }, "already requested"},
		{"two outcomes", func(t *testing.T) []event.Envelope { return envelopes(t, quoteID, 0, now, req, gen, fail) }, "after the quotation was generated"},
		{"generated for other terms", func(t *testing.T) []event.Envelope {
			g := *gen
			g.SumInsured = 2
			return envelopes(t, quoteID, 0, now, req, &g)
		}, "does not match the request"},
		{"details of the wrong product", func(t *testing.T) []event.Envelope {
			r := *req
			r.Details = json.RawMessage(`{"vehicle_make":"a","vehicle_model":"b","vehicle_year":2000}`)
			return envelopes(t, quoteID, 0, now, &r)
		}, "details.vehicle_make"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := quotation.Rebuild(tt.envs(t), reg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rebuild = %+v, %v; want an error containing %q", q, err, tt.wantErr)
			}
			if apperr.CodeOf(err) == apperr.Invalid {
				t.Fatalf("a corrupt stored event must not look like bad input: %v", err)
			}
		})
	}
}

type foreign struct{}

func (foreign) EventName() string { return "CustomerRegistered" }

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	q := requested(t, motorRequest())
	before := cloneQ(q)
	for i, p := range []event.Payload{nil, foreign{}, (*quotation.Requested)(nil), (*quotation.Generated)(nil), (*quotation.GenerationFailed)(nil),
		&quotation.GenerationFailed{QuotationID: otherID, Reason: "x"}} {
		if err := q.Apply(p); err == nil {
			t.Errorf("Apply(#%d %T) succeeded", i, p)
		}
		if diff := cmp.Diff(before, q); diff != "" {
			t.Fatalf("Apply(#%d) changed the quotation on error:\n%s", i, diff)
		}
	}
	if err := q.Apply(quotation.GenerationFailed{QuotationID: quoteID, Reason: "x"}); err != nil || q.Status != quotation.StatusFailed {
		t.Fatalf("Apply(value) = %v, status %s", err, q.Status)
	}
}

func TestPayloadValidate(t *testing.T) {
	t.Parallel()
	req := quotation.Requested{QuotationID: quoteID, CustomerID: custID, Product: "motor", SumInsured: 1, Currency: "INR",
		Details: json.RawMessage(`{"vehicle_make":"a","vehicle_model":"b","vehicle_year":2000}`)}
	gen := quotation.Generated{QuotationID: quoteID, CustomerID: custID, Product: "motor", SumInsured: 1, Currency: "INR", Quotes: []rating.Quote{quote("acme", 1)}}
	tests := []struct {
		name string
		p    interface{ Validate() error }
		ok   bool
	}{
		{"requested", req, true},
		{"requested bad id", func() quotation.Requested { r := req; r.QuotationID = "q"; return r }(), false},
		{"requested bad customer", func() quotation.Requested { r := req; r.CustomerID = ""; return r }(), false},
		{"requested bad product", func() quotation.Requested { r := req; r.Product = "life"; return r }(), false},
		{"requested zero sum", func() quotation.Requested { r := req; r.SumInsured = 0; return r }(), false},
		{"requested no currency", func() quotation.Requested { r := req; r.Currency = ""; return r }(), false},
		{"requested no details", func() quotation.Requested { r := req; r.Details = nil; return r }(), false},
		{"requested unknown detail", func() quotation.Requested {
			r := req
			r.Details = json.RawMessage(`{"vehicle_make":"a","vehicle_model":"b","vehicle_year":2000,"x":1}`)
			return r
		}(), false},
		{"generated", gen, true},
		{"generated no quotes", func() quotation.Generated { g := gen; g.Quotes = nil; return g }(), false},
		{"generated quote without currency", func() quotation.Generated {
			g := gen
			g.Quotes = []rating.Quote{{Insurer: "a", Premium: 1}}
			return g
		}(), false},
		{"failed", quotation.GenerationFailed{QuotationID: quoteID, Reason: "r"}, true},
		{"failed no reason", quotation.GenerationFailed{QuotationID: quoteID}, false},
		{"failed bad id", quotation.GenerationFailed{Reason: "r"}, false},
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

// inState returns a motor quotation in status s.
func inState(t *testing.T, s string) *quotation.Quotation {
	t.Helper()
	q := requested(t, motorRequest())
	switch s {
	case quotation.StatusGenerated:
		ps, err := q.Generate([]rating.Quote{quote("acme", 100)}, now)
		apply(t, q, ps, err)
	case quotation.StatusFailed:
		ps, err := q.Fail("no rates", now)
		apply(t, q, ps, err)
	}
	return q
}

func cloneQ(q *quotation.Quotation) *quotation.Quotation {
	b, _ := json.Marshal(q)
	var c quotation.Quotation
	_ = json.Unmarshal(b, &c)
	return &c
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(quotation.EventRequested, []byte(`{"quotation_id":"`+quoteID+`","customer_id":"`+custID+`","product":"motor","sum_insured":25000000,"currency":"INR","details":{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012,"ncb_percent":20}}`))
	f.Add(quotation.EventRequested, []byte(`{"quotation_id":"`+quoteID+`","customer_id":"`+custID+`","product":"health","sum_insured":1,"currency":"INR","details":{ "age" : 1, "members":2 }}`))
	f.Add(quotation.EventRequested, []byte(`{"quotation_id":"`+quoteID+`","customer_id":"`+custID+`","product":"health","sum_insured":1,"currency":"INR","details":[]}`))
	f.Add(quotation.EventGenerated, []byte(`{"quotation_id":"`+quoteID+`","customer_id":"`+custID+`","product":"motor","sum_insured":1,"currency":"INR","quotes":[{"insurer":"acme","insurer_name":"Acme","premium":10,"sum_insured":1,"currency":"INR","coverage":"c","add_ons":[{"code":"x","name":"X","premium":1}],"breakdown":{"base":1,"loading":0,"discount":0,"add_ons":1,"tax":0}},{"insurer":"b","insurer_name":"","premium":0,"sum_insured":1,"currency":"INR","coverage":"","add_ons":null,"declined":true,"decline_reason":"old"}]}`))
	f.Add(quotation.EventGenerationFailed, []byte(`{"quotation_id":"`+quoteID+`","reason":"no rates"}`))
	f.Add(quotation.EventGenerationFailed, []byte(`{"quotation_id":"`+quoteID+`","reason":""}`))
	f.Add("Other", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		reg := event.NewRegistry()
		if err := reg.Register(quotation.Events()...); err != nil {
			t.Fatal(err)
		}
		env := event.Envelope{EventID: event.NewID(), EventName: name, AggregateType: quotation.AggregateType,
			AggregateID: quoteID, AggregateVersion: 1, SchemaVersion: 1, Data: data}
		if q, err := quotation.Rebuild([]event.Envelope{env}, reg); err == nil {
			if _, err := q.RatingRequest(now); err != nil {
				t.Fatalf("a quotation that rebuilds has details that do not decode: %v", err)
			}
			_, _ = q.Generate([]rating.Quote{quote("acme", 1)}, now)
			_, _ = q.Fail("x", now)
			q.Cheapest()
		}
		p, err := reg.Decode(env)
		if err != nil {
			return
		}
		b1, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal decoded %s: %v", name, err)
		}
		env.Data = b1
		p2, err := reg.Decode(env)
		if err != nil {
			t.Fatalf("re-decode %s %s: %v", name, b1, err)
		}
		b2, err := json.Marshal(p2)
		if err != nil {
			t.Fatal(err)
		}
		if string(b1) != string(b2) {
			t.Fatalf("encoding not stable:\n%s\n%s", b1, b2)
		}
		var q quotation.Quotation
		_ = q.Apply(p)
		_ = q.Apply(p)
	})
}
