package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
)

// Limits and defaults of the policy rules.
const (
	// MaxAmount is the largest premium or sum insured, in minor units.
	MaxAmount int64 = 1_000_000_000_000_000
	// MaxTermYears is the longest term of a policy or a renewal.
	MaxTermYears = 5
	// MaxInsurerLen is the longest insurer code.
	MaxInsurerLen = 64
	// DefaultCurrency is the currency of a Create that names none.
	DefaultCurrency = "INR"
)

// The urgencies of an expiry warning.
const (
	UrgencyCritical = "critical" // 1 day or less
	UrgencyHigh     = "high"     // 7 days or less
	UrgencyMedium   = "medium"   // 15 days or less
	UrgencyLow      = "low"      // 30 days or less
)

// Thresholds returns the expiry warning thresholds in days, largest first:
// 30, 15, 7, 1.
func Thresholds() []int { return []int{30, 15, 7, 1} }

// UrgencyFor returns the urgency of a policy daysLeft days from its end:
// "critical" for 1 or less, "high" for 7 or less, "medium" for 15 or less,
// "low" for 30 or less and "" above 30.
func UrgencyFor(daysLeft int) string {
	switch {
	case daysLeft <= 1:
		return UrgencyCritical
	case daysLeft <= 7:
		return UrgencyHigh
	case daysLeft <= 15:
		return UrgencyMedium
	case daysLeft <= 30:
		return UrgencyLow
	}
	return ""
}

// NearestThreshold returns the smallest threshold t with 0 <= daysLeft <= t:
// 10 days gives 15, 1 and 0 give 1. It returns false for a negative daysLeft
// or one above 30.
func NearestThreshold(daysLeft int) (int, bool) {
	if daysLeft < 0 {
		return 0, false
	}
	ts := Thresholds()
	slices.Sort(ts)
	for _, t := range ts {
		if daysLeft <= t {
			return t, true
		}
	}
	return 0, false
}

// Create is the command to issue a policy. Dates are YYYY-MM-DD; amounts are
// in minor units of Currency ("INR" when empty).
type Create struct {
	CustomerID  string  `json:"customer_id"`
	QuotationID *string `json:"quotation_id,omitempty"`
	Insurer     string  `json:"insurer"`
	Product     string  `json:"product"`
	Premium     int64   `json:"premium"`
	SumInsured  int64   `json:"sum_insured"`
	Currency    string  `json:"currency,omitempty"`
	StartDate   string  `json:"start_date"`
	EndDate     string  `json:"end_date"`
}

// Validate checks cmd: customer_id (and quotation_id when given) are UUIDs,
// insurer is a code of at most 64 characters from a-z, 0-9, _ and -, product
// is "motor" or "health", premium and sum_insured are 1..MaxAmount, currency
// is three upper-case letters, the dates parse, the policy ends after it
// starts, and the term is at most MaxTermYears years. It returns an
// *apperr.Error with Code apperr.Invalid and Field set to the JSON name of the
// first offending field.
func (c Create) Validate() error {
	_, err := c.check()
	return err
}

func (c Create) check() (Created, error) {
	switch {
	case c.CustomerID == "":
		return Created{}, apperr.Field("customer_id", "is required")
	case !event.ValidID(c.CustomerID):
		return Created{}, apperr.Field("customer_id", "must be a customer id (a UUID), got %q", c.CustomerID)
	case c.QuotationID != nil && !event.ValidID(*c.QuotationID):
		return Created{}, apperr.Field("quotation_id", "must be a quotation id (a UUID), got %q; leave it out when there is no quotation", *c.QuotationID)
	}
	if err := checkInsurer(c.Insurer); err != nil {
		return Created{}, err
	}
	if !validProduct(c.Product) {
		return Created{}, apperr.Field("product", "must be %q or %q, got %q", "motor", "health", c.Product)
	}
	if err := checkAmount("premium", c.Premium); err != nil {
		return Created{}, err
	}
	if err := checkAmount("sum_insured", c.SumInsured); err != nil {
		return Created{}, err
	}
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if !isCurrency(c.Currency) {
		return Created{}, apperr.Field("currency", "must be a three-letter ISO 4217 code such as %q, got %q", DefaultCurrency, c.Currency)
	}
	start, err := ParseDate(c.StartDate)
	if err != nil {
		return Created{}, apperr.Field("start_date", "must be a date in the form YYYY-MM-DD, got %q", c.StartDate)
	}
	end, err := ParseDate(c.EndDate)
	if err != nil {
		return Created{}, apperr.Field("end_date", "must be a date in the form YYYY-MM-DD, got %q", c.EndDate)
	}
	if err := checkNewTerm(start, end, "start_date"); err != nil {
		return Created{}, err
	}
	e := Created{
		CustomerID: c.CustomerID,
		Insurer:    c.Insurer,
		Product:    c.Product,
		Premium:    c.Premium,
		SumInsured: c.SumInsured,
		Currency:   c.Currency,
		StartDate:  start,
		EndDate:    end,
	}
	if c.QuotationID != nil {
		e.QuotationID = *c.QuotationID
	}
	return e, nil
}

