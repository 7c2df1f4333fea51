package customer_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/event"
)

// TestRoundTrip decides every kind of event, stores it as an envelope, and
// rebuilds the customer from the envelopes alone.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	var all []event.Payload
	c := &customer.Customer{}
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
	step(customer.RegisterCustomer(custID, validRegister(), now))
	step(c.VerifyEmail(now))
	step(c.Update(customer.UpdateProfile{
		Name:        ptr("Asha R. Rao"),
		Email:       ptr("asha@example.org"),
		Phone:       ptr("+1 415 555 0100"),
		DateOfBirth: ptr(""),
		Preferences: &customer.PreferencesPatch{WhatsApp: ptr(true)},
	}, now))
	step(c.VerifyEmail(now.Add(time.Hour)))

	envs := envelopes(t, custID, 0, now, all...)
	got, err := customer.Rebuild(envs, reg)
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	want := &customer.Customer{
		ID:              custID,
		Name:            "Asha R. Rao",
		Email:           "asha@example.org",
		Phone:           "+14155550100",
		Channel:         "web",
		Preferences:     customer.Preferences{Email: true, WhatsApp: true},
		EmailVerified:   true,
		EmailVerifiedAt: now.Add(time.Hour),
		Version:         4,
		RegisteredAt:    now,
		UpdatedAt:       now.Add(3 * time.Minute),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("rebuilt customer (-want +got):\n%s", diff)
	}
	// Applying the decided payloads directly gives the same state, apart from
	// the timestamps that only envelopes carry.
	c.RegisteredAt, c.UpdatedAt = want.RegisteredAt, want.UpdatedAt
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("applied customer (-want +got):\n%s", diff)
	}
	// Each decoded payload equals the decided one.
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

func TestRebuildErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	reg1 := &customer.Registered{CustomerID: custID, Name: "A", Email: "a@example.com", Phone: "+919876543210", Channel: "api"}
	verified := &customer.EmailVerified{CustomerID: custID, Email: "a@example.com", VerifiedAt: now}
	tests := []struct {
		name    string
		envs    func(t *testing.T) []event.Envelope
		wantErr string
	}{
		{"no events", func(t *testing.T) []event.Envelope { return nil }, "not found"},
		{"other aggregate type", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, custID, 0, now, reg1)
			envs[0].AggregateType = "policy"
			return envs
		}, `aggregate type "policy"`},
		{"other aggregate id", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, custID, 0, now, reg1), envelopes(t, otherID, 1, now, verified)...)
		}, "belongs to customer"},
		{"payload for another customer", func(t *testing.T) []event.Envelope {
			return envelopes(t, otherID, 0, now, reg1)
		}, "is for customer"},
		{"gap", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, custID, 0, now, reg1), envelopes(t, custID, 2, now, verified)...)
		}, "has version 3, want 2"},
		{"not starting at 1", func(t *testing.T) []event.Envelope {
			return envelopes(t, custID, 1, now, reg1)
		}, "has version 2, want 1"},
		{"before registration", func(t *testing.T) []event.Envelope {
			return envelopes(t, custID, 0, now, verified)
		}, "before CustomerRegistered"},
		{"registered twice", func(t *testing.T) []event.Envelope {
			return envelopes(t, custID, 0, now, reg1, reg1)
		}, "already registered"},
		{"verification for another customer", func(t *testing.T) []event.Envelope {
			return envelopes(t, custID, 0, now, reg1, &customer.EmailVerified{CustomerID: otherID, Email: "a@example.com", VerifiedAt: now})
		}, "is for customer"},
		{"unknown event", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, custID, 0, now, reg1)
			envs[0].EventName = "CustomerDeleted"
			return envs
		}, "unknown event"},
		{"corrupt data", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, custID, 0, now, reg1)
			envs[0].Data = json.RawMessage(`{"customer_id":"` + custID + `","name":"","email":"a@example.com","phone":"+919876543210","channel":"api","preferences":{"email":true,"whatsapp":false}}`)
			return envs
		}, "name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := customer.Rebuild(tt.envs(t), reg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rebuild = %+v, %v; want an error containing %q", c, err, tt.wantErr)
			}
		})
	}
}

type foreign struct{}

