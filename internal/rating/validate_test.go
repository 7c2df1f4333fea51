package rating_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/rating"
)

func validMotor() rating.Request {
	return rating.Request{
		Product:    rating.ProductMotor,
		SumInsured: 85_000_000,
		Currency:   "INR",
		Motor:      &rating.MotorDetails{VehicleMake: "Hyundai", VehicleModel: "Creta", VehicleYear: 2022, NCBPercent: ncb(20)},
		AsOf:       time.Date(2025, time.June, 15, 10, 0, 0, 0, time.UTC),
	}
}

func validHealth() rating.Request {
	return rating.Request{
		Product:    rating.ProductHealth,
		SumInsured: 50_000_000,
		Health:     &rating.HealthDetails{Age: 35, Members: 2},
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	type fieldMsg struct{ Field, Contains string }
	tests := []struct {
		name string
		req  func() rating.Request
		want []fieldMsg // nil: valid
	}{
		{"valid motor", validMotor, nil},
		{"valid health", validHealth, nil},
		{"motor without NCB", func() rating.Request { r := validMotor(); r.Motor.NCBPercent = nil; return r }, nil},
		{"vehicle from this year", func() rating.Request { r := validMotor(); r.Motor.VehicleYear = 2025; return r }, nil},
		{"vehicle from 1950", func() rating.Request { r := validMotor(); r.Motor.VehicleYear = 1950; return r }, nil},
		{"every NCB step", func() rating.Request { r := validMotor(); r.Motor.NCBPercent = ncb(50); return r }, nil},
		{"newborn alone", func() rating.Request { r := validHealth(); r.Health.Age, r.Health.Members = 0, 1; return r }, nil},
		{"age 120, ten members", func() rating.Request { r := validHealth(); r.Health.Age, r.Health.Members = 120, 10; return r }, nil},
		{"sum insured at cap", func() rating.Request { r := validHealth(); r.SumInsured = rating.MaxSumInsured; return r }, nil},
		{"currency left empty", func() rating.Request { r := validMotor(); r.Currency = ""; return r }, nil},

		{"missing product", func() rating.Request { r := validHealth(); r.Product = ""; return r },
			[]fieldMsg{{"product", "is required"}}},
		{"unknown product", func() rating.Request { r := validHealth(); r.Product = "travel"; r.Health = nil; return r },
			[]fieldMsg{{"product", `unknown product "travel"`}}},
		{"zero sum insured", func() rating.Request { r := validHealth(); r.SumInsured = 0; return r },
			[]fieldMsg{{"sum_insured", "greater than zero"}}},
		{"negative sum insured", func() rating.Request { r := validMotor(); r.SumInsured = -1; return r },
			[]fieldMsg{{"sum_insured", "greater than zero"}}},
		{"sum insured above cap", func() rating.Request { r := validMotor(); r.SumInsured = rating.MaxSumInsured + 1; return r },
			[]fieldMsg{{"sum_insured", "must not exceed 100000000000"}}},
		{"lower-case currency", func() rating.Request { r := validMotor(); r.Currency = "inr"; return r },
			[]fieldMsg{{"currency", "three-letter ISO 4217"}}},
		{"long currency", func() rating.Request { r := validMotor(); r.Currency = "RUPEE"; return r },
			[]fieldMsg{{"currency", "three-letter ISO 4217"}}},
		{"motor without details", func() rating.Request { r := validMotor(); r.Motor = nil; return r },
			[]fieldMsg{{"details", "vehicle details"}}},
		{"motor with health details", func() rating.Request {
			r := validMotor()
			r.Health = &rating.HealthDetails{Age: 30, Members: 1}
			return r
		},
			[]fieldMsg{{"details", "health details must not be sent"}}},
		{"health without details", func() rating.Request { r := validHealth(); r.Health = nil; return r },
			[]fieldMsg{{"details", "health details (age, members) are required"}}},
		{"health with vehicle details", func() rating.Request { r := validHealth(); r.Motor = validMotor().Motor; return r },
			[]fieldMsg{{"details", "vehicle details must not be sent"}}},
		{"motor without rating date", func() rating.Request { r := validMotor(); r.AsOf = time.Time{}; return r },
			[]fieldMsg{{"as_of", "rating date is required"}}},
		{"blank make", func() rating.Request { r := validMotor(); r.Motor.VehicleMake = "  "; return r },
			[]fieldMsg{{"details.vehicle_make", "is required"}}},
		{"long make", func() rating.Request { r := validMotor(); r.Motor.VehicleMake = strings.Repeat("x", 65); return r },
			[]fieldMsg{{"details.vehicle_make", "at most 64 characters"}}},
		{"make not UTF-8", func() rating.Request { r := validMotor(); r.Motor.VehicleMake = "\xff"; return r },
			[]fieldMsg{{"details.vehicle_make", "UTF-8"}}},
		{"missing model", func() rating.Request { r := validMotor(); r.Motor.VehicleModel = ""; return r },
			[]fieldMsg{{"details.vehicle_model", "is required"}}},
		{"vehicle year in the future", func() rating.Request { r := validMotor(); r.Motor.VehicleYear = 2026; return r },
			[]fieldMsg{{"details.vehicle_year", "must not be after 2025"}}},
		{"vehicle year before 1950", func() rating.Request { r := validMotor(); r.Motor.VehicleYear = 1949; return r },
			[]fieldMsg{{"details.vehicle_year", "1950 or later"}}},
		{"vehicle year zero", func() rating.Request { r := validMotor(); r.Motor.VehicleYear = 0; return r },
			[]fieldMsg{{"details.vehicle_year", "1950 or later"}}},
		{"NCB 30", func() rating.Request { r := validMotor(); r.Motor.NCBPercent = ncb(30); return r },
			[]fieldMsg{{"details.ncb_percent", "one of 0, 20, 25, 35, 45 or 50"}}},
		{"NCB negative", func() rating.Request { r := validMotor(); r.Motor.NCBPercent = ncb(-20); return r },
			[]fieldMsg{{"details.ncb_percent", "got -20"}}},
		{"age negative", func() rating.Request { r := validHealth(); r.Health.Age = -1; return r },
			[]fieldMsg{{"details.age", "between 0 and 120"}}},
		{"age 121", func() rating.Request { r := validHealth(); r.Health.Age = 121; return r },
			[]fieldMsg{{"details.age", "between 0 and 120"}}},
		{"no members", func() rating.Request { r := validHealth(); r.Health.Members = 0; return r },
			[]fieldMsg{{"details.members", "between 1 and 10"}}},
		{"eleven members", func() rating.Request { r := validHealth(); r.Health.Members = 11; return r },
			[]fieldMsg{{"details.members", "between 1 and 10"}}},
		{"every problem is reported, in field order", func() rating.Request {
			return rating.Request{
				Product:  rating.ProductMotor,
				Currency: "₹",
				Health:   &rating.HealthDetails{},
				Motor:    &rating.MotorDetails{VehicleYear: 3000, NCBPercent: ncb(10)},
			}
		}, []fieldMsg{
			{"sum_insured", "greater than zero"},
			{"currency", "ISO 4217"},
			{"details", "health details must not be sent"},
			{"as_of", "rating date"},
			{"details.vehicle_make", "required"},
			{"details.vehicle_model", "required"},
			{"details.ncb_percent", "got 10"},
		}},
	}
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Rate must reject exactly what ValidateRequest rejects.
			_, rateErr := table.Rate(tt.req())
			for name, err := range map[string]error{"ValidateRequest": rating.ValidateRequest(tt.req()), "Rate": rateErr} {
				if tt.want == nil {
					if err != nil {
						t.Fatalf("%s: unexpected error: %v", name, err)
					}
					continue
				}
				if !errors.Is(err, rating.ErrInvalidRequest) {
					t.Fatalf("%s: error %v does not match ErrInvalidRequest", name, err)
				}
				var first *rating.FieldError
				if !errors.As(err, &first) {
					t.Fatalf("%s: error %v holds no *FieldError", name, err)
				}
				got := rating.FieldErrors(err)
				if first != got[0] {
					t.Errorf("%s: errors.As gave %v, FieldErrors starts with %v", name, first, got[0])
				}
				if len(got) != len(tt.want) {
					t.Fatalf("%s: errors:\n%v\nwant %v", name, err, tt.want)
				}
				for i, fe := range got {
					if fe.Field != tt.want[i].Field || !strings.Contains(fe.Message, tt.want[i].Contains) {
						t.Errorf("%s: error %d = %q: %q, want %q containing %q", name, i, fe.Field, fe.Message, tt.want[i].Field, tt.want[i].Contains)
					}
				}
				if !strings.Contains(err.Error(), tt.want[0].Field+": ") {
					t.Errorf("%s: message %q does not name field %q", name, err.Error(), tt.want[0].Field)
				}
			}
		})
	}
}

