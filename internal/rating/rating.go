package rating

import "time"

// Product names a line of insurance that a rate table can price.
type Product string

// The products a rate table can price.
const (
	ProductMotor  Product = "motor"
	ProductHealth Product = "health"
)

// Request limits. Amounts are in the minor unit of the currency (paise for INR).
const (
	// DefaultCurrency is the currency of the embedded default table and the
	// currency assumed when a Request leaves Currency empty and the table is
	// the default one.
	DefaultCurrency = "INR"
	// MaxSumInsured is the largest sum insured any request may carry:
	// ₹100 crore (10^11 paise). Together with the table limits enforced by
	// LoadTable it keeps every intermediate product well inside int64.
	MaxSumInsured int64 = 100_000_000_000
	// MinVehicleYear is the earliest vehicle year a motor request may carry.
	MinVehicleYear = 1950
	// MaxAge is the oldest age, in whole years, a health request may carry.
	MaxAge = 120
	// MaxMembers is the most people one health request may cover.
	MaxMembers = 10
)

// MotorDetails describes the vehicle for a motor request. VehicleMake is
// matched against the table's make loadings ignoring case and repeated spaces.
type MotorDetails struct {
	VehicleMake  string `json:"vehicle_make"`
	VehicleModel string `json:"vehicle_model"`
	VehicleYear  int    `json:"vehicle_year"`
	// NCBPercent is the no-claim bonus earned on the expiring policy: one of
	// 0, 20, 25, 35, 45 or 50. Nil means no bonus (the same as 0).
	NCBPercent *int `json:"ncb_percent,omitempty"`
}

// HealthDetails describes the people for a health request.
type HealthDetails struct {
	// Age is the eldest member's age in whole years; it selects the age band.
	Age int `json:"age"`
	// Members is the number of people covered, including the eldest.
	Members int `json:"members"`
}

// Request is one risk to be priced by every insurer in a table. Exactly one of
// Motor and Health must be set, matching Product.
type Request struct {
	Product Product
	// SumInsured is the cover amount (the insured declared value for motor)
	// in minor units, 1..MaxSumInsured.
	SumInsured int64
	// Currency is an ISO 4217 code. Empty means the table's currency.
	Currency string
	Motor    *MotorDetails
	Health   *HealthDetails
	// AsOf is the rating date. Motor requests need it: the vehicle's age is
	// AsOf.Year() - VehicleYear, using AsOf's own location.
	AsOf time.Time
}

// AddOn is one add-on cover priced into a quote.
type AddOn struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Premium int64  `json:"premium"`
}

// Breakdown shows how a premium was built. For every quote that is not
// declined, Quote.Premium == Base + Loading - Discount + AddOns + Tax.
type Breakdown struct {
	Base     int64 `json:"base"`
	Loading  int64 `json:"loading"`
	Discount int64 `json:"discount"`
	AddOns   int64 `json:"add_ons"`
	Tax      int64 `json:"tax"`
}

// Quote is one insurer's answer to a Request. A declined quote has Declined
// set, a DeclineReason, a zero Premium, no add-ons and no Breakdown.
type Quote struct {
	Insurer       string     `json:"insurer"`
	InsurerName   string     `json:"insurer_name"`
	Premium       int64      `json:"premium"`
	SumInsured    int64      `json:"sum_insured"`
	Currency      string     `json:"currency"`
	Coverage      string     `json:"coverage"`
	AddOns        []AddOn    `json:"add_ons"`
	Breakdown     *Breakdown `json:"breakdown,omitempty"`
	Declined      bool       `json:"declined,omitempty"`
	DeclineReason string     `json:"decline_reason,omitempty"`
}
