package customer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"insure/internal/event"
)

// AggregateType is the aggregate type of every customer stream.
const AggregateType = "customer"

// The names of the customer events.
const (
	EventRegistered     = "CustomerRegistered"
	EventEmailVerified  = "CustomerEmailVerified"
	EventProfileUpdated = "CustomerProfileUpdated"
	EventErased         = "CustomerPersonalDataErased"
)

// The keys of ProfileUpdated.Changes.
const (
	FieldName             = "name"
	FieldEmail            = "email"
	FieldPhone            = "phone"
	FieldDateOfBirth      = "date_of_birth"
	FieldPreferencesEmail = "preferences.email"
	FieldPreferencesWA    = "preferences.whatsapp"
)

// Events returns the definitions of the customer events, for the registry.
func Events() []event.Definition {
	return []event.Definition{
		{Name: EventRegistered, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &Registered{} },
			Personal: []string{"name", "email", "phone", "date_of_birth"},
			Legacy: map[string]event.LegacyEvent{
				LegacyEventCreated: {SchemaVersion: 1, Upcast: upcastCreated, Personal: []string{"name", "email", "mobile"}},
			}},
		{Name: EventEmailVerified, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &EmailVerified{} },
			Personal: []string{"email"}},
		{Name: EventProfileUpdated, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &ProfileUpdated{} },
			Personal: changePaths(FieldName, FieldEmail, FieldPhone, FieldDateOfBirth)},
		{Name: EventErased, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &PersonalDataErased{} }},
	}
}

// PersonalFields are the ProfileUpdated.Changes keys whose values are
// personal data.
var PersonalFields = []string{FieldName, FieldEmail, FieldPhone, FieldDateOfBirth}

// changePaths returns the personal paths of ProfileUpdated: the old and new
// value of each field.
func changePaths(fields ...string) []string {
	var out []string
	for _, f := range fields {
		out = append(out, "changes."+f+".old", "changes."+f+".new")
	}
	return out
}

// Preferences are the customer's communication preferences.
type Preferences struct {
	Email    bool `json:"email"`
	WhatsApp bool `json:"whatsapp"`
}

// DefaultPreferences returns the preferences of a customer who gave none:
// e-mail on, WhatsApp off.
func DefaultPreferences() Preferences { return Preferences{Email: true, WhatsApp: false} }

// Registered is recorded once, when a customer is registered. Email and Phone
// are normalised.
type Registered struct {
	CustomerID  string      `json:"customer_id"`
	Name        string      `json:"name"`
	Email       string      `json:"email"`
	Phone       string      `json:"phone"`
	DateOfBirth string      `json:"date_of_birth,omitempty"`
	Channel     string      `json:"channel"`
	Preferences Preferences `json:"preferences"`
}

// EventName implements event.Payload.
func (Registered) EventName() string { return EventRegistered }

// Validate checks the fields a stored CustomerRegistered must have.
func (e Registered) Validate() error {
	if err := validID(e.CustomerID); err != nil {
		return err
	}
	if err := required("name", e.Name, "email", e.Email, "phone", e.Phone, "channel", e.Channel); err != nil {
		return err
	}
	if e.DateOfBirth != "" && e.DateOfBirth != event.Erased {
		if _, err := time.Parse(dateLayout, e.DateOfBirth); err != nil {
			return errors.New("date_of_birth is not a date in the form YYYY-MM-DD")
		}
	}
	return nil
}

// EmailVerified is recorded when the customer proves they own Email.
type EmailVerified struct {
	CustomerID string    `json:"customer_id"`
	Email      string    `json:"email"`
	VerifiedAt time.Time `json:"verified_at"`
}

// EventName implements event.Payload.
func (EmailVerified) EventName() string { return EventEmailVerified }

// Validate checks the fields a stored CustomerEmailVerified must have.
func (e EmailVerified) Validate() error {
	if err := validID(e.CustomerID); err != nil {
		return err
	}
	if err := required("email", e.Email); err != nil {
		return err
	}
	if e.VerifiedAt.IsZero() {
		return errors.New("verified_at is required")
	}
	return nil
}

// Change is one changed field: its value before and after. Old and New are
// strings for name, email, phone and date_of_birth (an empty date_of_birth
// means none) and booleans for the preferences.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// ProfileUpdated is recorded when a customer's profile changes. Changes holds
// only the fields that changed, keyed by FieldName, FieldEmail, FieldPhone,
// FieldDateOfBirth, FieldPreferencesEmail or FieldPreferencesWA. A change of
// email makes the address unverified again.
type ProfileUpdated struct {
	CustomerID string            `json:"customer_id"`
	Changes    map[string]Change `json:"changes"`
}

// EventName implements event.Payload.
func (ProfileUpdated) EventName() string { return EventProfileUpdated }

// Validate checks that a stored CustomerProfileUpdated names the customer,
// changes at least one known field, and gives each value the right type.
func (e ProfileUpdated) Validate() error {
	if err := validID(e.CustomerID); err != nil {
		return err
	}
	if len(e.Changes) == 0 {
		return errors.New("changes must name at least one field")
	}
	for key, ch := range e.Changes {
		switch key {
		case FieldName, FieldEmail, FieldPhone:
			if _, ok := ch.Old.(string); !ok {
				return fmt.Errorf("changes.%s.old must be a string", key)
			}
			if s, ok := ch.New.(string); !ok || strings.TrimSpace(s) == "" {
				return fmt.Errorf("changes.%s.new must be a non-empty string", key)
			}
		case FieldDateOfBirth:
			if _, ok := ch.Old.(string); !ok {
				return fmt.Errorf("changes.%s.old must be a string", key)
			}
			s, ok := ch.New.(string)
			if !ok {
				return fmt.Errorf("changes.%s.new must be a string", key)
			}
			if s != "" && s != event.Erased {
				if _, err := time.Parse(dateLayout, s); err != nil {
					return fmt.Errorf("changes.%s.new is not a date in the form YYYY-MM-DD", key)
				}
			}
		case FieldPreferencesEmail, FieldPreferencesWA:
			if _, ok := ch.Old.(bool); !ok {
				return fmt.Errorf("changes.%s.old must be a boolean", key)
			}
			if _, ok := ch.New.(bool); !ok {
				return fmt.Errorf("changes.%s.new must be a boolean", key)
			}
		default:
			return fmt.Errorf("changes: unknown field %q", key)
		}
	}
	return nil
}

// PersonalDataErased is recorded when the customer's personal data is
// erased at their request: their data key is destroyed in the same
// transaction, so every personal field sealed under it, in every event and
// copy, reads event.Erased from then on. Policies and premiums stay.
type PersonalDataErased struct {
	CustomerID string    `json:"customer_id"`
	ErasedAt   time.Time `json:"erased_at"`
}

// EventName implements event.Payload.
func (PersonalDataErased) EventName() string { return EventErased }

// Validate checks the fields a stored CustomerPersonalDataErased must have.
func (e PersonalDataErased) Validate() error {
	if err := validID(e.CustomerID); err != nil {
		return err
	}
	if e.ErasedAt.IsZero() {
		return errors.New("erased_at is required")
	}
	return nil
}

// validID checks a stored customer_id. Errors from payload validation are
// plain errors: a stored event that fails them is corrupt, which is an
// internal problem, not bad input.
func validID(id string) error {
	if id == "" {
		return errors.New("customer_id is required")
	}
	if !event.ValidID(id) {
		return errors.New("customer_id is not a UUID")
	}
	return nil
}

// required takes name, value pairs and reports the first blank value.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return fmt.Errorf("%s is required", pairs[i])
		}
	}
	return nil
}
