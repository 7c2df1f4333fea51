package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/rating"
)

func TestRequestQuotation(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var got quotation.Request
	h.f.quotations.RequestFn = func(_ context.Context, _ event.Context, cmd quotation.Request) (projection.Quotation, error) {
		got = cmd
		q := testQuotation()
		q.Status, q.Quotes, q.DocumentID, q.Version = "requested", nil, nil, 1
		return q, nil
	}
	details := `{"vehicle_make":"Maruti","vehicle_model":"Swift","vehicle_year":2021}`
	w := h.do("POST", "/api/v1/quotations",
		`{"customer_id":"`+customerID+`","product":"motor","sum_insured":50000000,"currency":"INR","details":`+details+`}`)

	wantStatus(t, w, http.StatusAccepted)
	if got, want := w.Header().Get("Location"), "/api/v1/quotations/"+quotationID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	want := quotation.Request{
		CustomerID: customerID, Product: "motor", SumInsured: 50_000_000, Currency: "INR",
		Details: json.RawMessage(details),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	body := decodeJSON[map[string]any](t, w)
	if body["id"] != quotationID || body["status"] != "requested" {
		t.Errorf("body id/status = %v/%v", body["id"], body["status"])
	}
	if quotes, ok := body["quotes"].([]any); !ok || len(quotes) != 0 {
		t.Errorf("quotes = %#v, want []", body["quotes"])
	}
	if v, ok := body["document_id"]; !ok || v != nil {
		t.Errorf("document_id = %#v, want null", v)
	}

	t.Run("health", func(t *testing.T) {
		h := setup(t)
		var got quotation.Request
		h.f.quotations.RequestFn = func(_ context.Context, _ event.Context, cmd quotation.Request) (projection.Quotation, error) {
			got = cmd
			q := testQuotation()
			q.Product, q.Details, q.Status, q.Quotes = "health", json.RawMessage(`{"age":40,"members":3}`), "requested", nil
			return q, nil
		}
		w := h.do("POST", "/api/v1/quotations",
			`{"customer_id":"`+customerID+`","product":"health","sum_insured":1000000,"details":{"age":40,"members":3}}`)
		wantStatus(t, w, http.StatusAccepted)
		if got.Currency != "" || string(got.Details) != `{"age":40,"members":3}` {
			t.Errorf("command = %+v", got)
		}
	})
	t.Run("invalid details", func(t *testing.T) {
		h := setup(t)
		h.f.quotations.RequestFn = func(context.Context, event.Context, quotation.Request) (projection.Quotation, error) {
			return projection.Quotation{}, apperr.Field("details.vehicle_year", "must be 1950 or later")
		}
		w := h.do("POST", "/api/v1/quotations",
			`{"customer_id":"`+customerID+`","product":"motor","sum_insured":1,"details":{"vehicle_make":"X","vehicle_model":"Y","vehicle_year":1900}}`, wrong())
		wantError(t, w, http.StatusUnprocessableEntity, "invalid", "details.vehicle_year")
	})
	t.Run("unknown customer", func(t *testing.T) {
		h := setup(t)
		h.f.quotations.RequestFn = func(context.Context, event.Context, quotation.Request) (projection.Quotation, error) {
			return projection.Quotation{}, apperr.New(apperr.NotFound, "there is no customer %s", unknownID)
		}
		w := h.do("POST", "/api/v1/quotations",
			`{"customer_id":"`+unknownID+`","product":"health","sum_insured":1,"details":{"age":4,"members":1}}`)
		wantError(t, w, http.StatusNotFound, "not_found", "")
	})
}

func TestGetQuotation(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var gotID string
	h.f.quotations.GetFn = func(_ context.Context, id string) (projection.Quotation, error) {
		gotID = id
		return testQuotation(), nil
	}
	w := h.do("GET", "/api/v1/quotations/"+quotationID, "")
	wantStatus(t, w, http.StatusOK)
	if gotID != quotationID {
		t.Errorf("id = %q", gotID)
	}
	want := testQuotation()
	want.Quotes[1].AddOns = []rating.AddOn{} // encoded as [] rather than null
	if diff := cmp.Diff(want, decodeJSON[projection.Quotation](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	t.Run("failed", func(t *testing.T) {
		h := setup(t)
		h.f.quotations.GetFn = func(context.Context, string) (projection.Quotation, error) {
			q := testQuotation()
			q.Status, q.Quotes, q.DocumentID, q.FailureReason = "failed", nil, nil, ptr("no insurer quoted")
			return q, nil
		}
		w := h.do("GET", "/api/v1/quotations/"+quotationID, "")
		wantStatus(t, w, http.StatusOK)
	})
	t.Run("unknown", func(t *testing.T) {
		h := setup(t)
		h.f.quotations.GetFn = func(context.Context, string) (projection.Quotation, error) {
			return projection.Quotation{}, apperr.New(apperr.NotFound, "no such quotation")
		}
		wantError(t, h.do("GET", "/api/v1/quotations/"+unknownID, ""), http.StatusNotFound, "not_found", "")
		wantError(t, h.do("GET", "/api/v1/quotations/xyz", "", wrong()), http.StatusNotFound, "not_found", "")
	})
}