// CreatePolicy decides the issue of a policy with the given id (a UUID chosen
// by the caller). It validates cmd (see Create.Validate) and returns one
// *Created whose policy number is NumberFor(id, product, start). now is the
// time of the request; the rules do not depend on it today.
func CreatePolicy(id string, cmd Create, now time.Time) ([]event.Payload, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.Internal, "create policy: id %q is not a UUID", id)
	}
	e, err := cmd.check()
	if err != nil {
		return nil, err
	}
	e.PolicyID = id
	e.PolicyNumber = NumberFor(id, e.Product, e.StartDate)
	return []event.Payload{&e}, nil
}

// NumberFor returns the policy number of policy id, such as
// "MOT-2026-0F3A9C21": a product prefix (MOT for motor, HLT for health, POL
// otherwise), the start year, and 8 upper-case hex digits taken from the id.
//
// The digits are the last 8 of the UUID, not the first: in the time-ordered
// UUIDv7 ids event.NewID makes, the first 8 hex digits are the top of a
// millisecond timestamp and repeat for every id made within about 65 seconds,
// while the last 8 are random (as they are in v4 and v5 ids). For an id that
// is not a UUID they are the first 8 hex digits of its SHA-256. 32 bits can
// still collide in a large book, so the service should keep numbers unique
// (as it does e-mail addresses).
func NumberFor(id, product string, start Date) string {
	prefix := "POL"
	switch product {
	case "motor":
		prefix = "MOT"
	case "health":
		prefix = "HLT"
	}
	var digits string
	if event.ValidID(id) {
		hexID := strings.ReplaceAll(id, "-", "")
		digits = hexID[len(hexID)-8:]
	} else {
		sum := sha256.Sum256([]byte(id))
		digits = hex.EncodeToString(sum[:4])
	}
	return prefix + "-" + start.Format("2006") + "-" + strings.ToUpper(digits)
}

// Renew is the command to renew a policy for a new term. Nil fields take
// their defaults: the current premium and sum insured, and an end date one
// year after the new start.
type Renew struct {
	Premium    *int64  `json:"premium,omitempty"`
	SumInsured *int64  `json:"sum_insured,omitempty"`
	EndDate    *string `json:"end_date,omitempty"`
}

// Renew decides the renewal of the policy on today. The new term starts on
// the current end date and ends on cmd.EndDate or, by default, one year
// later; it must end after it starts and last at most MaxTermYears years.
// Premium and sum insured default to the current ones and must be
// 1..MaxAmount. It returns one *Renewed.
//
// Only a policy that is "active" or "expiring" on today can be renewed: an
// expired or scheduled policy, or one already renewed for a term that has
// not started yet, gives apperr.Conflict. Bad values give apperr.Invalid with
// Field "premium", "sum_insured" or "end_date"; a policy that does not exist
// gives apperr.NotFound.
func (p *Policy) Renew(cmd Renew, today Date) ([]event.Payload, error) {
	if err := p.exists(); err != nil {
		return nil, err
	}
	switch p.Status(today) {
	case StatusExpired:
		return nil, apperr.New(apperr.Conflict, "policy %s expired on %s and can no longer be renewed; issue a new policy instead", p.Number, p.EndDate)
	case StatusScheduled:
		return nil, apperr.New(apperr.Conflict, "policy %s has not started yet (it starts on %s); it can be renewed once it is in force", p.Number, p.StartDate)
	}
	if today.Before(p.StartDate) {
		return nil, apperr.New(apperr.Conflict, "policy %s is already renewed for %s to %s; renew again once that term has started", p.Number, p.StartDate, p.EndDate)
	}
	start := p.EndDate
	end := start.AddYears(1)
	if cmd.EndDate != nil {
		d, err := ParseDate(*cmd.EndDate)
		if err != nil {
			return nil, apperr.Field("end_date", "must be a date in the form YYYY-MM-DD, got %q", *cmd.EndDate)
		}
		end = d
	}
	if err := checkNewTerm(start, end, "the renewal start (the current end date)"); err != nil {
		return nil, err
	}
	premium, sumInsured := p.Premium, p.SumInsured
	if cmd.Premium != nil {
		premium = *cmd.Premium
	}
	if cmd.SumInsured != nil {
		sumInsured = *cmd.SumInsured
	}
	if err := checkAmount("premium", premium); err != nil {
		return nil, err
	}
	if err := checkAmount("sum_insured", sumInsured); err != nil {
		return nil, err
	}
	changes := map[string]Change{
		ChangeStartDate: {Old: p.StartDate.String(), New: start.String()},
		ChangeEndDate:   {Old: p.EndDate.String(), New: end.String()},
	}
	if premium != p.Premium {
		changes[ChangePremium] = Change{Old: p.Premium, New: premium}
	}
	if sumInsured != p.SumInsured {
		changes[ChangeSumInsured] = Change{Old: p.SumInsured, New: sumInsured}
	}
	return []event.Payload{&Renewed{
		PolicyID:          p.ID,
		PreviousStartDate: p.StartDate,
		PreviousEndDate:   p.EndDate,
		StartDate:         start,
		EndDate:           end,
		Premium:           premium,
		SumInsured:        sumInsured,
		Changes:           changes,
	}}, nil
}

