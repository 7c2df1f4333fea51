package customer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/event"
)

// readFixture decodes testdata/name into v.
func readFixture(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func fixture(t testing.TB, name string) event.Envelope {
	t.Helper()
	var env event.Envelope
	readFixture(t, name, &env)
	return env
}

// TestStoredEvents decodes the stored example of every version of every
// customer event, legacy CustomerCreated included, into the current types.
func TestStoredEvents(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	tests := []struct {
		file string
		want event.Payload
	}{
		{"customer_created_legacy.json", &customer.Registered{
			CustomerID: "01920a7e-3b40-7c2d-8e1f-4a5b6c7d8e00", Name: "Ravi Kumar", Email: "ravi.kumar@example.com",
			Phone: "9876543210", Channel: customer.LegacyChannel, Preferences: customer.DefaultPreferences()}},
		// Legacy values are read as stored, not normalised.
		{"customer_created_legacy_with_id.json", &customer.Registered{
			CustomerID: "01920b11-9c20-7a44-b6d2-0c1d2e3f4a50", Name: "Meera Iyer", Email: "Meera.Iyer@Example.COM",
			Phone: "+91 98450 12345", Channel: "import", Preferences: customer.Preferences{Email: true}}},
		{"customer_registered_v1.json", &customer.Registered{
			CustomerID: custID, Name: "Asha Rao", Email: "asha.rao@example.com", Phone: "+919876543210",
			DateOfBirth: "1990-04-12", Channel: "web", Preferences: customer.Preferences{Email: true}}},
		{"customer_email_verified_v1.json", &customer.EmailVerified{
			CustomerID: custID, Email: "asha.rao@example.com", VerifiedAt: time.Date(2026, 3, 10, 9, 45, 0, 0, time.UTC)}},
		{"customer_profile_updated_v1.json", &customer.ProfileUpdated{CustomerID: custID, Changes: map[string]customer.Change{
			customer.FieldPhone:         {Old: "+919876543210", New: "+919812345678"},
			customer.FieldPreferencesWA: {Old: false, New: true},
		}}},
		{"customer_personal_data_erased_v1.json", &customer.PersonalDataErased{
			CustomerID: custID, ErasedAt: time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			env := fixture(t, tt.file)
			got, err := reg.Decode(env)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			up, err := reg.Upcast(env)
			if err != nil {
				t.Fatalf("Upcast: %v", err)
			}
			if up.EventName != tt.want.EventName() || up.SchemaVersion != 1 {
				t.Errorf("Upcast = %s v%d, want %s v1", up.EventName, up.SchemaVersion, tt.want.EventName())
			}
		})
	}
}

// TestLegacyCreated covers the shapes a stored CustomerCreated may have.
func TestLegacyCreated(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	ravi := func(id string) *customer.Registered {
		return &customer.Registered{CustomerID: id, Name: "Ravi", Email: "r@example.com", Phone: "9876543210",
			Channel: customer.LegacyChannel, Preferences: customer.DefaultPreferences()}
	}
	tests := []struct {
		name    string
		data    string
		schema  int
		want    event.Payload // nil when an error is expected
		wantMsg string
	}{
		{"no customer_id", `{"name":"Ravi","email":"r@example.com","mobile":"9876543210"}`, 1, ravi(custID), ""},
		{"null customer_id", `{"customer_id":null,"name":"Ravi","email":"r@example.com","mobile":"9876543210"}`, 1, ravi(custID), ""},
		{"empty customer_id", `{"customer_id":"","name":"Ravi","email":"r@example.com","mobile":"9876543210"}`, 1, ravi(custID), ""},
		{"own customer_id", `{"customer_id":"` + custID + `","name":"Ravi","email":"r@example.com","mobile":"9876543210"}`, 1, ravi(custID), ""},
		{"fields in another order", `{"mobile":"9876543210","email":"r@example.com","name":"Ravi"}`, 1, ravi(custID), ""},

		{"numeric customer_id", `{"customer_id":42,"name":"Ravi","email":"r@example.com","mobile":"9876543210"}`, 1, nil, "CustomerCreated data: json: cannot unmarshal number"},
		{"customer_id not a UUID", `{"customer_id":"42","name":"Ravi","email":"r@example.com","mobile":"9876543210"}`, 1, nil, "invalid data: customer_id is not a UUID"},
		{"no mobile", `{"name":"Ravi","email":"r@example.com"}`, 1, nil, "invalid data: phone is required"},
		{"blank name", `{"name":" ","email":"r@example.com","mobile":"1"}`, 1, nil, "invalid data: name is required"},
		{"current shape under the legacy name", `{"customer_id":"` + custID + `","name":"Ravi","email":"r@example.com","phone":"1","channel":"web","preferences":{"email":true,"whatsapp":false}}`, 1, nil, `unknown field "phone"`},
		{"extra field", `{"name":"Ravi","email":"r@example.com","mobile":"1","address":"Pune"}`, 1, nil, `unknown field "address"`},
		{"trailing data", `{"name":"Ravi","email":"r@example.com","mobile":"1"} {}`, 1, nil, "more after its JSON value"},
		{"not an object", `["Ravi"]`, 1, nil, "CustomerCreated data: json: cannot unmarshal array"},
		{"schema version 2", `{"name":"Ravi","email":"r@example.com","mobile":"1"}`, 2, nil, "schema version 2 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := event.Envelope{EventID: event.NewID(), EventName: customer.LegacyEventCreated, AggregateType: customer.AggregateType,
				AggregateID: custID, AggregateVersion: 1, SchemaVersion: tt.schema, Data: json.RawMessage(tt.data)}
			got, err := reg.Decode(env)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Decode (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Decode = %#v, %v; want an error containing %q", got, err, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), env.EventID+" (CustomerCreated)") {
				t.Errorf("Decode err = %q does not name the stored event", err)
			}
		})
	}
}

