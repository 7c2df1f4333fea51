package app

import (
	"context"
	"errors"
	"fmt"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/rating"
	"insure/internal/recorder"
	"insure/internal/snapshot"
)

// QuotationService requests quotations and rates them across insurers.
type QuotationService struct {
	Deps
	Rates    *rating.Table
	Currency string
}

// NewQuotationService returns the service.
func NewQuotationService(d Deps, rates *rating.Table, currency string) *QuotationService {
	return &QuotationService{Deps: d, Rates: rates, Currency: currency}
}

// customerExists checks a referenced customer, as a 422 on the named field.
func (d Deps) customerExists(ctx context.Context, q database.Querier, field, id string) error {
	if !event.ValidID(id) {
		return apperr.Field(field, "must be a customer id (a UUID)")
	}
	if q == nil {
		q = d.db()
	}
	// One query: whether the customer exists, and whether they were erased.
	var events, erased int
	err := q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN event_name = $3 THEN 1 ELSE 0 END), 0)
		FROM event_store WHERE aggregate_type = $1 AND aggregate_id = $2`,
		customer.AggregateType, id, customer.EventErased).Scan(&events, &erased)
	if err != nil {
		return recorder.MapError(fmt.Errorf("check customer %s: %w", id, err))
	}
	if events == 0 {
		return apperr.Field(field, "no customer has id %s", id)
	}
	if erased > 0 {
		return apperr.Field(field, "customer %s's personal data was erased; nothing new can be made for them", id)
	}
	return nil
}

// Request records QuotationRequested; the GenerateQuotation listener rates
// it. It returns at once with status "requested".
func (s *QuotationService) Request(ctx context.Context, ec event.Context, cmd quotation.Request) (_ projection.Quotation, err error) {
	ctx, end := s.startCommand(ctx, "RequestQuotation")
	defer func() { end(err) }()
	if cmd.Currency == "" {
		cmd.Currency = s.Currency
	}
	if cmd.Currency != s.Rates.Currency() {
		return projection.Quotation{}, apperr.Field("currency", "must be %s, the currency of the rate table", s.Rates.Currency())
	}
	id := event.NewID()
	evs, err := quotation.RequestQuotation(id, cmd, s.Now())
	if err != nil {
		return projection.Quotation{}, err
	}
	if err := s.customerExists(ctx, nil, "customer_id", cmd.CustomerID); err != nil {
		return projection.Quotation{}, err
	}
	if _, err := s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: quotation.AggregateType, AggregateID: id, Events: evs}); err != nil {
		return projection.Quotation{}, err
	}
	return s.Reader.Quotation(ctx, id)
}

// Get returns one quotation.
func (s *QuotationService) Get(ctx context.Context, id string) (projection.Quotation, error) {
	return s.Reader.Quotation(ctx, id)
}

// quotationStream is how quotations load and snapshot. A quotation holds
// no personal data (ids, amounts, product details, quotes): its snapshot is
// stored in clear.
func quotationStream() stream[quotation.Quotation] {
	return stream[quotation.Quotation]{
		what:        "quotation",
		kind:        snapshot.Kind[quotation.Quotation]{AggregateType: quotation.AggregateType, SchemaVersion: quotation.SnapshotSchemaVersion},
		rebuildFrom: quotation.RebuildFrom,
		version:     func(q *quotation.Quotation) int64 { return q.Version },
	}
}

// Aggregate rebuilds a quotation from its newest snapshot and the events
// after it (see loadAggregate). q is the caller's transaction, or nil.
func (s *QuotationService) Aggregate(ctx context.Context, q database.Querier, id string) (*quotation.Quotation, error) {
	return loadAggregate(ctx, s.Deps, q, quotationStream(), id)
}

// Generate rates a requested quotation with every insurer and records
// QuotationGenerated. A quotation that is already generated is left alone,
// so a retried job does nothing twice. An error that rating cannot get past
// (the request no longer validates) records QuotationGenerationFailed.
func (s *QuotationService) Generate(ctx context.Context, ec event.Context, id string) (_ []recorder.Recorded, err error) {
	ctx, end := s.startCommand(ctx, "GenerateQuotation")
	defer func() { end(err) }()
	qt, err := s.Aggregate(ctx, nil, id)
	if err != nil {
		return nil, err
	}
	if qt.Status != "requested" {
		return nil, nil
	}
	now := s.Now()
	var evs []event.Payload
	req, err := qt.RatingRequest(qt.RequestedAt)
	if err == nil {
		var quotes []rating.Quote
		quotes, err = s.Rates.Rate(req)
		if err == nil {
			evs, err = qt.Generate(quotes, now)
		}
	}
	if err != nil {
		var invalid *rating.FieldError
		if !errors.As(err, &invalid) && !apperr.IsCode(err, apperr.Invalid) {
			return nil, err
		}
		evs, err = qt.Fail("rating failed: "+err.Error(), now)
		if err != nil {
			return nil, err
		}
	}
	return s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: quotation.AggregateType, AggregateID: id, ExpectedVersion: qt.Version, Events: evs})
}

// FailTx records QuotationGenerationFailed inside tx (the GenerateQuotation
// listener's Failed hook).
func (s *QuotationService) FailTx(ctx context.Context, tx database.Tx, ec event.Context, id, reason string) (err error) {
	ctx, end := s.startCommand(ctx, "FailQuotation")
	defer func() { end(err) }()
	qt, err := s.Aggregate(ctx, tx, id)
	if err != nil {
		return err
	}
	evs, err := qt.Fail(reason, s.Now())
	if err != nil || len(evs) == 0 {
		return err
	}
	_, err = s.Recorder.RecordTx(ctx, tx, ec, recorder.Change{AggregateType: quotation.AggregateType, AggregateID: id, ExpectedVersion: qt.Version, Events: evs})
	return err
}
