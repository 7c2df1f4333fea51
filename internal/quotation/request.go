package quotation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/rating"
)

// Request is the command to ask for quotes. Details is the product's details
// object as the API received it: for "motor" vehicle_make, vehicle_model,
// vehicle_year and optionally ncb_percent; for "health" age and members.
type Request struct {
	CustomerID string          `json:"customer_id"`
	Product    string          `json:"product"`
	SumInsured int64           `json:"sum_insured"`
	Currency   string          `json:"currency,omitempty"`
	Details    json.RawMessage `json:"details"`
}

// Validate checks cmd as of now (the rating date: it bounds vehicle_year).
// An empty Currency is taken to be defaultCurrency. It returns an
// *apperr.Error with Code apperr.Invalid and Field set to the JSON name of the
// first offending field, such as "customer_id" or "details.vehicle_year".
func (r Request) Validate(defaultCurrency string, now time.Time) error {
	_, _, err := r.check(defaultCurrency, now)
	return err
}

// check validates r and returns it with the currency defaulted, and its
// details re-encoded canonically.
func (r Request) check(defaultCurrency string, now time.Time) (Request, rating.Request, error) {
	switch {
	case r.CustomerID == "":
		return Request{}, rating.Request{}, apperr.Field("customer_id", "is required")
	case !event.ValidID(r.CustomerID):
		return Request{}, rating.Request{}, apperr.Field("customer_id", "must be a customer id (a UUID), got %q", r.CustomerID)
	}
	if !validProduct(r.Product) {
		if r.Product == "" {
			return Request{}, rating.Request{}, apperr.Field("product", "is required; use %q or %q", rating.ProductMotor, rating.ProductHealth)
		}
		return Request{}, rating.Request{}, apperr.Field("product", "unknown product %q; use %q or %q", r.Product, rating.ProductMotor, rating.ProductHealth)
	}
	if r.Currency == "" {
		r.Currency = defaultCurrency
	}
	rr := rating.Request{Product: rating.Product(r.Product), SumInsured: r.SumInsured, Currency: r.Currency, AsOf: now}
	if r.Currency == "" {
		return Request{}, rating.Request{}, apperr.Field("currency", "is required: a three-letter code such as %q", rating.DefaultCurrency)
	}
	var err error
	rr.Motor, rr.Health, err = decodeDetails(rr.Product, r.Details)
	if err != nil {
		return Request{}, rating.Request{}, err
	}
	if err := rating.ValidateRequest(rr); err != nil {
		if fes := rating.FieldErrors(err); len(fes) > 0 {
			return Request{}, rating.Request{}, apperr.Field(fes[0].Field, "%s", fes[0].Message)
		}
		return Request{}, rating.Request{}, apperr.Wrap(apperr.Invalid, err, "invalid quotation request")
	}
	var details any = rr.Motor
	if rr.Health != nil {
		details = rr.Health
	}
	r.Details, err = json.Marshal(details)
	if err != nil {
		return Request{}, rating.Request{}, apperr.Wrap(apperr.Internal, err, "encode details")
	}
	return r, rr, nil
}

// RequestQuotation decides a new quotation with the given id (a UUID chosen
// by the caller). It validates cmd as of now (see Request.Validate; an empty
// currency is rating.DefaultCurrency, so a service with another default fills
// Currency in first) and returns one *Requested.
func RequestQuotation(id string, cmd Request, now time.Time) ([]event.Payload, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.Internal, "request quotation: id %q is not a UUID", id)
	}
	n, _, err := cmd.check(rating.DefaultCurrency, now)
	if err != nil {
		return nil, err
	}
	return []event.Payload{&Requested{
		QuotationID: id,
		CustomerID:  n.CustomerID,
		Product:     n.Product,
		SumInsured:  n.SumInsured,
		Currency:    n.Currency,
		Details:     n.Details,
	}}, nil
}

// DetailFields returns the fields of product's details object and which of
// them are required, or nil for an unknown product.
func DetailFields(product string) (fields, required []string) {
	switch rating.Product(product) {
	case rating.ProductMotor:
		return []string{"vehicle_make", "vehicle_model", "vehicle_year", "ncb_percent"},
			[]string{"vehicle_make", "vehicle_model", "vehicle_year"}
	case rating.ProductHealth:
		return []string{"age", "members"}, []string{"age", "members"}
	}
	return nil, nil
}

// decodeDetails decodes raw strictly into product's details type. Errors are
// apperr.Invalid naming "details" or "details.<field>".
func decodeDetails(product rating.Product, raw json.RawMessage) (*rating.MotorDetails, *rating.HealthDetails, error) {
	known, required := DetailFields(string(product))
	if known == nil {
		return nil, nil, apperr.Field("product", "unknown product %q", product)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil, apperr.Field("details", "is required: an object with %s", strings.Join(required, ", "))
	}
	if raw[0] != '{' {
		return nil, nil, apperr.Field("details", "must be a JSON object with %s", strings.Join(required, ", "))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, apperr.Field("details", "is not a valid JSON object: %v", err)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(known, k) {
			return nil, nil, apperr.Field("details."+k, "is not a %s detail; the fields are %s", product, strings.Join(known, ", "))
		}
	}
	for _, k := range required {
		if v, ok := fields[k]; !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return nil, nil, apperr.Field("details."+k, "is required for product %q", product)
		}
	}
	var target any
	var motor *rating.MotorDetails
	var health *rating.HealthDetails
	if product == rating.ProductMotor {
		motor = &rating.MotorDetails{}
		target = motor
	} else {
		health = &rating.HealthDetails{}
		target = health
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, nil, apperr.Field("details."+te.Field, "must be %s, got %s", kindOf(te.Type.Kind().String()), te.Value)
		}
		return nil, nil, apperr.Field("details", "could not be read: %v", err)
	}
	return motor, health, nil
}

func kindOf(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "a whole number"
	case k == "string":
		return "a string"
	}
	return fmt.Sprintf("a %s", k)
}