// WarnExpiry decides whether the policy needs an expiry warning on asOf. When
// the policy is "expiring", days_left is DaysBetween(asOf, EndDate) and
// NearestThreshold(days_left) gives t; if neither t nor a smaller threshold
// was warned about in this term, it returns one *ExpiringWarning for t with
// urgency UrgencyFor(days_left). Otherwise it returns no events. So a policy
// first seen 10 days out gets only the 15-day warning, a second scan the same
// day gets nothing, and at 7 days it gets the 7-day warning.
func (p *Policy) WarnExpiry(asOf Date) ([]event.Payload, error) {
	if err := p.exists(); err != nil {
		return nil, err
	}
	if p.Status(asOf) != StatusExpiring {
		return nil, nil
	}
	days := DaysBetween(asOf, p.EndDate)
	t, ok := NearestThreshold(days)
	if !ok {
		return nil, nil
	}
	for _, w := range p.Warned {
		if w <= t {
			return nil, nil
		}
	}
	return []event.Payload{&ExpiringWarning{
		PolicyID:     p.ID,
		CustomerID:   p.CustomerID,
		PolicyNumber: p.Number,
		EndDate:      p.EndDate,
		AsOf:         DateOf(asOf.Time),
		DaysLeft:     days,
		Threshold:    t,
		Urgency:      UrgencyFor(days),
	}}, nil
}

// checkNewTerm checks the term of a new policy or renewal; errors name
// "end_date". startName says what the start is, for the messages.
func checkNewTerm(start, end Date, startName string) error {
	switch {
	case !end.After(start):
		return apperr.Field("end_date", "the policy must end after it starts: %s is not after %s, %s", end, start, startName)
	case end.After(start.AddYears(MaxTermYears)):
		return apperr.Field("end_date", "the term must be at most %d years: end on or before %s", MaxTermYears, start.AddYears(MaxTermYears))
	case end.Year() > 9999:
		return apperr.Field("end_date", "must be before the year 10000")
	}
	return nil
}

func checkAmount(field string, v int64) error {
	switch {
	case v <= 0:
		return apperr.Field(field, "must be greater than zero, in minor units (100 is ₹1.00), got %d", v)
	case v > MaxAmount:
		return apperr.Field(field, "must be at most %d minor units, got %d", MaxAmount, v)
	}
	return nil
}

func checkInsurer(s string) error {
	switch {
	case s == "":
		return apperr.Field("insurer", "is required")
	case len(s) > MaxInsurerLen:
		return apperr.Field("insurer", "must be at most %d characters, got %d", MaxInsurerLen, len(s))
	case !validInsurer(s):
		return apperr.Field("insurer", "must be an insurer code of a-z, 0-9, _ and -, such as \"acme\", got %q", s)
	}
	return nil
}

func validInsurer(s string) bool {
	if s == "" || len(s) > MaxInsurerLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validProduct(p string) bool { return p == "motor" || p == "health" }

func isCurrency(s string) bool {
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
