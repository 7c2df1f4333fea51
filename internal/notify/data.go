package notify

import (
	"reflect"
	"strconv"
	"time"
)

// The data each template takes. Strings are shown as given: the caller
// formats amounts, dates and ids. The HTML templates escape every value.

// WelcomeData is the data of the "welcome" email, which asks a new customer
// to verify their email address with a link or, failing that, a token.
type WelcomeData struct {
	CustomerName string
	VerifyURL    string
	Token        string
}

// AdminRegistrationData is the data of the "admin_registration" email, which
// tells the operators that a customer registered.
type AdminRegistrationData struct {
	CustomerID    string
	CustomerName  string
	CustomerEmail string
	Channel       string
	RegisteredAt  time.Time // shown in UTC
}

// QuotationData is the data of the "quotation" email and WhatsApp template,
// sent with the comparison PDF attached.
type QuotationData struct {
	CustomerName string
	QuotationID  string
	Product      string
	SumInsured   string
	Quotes       []QuoteLine
	Cheapest     string // e.g. "Acme General — INR 8,500.00"
}

// QuoteLine is one insurer's answer in a QuotationData.
type QuoteLine struct {
	InsurerName   string
	Premium       string // empty when Declined
	Declined      bool
	DeclineReason string
}

// RenewalReminderData is the data of the "renewal_reminder" email and
// WhatsApp template. DaysLeft counts whole days until EndDate (0: today).
type RenewalReminderData struct {
	CustomerName string
	PolicyNumber string
	Insurer      string
	EndDate      string
	DaysLeft     int
	Urgency      string // UrgencyLow, UrgencyMedium, UrgencyHigh or UrgencyCritical
}

// PolicyConfirmationData is the data of the "policy_confirmation" email and
// WhatsApp template, sent with the policy schedule PDF attached.
type PolicyConfirmationData struct {
	CustomerName string
	PolicyNumber string
	Insurer      string
	Product      string
	Premium      string
	SumInsured   string
	StartDate    string
	EndDate      string
}

// Renewal urgencies, from the gentlest reminder to the last one.
const (
	UrgencyLow      = "low"
	UrgencyMedium   = "medium"
	UrgencyHigh     = "high"
	UrgencyCritical = "critical"
)

// UrgencyWording returns how a renewal reminder describes a policy's expiry,
// as the rest of the sentence "Your policy … ": critical "expires tomorrow —
// renew now to stay covered", high "expires in 7 days — please renew soon to
// avoid a gap in cover", medium "expires in 15 days — now is a good time to
// review and renew", low "comes up for renewal in 30 days — there is no
// rush, and you can renew early whenever it suits you". A policy past its end
// (daysLeft < 0) "expired N days ago — renew now to restore your cover",
// whatever the urgency. An unknown urgency gets the plain "expires in N
// days". The templates call it as {{urgency .Urgency .DaysLeft}}.
func UrgencyWording(urgency string, daysLeft int) string {
	if daysLeft < 0 {
		return expiryWording(daysLeft) + " — renew now to restore your cover"
	}
	switch urgency {
	case UrgencyCritical:
		return expiryWording(daysLeft) + " — renew now to stay covered"
	case UrgencyHigh:
		return expiryWording(daysLeft) + " — please renew soon to avoid a gap in cover"
	case UrgencyMedium:
		return expiryWording(daysLeft) + " — now is a good time to review and renew"
	case UrgencyLow:
		return "comes up for renewal " + inDays(daysLeft) + " — there is no rush, and you can renew early whenever it suits you"
	default:
		return expiryWording(daysLeft)
	}
}

// expiryWording is "expires today", "expires tomorrow", "expires in N days"
// or "expired N days ago". The templates call it as {{expires .DaysLeft}}.
func expiryWording(daysLeft int) string {
	if daysLeft < 0 {
		return "expired " + days(-daysLeft) + " ago"
	}
	return "expires " + inDays(daysLeft)
}

func inDays(n int) string {
	switch n {
	case 0:
		return "today"
	case 1:
		return "tomorrow"
	}
	return "in " + days(n)
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// dataKind is one template's data type and the sample data every template
// is trial-rendered with when the templates are loaded.
type dataKind struct {
	typ    reflect.Type
	sample any
}

func kindOf(sample any) dataKind {
	return dataKind{typ: reflect.TypeOf(sample), sample: sample}
}

// emailKinds lists the email templates and their data.
func emailKinds() map[string]dataKind {
	return map[string]dataKind{
		"welcome": kindOf(WelcomeData{
			CustomerName: "Asha Rao",
			VerifyURL:    "https://insure.example/verify?token=tok",
			Token:        "tok",
		}),
		"admin_registration": kindOf(AdminRegistrationData{
			CustomerID:    "0192f5e4-0000-7000-8000-000000000001",
			CustomerName:  "Asha Rao",
			CustomerEmail: "asha@example.com",
			Channel:       "web",
			RegisteredAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		}),
		"quotation":           kindOf(sampleQuotation()),
		"renewal_reminder":    kindOf(sampleRenewal()),
		"policy_confirmation": kindOf(samplePolicy()),
	}
}

// whatsAppKinds lists the WhatsApp templates and their data.
func whatsAppKinds() map[string]dataKind {
	return map[string]dataKind{
		"quotation":           kindOf(sampleQuotation()),
		"renewal_reminder":    kindOf(sampleRenewal()),
		"policy_confirmation": kindOf(samplePolicy()),
	}
}

func sampleQuotation() QuotationData {
	return QuotationData{
		CustomerName: "Asha Rao",
		QuotationID:  "Q-1",
		Product:      "Motor",
		SumInsured:   "INR 5,00,000.00",
		Quotes: []QuoteLine{
			{InsurerName: "Acme General", Premium: "INR 8,500.00"},
			{InsurerName: "Beta Insurance", Declined: true, DeclineReason: "vehicle too old"},
		},
		Cheapest: "Acme General — INR 8,500.00",
	}
}

func sampleRenewal() RenewalReminderData {
	return RenewalReminderData{
		CustomerName: "Asha Rao",
		PolicyNumber: "POL-1",
		Insurer:      "Acme General",
		EndDate:      "2026-12-31",
		DaysLeft:     1,
		Urgency:      UrgencyCritical,
	}
}

func samplePolicy() PolicyConfirmationData {
	return PolicyConfirmationData{
		CustomerName: "Asha Rao",
		PolicyNumber: "POL-1",
		Insurer:      "Acme General",
		Product:      "Motor",
		Premium:      "INR 8,500.00",
		SumInsured:   "INR 5,00,000.00",
		StartDate:    "2026-01-01",
		EndDate:      "2026-12-31",
	}
}
