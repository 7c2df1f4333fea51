package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/personal"
	"insure/internal/projection"
	"insure/internal/recorder"
)

// Deps are what the services share.
type Deps struct {
	Recorder *recorder.Recorder
	Reader   *projection.Reader
	Secrets  *Secrets
	// Vault computes the blind indexes of personal data (the email
	// claims); the same vault the projector and the reader use.
	Vault *personal.Vault
	Now   func() time.Time
}

func (d Deps) store() *eventstore.Store { return d.Recorder.Store() }
func (d Deps) reg() *event.Registry     { return d.Recorder.Registry() }
func (d Deps) db() database.DB          { return d.Recorder.DB() }

// load reads an aggregate's events, mapping "none" to a NotFound error.
func (d Deps) load(ctx context.Context, q database.Querier, aggregateType, what, id string) ([]event.Envelope, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	if q == nil {
		q = d.db()
	}
	envs, err := d.store().Load(ctx, q, aggregateType, id)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "%s %s not found", what, id)
	}
	if err != nil {
		return nil, recorder.MapError(fmt.Errorf("load %s %s: %w", what, id, err))
	}
	return envs, nil
}

// domainError maps an error from a domain Rebuild (a corrupt stream) to an
// internal error that keeps the cause.
func domainError(err error, what string) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	return apperr.Wrap(apperr.Internal, err, "rebuild %s", what)
}
