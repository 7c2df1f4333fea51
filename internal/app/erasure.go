package app

import (
	"context"
	"fmt"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/projection"
	"insure/internal/recorder"
	"insure/internal/snapshot"
)

// KeyDestroyer destroys a data subject's key (keyring.Keyring.Destroy):
// everything sealed under it becomes unreadable, in every copy.
type KeyDestroyer interface {
	Destroy(ctx context.Context, q database.Querier, subjectID string) error
}

// ErasureService honours a customer's request to erase their personal data
// (the right to be forgotten) in an event store that never rewrites
// history: by crypto-shredding.
type ErasureService struct {
	Deps
	Customers *CustomerService
	Keys      KeyDestroyer
}

// NewErasureService returns the service.
func NewErasureService(d Deps, customers *CustomerService, keys KeyDestroyer) *ErasureService {
	return &ErasureService{Deps: d, Customers: customers, Keys: keys}
}

// Erase erases customer id's personal data. In one transaction it releases
// the customer's email claim, destroys their data key and records
// CustomerPersonalDataErased; from the commit on, every personal field of
// theirs (events, read models, stored messages) reads event.Erased.
// Policies, premiums and the rest of the history stay. Erasing an erased
// customer changes nothing and returns them as they are.
func (s *ErasureService) Erase(ctx context.Context, ec event.Context, id string) (_ projection.Customer, err error) {
	ctx, end := s.startCommand(ctx, "EraseCustomerPersonalData")
	defer func() { end(err) }()
	c, err := s.Customers.Aggregate(ctx, nil, id)
	if err != nil {
		return projection.Customer{}, err
	}
	evs, err := c.Erase(s.Now())
	if err != nil {
		return projection.Customer{}, err
	}
	if len(evs) > 0 {
		before := func(ctx context.Context, tx database.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM customer_emails WHERE customer_id = $1`, id); err != nil {
				return fmt.Errorf("release the email claim of customer %s: %w", id, err)
			}
			if err := snapshot.Delete(ctx, tx, customer.AggregateType, id); err != nil {
				return err
			}
			return s.Keys.Destroy(ctx, tx, id)
		}
		_, err := s.Recorder.Record(ctx, ec, before, recorder.Change{
			AggregateType: customer.AggregateType, AggregateID: id, ExpectedVersion: c.Version, Events: evs})
		if err != nil {
			return projection.Customer{}, err
		}
	}
	return s.Reader.Customer(ctx, nil, id)
}