func TestRateCurrencyMismatch(t *testing.T) {
	t.Parallel()
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	req := validMotor()
	req.Currency = "USD"
	if err := rating.ValidateRequest(req); err != nil {
		t.Fatalf("ValidateRequest knows no table and should accept USD: %v", err)
	}
	_, err = table.Rate(req)
	want := []*rating.FieldError{{Field: "currency", Message: `must be "INR", the rate table's currency, got "USD"`}}
	if diff := cmp.Diff(want, rating.FieldErrors(err)); diff != "" {
		t.Errorf("FieldErrors (-want +got):\n%s", diff)
	}
	if !errors.Is(err, rating.ErrInvalidRequest) {
		t.Errorf("error %v does not match ErrInvalidRequest", err)
	}
	if errors.Is(err, rating.ErrInvalidTable) {
		t.Errorf("error %v matches ErrInvalidTable", err)
	}
}

func TestFieldErrorsOfOtherErrors(t *testing.T) {
	t.Parallel()
	if got := rating.FieldErrors(nil); got != nil {
		t.Errorf("FieldErrors(nil) = %v, want nil", got)
	}
	if got := rating.FieldErrors(errors.New("boom")); got != nil {
		t.Errorf("FieldErrors(plain error) = %v, want nil", got)
	}
}
