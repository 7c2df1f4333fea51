package customer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/event"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "+919876543210", want: "+919876543210"},
		{in: "9876543210", want: "+919876543210"},
		{in: " 98765 43210 ", want: "+919876543210"},
		{in: "098765-43210", want: "+919876543210"},
		{in: "(+91) 98765-43210", wantErr: true}, // + must come first
		{in: "+91 (987) 654-3210", want: "+919876543210"},
		{in: "919876543210", want: "+919876543210"},
		{in: "+1 415 555 0100", want: "+14155550100"},
		{in: "+44 20 7946 0958", want: "+442079460958"},
		{in: "+1234567", want: "+1234567", wantErr: true}, // 7 digits
		{in: "+12345678", want: "+12345678"},
		{in: "+123456789012345", want: "+123456789012345"},
		{in: "+1234567890123456", wantErr: true}, // 16 digits
		{in: "+0123456789", wantErr: true},
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "98765.43210", wantErr: true},
		{in: "9876543210 ext 2", wantErr: true},
		{in: "+91+9876543210", wantErr: true},
		{in: "١٢٣٤٥٦٧٨٩٠", wantErr: true}, // non-ASCII digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := customer.NormalizePhone(tt.in)
			if tt.wantErr {
				wantField(t, err, "phone")
				return
			}
			if err != nil {
				t.Fatalf("NormalizePhone(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("NormalizePhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	if got := customer.NormalizeEmail("  Asha.Rao@Example.COM\t"); got != "asha.rao@example.com" {
		t.Fatalf("NormalizeEmail = %q", got)
	}
}

func TestRegisterCustomer(t *testing.T) {
	t.Parallel()
	ps, err := customer.RegisterCustomer(custID, validRegister(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Payload{&customer.Registered{
		CustomerID:  custID,
		Name:        "Asha Rao",
		Email:       "asha.rao@example.com",
		Phone:       "+919876543210",
		DateOfBirth: "1990-04-12",
		Channel:     "web",
		Preferences: customer.Preferences{Email: true, WhatsApp: false},
	}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestRegisterDefaults(t *testing.T) {
	t.Parallel()
	cmd := customer.Register{Name: "Ravi", Email: "ravi@example.com", Phone: "+919000000001", DateOfBirth: ptr("  ")}
	ps, err := customer.RegisterCustomer(custID, cmd, now)
	if err != nil {
		t.Fatal(err)
	}
	got := ps[0].(*customer.Registered)
	if got.Channel != "api" || got.DateOfBirth != "" || got.Preferences != customer.DefaultPreferences() {
		t.Fatalf("defaults not applied: %+v", got)
	}
	cmd.Preferences = &customer.Preferences{Email: false, WhatsApp: true}
	ps, err = customer.RegisterCustomer(custID, cmd, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ps[0].(*customer.Registered).Preferences; got != (customer.Preferences{WhatsApp: true}) {
		t.Fatalf("preferences = %+v", got)
	}
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*customer.Register)
		field string
	}{
		{"empty name", func(c *customer.Register) { c.Name = "   " }, "name"},
		{"long name", func(c *customer.Register) { c.Name = strings.Repeat("a", 201) }, "name"},
		{"name with newline", func(c *customer.Register) { c.Name = "Asha\nRao" }, "name"},
		{"name with tab", func(c *customer.Register) { c.Name = "Asha\tRao" }, "name"},
		{"name invalid utf-8", func(c *customer.Register) { c.Name = "Asha \xff" }, "name"},
		{"empty email", func(c *customer.Register) { c.Email = " " }, "email"},
		{"email without at", func(c *customer.Register) { c.Email = "asha.example.com" }, "email"},
		{"email with name", func(c *customer.Register) { c.Email = "Asha <asha@example.com>" }, "email"},
		{"email in brackets", func(c *customer.Register) { c.Email = "<asha@example.com>" }, "email"},
		{"two emails", func(c *customer.Register) { c.Email = "a@example.com, b@example.com" }, "email"},
		{"long email", func(c *customer.Register) {
			c.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com"
		}, "email"},
		{"empty phone", func(c *customer.Register) { c.Phone = "" }, "phone"},
		{"short phone", func(c *customer.Register) { c.Phone = "12345" }, "phone"},
		{"phone with letters", func(c *customer.Register) { c.Phone = "98765abcde" }, "phone"},
		{"bad date", func(c *customer.Register) { c.DateOfBirth = ptr("12/04/1990") }, "date_of_birth"},
		{"impossible date", func(c *customer.Register) { c.DateOfBirth = ptr("1990-02-30") }, "date_of_birth"},
		{"future date", func(c *customer.Register) { c.DateOfBirth = ptr("2026-03-11") }, "date_of_birth"},
		{"age 121", func(c *customer.Register) { c.DateOfBirth = ptr("1905-03-10") }, "date_of_birth"},
		{"unknown channel", func(c *customer.Register) { c.Channel = "fax" }, "channel"},
		{"channel wrong case", func(c *customer.Register) { c.Channel = "Web" }, "channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := validRegister()
			tt.edit(&cmd)
			wantField(t, cmd.Validate(now), tt.field)
			ps, err := customer.RegisterCustomer(custID, cmd, now)
			wantField(t, err, tt.field)
			if ps != nil {
				t.Fatalf("events on error: %v", ps)
			}
		})
	}
}

func TestRegisterEdgeValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*customer.Register)
	}{
		{"name of 200 characters", func(c *customer.Register) { c.Name = strings.Repeat("अ", 200) }},
		{"born today", func(c *customer.Register) { c.DateOfBirth = ptr("2026-03-10") }},
		{"age exactly 120", func(c *customer.Register) { c.DateOfBirth = ptr("1906-03-10") }},
		{"age 120 and 364 days", func(c *customer.Register) { c.DateOfBirth = ptr("1905-03-11") }},
		{"every channel", func(c *customer.Register) { c.Channel = "import" }},
		{"email of 254 characters", func(c *customer.Register) {
			c.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := validRegister()
			tt.edit(&cmd)
			if err := cmd.Validate(now); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestRegisterRejectsBadID(t *testing.T) {
	t.Parallel()
	_, err := customer.RegisterCustomer("not-a-uuid", validRegister(), now)
	if err == nil {
		t.Fatal("no error for an id that is not a UUID")
	}
}

func TestRegisterNormalize(t *testing.T) {
	t.Parallel()
	got := validRegister().Normalize()
	want := customer.Register{
		Name:        "Asha Rao",
		Email:       "asha.rao@example.com",
		Phone:       "+919876543210",
		DateOfBirth: ptr("1990-04-12"),
		Channel:     "web",
		Preferences: &customer.Preferences{Email: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Normalize (-want +got):\n%s", diff)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  customer.UpdateProfile
		want map[string]customer.Change // nil: no events
	}{
		{"new name", customer.UpdateProfile{Name: ptr(" Asha R. Rao ")},
			map[string]customer.Change{"name": {Old: "Asha Rao", New: "Asha R. Rao"}}},
		{"same name after trimming", customer.UpdateProfile{Name: ptr(" Asha Rao")}, nil},
		{"same email in other case", customer.UpdateProfile{Email: ptr("ASHA.RAO@example.com")}, nil},
		{"new email", customer.UpdateProfile{Email: ptr("Asha@Example.org")},
			map[string]customer.Change{"email": {Old: "asha.rao@example.com", New: "asha@example.org"}}},
		{"same phone written differently", customer.UpdateProfile{Phone: ptr("+91 98765-43210")}, nil},
		{"new phone", customer.UpdateProfile{Phone: ptr("9123456780")},
			map[string]customer.Change{"phone": {Old: "+919876543210", New: "+919123456780"}}},
		{"new date of birth", customer.UpdateProfile{DateOfBirth: ptr("1991-04-12")},
			map[string]customer.Change{"date_of_birth": {Old: "1990-04-12", New: "1991-04-12"}}},
		{"date of birth removed", customer.UpdateProfile{DateOfBirth: ptr("")},
			map[string]customer.Change{"date_of_birth": {Old: "1990-04-12", New: ""}}},
		{"preferences", customer.UpdateProfile{Preferences: &customer.PreferencesPatch{Email: ptr(false), WhatsApp: ptr(true)}},
			map[string]customer.Change{
				"preferences.email":    {Old: true, New: false},
				"preferences.whatsapp": {Old: false, New: true},
			}},
		{"preferences unchanged", customer.UpdateProfile{Preferences: &customer.PreferencesPatch{Email: ptr(true)}}, nil},
		{"only what changes", customer.UpdateProfile{Name: ptr("Asha Rao"), Phone: ptr("+919123456780"), Preferences: &customer.PreferencesPatch{WhatsApp: ptr(false)}},
			map[string]customer.Change{"phone": {Old: "+919876543210", New: "+919123456780"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := registered(t)
			before := *c
			ps, err := c.Update(tt.cmd, now)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if diff := cmp.Diff(before, *c); diff != "" {
				t.Fatalf("Update changed the aggregate:\n%s", diff)
			}
			if tt.want == nil {
				if len(ps) != 0 {
					t.Fatalf("events = %v, want none", ps)
				}
				return
			}
			want := []event.Payload{&customer.ProfileUpdated{CustomerID: custID, Changes: tt.want}}
			if diff := cmp.Diff(want, ps); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cmd   customer.UpdateProfile
		field string
	}{
		{"nothing", customer.UpdateProfile{}, ""},
		{"empty preferences patch", customer.UpdateProfile{Preferences: &customer.PreferencesPatch{}}, ""},
		{"empty name", customer.UpdateProfile{Name: ptr(" ")}, "name"},
		{"name with control", customer.UpdateProfile{Name: ptr("A\x00B")}, "name"},
		{"bad email", customer.UpdateProfile{Email: ptr("nobody")}, "email"},
		{"empty email", customer.UpdateProfile{Email: ptr("")}, "email"},
		{"bad phone", customer.UpdateProfile{Phone: ptr("call me")}, "phone"},
		{"empty phone", customer.UpdateProfile{Phone: ptr("")}, "phone"},
		{"future birth", customer.UpdateProfile{DateOfBirth: ptr("2030-01-01")}, "date_of_birth"},
		{"bad birth", customer.UpdateProfile{DateOfBirth: ptr("1990-13-01")}, "date_of_birth"},
		{"valid name, bad email", customer.UpdateProfile{Name: ptr("Asha"), Email: ptr("x@")}, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantField(t, tt.cmd.Validate(now), tt.field)
			c := registered(t)
			ps, err := c.Update(tt.cmd, now)
			wantField(t, err, tt.field)
			if ps != nil {
				t.Fatalf("events on error: %v", ps)
			}
		})
	}
}

func TestEmailChanged(t *testing.T) {
	t.Parallel()
	c := registered(t)
	tests := []struct {
		name     string
		cmd      customer.UpdateProfile
		old, new string
		changed  bool
	}{
		{"no email", customer.UpdateProfile{Name: ptr("x")}, "asha.rao@example.com", "asha.rao@example.com", false},
		{"same email", customer.UpdateProfile{Email: ptr(" ASHA.rao@example.com")}, "asha.rao@example.com", "asha.rao@example.com", false},
		{"new email", customer.UpdateProfile{Email: ptr("New@Example.com")}, "asha.rao@example.com", "new@example.com", true},
	}
	for _, tt := range tests {
		old, n, changed := c.EmailChanged(tt.cmd)
		if old != tt.old || n != tt.new || changed != tt.changed {
			t.Errorf("%s: EmailChanged = %q, %q, %v; want %q, %q, %v", tt.name, old, n, changed, tt.old, tt.new, tt.changed)
		}
	}
}

func TestNotRegistered(t *testing.T) {
	t.Parallel()
	var c customer.Customer
	_, err := c.Update(customer.UpdateProfile{Name: ptr("x")}, now)
	wantCode(t, err, "not_found")
	_, err = c.VerifyEmail(now)
	wantCode(t, err, "not_found")
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	c := registered(t)
	ps, err := c.VerifyEmail(now.In(time.FixedZone("IST", 19800)))
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Payload{&customer.EmailVerified{CustomerID: custID, Email: "asha.rao@example.com", VerifiedAt: now}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	for _, p := range ps {
		if err := c.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
	if !c.EmailVerified {
		t.Fatal("not verified after applying")
	}

	// Verifying again records nothing.
	if ps, err := c.VerifyEmail(now); err != nil || len(ps) != 0 {
		t.Fatalf("second VerifyEmail = %v, %v; want no events", ps, err)
	}

	// A new address is unverified again and can be verified.
	ps, err = c.Update(customer.UpdateProfile{Email: ptr("asha@example.org")}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ps[0]); err != nil {
		t.Fatal(err)
	}
	if c.EmailVerified || !c.EmailVerifiedAt.IsZero() {
		t.Fatalf("still verified after the email changed: %+v", c)
	}
	ps, err = c.VerifyEmail(now)
	if err != nil || len(ps) != 1 {
		t.Fatalf("VerifyEmail after change = %v, %v", ps, err)
	}
}
