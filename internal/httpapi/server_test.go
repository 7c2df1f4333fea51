package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/httpapi/contracttest"
	"insure/internal/projection"
)

func newServer(t testing.TB, svc httpapi.Services) *httpapi.Server {
	t.Helper()
	srv, err := httpapi.NewServer(svc, nil, func() time.Time { return testNow })
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return srv
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := h.do("GET", "/healthz", "")
	wantStatus(t, w, http.StatusOK)
	if got := w.Body.String(); got != `{"status":"ok"}`+"\n" {
		t.Errorf("body = %q", got)
	}
}

// sample is a good request to one route and the status the happy fakes
// answer it with.
type sample struct {
	route        string // the pattern, as registered and in the access table
	target, body string
	status       int
	opts         []option
}

func (s sample) method() string {
	m, _, _ := strings.Cut(s.route, " ")
	return m
}

// samples returns one good request for every route.
func samples() []sample {
	return []sample{
		{"GET /healthz", "/healthz", "", 200, nil},
		{"GET /readyz", "/readyz", "", 200, nil},
		{"POST /api/v1/customers", "/api/v1/customers", `{"name":"Asha Rao","email":"asha@example.com","phone":"+91 98765 43210","date_of_birth":"1990-05-17","channel":"web","preferences":{"email":true,"whatsapp":false}}`, 201, nil},
		{"GET /api/v1/customers", "/api/v1/customers?limit=10", "", 200, nil},
		{"GET /api/v1/customers/{id}", "/api/v1/customers/" + customerID, "", 200, nil},
		{"PATCH /api/v1/customers/{id}", "/api/v1/customers/" + customerID, `{"phone":"+919876543211","preferences":{"whatsapp":true}}`, 200, nil},
		{"POST /api/v1/customers/{id}/verify-email", "/api/v1/customers/" + customerID + "/verify-email", `{"token":"abc"}`, 200, nil},
		{"GET /api/v1/customers/{id}/events", "/api/v1/customers/" + customerID + "/events", "", 200, nil},
		{"DELETE /api/v1/customers/{id}/personal-data", "/api/v1/customers/" + customerID + "/personal-data", "", 200, nil},
		{"POST /api/v1/quotations", "/api/v1/quotations", `{"customer_id":"` + customerID + `","product":"motor","sum_insured":50000000,"currency":"INR","details":{"vehicle_make":"Maruti","vehicle_model":"Swift","vehicle_year":2021,"ncb_percent":20}}`, 202, nil},
		{"GET /api/v1/quotations/{id}", "/api/v1/quotations/" + quotationID, "", 200, nil},
		{"POST /api/v1/policies", "/api/v1/policies", `{"customer_id":"` + customerID + `","quotation_id":"` + quotationID + `","insurer":"acme","product":"motor","premium":1234500,"sum_insured":50000000,"start_date":"2025-03-14","end_date":"2026-03-13"}`, 201, nil},
		{"GET /api/v1/policies", "/api/v1/policies?expiring_within_days=30", "", 200, nil},
		{"POST /api/v1/policies/expiry-scan", "/api/v1/policies/expiry-scan", "", 200, nil},
		{"GET /api/v1/policies/{id}", "/api/v1/policies/" + policyID, "", 200, nil},
		{"POST /api/v1/policies/{id}/renew", "/api/v1/policies/" + policyID + "/renew", `{"end_date":"2027-03-13"}`, 200, nil},
		{"GET /api/v1/messages", "/api/v1/messages?customer_id=" + customerID + "&channel=email", "", 200, nil},
		{"GET /api/v1/documents/{id}", "/api/v1/documents/" + documentID, "", 200, nil},
		{"GET /api/v1/events", "/api/v1/events?after=0&limit=10&type=CustomerRegistered", "", 200, nil},
		{"GET /api/v1/events/stream", "/api/v1/events/stream?after=0&type=CustomerRegistered", "", 200, []option{streamFor(50 * time.Millisecond)}},
		{"GET /api/v1/audit/access", "/api/v1/audit/access?subject=" + customerID + "&limit=10", "", 200, nil},
		{"GET /api/v1/dead-letters", "/api/v1/dead-letters", "", 200, nil},
		{"POST /api/v1/dead-letters/{id}/retry", "/api/v1/dead-letters/7/retry", "", 200, nil},
		{"POST /api/v1/dead-letters/{id}/discard", "/api/v1/dead-letters/7/discard", "", 200, nil},
		{"GET /api/v1/providers", "/api/v1/providers", "", 200, nil},
		{"GET /api/v1/webhooks/whatsapp", "/api/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1158201444", "", 200, nil},
		{"POST /api/v1/webhooks/whatsapp", "/api/v1/webhooks/whatsapp", whatsAppBody, 200, []option{signed(whatsAppBody)}},
	}
}

// TestEveryOperation sends one good request to every operation in the spec
// through the contract check, and fails if the spec has an operation this
// tour does not reach.
func TestEveryOperation(t *testing.T) {
	t.Parallel()
	c := contracttest.New(t)
	h := setupWith(t, c)
	for _, tt := range samples() {
		w := h.do(tt.method(), tt.target, tt.body, tt.opts...)
		if w.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d; body %s", tt.method(), tt.target, w.Code, tt.status, w.Body.String())
		}
	}
	if missing := c.Uncovered(); len(missing) > 0 {
		t.Errorf("operations in the spec that the tour does not reach: %v", missing)
	}
}