func (foreign) EventName() string { return "PolicyCreated" }

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	c := registered(t)
	before := *c
	bad := []event.Payload{
		nil,
		foreign{},
		(*customer.Registered)(nil),
		(*customer.EmailVerified)(nil),
		(*customer.ProfileUpdated)(nil),
		&customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"name": {Old: "a", New: 7}}},
		&customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"name": {Old: "a", New: "ok"}, "age": {New: 3}}},
	}
	for i, p := range bad {
		if err := c.Apply(p); err == nil {
			t.Errorf("Apply(#%d %T) succeeded", i, p)
		}
		if diff := cmp.Diff(before, *c); diff != "" {
			t.Fatalf("Apply(#%d) changed the customer on error:\n%s", i, diff)
		}
	}
	// Values work as well as pointers.
	if err := c.Apply(customer.EmailVerified{CustomerID: custID, Email: c.Email, VerifiedAt: now}); err != nil || !c.EmailVerified {
		t.Fatalf("Apply(value) = %v, verified %v", err, c.EmailVerified)
	}
	if c.Version != before.Version+1 {
		t.Fatalf("version = %d, want %d", c.Version, before.Version+1)
	}
}

func TestStaleVerificationIgnored(t *testing.T) {
	t.Parallel()
	c := registered(t)
	if err := c.Apply(&customer.EmailVerified{CustomerID: custID, Email: "old@example.com", VerifiedAt: now}); err != nil {
		t.Fatal(err)
	}
	if c.EmailVerified {
		t.Fatal("verified an address the customer does not have")
	}
}

func TestPayloadValidate(t *testing.T) {
	t.Parallel()
	okReg := customer.Registered{CustomerID: custID, Name: "A", Email: "a@example.com", Phone: "+919876543210", Channel: "api"}
	tests := []struct {
		name string
		p    interface{ Validate() error }
		ok   bool
	}{
		{"registered", okReg, true},
		{"registered bad id", func() customer.Registered { r := okReg; r.CustomerID = "x"; return r }(), false},
		{"registered no phone", func() customer.Registered { r := okReg; r.Phone = ""; return r }(), false},
		{"registered bad dob", func() customer.Registered { r := okReg; r.DateOfBirth = "1990"; return r }(), false},
		{"verified", customer.EmailVerified{CustomerID: custID, Email: "a@example.com", VerifiedAt: now}, true},
		{"verified no time", customer.EmailVerified{CustomerID: custID, Email: "a@example.com"}, false},
		{"verified no email", customer.EmailVerified{CustomerID: custID, VerifiedAt: now}, false},
		{"updated", customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"preferences.email": {Old: true, New: false}}}, true},
		{"updated nothing", customer.ProfileUpdated{CustomerID: custID}, false},
		{"updated unknown", customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"age": {Old: 1, New: 2}}}, false},
		{"updated blank name", customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"name": {Old: "a", New: " "}}}, false},
		{"updated bool as string", customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"preferences.whatsapp": {Old: "no", New: "yes"}}}, false},
		{"updated bad dob", customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"date_of_birth": {Old: "", New: "tomorrow"}}}, false},
		{"updated dob cleared", customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{"date_of_birth": {Old: "1990-01-01", New: ""}}}, true},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(customer.EventRegistered, []byte(`{"customer_id":"`+custID+`","name":"Asha","email":"a@example.com","phone":"+919876543210","date_of_birth":"1990-01-02","channel":"web","preferences":{"email":true,"whatsapp":false}}`))
	f.Add(customer.EventEmailVerified, []byte(`{"customer_id":"`+custID+`","email":"a@example.com","verified_at":"2026-03-10T09:30:00+05:30"}`))
	f.Add(customer.EventProfileUpdated, []byte(`{"customer_id":"`+custID+`","changes":{"name":{"old":"A","new":"B"},"preferences.whatsapp":{"old":false,"new":true}}}`))
	f.Add(customer.EventProfileUpdated, []byte(`{"customer_id":"`+custID+`","changes":{"name":{"old":1,"new":null}}}`))
	f.Add(customer.EventProfileUpdated, []byte(`{"customer_id":"`+custID+`","changes":null}`))
	f.Add(customer.EventRegistered, []byte(`null`))
	f.Add(customer.EventRegistered, []byte(`{"customer_id":"`+custID+`","extra":1}`))
	f.Add("Nope", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		reg := event.NewRegistry()
		if err := reg.Register(customer.Events()...); err != nil {
			t.Fatal(err)
		}
		env := event.Envelope{EventID: event.NewID(), EventName: name, AggregateType: customer.AggregateType,
			AggregateID: custID, AggregateVersion: 1, SchemaVersion: 1, Data: data}
		// Rebuild must never panic, whatever the data.
		_, _ = customer.Rebuild([]event.Envelope{env}, reg)
		p, err := reg.Decode(env)
		if err != nil {
			return
		}
		// A payload that decodes encodes to data that decodes to the same
		// encoding again.
		b1, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal decoded %s: %v", name, err)
		}
		env.EventName, env.Data = p.EventName(), b1 // a legacy name decodes to the current event
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
		var c customer.Customer
		_ = c.Apply(p)
		_ = c.Apply(p)
	})
}
