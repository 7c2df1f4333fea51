package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/policy"
	"insure/internal/projection"
)

func TestCreatePolicy(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var got policy.Create
	h.f.policies.CreateFn = func(_ context.Context, _ event.Context, cmd policy.Create) (projection.Policy, error) {
		got = cmd
		return testPolicy(), nil
	}
	w := h.do("POST", "/api/v1/policies", `{
		"customer_id":"`+customerID+`","quotation_id":"`+quotationID+`","insurer":"acme","product":"motor",
		"premium":1234500,"sum_insured":50000000,"currency":"INR","start_date":"2025-03-14","end_date":"2026-03-13"}`)
	wantStatus(t, w, http.StatusCreated)
	if got, want := w.Header().Get("Location"), "/api/v1/policies/"+policyID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	want := policy.Create{
		CustomerID: customerID, QuotationID: ptr(quotationID), Insurer: "acme", Product: "motor",
		Premium: 1_234_500, SumInsured: 50_000_000, Currency: "INR", StartDate: "2025-03-14", EndDate: "2026-03-13",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(testPolicy(), decodeJSON[projection.Policy](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	t.Run("invalid", func(t *testing.T) {
		h := setup(t)
		h.f.policies.CreateFn = func(context.Context, event.Context, policy.Create) (projection.Policy, error) {
			return projection.Policy{}, apperr.Field("end_date", "must be after start_date")
		}
		w := h.do("POST", "/api/v1/policies", `{"customer_id":"`+customerID+`","insurer":"acme","product":"motor",
			"premium":1,"sum_insured":1,"start_date":"2025-03-14","end_date":"2025-03-13"}`)
		wantError(t, w, http.StatusUnprocessableEntity, "invalid", "end_date")
	})
	t.Run("amount too large for int64", func(t *testing.T) {
		h := setup(t)
		w := h.do("POST", "/api/v1/policies", `{"customer_id":"`+customerID+`","insurer":"acme","product":"motor",
			"premium":99999999999999999999,"sum_insured":1,"start_date":"2025-03-14","end_date":"2026-03-13"}`, wrong())
		msg := wantError(t, w, http.StatusBadRequest, "malformed", "premium")
		if want := "must be an integer that fits in 64 bits, not number 99999999999999999999"; msg != want {
			t.Errorf("message = %q, want %q", msg, want)
		}
	})
}

func TestRenewPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		wrong bool // not a body the spec allows, though the server accepts it
		want  policy.Renew
	}{
		{name: "empty body", body: ""},
		{name: "empty object", body: "{}"},
		{name: "whitespace", body: " \n", wrong: true},
		{name: "all", body: `{"premium":1300000,"sum_insured":45000000,"end_date":"2027-03-13"}`,
			want: policy.Renew{Premium: ptr(int64(1_300_000)), SumInsured: ptr(int64(45_000_000)), EndDate: ptr("2027-03-13")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got policy.Renew
			var gotID string
			h.f.policies.RenewFn = func(_ context.Context, _ event.Context, id string, cmd policy.Renew) (projection.Policy, error) {
				gotID, got = id, cmd
				p := testPolicy()
				p.Renewals, p.Version = 1, 2
				return p, nil
			}
			var opts []option
			if tt.wrong {
				opts = append(opts, wrong())
			}
			w := h.do("POST", "/api/v1/policies/"+policyID+"/renew", tt.body, opts...)
			wantStatus(t, w, http.StatusOK)
			if gotID != policyID {
				t.Errorf("id = %q", gotID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.policies.RenewFn = func(context.Context, event.Context, string, policy.Renew) (projection.Policy, error) {
			return projection.Policy{}, apperr.New(apperr.Conflict, "policy MOT-2025-0001 expired on 2026-03-13 and can no longer be renewed; issue a new policy instead")
		}
		w := h.do("POST", "/api/v1/policies/"+policyID+"/renew", "")
		wantError(t, w, http.StatusConflict, "conflict", "")
	})
	t.Run("empty body with another content type", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("POST", "/api/v1/policies/"+policyID+"/renew", "", header("Content-Type", "text/plain"), wrong())
		wantStatus(t, w, http.StatusOK)
	})
}

func TestGetPolicy(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := h.do("GET", "/api/v1/policies/"+policyID, "")
	wantStatus(t, w, http.StatusOK)
	if diff := cmp.Diff(testPolicy(), decodeJSON[projection.Policy](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	h.f.policies.GetFn = func(context.Context, string) (projection.Policy, error) {
		return projection.Policy{}, apperr.New(apperr.NotFound, "no such policy")
	}
	wantError(t, h.do("GET", "/api/v1/policies/"+unknownID, ""), http.StatusNotFound, "not_found", "")
}

func TestListPolicies(t *testing.T) {
	t.Parallel()

	type call struct {
		Within *int
		After  string
		Limit  int
	}
	tests := []struct {
		query string
		want  call
	}{
		{"", call{nil, "", 50}},
		{"?expiring_within_days=30", call{ptr(30), "", 50}},
		{"?expiring_within_days=0&after=c1&limit=10", call{ptr(0), "c1", 10}},
		{"?expiring_within_days=3650", call{ptr(3650), "", 50}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got call
			h.f.policies.ListFn = func(_ context.Context, within *int, after string, limit int) ([]projection.Policy, string, error) {
				got = call{within, after, limit}
				return []projection.Policy{testPolicy()}, "next-page", nil
			}
			w := h.do("GET", "/api/v1/policies"+tt.query, "")
			wantStatus(t, w, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			type list struct {
				Policies []projection.Policy `json:"policies"`
				Next     *string             `json:"next"`
			}
			want := list{Policies: []projection.Policy{testPolicy()}, Next: ptr("next-page")}
			if diff := cmp.Diff(want, decodeJSON[list](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	for _, q := range []string{"expiring_within_days=-1", "expiring_within_days=3651", "expiring_within_days=soon", "expiring_within_days=1e3"} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", "/api/v1/policies?"+q, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", "expiring_within_days")
		})
	}
	t.Run("bad limit", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		wantError(t, h.do("GET", "/api/v1/policies?limit=500", "", wrong()), http.StatusUnprocessableEntity, "invalid", "limit")
	})
}

func TestScanExpiringPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want *time.Time
	}{
		{name: "empty body", body: ""},
		{name: "empty object", body: "{}"},
		{name: "as of", body: `{"as_of":"2025-04-01"}`, want: ptr(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got *time.Time
			var gotEC event.Context
			report := app.ScanReport{
				AsOf: "2025-04-01", Scanned: 3,
				Warned: []app.Warning{{
					PolicyID: policyID, PolicyNumber: "MOT-2025-0001", EndDate: "2025-04-08",
					DaysLeft: 7, Threshold: 7, Urgency: "high", EventID: eventID,
				}},
			}
			h.f.policies.ScanExpiringFn = func(_ context.Context, ec event.Context, asOf *time.Time) (app.ScanReport, error) {
				got, gotEC = asOf, ec
				return report, nil
			}
			w := h.do("POST", "/api/v1/policies/expiry-scan", tt.body)
			wantStatus(t, w, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("as of (-want +got):\n%s", diff)
			}
			if gotEC.Actor != "token:test-admin" || gotEC.CorrelationID != w.Header().Get("X-Request-ID") {
				t.Errorf("event context = %+v", gotEC)
			}
			if diff := cmp.Diff(report, decodeJSON[app.ScanReport](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("nothing warned", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("POST", "/api/v1/policies/expiry-scan", "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Body.String(); got != `{"as_of":"2025-03-14","scanned":0,"warned":[]}`+"\n" {
			t.Errorf("body = %q", got)
		}
	})
	for _, body := range []string{`{"as_of":"tomorrow"}`, `{"as_of":"2025-02-30"}`, `{"as_of":"2025-04-01T00:00:00Z"}`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("POST", "/api/v1/policies/expiry-scan", body, wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", "as_of")
		})
	}
}

func TestGetPolicyAsOf(t *testing.T) {
	t.Parallel()
	for _, tt := range asOfCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got time.Time
			h.f.policies.GetFn = func(context.Context, string) (projection.Policy, error) {
				t.Error("Get was called for an as_of read")
				return testPolicy(), nil
			}
			past := testPolicy()
			past.Status, past.DaysToExpiry, past.DocumentID = "expiring", 12, nil
			h.f.policies.GetAsOfFn = func(_ context.Context, id string, asOf time.Time) (projection.Policy, error) {
				if id != policyID {
					t.Errorf("id = %q, want %q", id, policyID)
				}
				got = asOf
				return past, nil
			}
			var opts []option
			if tt.wrong {
				opts = append(opts, wrong())
			}
			w := h.do("GET", "/api/v1/policies/"+policyID+"?as_of="+tt.raw, "", opts...)
			wantStatus(t, w, http.StatusOK)
			if !got.Equal(tt.want) {
				t.Errorf("as_of = %v, want %v", got, tt.want)
			}
			if diff := cmp.Diff(past, decodeJSON[projection.Policy](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.policies.GetAsOfFn = func(context.Context, string, time.Time) (projection.Policy, error) {
			t.Error("the service was called for an invalid as_of")
			return testPolicy(), nil
		}
		for _, raw := range badAsOfs() {
			w := h.do("GET", "/api/v1/policies/"+policyID+"?as_of="+raw, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", "as_of")
		}
	})
	t.Run("before the policy existed", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.policies.GetAsOfFn = func(context.Context, string, time.Time) (projection.Policy, error) {
			return projection.Policy{}, apperr.New(apperr.NotFound, "policy did not exist yet")
		}
		wantError(t, h.do("GET", "/api/v1/policies/"+policyID+"?as_of=2001-01-01T00:00:00Z", ""), http.StatusNotFound, "not_found", "")
	})
}