// TestRoutesMatchSpec checks that the mux and the spec list the same
// operations.
func TestRoutesMatchSpec(t *testing.T) {
	t.Parallel()
	svc, _ := happyServices()
	routes := newServer(t, svc).Routes()
	sort.Strings(routes)
	if len(slices.Compact(slices.Clone(routes))) != len(routes) {
		t.Errorf("a route is registered twice: %v", routes)
	}
	spec := contracttest.New(t).Operations()
	if diff := cmp.Diff(spec, routes); diff != "" {
		t.Errorf("spec operations (-) and mux routes (+) differ:\n%s", diff)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		headers map[string]string
		want    string // "" means a new id
	}{
		{name: "none"},
		{name: "correlation id", headers: map[string]string{"X-Correlation-ID": correlationID}, want: correlationID},
		{name: "request id", headers: map[string]string{"X-Request-ID": correlationID}, want: correlationID},
		{name: "correlation id wins", headers: map[string]string{"X-Correlation-ID": correlationID, "X-Request-ID": unknownID}, want: correlationID},
		{name: "upper case", headers: map[string]string{"X-Request-ID": strings.ToUpper(correlationID)}, want: correlationID},
		{name: "not a UUID", headers: map[string]string{"X-Request-ID": "abc-123"}},
		{name: "bad correlation id falls back", headers: map[string]string{"X-Correlation-ID": "nope", "X-Request-ID": correlationID}, want: correlationID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got event.Context
			h.f.customers.RegisterFn = func(_ context.Context, ec event.Context, _ customer.Register) (projection.Customer, error) {
				got = ec
				return testCustomer(), nil
			}
			var opts []option
			for k, v := range tt.headers {
				opts = append(opts, header(k, v))
			}
			w := h.do("POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","phone":"9876543210"}`, opts...)
			wantStatus(t, w, http.StatusCreated)
			echoed := w.Header().Get("X-Request-ID")
			if !event.ValidID(echoed) {
				t.Fatalf("X-Request-ID = %q, not a UUID", echoed)
			}
			if tt.want != "" && echoed != tt.want {
				t.Errorf("X-Request-ID = %q, want %q", echoed, tt.want)
			}
			for _, v := range tt.headers {
				if tt.want == "" && strings.EqualFold(echoed, v) {
					t.Errorf("X-Request-ID echoes %q, which is not a UUID", v)
				}
			}
			if got.CorrelationID != echoed {
				t.Errorf("correlation id = %q, want the echoed %q", got.CorrelationID, echoed)
			}
		})
	}

	t.Run("on errors too", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("GET", "/nope", "", header("X-Request-ID", correlationID))
		if got := w.Header().Get("X-Request-ID"); got != correlationID {
			t.Errorf("X-Request-ID = %q", got)
		}
	})
}

func TestEventContext(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var got event.Context
	h.f.customers.RegisterFn = func(_ context.Context, ec event.Context, _ customer.Register) (projection.Customer, error) {
		got = ec
		return testCustomer(), nil
	}
	longUA := strings.Repeat("é", 300)
	w := h.do("POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","phone":"9876543210","actor":"admin"}`, wrong())
	wantError(t, w, http.StatusBadRequest, "malformed", "actor") // the actor never comes from the body

	r := func(req *http.Request) {
		req.RemoteAddr = "[2001:db8::1]:443"
		req.Header.Set("User-Agent", longUA)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
	}
	w = h.do("POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","phone":"9876543210"}`, r)
	wantStatus(t, w, http.StatusCreated)
	want := event.Context{
		CorrelationID: w.Header().Get("X-Request-ID"),
		Actor:         "token:test-admin",
		Channel:       "api",
		IP:            "2001:db8::1",
		UserAgent:     strings.Repeat("é", 256),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event context (-want +got):\n%s", diff)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := h.do("POST", "/api/v1/customers", `{"name":"Asha Rao","email":"asha@example.com","phone":"9876543210"}`)
	wantStatus(t, w, http.StatusCreated)
	h.do("PATCH", "/api/v1/customers/"+customerID, `{"email":"secret@example.com"}`)
	h.do("GET", "/nope", "")

	lines := h.logs.lines(t)
	var requests []map[string]any
	for _, l := range lines {
		if l["msg"] == "http request" {
			requests = append(requests, l)
		}
	}
	if len(requests) != 3 {
		t.Fatalf("got %d request log lines, want 3:\n%s", len(requests), h.logs.String())
	}
	first := requests[0]
	want := map[string]any{
		"method": "POST", "route": "POST /api/v1/customers", "status": float64(201),
		"duration_ms": float64(0), "request_id": w.Header().Get("X-Request-ID"),
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("log %s = %v, want %v", k, first[k], v)
		}
	}
	if got := requests[1]["route"]; got != "PATCH /api/v1/customers/{id}" {
		t.Errorf("route = %v, want the pattern", got)
	}
	if got := requests[2]["status"]; got != float64(404) {
		t.Errorf("unmatched status = %v", got)
	}
	logs := h.logs.String()
	for _, pii := range []string{"Asha", "asha@example.com", "secret@example.com", "9876543210"} {
		if strings.Contains(logs, pii) {
			t.Errorf("logs contain %q from a request body:\n%s", pii, logs)
		}
	}
}

// TestServesOverHTTP runs the contract-wrapped server on a real listener,
// the way the wired server will be tested end to end.
func TestServesOverHTTP(t *testing.T) {
	t.Parallel()
	svc, _ := happyServices()
	srv := newTestServer(t, contracttest.Middleware(t, newServer(t, svc)))
	req, err := http.NewRequest("GET", srv+"/api/v1/documents/"+documentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+auditorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
