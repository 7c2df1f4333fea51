package customer

import (
	"fmt"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
)

// SnapshotSchemaVersion is the version of the shape of Customer as
// snapshots keep it (its JSON). Bump it whenever a field of Customer is
// added, removed or renamed, or changes meaning: snapshots of another
// version are thrown away and the customer is rebuilt from the events.
// Every field must survive a JSON round trip (exported, no lossy types).
const SnapshotSchemaVersion = 1

// Customer is the state of one customer, rebuilt from its events.
type Customer struct {
	ID              string      `json:"id"`
	Name            string      `json:"name"`
	Email           string      `json:"email"`
	Phone           string      `json:"phone"`
	DateOfBirth     string      `json:"date_of_birth,omitempty"`
	Channel         string      `json:"channel"`
	Preferences     Preferences `json:"preferences"`
	EmailVerified   bool        `json:"email_verified"`
	EmailVerifiedAt time.Time   `json:"email_verified_at,omitzero"`
	// Erased is set once the customer's personal data was erased: Name,
	// Email, Phone and DateOfBirth (when there was one) read event.Erased.
	Erased   bool      `json:"erased,omitempty"`
	ErasedAt time.Time `json:"erased_at,omitzero"`
	// Version is the aggregate version of the last applied event.
	Version int64 `json:"version"`
	// RegisteredAt and UpdatedAt come from the events' occurred_at.
	RegisteredAt time.Time `json:"registered_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Rebuild returns the customer that envs, the events of one customer stream in
// version order, describe. It decodes each envelope through reg and applies
// it. It returns an apperr.NotFound error when envs is empty, and an error for
// an event of another aggregate type or another aggregate, a version that
// does not follow the previous one (the first must be 1), an event that does
// not decode, or one that does not apply.
func Rebuild(envs []event.Envelope, reg *event.Registry) (*Customer, error) {
	if len(envs) == 0 {
		return nil, apperr.New(apperr.NotFound, "customer not found")
	}
	c := &Customer{}
	err := event.Replay(envs, reg, AggregateType, func(p event.Payload, at time.Time) (string, error) {
		err := c.ApplyAt(p, at)
		return c.ID, err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RebuildFrom returns the customer that from, a state rebuilt earlier (a
// snapshot at from.Version), becomes with envs, the events of the same
// customer that follow it in version order; the first must have version
// from.Version+1. from is not changed. No envs returns a copy of from; a nil
// from is Rebuild(envs, reg). Errors are Rebuild's.
func RebuildFrom(from *Customer, envs []event.Envelope, reg *event.Registry) (*Customer, error) {
	if from == nil {
		return Rebuild(envs, reg)
	}
	c := *from
	err := event.ReplayAfter(envs, reg, AggregateType, c.ID, c.Version, func(p event.Payload, at time.Time) (string, error) {
		err := c.ApplyAt(p, at)
		return c.ID, err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Apply applies one event to c and adds one to its Version. It accepts the
// payload types of Events() as pointers or values. It returns an error, and
// leaves c unchanged, for an event of another aggregate, one for another
// customer, or one out of order (anything before CustomerRegistered, or a
// second CustomerRegistered).
func (c *Customer) Apply(p event.Payload) error { return c.ApplyAt(p, time.Time{}) }

// ApplyAt is Apply that also records at, the time the event occurred, as
// UpdatedAt (and as RegisteredAt for CustomerRegistered). A zero at leaves the
// timestamps alone.
func (c *Customer) ApplyAt(p event.Payload, at time.Time) error {
	switch e := p.(type) {
	case Registered:
		p = &e
	case EmailVerified:
		p = &e
	case ProfileUpdated:
		p = &e
	case PersonalDataErased:
		p = &e
	}
	next := *c
	var err error
	switch e := p.(type) {
	case nil:
		return fmt.Errorf("customer: nil event")
	case *Registered:
		if e == nil {
			return fmt.Errorf("customer: nil %s", EventRegistered)
		}
		err = next.applyRegistered(*e, at)
	case *EmailVerified:
		if e == nil {
			return fmt.Errorf("customer: nil %s", EventEmailVerified)
		}
		err = next.applyEmailVerified(*e)
	case *ProfileUpdated:
		if e == nil {
			return fmt.Errorf("customer: nil %s", EventProfileUpdated)
		}
		err = next.applyProfileUpdated(*e)
	case *PersonalDataErased:
		if e == nil {
			return fmt.Errorf("customer: nil %s", EventErased)
		}
		err = next.applyErased(*e)
	default:
		return fmt.Errorf("customer: cannot apply %T: not a customer event", p)
	}
	if err != nil {
		return err
	}
	next.Version++
	if !at.IsZero() {
		next.UpdatedAt = at
	}
	*c = next
	return nil
}

func (c *Customer) applyRegistered(e Registered, at time.Time) error {
	if c.ID != "" {
		return fmt.Errorf("customer %s: %s: already registered", c.ID, EventRegistered)
	}
	c.ID = e.CustomerID
	c.Name = e.Name
	c.Email = e.Email
	c.Phone = e.Phone
	c.DateOfBirth = e.DateOfBirth
	c.Channel = e.Channel
	c.Preferences = e.Preferences
	c.RegisteredAt = at
	return nil
}

func (c *Customer) applyEmailVerified(e EmailVerified) error {
	if err := c.belongs(EventEmailVerified, e.CustomerID); err != nil {
		return err
	}
	// A verification of an address the customer no longer has changes
	// nothing: only the current address can be verified.
	if e.Email == c.Email {
		c.EmailVerified = true
		c.EmailVerifiedAt = e.VerifiedAt
	}
	return nil
}

func (c *Customer) applyProfileUpdated(e ProfileUpdated) error {
	if err := c.belongs(EventProfileUpdated, e.CustomerID); err != nil {
		return err
	}
	for key, ch := range e.Changes {
		var ok bool
		switch key {
		case FieldName:
			c.Name, ok = ch.New.(string)
		case FieldEmail:
			var s string
			if s, ok = ch.New.(string); ok && s != c.Email {
				c.Email = s
				c.EmailVerified = false
				c.EmailVerifiedAt = time.Time{}
			}
		case FieldPhone:
			c.Phone, ok = ch.New.(string)
		case FieldDateOfBirth:
			c.DateOfBirth, ok = ch.New.(string)
		case FieldPreferencesEmail:
			c.Preferences.Email, ok = ch.New.(bool)
		case FieldPreferencesWA:
			c.Preferences.WhatsApp, ok = ch.New.(bool)
		default:
			return fmt.Errorf("customer %s: %s: unknown field %q", c.ID, EventProfileUpdated, key)
		}
		if !ok {
			return fmt.Errorf("customer %s: %s: changes.%s.new has type %T", c.ID, EventProfileUpdated, key, ch.New)
		}
	}
	return nil
}

func (c *Customer) applyErased(e PersonalDataErased) error {
	if err := c.belongs(EventErased, e.CustomerID); err != nil {
		return err
	}
	c.Erased = true
	c.ErasedAt = e.ErasedAt
	c.Name, c.Email, c.Phone = event.Erased, event.Erased, event.Erased
	if c.DateOfBirth != "" {
		c.DateOfBirth = event.Erased
	}
	return nil
}

// live returns apperr.NotFound for a customer that was never registered and
// apperr.Conflict for one whose personal data was erased: nothing about them
// can change any more.
func (c *Customer) live() error {
	if err := c.exists(); err != nil {
		return err
	}
	if c.Erased {
		return apperr.New(apperr.Conflict, "customer %s: their personal data was erased; the record can no longer change", c.ID)
	}
	return nil
}

func (c *Customer) belongs(name, id string) error {
	if c.ID == "" {
		return fmt.Errorf("customer: %s before %s", name, EventRegistered)
	}
	if id != c.ID {
		return fmt.Errorf("customer %s: %s is for customer %s", c.ID, name, id)
	}
	return nil
}

func (c *Customer) exists() error {
	if c == nil || c.ID == "" {
		return apperr.New(apperr.NotFound, "customer not found")
	}
	return nil
}

// RegisterCustomer decides the registration of a new customer with the given
// id (a UUID chosen by the caller). It validates and normalises cmd (see
// Register.Validate) and returns one *Registered. now is the time of the
// request, used to check the date of birth.
func RegisterCustomer(id string, cmd Register, now time.Time) ([]event.Payload, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.Internal, "register customer: id %q is not a UUID", id)
	}
	n, err := cmd.normalize(now)
	if err != nil {
		return nil, err
	}
	e := &Registered{
		CustomerID:  id,
		Name:        n.Name,
		Email:       n.Email,
		Phone:       n.Phone,
		Channel:     n.Channel,
		Preferences: *n.Preferences,
	}
	if n.DateOfBirth != nil {
		e.DateOfBirth = *n.DateOfBirth
	}
	return []event.Payload{e}, nil
}

// Update decides a profile update. It validates cmd (see
// UpdateProfile.Validate) and returns one *ProfileUpdated holding only the
// fields whose normalised value differs from the current one, or no events
// when nothing changes. It returns apperr.NotFound for a customer that was
// never registered and apperr.Conflict for an erased one.
func (c *Customer) Update(cmd UpdateProfile, now time.Time) ([]event.Payload, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	n, err := cmd.normalize(now)
	if err != nil {
		return nil, err
	}
	changes := make(map[string]Change)
	str := func(key, cur string, v *string) {
		if v != nil && *v != cur {
			changes[key] = Change{Old: cur, New: *v}
		}
	}
	str(FieldName, c.Name, n.Name)
	str(FieldEmail, c.Email, n.Email)
	str(FieldPhone, c.Phone, n.Phone)
	str(FieldDateOfBirth, c.DateOfBirth, n.DateOfBirth)
	if pp := n.Preferences; pp != nil {
		if pp.Email != nil && *pp.Email != c.Preferences.Email {
			changes[FieldPreferencesEmail] = Change{Old: c.Preferences.Email, New: *pp.Email}
		}
		if pp.WhatsApp != nil && *pp.WhatsApp != c.Preferences.WhatsApp {
			changes[FieldPreferencesWA] = Change{Old: c.Preferences.WhatsApp, New: *pp.WhatsApp}
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	return []event.Payload{&ProfileUpdated{CustomerID: c.ID, Changes: changes}}, nil
}

// EmailChanged reports whether cmd changes the customer's e-mail address, and
// the current and new (normalised) addresses. The service uses it to reserve
// the new address before recording the update. It does not validate cmd.
func (c *Customer) EmailChanged(cmd UpdateProfile) (old, new string, changed bool) {
	if cmd.Email == nil {
		return c.Email, c.Email, false
	}
	n := NormalizeEmail(*cmd.Email)
	return c.Email, n, n != c.Email
}

// VerifyEmail decides that the customer's current address is verified. It
// returns one *EmailVerified, or no events when the address is already
// verified. The verification token is the service's to check. It returns
// apperr.NotFound for a customer that was never registered and
// apperr.Conflict for an erased one.
func (c *Customer) VerifyEmail(now time.Time) ([]event.Payload, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	if c.EmailVerified {
		return nil, nil
	}
	return []event.Payload{&EmailVerified{CustomerID: c.ID, Email: c.Email, VerifiedAt: now.UTC()}}, nil
}

// Erase decides the erasure of the customer's personal data: one
// *PersonalDataErased, or no events when it was erased before (erasing is
// idempotent). Destroying the data key is the service's part, in the same
// transaction. It returns apperr.NotFound for a customer that was never
// registered.
func (c *Customer) Erase(now time.Time) ([]event.Payload, error) {
	if err := c.exists(); err != nil {
		return nil, err
	}
	if c.Erased {
		return nil, nil
	}
	return []event.Payload{&PersonalDataErased{CustomerID: c.ID, ErasedAt: now.UTC()}}, nil
}