func TestLegacyDefinition(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	d, ok := reg.Lookup(customer.LegacyEventCreated)
	if !ok {
		t.Fatal("Lookup(CustomerCreated) found nothing")
	}
	if d.Name != customer.EventRegistered || d.AggregateType != customer.AggregateType {
		t.Errorf("Lookup(CustomerCreated) = %s (%s), want %s (%s)", d.Name, d.AggregateType, customer.EventRegistered, customer.AggregateType)
	}
	// The personal fields as the legacy event stored them: its "mobile" is
	// the phone number.
	if diff := cmp.Diff([]string{"name", "email", "mobile"}, d.Personal); diff != "" {
		t.Errorf("Lookup(CustomerCreated).Personal (-want +got):\n%s", diff)
	}
	if !contains(customer.Channels(), customer.LegacyChannel) {
		t.Errorf("LegacyChannel %q is not one of Channels() %v", customer.LegacyChannel, customer.Channels())
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRebuildLegacyStream rebuilds a customer whose stream starts with the
// CustomerCreated the old system stored and goes on with current events.
func TestRebuildLegacyStream(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	var envs []event.Envelope
	readFixture(t, "legacy_stream.json", &envs)

	c, err := customer.Rebuild(envs, reg)
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	id := "01920a7e-3b40-7c2d-8e1f-4a5b6c7d8e00"
	want := &customer.Customer{
		ID: id, Name: "Ravi Kumar", Email: "ravi.kumar@example.com", Phone: "+919876543210", DateOfBirth: "1985-07-30",
		Channel: "import", Preferences: customer.Preferences{Email: true, WhatsApp: false},
		EmailVerified: true, EmailVerifiedAt: time.Date(2026, 3, 10, 9, 45, 0, 0, time.UTC),
		Version:      3,
		RegisteredAt: time.Date(2024, 9, 12, 6, 41, 7, 0, time.UTC),
		UpdatedAt:    time.Date(2026, 3, 11, 8, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Rebuild (-want +got):\n%s", diff)
	}

	// The rebuilt customer takes commands like any other.
	ps, err := c.Update(customer.UpdateProfile{Name: ptr("Ravi K.")}, now)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Update of a legacy customer = %v, %v", ps, err)
	}
}

func TestRebuildLegacyErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	legacy := fixture(t, "customer_created_legacy.json")
	tests := []struct {
		name    string
		envs    func() []event.Envelope
		wantErr string
	}{
		{"registered twice", func() []event.Envelope {
			reg := fixture(t, "customer_registered_v1.json")
			reg.AggregateID, reg.AggregateVersion = legacy.AggregateID, 2
			reg.Data = json.RawMessage(strings.ReplaceAll(string(reg.Data), custID, legacy.AggregateID))
			return []event.Envelope{legacy, reg}
		}, "already registered"},
		{"customer_id of another customer", func() []event.Envelope {
			env := legacy
			env.Data = json.RawMessage(`{"customer_id":"` + otherID + `","name":"Ravi","email":"r@example.com","mobile":"1"}`)
			return []event.Envelope{env}
		}, "is for customer " + otherID},
		{"another aggregate type", func() []event.Envelope {
			env := legacy
			env.AggregateType = "App\\Models\\Customer"
			return []event.Envelope{env}
		}, `belongs to aggregate type "App\\Models\\Customer"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := customer.Rebuild(tt.envs(), reg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rebuild err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzUpcastCustomerCreated feeds arbitrary data to the legacy upcaster
// through the registry. Upcasting and rebuilding never panic; what Upcast
// returns is CustomerRegistered version 1 and one JSON value; what decodes
// validates and carries the legacy values unchanged; and every well-formed
// legacy payload (the four known fields, name, email and mobile not blank,
// the customer id a UUID) decodes.
func FuzzUpcastCustomerCreated(f *testing.F) {
	for _, name := range []string{"customer_created_legacy.json", "customer_created_legacy_with_id.json"} {
		env := fixture(f, name)
		f.Add([]byte(env.Data), env.AggregateID)
	}
	var stream []event.Envelope
	readFixture(f, "legacy_stream.json", &stream)
	f.Add([]byte(stream[0].Data), stream[0].AggregateID)
	f.Add([]byte(`{"customer_id":42,"name":"a","email":"b","mobile":"c"}`), custID)
	f.Add([]byte(`{"customer_id":"`+otherID+`","name":"a","email":"b","mobile":"c"}`), custID)
	f.Add([]byte(`{"name":"a","email":"b","mobile":"c"}`), "not-a-uuid")
	f.Add([]byte(`{"name":"\u0000","email":"\ud800","mobile":" "}`), custID)
	f.Add([]byte(`{"name":"a","email":"b","mobile":"c","phone":"d"}`), custID)
	f.Add([]byte(`null`), custID)
	f.Add([]byte(``), "")
	reg := event.NewRegistry()
	if err := reg.Register(customer.Events()...); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, aggregateID string) {
		env := event.Envelope{EventID: "e-1", EventName: customer.LegacyEventCreated, AggregateType: customer.AggregateType,
			AggregateID: aggregateID, AggregateVersion: 1, SchemaVersion: 1, Data: data}
		_, _ = customer.Rebuild([]event.Envelope{env}, reg)

		up, uerr := reg.Upcast(env)
		p, derr := reg.Decode(env)
		if uerr == nil {
			if up.EventName != customer.EventRegistered || up.SchemaVersion != 1 || !json.Valid(up.Data) {
				t.Fatalf("Upcast = %s v%d %q", up.EventName, up.SchemaVersion, up.Data)
			}
		} else if derr == nil {
			t.Fatalf("Decode succeeded where Upcast failed: %v", uerr)
		}

		var old struct {
			CustomerID string `json:"customer_id"`
			Name       string `json:"name"`
			Email      string `json:"email"`
			Mobile     string `json:"mobile"`
		}
		wellFormed := event.UnmarshalStrict(data, &old) == nil
		wantID := old.CustomerID
		if wantID == "" {
			wantID = aggregateID
		}
		wellFormed = wellFormed && event.ValidID(wantID) &&
			strings.TrimSpace(old.Name) != "" && strings.TrimSpace(old.Email) != "" && strings.TrimSpace(old.Mobile) != ""
		if derr != nil {
			if wellFormed {
				t.Fatalf("Decode of well-formed legacy data %q: %v", data, derr)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("Decode accepted malformed legacy data %q", data)
		}
		r, ok := event.As[customer.Registered](p)
		if !ok {
			t.Fatalf("Decode = %T, want *customer.Registered", p)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded payload does not validate: %v", err)
		}
		want := customer.Registered{CustomerID: wantID, Name: old.Name, Email: old.Email, Phone: old.Mobile,
			Channel: customer.LegacyChannel, Preferences: customer.DefaultPreferences()}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Fatalf("Decode (-want +got):\n%s", diff)
		}
		if old.CustomerID == "" || old.CustomerID == aggregateID {
			if _, err := customer.Rebuild([]event.Envelope{env}, reg); err != nil {
				t.Fatalf("Rebuild of a decodable legacy event of its own stream: %v", err)
			}
		}
	})
}
