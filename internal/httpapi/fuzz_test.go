package httpapi_test

import (
	"net/http"
	"testing"

	"insure/internal/httpapi/contracttest"
)

// The fuzz tests send arbitrary bodies to each endpoint that decodes one,
// through the contract check (which still validates every response). The
// server must never panic or answer 500, and every answer must be one the
// spec allows.

func FuzzDecodeRegisterCustomer(f *testing.F) {
	fuzzBody(f, "POST", "/api/v1/customers",
		`{"name":"Asha","email":"a@example.com","phone":"9876543210"}`,
		`{"name":"Asha","email":"a@example.com","phone":"9876543210","date_of_birth":"1990-01-01","channel":"web","preferences":{"email":true,"whatsapp":false}}`,
		`{"preferences":{"email":"yes"}}`,
		`{"name":null}`,
	)
}

func FuzzDecodeUpdateCustomer(f *testing.F) {
	fuzzBody(f, "PATCH", "/api/v1/customers/"+customerID,
		`{"name":"Asha"}`,
		`{"date_of_birth":""}`,
		`{"preferences":{"whatsapp":true}}`,
		`{"preferences":null}`,
	)
}

func FuzzDecodeVerifyEmail(f *testing.F) {
	fuzzBody(f, "POST", "/api/v1/customers/"+customerID+"/verify-email", `{"token":"abc"}`, `{"token":7}`)
}

func FuzzDecodeRequestQuotation(f *testing.F) {
	fuzzBody(f, "POST", "/api/v1/quotations",
		`{"customer_id":"`+customerID+`","product":"motor","sum_insured":1,"details":{"vehicle_make":"X","vehicle_model":"Y","vehicle_year":2020}}`,
		`{"customer_id":"`+customerID+`","product":"health","sum_insured":1,"currency":"INR","details":{"age":30,"members":2}}`,
		`{"details":[1,2,3]}`,
		`{"sum_insured":1e400}`,
	)
}

func FuzzDecodeCreatePolicy(f *testing.F) {
	fuzzBody(f, "POST", "/api/v1/policies",
		`{"customer_id":"`+customerID+`","insurer":"acme","product":"motor","premium":1,"sum_insured":1,"start_date":"2025-01-01","end_date":"2026-01-01"}`,
		`{"quotation_id":null,"premium":-1}`,
	)
}

func FuzzDecodeRenewPolicy(f *testing.F) {
	fuzzBody(f, "POST", "/api/v1/policies/"+policyID+"/renew", ``, `{}`, `{"premium":1,"sum_insured":2,"end_date":"2027-01-01"}`)
}

func FuzzDecodeExpiryScan(f *testing.F) {
	fuzzBody(f, "POST", "/api/v1/policies/expiry-scan", ``, `{}`, `{"as_of":"2025-01-01"}`, `{"as_of":"2025-13-01"}`)
}

// FuzzDecodeWhatsAppWebhook signs every body, so that it reaches the
// decoder behind the signature check.
func FuzzDecodeWhatsAppWebhook(f *testing.F) {
	for _, s := range []string{
		whatsAppBody,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"read","timestamp":"1"}]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"failed","timestamp":"99999999999","errors":[{"code":1e3,"title":null}]}]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[null,{"changes":[null,{"field":"messages","value":[]}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[1]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"timestamp":"-0"}]}}]}]}`,
		`{"object":7}`, `{`, `[]`, `null`, ``, "{\"object\":\"\xff\"}",
	} {
		f.Add(s)
	}
	c := contracttest.New(f)
	f.Fuzz(func(t *testing.T, body string) {
		h := setupWith(t, c)
		w := h.do("POST", "/api/v1/webhooks/whatsapp", body, wrong(), signed(body))
		if w.Code >= 500 || (w.Code >= 300 && w.Code < 400) {
			t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body.String())
		}
	})
}

func fuzzBody(f *testing.F, method, path string, seeds ...string) {
	f.Helper()
	for _, s := range append(seeds, `{`, `}`, `{}{}`, `[]`, `null`, `{"x":1}`, "{\"name\":\"\xff\"}", `{"name":"\u0000"}`) {
		f.Add(s)
	}
	c := contracttest.New(f)
	f.Fuzz(func(t *testing.T, body string) {
		h := setupWith(t, c)
		w := h.do(method, path, body, wrong())
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("500 for body %q: %s", body, w.Body.String())
		}
		if w.Code >= 500 || (w.Code >= 300 && w.Code < 400) {
			t.Fatalf("status %d for body %q", w.Code, body)
		}
	})
}
