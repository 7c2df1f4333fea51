package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/projection"
)

func TestRegisterCustomer(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var gotCmd customer.Register
	var gotEC event.Context
	h.f.customers.RegisterFn = func(_ context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error) {
		gotCmd, gotEC = cmd, ec
		c := testCustomer()
		c.Version = 1
		return c, nil
	}

	w := h.do("POST", "/api/v1/customers", `{
		"name": "Asha Rao", "email": "asha@example.com", "phone": "+91 98765 43210",
		"date_of_birth": "1990-05-17", "channel": "web",
		"preferences": {"email": true, "whatsapp": true}
	}`, header("X-Correlation-ID", correlationID))

	wantStatus(t, w, http.StatusCreated)
	if got, want := w.Header().Get("Location"), "/api/v1/customers/"+customerID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := w.Header().Get("ETag"); got != `"1"` {
		t.Errorf("ETag = %q, want %q", got, `"1"`)
	}
	want := testCustomer()
	want.Version = 1
	if diff := cmp.Diff(want, decodeJSON[projection.Customer](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	wantCmd := customer.Register{
		Name: "Asha Rao", Email: "asha@example.com", Phone: "+91 98765 43210",
		DateOfBirth: ptr("1990-05-17"), Channel: "web",
		Preferences: &customer.Preferences{Email: true, WhatsApp: true},
	}
	if diff := cmp.Diff(wantCmd, gotCmd); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	wantEC := event.Context{
		CorrelationID: correlationID, Actor: "token:test-admin", Channel: "api",
		IP: "192.0.2.1", UserAgent: "insure-test/1.0",
	}
	if diff := cmp.Diff(wantEC, gotEC); diff != "" {
		t.Errorf("event context (-want +got):\n%s", diff)
	}
}

func TestRegisterCustomerMinimal(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var got customer.Register
	h.f.customers.RegisterFn = func(_ context.Context, _ event.Context, cmd customer.Register) (projection.Customer, error) {
		got = cmd
		return testCustomer(), nil
	}
	w := h.do("POST", "/api/v1/customers", `{"name":"Asha","email":"a@example.com","phone":"9876543210"}`)
	wantStatus(t, w, http.StatusCreated)
	want := customer.Register{Name: "Asha", Email: "a@example.com", Phone: "9876543210"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
}

func TestRegisterCustomerInvalid(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.f.customers.RegisterFn = func(context.Context, event.Context, customer.Register) (projection.Customer, error) {
		return projection.Customer{}, apperr.Field("email", "must be a plain e-mail address such as name@example.com")
	}
	w := h.do("POST", "/api/v1/customers", `{"name":"Asha","email":"nope","phone":"9876543210"}`, wrong())
	msg := wantError(t, w, http.StatusUnprocessableEntity, "invalid", "email")
	if msg != "must be a plain e-mail address such as name@example.com" {
		t.Errorf("message = %q", msg)
	}
}

func TestRegisterCustomerDuplicate(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.f.customers.RegisterFn = func(context.Context, event.Context, customer.Register) (projection.Customer, error) {
		return projection.Customer{}, apperr.New(apperr.Conflict, "a customer with this e-mail address is already registered")
	}
	w := h.do("POST", "/api/v1/customers", `{"name":"Asha","email":"a@example.com","phone":"9876543210"}`)
	wantError(t, w, http.StatusConflict, "conflict", "")
}

func TestGetCustomer(t *testing.T) {
	t.Parallel()
	h := setup(t)

	w := h.do("GET", "/api/v1/customers/"+customerID, "")
	wantStatus(t, w, http.StatusOK)
	if got := w.Header().Get("ETag"); got != `"3"` {
		t.Errorf("ETag = %q, want %q", got, `"3"`)
	}
	if diff := cmp.Diff(testCustomer(), decodeJSON[projection.Customer](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	t.Run("unknown", func(t *testing.T) {
		w := h.do("GET", "/api/v1/customers/"+unknownID, "")
		wantError(t, w, http.StatusNotFound, "not_found", "")
		if w.Header().Get("ETag") != "" {
			t.Error("an error carries an ETag")
		}
	})
	t.Run("not a UUID", func(t *testing.T) {
		called := false
		h := setup(t)
		h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
			called = true
			return testCustomer(), nil
		}
		for _, id := range []string{"42", "not-a-uuid", "01956a3e7c2b7d4e8f00000000000001", "01956a3e-7c2b-7d4e-8f00-00000000000g"} {
			w := h.do("GET", "/api/v1/customers/"+id, "", wrong())
			wantError(t, w, http.StatusNotFound, "not_found", "")
		}
		if called {
			t.Error("the service was asked for an id that is not a UUID")
		}
	})
	t.Run("upper-case UUID", func(t *testing.T) {
		h := setup(t)
		var got string
		h.f.customers.GetFn = func(_ context.Context, id string) (projection.Customer, error) {
			got = id
			return testCustomer(), nil
		}
		w := h.do("GET", "/api/v1/customers/01956A3E-7C2B-7D4E-8F00-000000000001", "")
		wantStatus(t, w, http.StatusOK)
		if got != customerID {
			t.Errorf("service got id %q, want %q", got, customerID)
		}
	})
}

func TestListCustomers(t *testing.T) {
	t.Parallel()

	type call struct {
		Filter projection.CustomerFilter
		After  string
		Limit  int
	}
	tests := []struct {
		name     string
		query    string
		next     string
		wantCall call
		wantNext *string
	}{
		{name: "defaults", query: "", wantCall: call{After: "", Limit: 50}},
		{name: "page", query: "?after=abc&limit=2", next: "def", wantCall: call{After: "abc", Limit: 2}, wantNext: ptr("def")},
		{name: "largest page", query: "?limit=200", wantCall: call{After: "", Limit: 200}},
		{
			name:     "email",
			query:    "?email=%20Asha%40Example.com%20",
			wantCall: call{Filter: projection.CustomerFilter{Email: "Asha@Example.com"}, Limit: 50},
		},
		{
			name:     "phone",
			query:    "?phone=%2B91%2098765%2043210",
			wantCall: call{Filter: projection.CustomerFilter{Phone: "+91 98765 43210"}, Limit: 50},
		},
		{
			name:     "name",
			query:    "?name=Ana-Mar%C3%ADa+O%27Neil",
			wantCall: call{Filter: projection.CustomerFilter{Name: "Ana-María O'Neil"}, Limit: 50},
		},
		{
			name:     "all filters and a page",
			query:    "?email=a%40example.com&phone=9876543210&name=asha&after=abc&limit=5",
			next:     "def",
			wantCall: call{Filter: projection.CustomerFilter{Email: "a@example.com", Phone: "9876543210", Name: "asha"}, After: "abc", Limit: 5},
			wantNext: ptr("def"),
		},
		{name: "empty filters are absent", query: "?email=&phone=&name=", wantCall: call{Limit: 50}},
		{
			name:     "longest values",
			query:    "?email=" + strings.Repeat("e", 254) + "&phone=" + strings.Repeat("1", 32) + "&name=" + strings.Repeat("é", 200),
			wantCall: call{Filter: projection.CustomerFilter{Email: strings.Repeat("e", 254), Phone: strings.Repeat("1", 32), Name: strings.Repeat("é", 200)}, Limit: 50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got call
			h.f.customers.ListFn = func(_ context.Context, filter projection.CustomerFilter, after string, limit int) ([]projection.Customer, string, error) {
				got = call{filter, after, limit}
				return []projection.Customer{testCustomer()}, tt.next, nil
			}
			w := h.do("GET", "/api/v1/customers"+tt.query, "")
			wantStatus(t, w, http.StatusOK)
			if diff := cmp.Diff(tt.wantCall, got); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			type list struct {
				Customers []projection.Customer `json:"customers"`
				Next      *string               `json:"next"`
			}
			want := list{Customers: []projection.Customer{testCustomer()}, Next: tt.wantNext}
			if diff := cmp.Diff(want, decodeJSON[list](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.ListFn = func(context.Context, projection.CustomerFilter, string, int) ([]projection.Customer, string, error) {
			return nil, "", nil
		}
		w := h.do("GET", "/api/v1/customers?email=nobody%40example.com", "")
		wantStatus(t, w, http.StatusOK)
		if got, want := w.Body.String(), `{"customers":[],"next":null}`+"\n"; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})

	invalid := []struct {
		query, field string
	}{
		{"limit=0", "limit"},
		{"limit=201", "limit"},
		{"limit=-1", "limit"},
		{"limit=abc", "limit"},
		{"limit=1.5", "limit"},
		{"limit=1&limit=2", "limit"},
		{"email=a%40example.com&email=b%40example.com", "email"},
		{"email=" + strings.Repeat("e", 255), "email"},
		{"email=%FF%40example.com", "email"},
		{"phone=1&phone=2", "phone"},
		{"phone=" + strings.Repeat("1", 33), "phone"},
		{"name=a&name=b", "name"},
		{"name=" + strings.Repeat("é", 201), "name"},
		{"name=Asha%FF", "name"},
	}
	for _, tc := range invalid {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", "/api/v1/customers?"+tc.query, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", tc.field)
		})
	}

	// The service's own 422s (a phone that is not a number, a name without
	// letters) come back naming their field.
	for _, field := range []string{"phone", "name"} {
		t.Run("service rejects "+field, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			h.f.customers.ListFn = func(context.Context, projection.CustomerFilter, string, int) ([]projection.Customer, string, error) {
				return nil, "", apperr.Field(field, "is not something to search for")
			}
			w := h.do("GET", "/api/v1/customers?"+field+"=%2A%2A%2A", "")
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", field)
		})
	}
}

func TestUpdateCustomer(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		body        string
		ifMatch     string
		wantCmd     customer.UpdateProfile
		wantIfMatch *int64
	}{
		{
			name:    "name only",
			body:    `{"name":"Asha R."}`,
			wantCmd: customer.UpdateProfile{Name: ptr("Asha R.")},
		},
		{
			name:        "everything, quoted If-Match",
			body:        `{"name":"A","email":"b@example.com","phone":"+441234567890","date_of_birth":"1991-01-01","preferences":{"email":false,"whatsapp":true}}`,
			ifMatch:     `"3"`,
			wantIfMatch: ptr(int64(3)),
			wantCmd: customer.UpdateProfile{
				Name: ptr("A"), Email: ptr("b@example.com"), Phone: ptr("+441234567890"), DateOfBirth: ptr("1991-01-01"),
				Preferences: &customer.PreferencesPatch{Email: ptr(false), WhatsApp: ptr(true)},
			},
		},
		{
			name:        "remove date of birth, bare If-Match",
			body:        `{"date_of_birth":""}`,
			ifMatch:     "3",
			wantIfMatch: ptr(int64(3)),
			wantCmd:     customer.UpdateProfile{DateOfBirth: ptr("")},
		},
		{
			name:    "one preference, If-Match *",
			body:    `{"preferences":{"whatsapp":false}}`,
			ifMatch: "*",
			wantCmd: customer.UpdateProfile{Preferences: &customer.PreferencesPatch{WhatsApp: ptr(false)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var gotCmd customer.UpdateProfile
			var gotID string
			var gotIfMatch *int64
			h.f.customers.UpdateFn = func(_ context.Context, _ event.Context, id string, ifMatch *int64, cmd customer.UpdateProfile) (projection.Customer, error) {
				gotID, gotIfMatch, gotCmd = id, ifMatch, cmd
				c := testCustomer()
				c.Version = 4
				return c, nil
			}
			var opts []option
			if tt.ifMatch != "" {
				opts = append(opts, header("If-Match", tt.ifMatch))
			}
			w := h.do("PATCH", "/api/v1/customers/"+customerID, tt.body, opts...)
			wantStatus(t, w, http.StatusOK)
			if got := w.Header().Get("ETag"); got != `"4"` {
				t.Errorf("ETag = %q, want %q", got, `"4"`)
			}
			if gotID != customerID {
				t.Errorf("id = %q", gotID)
			}
			if diff := cmp.Diff(tt.wantIfMatch, gotIfMatch); diff != "" {
				t.Errorf("If-Match (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCmd, gotCmd); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateCustomerStaleVersion(t *testing.T) {
	t.Parallel()
	h := setup(t)
	// The fake customer is at version 3.
	w := h.do("PATCH", "/api/v1/customers/"+customerID, `{"name":"B"}`, header("If-Match", `"2"`))
	wantError(t, w, http.StatusConflict, "conflict", "")
}

func TestUpdateCustomerBadIfMatch(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"abc", `W/"3"`, `"3`, "-1", "1.0", `"99999999999999999999"`} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("PATCH", "/api/v1/customers/"+customerID, `{"name":"B"}`, header("If-Match", v), wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", "If-Match")
		})
	}
}

func TestVerifyCustomerEmail(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var gotID, gotToken string
	h.f.customers.VerifyEmailFn = func(_ context.Context, _ event.Context, id, token string) (projection.Customer, error) {
		gotID, gotToken = id, token
		c := testCustomer()
		c.EmailVerified = true
		return c, nil
	}
	w := h.do("POST", "/api/v1/customers/"+customerID+"/verify-email", `{"token":"s3cr3t-t0ken"}`)
	wantStatus(t, w, http.StatusOK)
	if gotID != customerID || gotToken != "s3cr3t-t0ken" {
		t.Errorf("service got (%q, %q)", gotID, gotToken)
	}
	if got := decodeJSON[projection.Customer](t, w); !got.EmailVerified {
		t.Error("email_verified is false")
	}
	if got := w.Header().Get("ETag"); got != `"3"` {
		t.Errorf("ETag = %q", got)
	}

	t.Run("bad token", func(t *testing.T) {
		h := setup(t)
		h.f.customers.VerifyEmailFn = func(context.Context, event.Context, string, string) (projection.Customer, error) {
			return projection.Customer{}, apperr.Field("token", "is not the token we sent, or it has expired; ask for a new one")
		}
		w := h.do("POST", "/api/v1/customers/"+customerID+"/verify-email", `{"token":"nope"}`)
		wantError(t, w, http.StatusUnprocessableEntity, "invalid", "token")
	})
}

func TestListCustomerEvents(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := h.do("GET", "/api/v1/customers/"+customerID+"/events", "")
	wantStatus(t, w, http.StatusOK)
	type list struct {
		Events []event.Envelope `json:"events"`
	}
	want := list{Events: []event.Envelope{testEnvelope(1)}}
	if diff := cmp.Diff(want, decodeJSON[list](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	t.Run("unknown customer", func(t *testing.T) {
		h := setup(t)
		h.f.customers.EventsFn = func(context.Context, string) ([]event.Envelope, error) {
			return nil, apperr.New(apperr.NotFound, "no such customer")
		}
		w := h.do("GET", "/api/v1/customers/"+unknownID+"/events", "")
		wantError(t, w, http.StatusNotFound, "not_found", "")
	})
	t.Run("no events", func(t *testing.T) {
		h := setup(t)
		h.f.customers.EventsFn = func(context.Context, string) ([]event.Envelope, error) { return nil, nil }
		w := h.do("GET", "/api/v1/customers/"+customerID+"/events", "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Body.String(); got != `{"events":[]}`+"\n" {
			t.Errorf("body = %q", got)
		}
	})
}

// asOfCases are as_of values with the time each means.
func asOfCases() []struct {
	name, raw string
	wrong     bool // not a date-time the spec allows, though the server reads it
	want      time.Time
} {
	return []struct {
		name, raw string
		wrong     bool
		want      time.Time
	}{
		{name: "UTC", raw: "2025-02-01T10:00:00Z", want: time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC)},
		{name: "fraction", raw: "2025-02-01T10:00:00.123456789Z", want: time.Date(2025, 2, 1, 10, 0, 0, 123456789, time.UTC)},
		{name: "escaped offset", raw: "2025-02-01T15:30:00%2B05:30", want: time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC)},
		{name: "unescaped offset", raw: "2025-02-01T15:30:00+05:30", wrong: true, want: time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC)},
		{name: "negative offset", raw: "2025-02-01T05:00:00-05:00", want: time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC)},
	}
}

// badAsOfs are as_of values answered with 422.
func badAsOfs() []string {
	return []string{"yesterday", "2025-02-01", "2025-02-01T10:00:00", "2025-02-01%2010:00:00Z", "2025-13-01T10:00:00Z",
		"1738404000", "2025-02-01T10:00:00Z&as_of=2025-02-02T10:00:00Z", strings.Repeat("9", 100)}
}

func TestGetCustomerAsOf(t *testing.T) {
	t.Parallel()
	for _, tt := range asOfCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got time.Time
			h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
				t.Error("Get was called for an as_of read")
				return testCustomer(), nil
			}
			past := testCustomer()
			past.Name, past.Version = "Asha V.", 2
			h.f.customers.GetAsOfFn = func(_ context.Context, id string, asOf time.Time) (projection.Customer, error) {
				if id != customerID {
					t.Errorf("id = %q, want %q", id, customerID)
				}
				got = asOf
				return past, nil
			}
			var opts []option
			if tt.wrong {
				opts = append(opts, wrong())
			}
			w := h.do("GET", "/api/v1/customers/"+customerID+"?as_of="+tt.raw, "", opts...)
			wantStatus(t, w, http.StatusOK)
			if !got.Equal(tt.want) {
				t.Errorf("as_of = %v, want %v", got, tt.want)
			}
			if diff := cmp.Diff(past, decodeJSON[projection.Customer](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := w.Header().Get("ETag"); got != `"2"` {
				t.Errorf("ETag = %q, want the version of that moment, %q", got, `"2"`)
			}
			// A profile as it was is personal data too: the read is recorded.
			reads := h.f.recorded.all()
			if len(reads) != 1 || reads[0].SubjectID != customerID || reads[0].SubjectType != "customer" {
				t.Errorf("recorded reads = %+v, want one of customer %s", reads, customerID)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.GetAsOfFn = func(context.Context, string, time.Time) (projection.Customer, error) {
			t.Error("the service was called for an invalid as_of")
			return testCustomer(), nil
		}
		for _, raw := range badAsOfs() {
			w := h.do("GET", "/api/v1/customers/"+customerID+"?as_of="+raw, "", wrong())
			msg := wantError(t, w, http.StatusUnprocessableEntity, "invalid", "as_of")
			if !strings.Contains(msg, "RFC 3339") && !strings.Contains(msg, "at most once") {
				t.Errorf("as_of=%s: message %q does not say what is expected", raw, msg)
			}
		}
		if reads := h.f.recorded.all(); len(reads) != 0 {
			t.Errorf("refused reads were recorded: %+v", reads)
		}
	})
	t.Run("before the customer existed", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.GetAsOfFn = func(_ context.Context, id string, asOf time.Time) (projection.Customer, error) {
			return projection.Customer{}, apperr.New(apperr.NotFound, "customer %s did not exist yet at %s", id, asOf.Format(time.RFC3339))
		}
		w := h.do("GET", "/api/v1/customers/"+customerID+"?as_of=2001-01-01T00:00:00Z", "")
		if msg := wantError(t, w, http.StatusNotFound, "not_found", ""); !strings.Contains(msg, "did not exist yet") {
			t.Errorf("message = %q", msg)
		}
	})
}
