package quotation_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/event"
	"insure/internal/quotation"
)

func TestRequestQuotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  quotation.Request
		want *quotation.Requested
	}{
		{"motor, currency defaulted, details canonical", motorRequest(), &quotation.Requested{
			QuotationID: quoteID, CustomerID: custID, Product: "motor", SumInsured: 25_000_000, Currency: "INR",
			Details: json.RawMessage(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012}`),
		}},
		{"motor with NCB", func() quotation.Request {
			r := motorRequest()
			r.Details = json.RawMessage(`{"vehicle_make":"Maruti Suzuki","vehicle_model":"Swift","vehicle_year":2021,"ncb_percent":25}`)
			return r
		}(), &quotation.Requested{
			QuotationID: quoteID, CustomerID: custID, Product: "motor", SumInsured: 25_000_000, Currency: "INR",
			Details: json.RawMessage(`{"vehicle_make":"Maruti Suzuki","vehicle_model":"Swift","vehicle_year":2021,"ncb_percent":25}`),
		}},
		{"motor with null NCB", func() quotation.Request {
			r := motorRequest()
			r.Details = json.RawMessage(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012,"ncb_percent":null}`)
			return r
		}(), &quotation.Requested{
			QuotationID: quoteID, CustomerID: custID, Product: "motor", SumInsured: 25_000_000, Currency: "INR",
			Details: json.RawMessage(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012}`),
		}},
		{"health", healthRequest(), &quotation.Requested{
			QuotationID: quoteID, CustomerID: custID, Product: "health", SumInsured: 100_000_000, Currency: "INR",
			Details: json.RawMessage(`{"age":42,"members":4}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps, err := quotation.RequestQuotation(quoteID, tt.cmd, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]event.Payload{tt.want}, ps); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	motor := func(details string) func(*quotation.Request) {
		return func(r *quotation.Request) { r.Details = json.RawMessage(details) }
	}
	health := func(details string) func(*quotation.Request) {
		return func(r *quotation.Request) {
			*r = healthRequest()
			r.Details = json.RawMessage(details)
		}
	}
	tests := []struct {
		name  string
		edit  func(*quotation.Request)
		field string
	}{
		{"no customer", func(r *quotation.Request) { r.CustomerID = "" }, "customer_id"},
		{"customer not a UUID", func(r *quotation.Request) { r.CustomerID = "cust-1" }, "customer_id"},
		{"no product", func(r *quotation.Request) { r.Product = "" }, "product"},
		{"unknown product", func(r *quotation.Request) { r.Product = "travel" }, "product"},
		{"zero sum insured", func(r *quotation.Request) { r.SumInsured = 0 }, "sum_insured"},
		{"negative sum insured", func(r *quotation.Request) { r.SumInsured = -5 }, "sum_insured"},
		{"sum insured above cap", func(r *quotation.Request) { r.SumInsured = 100_000_000_001 }, "sum_insured"},
		{"lower-case currency", func(r *quotation.Request) { r.Currency = "inr" }, "currency"},
		{"long currency", func(r *quotation.Request) { r.Currency = "RUPEE" }, "currency"},
		{"no details", motor(``), "details"},
		{"null details", motor(`null`), "details"},
		{"details an array", motor(`[1,2]`), "details"},
		{"details a string", motor(`"Honda City"`), "details"},
		{"details broken JSON", motor(`{"vehicle_make":"Honda",`), "details"},
		{"details trailing data", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012} {}`), "details"},
		{"unknown detail", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012,"colour":"red"}`), "details.colour"},
		{"detail in wrong case", motor(`{"vehicle_make":"Honda","vehicle_model":"City","Vehicle_Year":2012}`), "details.Vehicle_Year"},
		{"health detail on motor", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012,"age":40}`), "details.age"},
		{"missing make", motor(`{"vehicle_model":"City","vehicle_year":2012}`), "details.vehicle_make"},
		{"null model", motor(`{"vehicle_make":"Honda","vehicle_model":null,"vehicle_year":2012}`), "details.vehicle_model"},
		{"missing year", motor(`{"vehicle_make":"Honda","vehicle_model":"City"}`), "details.vehicle_year"},
		{"year as string", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":"2012"}`), "details.vehicle_year"},
		{"year fractional", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012.5}`), "details.vehicle_year"},
		{"make a number", motor(`{"vehicle_make":7,"vehicle_model":"City","vehicle_year":2012}`), "details.vehicle_make"},
		{"NCB as string", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012,"ncb_percent":"20"}`), "details.ncb_percent"},
		{"blank make", motor(`{"vehicle_make":"  ","vehicle_model":"City","vehicle_year":2012}`), "details.vehicle_make"},
		{"year in the future", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2026}`), "details.vehicle_year"},
		{"year too old", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":1949}`), "details.vehicle_year"},
		{"NCB off the scale", motor(`{"vehicle_make":"Honda","vehicle_model":"City","vehicle_year":2012,"ncb_percent":30}`), "details.ncb_percent"},
		{"missing members", health(`{"age":42}`), "details.members"},
		{"missing age", health(`{"members":2}`), "details.age"},
		{"motor detail on health", health(`{"age":42,"members":2,"vehicle_year":2012}`), "details.vehicle_year"},
		{"age negative", health(`{"age":-1,"members":2}`), "details.age"},
		{"age too high", health(`{"age":121,"members":2}`), "details.age"},
		{"members zero", health(`{"age":42,"members":0}`), "details.members"},
		{"members too many", health(`{"age":42,"members":11}`), "details.members"},
		{"members boolean", health(`{"age":42,"members":true}`), "details.members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := motorRequest()
			tt.edit(&cmd)
			wantField(t, cmd.Validate("INR", now), tt.field)
			ps, err := quotation.RequestQuotation(quoteID, cmd, now)
			wantField(t, err, tt.field)
			if ps != nil {
				t.Fatalf("events on error: %v", ps)
			}
		})
	}
}

func TestValidateDefaultCurrency(t *testing.T) {
	t.Parallel()
	cmd := motorRequest()
	if err := cmd.Validate("USD", now); err != nil {
		t.Fatalf("Validate with default USD: %v", err)
	}
	wantField(t, cmd.Validate("", now), "currency")
	wantField(t, cmd.Validate("usd", now), "currency")
}

func TestRequestRejectsBadID(t *testing.T) {
	t.Parallel()
	if _, err := quotation.RequestQuotation("q-1", motorRequest(), now); err == nil {
		t.Fatal("no error for an id that is not a UUID")
	}
}

func TestDetailFields(t *testing.T) {
	t.Parallel()
	f, r := quotation.DetailFields("health")
	if diff := cmp.Diff([]string{"age", "members"}, f); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"age", "members"}, r); diff != "" {
		t.Error(diff)
	}
	if f, r := quotation.DetailFields("travel"); f != nil || r != nil {
		t.Errorf("travel: %v %v", f, r)
	}
}
