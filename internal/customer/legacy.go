package customer

import (
	"encoding/json"
	"fmt"

	"insure/internal/event"
)

// LegacyEventCreated is the event the system insure replaces recorded when
// a customer was created, before it had CustomerRegistered. Its stored
// events (schema version 1, aggregate type "customer") hold
//
//	{"customer_id": "…", "name": "…", "email": "…", "mobile": "…"}
//
// with customer_id optional, and are read as CustomerRegistered version 1:
//
//   - customer_id is the payload's, or the envelope's aggregate id when the
//     payload has none (absent, null or "");
//   - mobile becomes phone;
//   - channel is LegacyChannel and preferences are DefaultPreferences():
//     the old event recorded neither;
//   - there is no date of birth.
//
// Values are taken as stored: an upcaster is pure and only changes the
// shape, so an address or number the old system kept unnormalised stays so.
// A field not listed above makes the event unreadable rather than being
// dropped unseen.
const LegacyEventCreated = "CustomerCreated"

// LegacyChannel is the registration channel of a customer read from a
// legacy CustomerCreated, which recorded none. It is "import", the channel
// of customers brought over from another system: one of Channels(), so the
// read models and the API can show it.
const LegacyChannel = "import"

// legacyCreated is the data of a stored CustomerCreated.
type legacyCreated struct {
	CustomerID string `json:"customer_id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Mobile     string `json:"mobile"`
}

// upcastCreated reads a stored CustomerCreated as CustomerRegistered
// version 1 (see LegacyEventCreated).
func upcastCreated(env event.Envelope) (json.RawMessage, error) {
	var old legacyCreated
	if err := event.UnmarshalStrict(env.Data, &old); err != nil {
		return nil, fmt.Errorf("%s data: %w", LegacyEventCreated, err)
	}
	id := old.CustomerID
	if id == "" {
		id = env.AggregateID
	}
	return json.Marshal(Registered{
		CustomerID:  id,
		Name:        old.Name,
		Email:       old.Email,
		Phone:       old.Mobile,
		Channel:     LegacyChannel,
		Preferences: DefaultPreferences(),
	})
}
