package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"insure/internal/database"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/projection"
)

// bodyEndpoints are the endpoints that read a JSON body, with a valid one.
var bodyEndpoints = []struct {
	method, path, valid string
}{
	{"POST", "/api/v1/customers", `{"name":"Asha","email":"a@example.com","phone":"9876543210"}`},
	{"PATCH", "/api/v1/customers/" + customerID, `{"name":"Asha"}`},
	{"POST", "/api/v1/customers/" + customerID + "/verify-email", `{"token":"t"}`},
	{"POST", "/api/v1/quotations", `{"customer_id":"` + customerID + `","product":"health","sum_insured":1,"details":{"age":1,"members":1}}`},
	{"POST", "/api/v1/policies", `{"customer_id":"` + customerID + `","insurer":"acme","product":"motor","premium":1,"sum_insured":1,"start_date":"2025-01-01","end_date":"2026-01-01"}`},
	{"POST", "/api/v1/policies/" + policyID + "/renew", `{"premium":1}`},
	{"POST", "/api/v1/policies/expiry-scan", `{"as_of":"2025-01-01"}`},
}

func TestBodyErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{name: "malformed", body: `{"name":`, status: 400, code: "malformed"},
		{name: "not JSON", body: `name=Asha`, status: 400, code: "malformed"},
		{name: "unknown field", body: `{"nmae":"Asha"}`, status: 400, code: "malformed", field: "nmae"},
		{name: "trailing object", body: `{} {}`, status: 400, code: "malformed"},
		{name: "trailing garbage", body: `{}x`, status: 400, code: "malformed"},
		{name: "array", body: `[]`, status: 400, code: "malformed"},
		{name: "null", body: `null`, status: 400, code: "malformed"},
		{name: "string", body: `"hello"`, status: 400, code: "malformed"},
		{name: "wrong content type", body: `{}`, contentType: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "form content type", body: `{}`, contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type"},
		{name: "latin-1", body: `{}`, contentType: "application/json; charset=latin1", status: 415, code: "unsupported_media_type"},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, status: 413, code: "too_large"},
		{name: "exactly one byte too large", body: strings.Repeat(" ", 1<<20) + "{", status: 413, code: "too_large"},
	}
	for _, ep := range bodyEndpoints {
		for _, tt := range tests {
			t.Run(ep.method+" "+ep.path+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				h := setup(t)
				opts := []option{wrong()}
				if tt.contentType != "" {
					opts = append(opts, header("Content-Type", tt.contentType))
				}
				w := h.do(ep.method, ep.path, tt.body, opts...)
				wantError(t, w, tt.status, tt.code, tt.field)
			})
		}
	}

	if len(strings.Repeat(" ", 1<<20)+"{") != 1<<20+1 {
		t.Fatal("the 413 case is not 1 MiB + 1 byte")
	}
}

func TestBodyMissing(t *testing.T) {
	t.Parallel()
	for _, ep := range bodyEndpoints {
		optional := strings.HasSuffix(ep.path, "/renew") || strings.HasSuffix(ep.path, "/expiry-scan")
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do(ep.method, ep.path, "", wrong())
			if optional {
				wantStatus(t, w, http.StatusOK)
				return
			}
			wantError(t, w, http.StatusBadRequest, "malformed", "")
		})
	}
}

func TestBodyAcceptsCharset(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := h.do("POST", "/api/v1/customers/"+customerID+"/verify-email", `{"token":"t"}`,
		header("Content-Type", "application/json; charset=UTF-8"))
	wantStatus(t, w, http.StatusOK)
}

func TestBodyWrongTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path, body, field, want string
	}{
		{"POST", "/api/v1/customers", `{"name":5}`, "name", "must be a string, not number"},
		{"POST", "/api/v1/customers", `{"preferences":{"email":"yes"}}`, "preferences.email", "must be true or false, not string"},
		{"POST", "/api/v1/customers", `{"preferences":[]}`, "preferences", "must be an object, not array"},
		{"PATCH", "/api/v1/customers/" + customerID, `{"date_of_birth":19900517}`, "date_of_birth", "must be a string, not number"},
		{"POST", "/api/v1/quotations", `{"sum_insured":"1000"}`, "sum_insured", "must be an integer that fits in 64 bits, not string"},
		{"POST", "/api/v1/quotations", `{"sum_insured":10.5}`, "sum_insured", "must be an integer that fits in 64 bits, not number 10.5"},
		{"POST", "/api/v1/policies", `{"quotation_id":7}`, "quotation_id", "must be a string, not number"},
		{"POST", "/api/v1/policies/" + policyID + "/renew", `{"premium":true}`, "premium", "must be an integer that fits in 64 bits, not bool"},
		{"POST", "/api/v1/policies/expiry-scan", `{"as_of":{}}`, "as_of", "must be a string, not object"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do(tt.method, tt.path, tt.body, wrong())
			if msg := wantError(t, w, http.StatusBadRequest, "malformed", tt.field); msg != tt.want {
				t.Errorf("message = %q, want %q", msg, tt.want)
			}
		})
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	h := setup(t)
	for _, path := range []string{"/", "/nope", "/api/v1", "/api/v1/customers/" + customerID + "/orders", "/api/v2/customers", "/api/v1/customers/"} {
		t.Run(path, func(t *testing.T) {
			wantError(t, h.do("GET", path, ""), http.StatusNotFound, "not_found", "")
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := setup(t)
	tests := []struct {
		method, path string
		allow        []string
	}{
		{"DELETE", "/api/v1/customers", []string{"GET", "POST"}},
		{"PUT", "/api/v1/customers/" + customerID, []string{"GET", "PATCH"}},
		{"GET", "/api/v1/customers/" + customerID + "/verify-email", []string{"POST"}},
		{"POST", "/api/v1/events", []string{"GET"}},
		{"GET", "/api/v1/dead-letters/7/retry", []string{"POST"}},
		{"POST", "/healthz", []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := h.do(tt.method, tt.path, "")
			wantError(t, w, http.StatusMethodNotAllowed, "method_not_allowed", "")
			allow := w.Header().Get("Allow")
			for _, m := range tt.allow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow = %q, want it to list %s", allow, m)
				}
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	h := setup(t)
	unavailable := apperr.New(apperr.Unavailable, "the database is not answering; try again in a minute")
	h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
		return projection.Customer{}, unavailable
	}
	h.f.policies.ScanExpiringFn = func(context.Context, event.Context, *time.Time) (app.ScanReport, error) {
		return app.ScanReport{}, unavailable
	}
	msg := wantError(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusServiceUnavailable, "unavailable", "")
	if msg != unavailable.Message {
		t.Errorf("message = %q", msg)
	}
	wantError(t, h.do("POST", "/api/v1/policies/expiry-scan", ""), http.StatusServiceUnavailable, "unavailable", "")

	h.f.customers.GetFn = func(ctx context.Context, _ string) (projection.Customer, error) {
		return projection.Customer{}, context.DeadlineExceeded
	}
	wantError(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusServiceUnavailable, "unavailable", "")

	// A read that fails because the database is down is a 503, not a 500.
	h.f.customers.GetFn = func(ctx context.Context, _ string) (projection.Customer, error) {
		return projection.Customer{}, fmt.Errorf("customer x: %w", database.Unavailable(syscall.ECONNREFUSED))
	}
	w := h.do("GET", "/api/v1/customers/"+customerID, "")
	wantError(t, w, http.StatusServiceUnavailable, "unavailable", "")
	if got := w.Header().Get("Retry-After"); got != "5" {
		t.Errorf("database down: Retry-After = %q, want 5", got)
	}
}

// TestStorageFull: a write that fails because the database's disk is full
// is a 503 with the code storage_full, also when a service has already
// called it Unavailable; the cause (a file path, an errno) is not shown.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	h := setup(t)
	full := fmt.Errorf("append events: commit: %w", database.Unavailable(fmt.Errorf("write /var/lib/insure/insure.db-wal: %w", syscall.ENOSPC)))
	for name, err := range map[string]error{
		"database error":         full,
		"wrapped as unavailable": apperr.Wrap(apperr.Unavailable, full, "the database is unavailable"),
	} {
		h.f.customers.RegisterFn = func(context.Context, event.Context, customer.Register) (projection.Customer, error) {
			return projection.Customer{}, err
		}
		w := h.do("POST", "/api/v1/customers", `{"name":"Asha Rao","email":"asha@example.com","phone":"9876543210"}`)
		msg := wantError(t, w, http.StatusServiceUnavailable, "storage_full", "")
		if !strings.Contains(msg, "disk is full") || strings.Contains(w.Body.String(), "insure.db") {
			t.Errorf("%s: message %q, body %s: want it to say the disk is full, and not to show the cause", name, msg, w.Body.String())
		}
		if got := w.Header().Get("Retry-After"); got != "30" {
			t.Errorf("%s: Retry-After = %q, want 30", name, got)
		}
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	const secret = "pq: password authentication failed for user insure_prod"

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
			return projection.Customer{}, errors.New(secret)
		}
		w := h.do("GET", "/api/v1/customers/"+customerID, "")
		if msg := wantError(t, w, http.StatusInternalServerError, "internal", ""); msg != "internal error" {
			t.Errorf("message = %q", msg)
		}
		if strings.Contains(w.Body.String(), "password") {
			t.Errorf("body leaks the cause: %s", w.Body.String())
		}
		if !strings.Contains(h.logs.String(), secret) {
			t.Errorf("the cause was not logged: %s", h.logs.String())
		}
	})
	t.Run("apperr internal", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
			return projection.Customer{}, apperr.Wrap(apperr.Internal, errors.New(secret), "load customer from table customers_v2")
		}
		w := h.do("GET", "/api/v1/customers/"+customerID, "")
		if msg := wantError(t, w, http.StatusInternalServerError, "internal", ""); msg != "internal error" {
			t.Errorf("message = %q", msg)
		}
	})
	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.RegisterFn = func(context.Context, event.Context, customer.Register) (projection.Customer, error) {
			panic(secret)
		}
		w := h.do("POST", "/api/v1/customers", `{"name":"Asha Rao","email":"asha@example.com","phone":"9876543210"}`)
		if msg := wantError(t, w, http.StatusInternalServerError, "internal", ""); msg != "internal error" {
			t.Errorf("message = %q", msg)
		}
		if strings.Contains(w.Body.String(), "password") {
			t.Errorf("body leaks the panic: %s", w.Body.String())
		}
		logs := h.logs.String()
		if !strings.Contains(logs, secret) {
			t.Errorf("the panic was not logged: %s", logs)
		}
		for _, pii := range []string{"Asha", "asha@example.com", "9876543210"} {
			if strings.Contains(logs, pii) {
				t.Errorf("logs contain %q from the request body", pii)
			}
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
			return projection.Customer{}, &apperr.Error{Code: "teapot", Message: "short and stout"}
		}
		wantError(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusInternalServerError, "internal", "")
	})
}

func TestForbiddenAndUnauthorized(t *testing.T) {
	t.Parallel()
	// A service's own 401 or 403, not the token check's: check the mapping
	// without the contract, whose 401 promises a bearer challenge.
	for code, status := range map[apperr.Code]int{apperr.Forbidden: 403, apperr.Unauthorized: 401} {
		svc, f := happyServices()
		f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
			return projection.Customer{}, apperr.New(code, "no")
		}
		h := &harness{t: t, f: f, h: newServer(t, svc)}
		wantError(t, h.do("GET", "/api/v1/customers/"+customerID, ""), status, string(code), "")
	}
}
