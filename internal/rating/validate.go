package rating

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameLen is the longest vehicle make or model accepted, in characters.
const maxNameLen = 64

// ValidateRequest checks req without pricing it, so that a caller can reject
// bad input before recording anything. It checks everything that does not
// depend on a rate table; Table.Rate additionally checks that the currency
// matches the table's.
//
// It returns nil, or an error matching ErrInvalidRequest that holds one
// *FieldError per problem, in field order (use errors.As for the first or
// FieldErrors for all). Field names are the API's JSON names: "product",
// "sum_insured", "currency", "as_of", "details", and "details.<field>".
func ValidateRequest(req Request) error {
	var errs []*FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch req.Product {
	case ProductMotor, ProductHealth:
	case "":
		add("product", "is required; use %q or %q", ProductMotor, ProductHealth)
	default:
		add("product", "unknown product %q; use %q or %q", req.Product, ProductMotor, ProductHealth)
	}

	switch {
	case req.SumInsured <= 0:
		add("sum_insured", "must be greater than zero, in minor units (50000000 is ₹5,00,000), got %d", req.SumInsured)
	case req.SumInsured > MaxSumInsured:
		add("sum_insured", "must not exceed %d minor units, got %d", MaxSumInsured, req.SumInsured)
	}

	if req.Currency != "" && !isCurrencyCode(req.Currency) {
		add("currency", "must be a three-letter ISO 4217 code such as %q, got %q", DefaultCurrency, req.Currency)
	}

	switch req.Product {
	case ProductMotor:
		if req.Health != nil {
			add("details", "health details must not be sent with product %q", req.Product)
		}
		if req.Motor == nil {
			add("details", "vehicle details (vehicle_make, vehicle_model, vehicle_year) are required for product %q", req.Product)
			break
		}
		if req.AsOf.IsZero() {
			add("as_of", "the rating date is required for product %q; it fixes the vehicle's age", req.Product)
		}
		m := req.Motor
		checkName(add, "details.vehicle_make", m.VehicleMake)
		checkName(add, "details.vehicle_model", m.VehicleModel)
		switch {
		case m.VehicleYear < MinVehicleYear:
			add("details.vehicle_year", "must be %d or later, got %d", MinVehicleYear, m.VehicleYear)
		case !req.AsOf.IsZero() && m.VehicleYear > req.AsOf.Year():
			add("details.vehicle_year", "must not be after %d, the year of the rating date, got %d", req.AsOf.Year(), m.VehicleYear)
		}
		if m.NCBPercent != nil && !validNCB(*m.NCBPercent) {
			add("details.ncb_percent", "must be one of 0, 20, 25, 35, 45 or 50, got %d", *m.NCBPercent)
		}
	case ProductHealth:
		if req.Motor != nil {
			add("details", "vehicle details must not be sent with product %q", req.Product)
		}
		if req.Health == nil {
			add("details", "health details (age, members) are required for product %q", req.Product)
			break
		}
		h := req.Health
		if h.Age < 0 || h.Age > MaxAge {
			add("details.age", "must be between 0 and %d (the eldest member's age in whole years), got %d", MaxAge, h.Age)
		}
		if h.Members < 1 || h.Members > MaxMembers {
			add("details.members", "must be between 1 and %d, got %d", MaxMembers, h.Members)
		}
	}

	return joinErrors(errs)
}

func checkName(add func(field, format string, args ...any), field, v string) {
	switch {
	case strings.TrimSpace(v) == "":
		add(field, "is required")
	case !utf8.ValidString(v):
		add(field, "must be valid UTF-8 text")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		add(field, "must not contain control characters")
	case utf8.RuneCountInString(v) > maxNameLen:
		add(field, "must be at most %d characters, got %d", maxNameLen, utf8.RuneCountInString(v))
	}
}

// validNCB reports whether p is a no-claim bonus percentage in the Indian
// motor tariff scale.
func validNCB(p int) bool {
	switch p {
	case 0, 20, 25, 35, 45, 50:
		return true
	}
	return false
}

// isCurrencyCode reports whether s looks like an ISO 4217 code: three
// upper-case ASCII letters.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
