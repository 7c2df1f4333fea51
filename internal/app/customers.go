package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/personal"
	"insure/internal/projection"
	"insure/internal/recorder"
	"insure/internal/snapshot"
)

// CustomerService registers customers and changes their profiles.
type CustomerService struct{ Deps }

// NewCustomerService returns the service.
func NewCustomerService(d Deps) *CustomerService { return &CustomerService{d} }

// claimEmail reserves a (normalised) address for a customer in tx; a taken
// address is a 409 that names the field. The claim holds the address's
// blind index, not the address.
func (s *CustomerService) claimEmail(ctx context.Context, tx database.Tx, email, customerID string) error {
	if s.Vault == nil {
		return errors.New("claim email: app.Deps has no Vault")
	}
	idx := s.Vault.Index(personal.KindEmail, email)
	if idx == "" {
		return fmt.Errorf("claim email: no blind index for the address of customer %s (no master key?)", customerID)
	}
	_, err := tx.Exec(ctx, `INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, $2)`, idx, customerID)
	if database.IsUniqueViolation(err) {
		return &apperr.Error{Code: apperr.Conflict, Field: "email", Message: "is already registered to another customer"}
	}
	return err
}

// Register records CustomerRegistered and starts the welcome email, the
// audit record and the admin notification.
func (s *CustomerService) Register(ctx context.Context, ec event.Context, cmd customer.Register) (_ projection.Customer, err error) {
	ctx, end := s.startCommand(ctx, "RegisterCustomer")
	defer func() { end(err) }()
	id := event.NewID()
	evs, err := customer.RegisterCustomer(id, cmd, s.Now())
	if err != nil {
		return projection.Customer{}, err
	}
	reg, _ := event.As[customer.Registered](evs[0])
	out, err := s.Recorder.Record(ctx, ec, func(ctx context.Context, tx database.Tx) error {
		return s.claimEmail(ctx, tx, reg.Email, id)
	}, recorder.Change{AggregateType: customer.AggregateType, AggregateID: id, Events: evs})
	if err != nil {
		return projection.Customer{}, err
	}
	return s.written(ctx, id, out)
}

// written returns customer id as a write that recorded out left it: from
// the read model when it has applied the write (the normal case: it is
// applied in the write's transaction), else (the projection is behind)
// rebuilt from the events, so that a write never answers 404 or stale data
// for what it just committed.
func (s *CustomerService) written(ctx context.Context, id string, out []recorder.Recorded) (projection.Customer, error) {
	var version int64
	for _, r := range out {
		if r.AggregateID == id {
			version = max(version, r.AggregateVersion)
		}
	}
	v, err := s.Reader.Customer(ctx, nil, id)
	if err == nil && v.Version >= version {
		return v, nil
	}
	if err != nil && !apperr.IsCode(err, apperr.NotFound) {
		return projection.Customer{}, err
	}
	c, err := s.Aggregate(ctx, nil, id)
	if err != nil {
		return projection.Customer{}, err
	}
	return customerView(c), nil
}

// Get returns one customer.
func (s *CustomerService) Get(ctx context.Context, id string) (projection.Customer, error) {
	return s.Reader.Customer(ctx, nil, id)
}

// List lists the customers that match filter, oldest first, after the
// cursor (see projection.Reader.Customers).
func (s *CustomerService) List(ctx context.Context, filter projection.CustomerFilter, after string, limit int) ([]projection.Customer, string, error) {
	return s.Reader.Customers(ctx, filter, after, limit)
}

// customerStream is how customers load and snapshot. A customer's state is
// personal data: its snapshot is sealed under the customer's key.
func customerStream() stream[customer.Customer] {
	return stream[customer.Customer]{
		what:        "customer",
		kind:        snapshot.Kind[customer.Customer]{AggregateType: customer.AggregateType, SchemaVersion: customer.SnapshotSchemaVersion, Personal: true},
		rebuildFrom: customer.RebuildFrom,
		version:     func(c *customer.Customer) int64 { return c.Version },
	}
}

// Aggregate rebuilds a customer from its newest snapshot and the events
// after it (see loadAggregate). q is the caller's transaction, or nil.
func (s *CustomerService) Aggregate(ctx context.Context, q database.Querier, id string) (*customer.Customer, error) {
	return loadAggregate(ctx, s.Deps, q, customerStream(), id)
}

// GetAsOf returns the customer as they were at asOf: rebuilt from the
// events that had occurred by then (never from a snapshot, which holds the
// newest state). A time after the last event gives the current state. It
// fails with apperr.NotFound when the customer did not exist yet at asOf,
// or never did. The personal fields of an erased customer read
// event.Erased at every moment: their events open as erased.
func (s *CustomerService) GetAsOf(ctx context.Context, id string, asOf time.Time) (projection.Customer, error) {
	envs, err := s.loadUntil(ctx, customer.AggregateType, "customer", id, asOf)
	if err != nil {
		return projection.Customer{}, err
	}
	c, err := customer.Rebuild(envs, s.reg())
	if err != nil {
		return projection.Customer{}, domainError(err, "customer "+id)
	}
	return customerView(c), nil
}

