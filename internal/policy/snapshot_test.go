package policy_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/policy"
)

// randomHistory decides a random but valid history of one policy: its
// creation, then expiry warnings on random days before the end and
// renewals (some with new amounts or an early start). It returns the events
// as stored.
func randomHistory(t *testing.T, r *rand.Rand) []event.Envelope {
	t.Helper()
	p := &policy.Policy{}
	var all []event.Payload
	step := func(ps []event.Payload, err error) {
		t.Helper()
		if apperr.IsCode(err, apperr.Conflict) {
			return // not allowed on that day: decide something else
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ps {
			if err := p.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, ps...)
	}
	step(policy.CreatePolicy(polID, validCreate(), now))
	for range r.IntN(25) {
		daysLeft := r.IntN(45)
		today := p.EndDate.AddDays(-daysLeft)
		switch r.IntN(3) {
		case 0:
			var cmd policy.Renew
			if r.IntN(2) == 0 {
				cmd.Premium = ptr(int64(2_000_000 + r.IntN(500_000)))
			}
			if r.IntN(3) == 0 {
				cmd.SumInsured = ptr(int64(60_000_000 + r.IntN(10_000_000)))
			}
			step(p.Renew(cmd, today))
		default:
			step(p.WarnExpiry(today))
		}
	}
	return envelopes(t, polID, 0, now, all...)
}

// TestRebuildFromSnapshot: for random histories, a snapshot taken after
// any prefix of the events (the state's JSON, as the snapshot store keeps
// it) plus RebuildFrom over the rest gives the state Rebuild gives from
// all the events; the snapshot is left unchanged.
func TestRebuildFromSnapshot(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	renewed, warned := false, false
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 11))
		envs := randomHistory(t, r)
		want, err := policy.Rebuild(envs, reg)
		if err != nil {
			t.Fatalf("seed %d: Rebuild: %v", seed, err)
		}
		renewed = renewed || want.Renewals > 0
		warned = warned || len(want.Warned) > 0
		for k := 1; k <= len(envs); k++ {
			before, err := policy.Rebuild(envs[:k], reg)
			if err != nil {
				t.Fatalf("seed %d: Rebuild of %d events: %v", seed, k, err)
			}
			raw, err := json.Marshal(before)
			if err != nil {
				t.Fatal(err)
			}
			var snap policy.Policy
			if err := json.Unmarshal(raw, &snap); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, &snap); diff != "" {
				t.Fatalf("seed %d, %d events: the state does not survive JSON (-state +decoded):\n%s", seed, k, diff)
			}
			kept, _ := json.Marshal(snap)
			got, err := policy.RebuildFrom(&snap, envs[k:], reg)
			if err != nil {
				t.Fatalf("seed %d: RebuildFrom version %d: %v", seed, k, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("seed %d: snapshot at version %d + events differs from all events (-all +snapshot):\n%s", seed, k, diff)
			}
			if after, _ := json.Marshal(snap); string(after) != string(kept) {
				t.Fatalf("seed %d: RebuildFrom changed its snapshot: %s, was %s", seed, after, kept)
			}
		}
	}
	if !renewed || !warned {
		t.Errorf("the random histories never renewed (%t) or never warned (%t); widen them", renewed, warned)
	}
}

func TestRebuildFromRejectsEventsThatDoNotFollow(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	p := created(t, validCreate())
	envs := envelopes(t, polID, 0, now, must(t)(policy.CreatePolicy(polID, validCreate(), now))...)
	envs = append(envs, envelopes(t, polID, 1, now, must(t)(p.WarnExpiry(p.EndDate.AddDays(-30)))...)...)
	if _, err := policy.RebuildFrom(p, envs, reg); err == nil {
		t.Error("RebuildFrom accepted events the snapshot already holds")
	}
	gap := envelopes(t, polID, 2, now, must(t)(p.WarnExpiry(p.EndDate.AddDays(-30)))...)
	if _, err := policy.RebuildFrom(p, gap, reg); err == nil {
		t.Error("RebuildFrom accepted events with a gap after the snapshot")
	}
	got, err := policy.RebuildFrom(p, envs[1:], reg)
	if err != nil || got.Version != 2 || len(got.Warned) != 1 || len(p.Warned) != 0 {
		t.Errorf("RebuildFrom = %+v, %v; want version 2 with one warning, the snapshot untouched (%+v)", got, err, p)
	}
}
