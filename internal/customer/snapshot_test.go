package customer_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/event"
)

// randomHistory decides a random but valid history of one customer: a
// registration, then profile updates, verifications and, sometimes, an
// erasure at the end. It returns the events as stored.
func randomHistory(t *testing.T, r *rand.Rand) []event.Envelope {
	t.Helper()
	names := []string{"Asha Rao", "Asha R. Rao", "Ravi Kumar", "Meera Iyer"}
	phones := []string{"98765 43210", "+1 415 555 0100", "+91 99887 76655"}
	c := &customer.Customer{}
	var all []event.Payload
	at := now
	step := func(ps []event.Payload, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if err := c.Apply(p); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, ps...)
	}
	step(customer.RegisterCustomer(custID, validRegister(), at))
	for range r.IntN(30) {
		at = at.Add(time.Duration(r.IntN(100)+1) * time.Hour)
		switch r.IntN(4) {
		case 0:
			step(c.VerifyEmail(at))
		default:
			var cmd customer.UpdateProfile
			if r.IntN(2) == 0 {
				cmd.Name = ptr(names[r.IntN(len(names))])
			}
			if r.IntN(3) == 0 {
				cmd.Email = ptr(fmt.Sprintf("asha%d@example.com", r.IntN(4)))
			}
			if r.IntN(3) == 0 {
				cmd.Phone = ptr(phones[r.IntN(len(phones))])
			}
			if r.IntN(4) == 0 {
				cmd.DateOfBirth = ptr([]string{"", "1990-04-12", "1985-11-30"}[r.IntN(3)])
			}
			if r.IntN(3) == 0 {
				cmd.Preferences = &customer.PreferencesPatch{Email: ptr(r.IntN(2) == 0), WhatsApp: ptr(r.IntN(2) == 0)}
			}
			if cmd == (customer.UpdateProfile{}) {
				cmd.Name = ptr(names[r.IntN(len(names))])
			}
			step(c.Update(cmd, at))
		}
	}
	if r.IntN(4) == 0 {
		step(c.Erase(at.Add(time.Hour)))
	}
	return envelopes(t, custID, 0, now, all...)
}

// TestRebuildFromSnapshot: for random histories, a snapshot taken after
// any prefix of the events (the state's JSON, as the snapshot store keeps
// it) plus RebuildFrom over the rest gives the state Rebuild gives from
// all the events; the snapshot is left unchanged.
func TestRebuildFromSnapshot(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		envs := randomHistory(t, r)
		want, err := customer.Rebuild(envs, reg)
		if err != nil {
			t.Fatalf("seed %d: Rebuild: %v", seed, err)
		}
		for k := 1; k <= len(envs); k++ {
			before, err := customer.Rebuild(envs[:k], reg)
			if err != nil {
				t.Fatalf("seed %d: Rebuild of %d events: %v", seed, k, err)
			}
			raw, err := json.Marshal(before)
			if err != nil {
				t.Fatal(err)
			}
			var snap customer.Customer
			if err := json.Unmarshal(raw, &snap); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, &snap); diff != "" {
				t.Fatalf("seed %d, %d events: the state does not survive JSON (-state +decoded):\n%s", seed, k, diff)
			}
			kept := snap
			got, err := customer.RebuildFrom(&snap, envs[k:], reg)
			if err != nil {
				t.Fatalf("seed %d: RebuildFrom version %d: %v", seed, k, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("seed %d: snapshot at version %d + events differs from all events (-all +snapshot):\n%s", seed, k, diff)
			}
			if diff := cmp.Diff(kept, snap); diff != "" {
				t.Fatalf("seed %d: RebuildFrom changed its snapshot:\n%s", seed, diff)
			}
		}
	}
}

func TestRebuildFromRejectsEventsThatDoNotFollow(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	r := rand.New(rand.NewPCG(1, 2))
	envs := randomHistory(t, r)
	for len(envs) < 3 {
		envs = randomHistory(t, r)
	}
	snap, err := customer.Rebuild(envs[:1], reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := customer.RebuildFrom(snap, envs[2:], reg); err == nil {
		t.Error("RebuildFrom accepted events with a gap after the snapshot")
	}
	if _, err := customer.RebuildFrom(snap, envs[:2], reg); err == nil {
		t.Error("RebuildFrom accepted events the snapshot already holds")
	}
	other := *snap
	other.ID = otherID
	if _, err := customer.RebuildFrom(&other, envs[1:], reg); err == nil {
		t.Error("RebuildFrom accepted events of another customer")
	}
	got, err := customer.RebuildFrom(snap, nil, reg)
	if err != nil || got == snap || !cmp.Equal(got, snap) {
		t.Errorf("RebuildFrom(snapshot, no events) = %v, %v; want a copy of the snapshot", got, err)
	}
	if got, err := customer.RebuildFrom(nil, envs, reg); err != nil || got.Version != int64(len(envs)) {
		t.Errorf("RebuildFrom(nil, all) = %v, %v; want Rebuild", got, err)
	}
}