// customerView is the read-model view of a customer aggregate, as the
// customers read model would show it after the same events.
func customerView(c *customer.Customer) projection.Customer {
	v := projection.Customer{
		ID:            c.ID,
		Name:          c.Name,
		Email:         c.Email,
		Phone:         c.Phone,
		Channel:       c.Channel,
		Preferences:   projection.Preferences{Email: c.Preferences.Email, WhatsApp: c.Preferences.WhatsApp},
		EmailVerified: c.EmailVerified,
		Erased:        c.Erased,
		Version:       c.Version,
		CreatedAt:     c.RegisteredAt.UTC(),
		UpdatedAt:     c.UpdatedAt.UTC(),
	}
	// An erased date of birth is left out, as the read model leaves it.
	if c.DateOfBirth != "" && c.DateOfBirth != event.Erased {
		dob := c.DateOfBirth
		v.DateOfBirth = &dob
	}
	if c.Erased {
		at := c.ErasedAt.UTC()
		v.ErasedAt = &at
	}
	return v
}

// Update changes a customer's profile. With ifMatch set, the change is made
// only if the customer is still at that version (409 otherwise).
func (s *CustomerService) Update(ctx context.Context, ec event.Context, id string, ifMatch *int64, cmd customer.UpdateProfile) (_ projection.Customer, err error) {
	ctx, end := s.startCommand(ctx, "UpdateCustomerProfile")
	defer func() { end(err) }()
	c, err := s.Aggregate(ctx, nil, id)
	if err != nil {
		return projection.Customer{}, err
	}
	if ifMatch != nil && *ifMatch != c.Version {
		return projection.Customer{}, apperr.New(apperr.Conflict, "customer %s is at version %d, not %d; reload it and try again", id, c.Version, *ifMatch)
	}
	evs, err := c.Update(cmd, s.Now())
	if err != nil {
		return projection.Customer{}, err
	}
	if len(evs) == 0 {
		return s.Reader.Customer(ctx, nil, id)
	}
	var before func(ctx context.Context, tx database.Tx) error
	if upd, ok := event.As[customer.ProfileUpdated](evs[0]); ok {
		if ch, changed := upd.Changes[customer.FieldEmail]; changed {
			newEmail, _ := ch.New.(string)
			before = func(ctx context.Context, tx database.Tx) error {
				// A customer claims one address: release theirs, whatever
				// key its blind index was made under, and claim the new one.
				if _, err := tx.Exec(ctx, `DELETE FROM customer_emails WHERE customer_id = $1`, id); err != nil {
					return err
				}
				return s.claimEmail(ctx, tx, newEmail, id)
			}
		}
	}
	out, err := s.Recorder.Record(ctx, ec, before, recorder.Change{AggregateType: customer.AggregateType, AggregateID: id, ExpectedVersion: c.Version, Events: evs})
	if err != nil {
		return projection.Customer{}, err
	}
	return s.written(ctx, id, out)
}

// VerifyEmail checks the token from the welcome email and records
// CustomerEmailVerified. Verifying twice is harmless.
func (s *CustomerService) VerifyEmail(ctx context.Context, ec event.Context, id, token string) (_ projection.Customer, err error) {
	ctx, end := s.startCommand(ctx, "VerifyCustomerEmail")
	defer func() { end(err) }()
	if token == "" {
		return projection.Customer{}, apperr.Field("token", "is required")
	}
	c, err := s.Aggregate(ctx, nil, id)
	if err != nil {
		return projection.Customer{}, err
	}
	ok, err := s.Secrets.CheckVerificationToken(ctx, id, c.Email, token)
	if err != nil {
		return projection.Customer{}, fmt.Errorf("verify email: %w", err)
	}
	if !ok {
		return projection.Customer{}, apperr.Field("token", "is not valid for this customer's current email address")
	}
	evs, err := c.VerifyEmail(s.Now())
	if err != nil {
		return projection.Customer{}, err
	}
	var out []recorder.Recorded
	if len(evs) > 0 {
		if out, err = s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: customer.AggregateType, AggregateID: id, ExpectedVersion: c.Version, Events: evs}); err != nil {
			return projection.Customer{}, err
		}
	}
	return s.written(ctx, id, out)
}

// Events returns a customer's event history.
func (s *CustomerService) Events(ctx context.Context, id string) ([]event.Envelope, error) {
	return s.load(ctx, nil, customer.AggregateType, "customer", id)
}
