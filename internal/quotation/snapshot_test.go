package quotation_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/event"
	"insure/internal/quotation"
	"insure/internal/rating"
)

// TestRebuildFromSnapshot: a snapshot taken after any prefix of a
// quotation's events (the state's JSON, as the snapshot store keeps it)
// plus RebuildFrom over the rest gives the state Rebuild gives from all the
// events, for generated (with add-ons and breakdowns) and failed
// quotations.
func TestRebuildFromSnapshot(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	full := quote("acme", 1_234_500)
	full.AddOns = []rating.AddOn{{Code: "zero_dep", Name: "Zero depreciation", Premium: 1000}}
	full.Breakdown = &rating.Breakdown{Base: 1_000_000, Loading: 200_000, Discount: 10_000, AddOns: 1000, Tax: 43_500}
	noAddOns := quote("bharat", 1_300_000)
	noAddOns.AddOns = []rating.AddOn{}
	outcomes := map[string]func(q *quotation.Quotation) ([]event.Payload, error){
		"generated": func(q *quotation.Quotation) ([]event.Payload, error) {
			return q.Generate([]rating.Quote{full, noAddOns, declined("care")}, now)
		},
		"failed":    func(q *quotation.Quotation) ([]event.Payload, error) { return q.Fail("no insurer quotes this", now) },
		"requested": func(*quotation.Quotation) ([]event.Payload, error) { return nil, nil },
	}
	for name, outcome := range outcomes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ps, err := quotation.RequestQuotation(quoteID, motorRequest(), now)
			if err != nil {
				t.Fatal(err)
			}
			q := requested(t, motorRequest())
			more, err := outcome(q)
			if err != nil {
				t.Fatal(err)
			}
			envs := envelopes(t, quoteID, 0, now, append(ps, more...)...)
			want, err := quotation.Rebuild(envs, reg)
			if err != nil {
				t.Fatal(err)
			}
			for k := 1; k <= len(envs); k++ {
				before, err := quotation.Rebuild(envs[:k], reg)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(before)
				if err != nil {
					t.Fatal(err)
				}
				var snap quotation.Quotation
				if err := json.Unmarshal(raw, &snap); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(before, &snap); diff != "" {
					t.Fatalf("%d events: the state does not survive JSON (-state +decoded):\n%s", k, diff)
				}
				got, err := quotation.RebuildFrom(&snap, envs[k:], reg)
				if err != nil {
					t.Fatalf("RebuildFrom version %d: %v", k, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("snapshot at version %d + events differs from all events (-all +snapshot):\n%s", k, diff)
				}
			}
		})
	}
}
