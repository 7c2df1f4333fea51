package quotation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/rating"
)

// The statuses of a quotation.
const (
	StatusRequested = "requested"
	StatusGenerated = "generated"
	StatusFailed    = "failed"
)

// SnapshotSchemaVersion is the version of the shape of Quotation as
// snapshots keep it (its JSON). Bump it whenever a field of Quotation (or
// of rating.Quote) is added, removed or renamed, or changes meaning:
// snapshots of another version are thrown away and the quotation is rebuilt
// from the events. Every field must survive a JSON round trip (exported, no
// lossy types).
const SnapshotSchemaVersion = 1

// Quotation is the state of one quotation, rebuilt from its events.
type Quotation struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Product    string `json:"product"`
	// SumInsured is in minor units of Currency.
	SumInsured int64  `json:"sum_insured"`
	Currency   string `json:"currency"`
	// Details is the product's details object, encoded canonically.
	Details json.RawMessage `json:"details"`
	// Status is StatusRequested, StatusGenerated or StatusFailed.
	Status        string         `json:"status"`
	Quotes        []rating.Quote `json:"quotes,omitempty"`
	FailureReason string         `json:"failure_reason,omitempty"`
	// Version is the aggregate version of the last applied event.
	Version int64 `json:"version"`
	// RequestedAt and UpdatedAt come from the events' occurred_at.
	RequestedAt time.Time `json:"requested_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Rebuild returns the quotation that envs, the events of one quotation stream
// in version order, describe. It decodes each envelope through reg and applies
// it. It returns an apperr.NotFound error when envs is empty, and an error for
// an event of another aggregate type or another aggregate, a version that
// does not follow the previous one (the first must be 1), an event that does
// not decode, or one that does not apply.
func Rebuild(envs []event.Envelope, reg *event.Registry) (*Quotation, error) {
	if len(envs) == 0 {
		return nil, apperr.New(apperr.NotFound, "quotation not found")
	}
	q := &Quotation{}
	err := event.Replay(envs, reg, AggregateType, func(p event.Payload, at time.Time) (string, error) {
		err := q.ApplyAt(p, at)
		return q.ID, err
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// RebuildFrom returns the quotation that from, a state rebuilt earlier (a
// snapshot at from.Version), becomes with envs, the events of the same
// quotation that follow it in version order; the first must have version
// from.Version+1. from is not changed. No envs returns a copy of from; a nil
// from is Rebuild(envs, reg). Errors are Rebuild's.
func RebuildFrom(from *Quotation, envs []event.Envelope, reg *event.Registry) (*Quotation, error) {
	if from == nil {
		return Rebuild(envs, reg)
	}
	q := *from
	q.Details = slices.Clone(from.Details)
	q.Quotes = cloneQuotes(from.Quotes)
	err := event.ReplayAfter(envs, reg, AggregateType, q.ID, q.Version, func(p event.Payload, at time.Time) (string, error) {
		err := q.ApplyAt(p, at)
		return q.ID, err
	})
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// Apply applies one event to q and adds one to its Version. It accepts the
// payload types of Events() as pointers or values. It returns an error, and
// leaves q unchanged, for an event of another aggregate, one for another
// quotation, or one out of order (anything before QuotationRequested, a second
// QuotationRequested, or anything after the quotation was generated or
// failed).
func (q *Quotation) Apply(p event.Payload) error { return q.ApplyAt(p, time.Time{}) }

// ApplyAt is Apply that also records at, the time the event occurred, as
// UpdatedAt (and as RequestedAt for QuotationRequested). A zero at leaves the
// timestamps alone.
func (q *Quotation) ApplyAt(p event.Payload, at time.Time) error {
	switch e := p.(type) {
	case Requested:
		p = &e
	case Generated:
		p = &e
	case GenerationFailed:
		p = &e
	}
	next := *q
	var err error
	switch e := p.(type) {
	case nil:
		return fmt.Errorf("quotation: nil event")
	case *Requested:
		if e == nil {
			return fmt.Errorf("quotation: nil %s", EventRequested)
		}
		err = next.applyRequested(*e, at)
	case *Generated:
		if e == nil {
			return fmt.Errorf("quotation: nil %s", EventGenerated)
		}
		err = next.applyGenerated(*e)
	case *GenerationFailed:
		if e == nil {
			return fmt.Errorf("quotation: nil %s", EventGenerationFailed)
		}
		err = next.applyFailed(*e)
	default:
		return fmt.Errorf("quotation: cannot apply %T: not a quotation event", p)
	}
	if err != nil {
		return err
	}
	next.Version++
	if !at.IsZero() {
		next.UpdatedAt = at
	}
	*q = next
	return nil
}

func (q *Quotation) applyRequested(e Requested, at time.Time) error {
	if q.ID != "" {
		return fmt.Errorf("quotation %s: %s: already requested", q.ID, EventRequested)
	}
	q.ID = e.QuotationID
	q.CustomerID = e.CustomerID
	q.Product = e.Product
	q.SumInsured = e.SumInsured
	q.Currency = e.Currency
	q.Details = slices.Clone(e.Details)
	q.Status = StatusRequested
	q.RequestedAt = at
	return nil
}

func (q *Quotation) applyGenerated(e Generated) error {
	if err := q.pending(EventGenerated, e.QuotationID); err != nil {
		return err
	}
	if e.CustomerID != q.CustomerID || e.Product != q.Product || e.SumInsured != q.SumInsured || e.Currency != q.Currency {
		return fmt.Errorf("quotation %s: %s does not match the request (customer, product, sum insured or currency differ)", q.ID, EventGenerated)
	}
	q.Status = StatusGenerated
	q.Quotes = cloneQuotes(e.Quotes)
	return nil
}

func (q *Quotation) applyFailed(e GenerationFailed) error {
	if err := q.pending(EventGenerationFailed, e.QuotationID); err != nil {
		return err
	}
	q.Status = StatusFailed
	q.FailureReason = e.Reason
	return nil
}

// pending checks that an outcome event for id may follow.
func (q *Quotation) pending(name, id string) error {
	if q.ID == "" {
		return fmt.Errorf("quotation: %s before %s", name, EventRequested)
	}
	if id != q.ID {
		return fmt.Errorf("quotation %s: %s is for quotation %s", q.ID, name, id)
	}
	if q.Status != StatusRequested {
		return fmt.Errorf("quotation %s: %s after the quotation was %s", q.ID, name, q.Status)
	}
	return nil
}

func (q *Quotation) exists() error {
	if q == nil || q.ID == "" {
		return apperr.New(apperr.NotFound, "quotation not found")
	}
	return nil
}

// Generate decides that the quotation got quotes, one per insurer. It
// returns one *Generated holding a copy of quotes; a quote with an empty
// Currency gets the quotation's. From "generated" it returns no events
// (idempotent); from "failed" it returns apperr.Conflict. It returns
// apperr.Invalid (Field "quotes") for no quotes, a quote without an insurer,
// an insurer quoted twice, a declined quote without a reason or with a
// premium, a quote that is not declined without a positive premium, or a
// quote in another currency.
func (q *Quotation) Generate(quotes []rating.Quote, now time.Time) ([]event.Payload, error) {
	if err := q.exists(); err != nil {
		return nil, err
	}
	switch q.Status {
	case StatusGenerated:
		return nil, nil
	case StatusFailed:
		return nil, apperr.New(apperr.Conflict, "quotation %s failed (%s); request a new quotation", q.ID, q.FailureReason)
	}
	qs := cloneQuotes(quotes)
	for i := range qs {
		if qs[i].Currency == "" {
			qs[i].Currency = q.Currency
		}
		if qs[i].Currency != q.Currency {
			return nil, apperr.Field("quotes", "quote %d (%s) is in %s, but the quotation is in %s", i, qs[i].Insurer, qs[i].Currency, q.Currency)
		}
	}
	if err := checkQuotes(qs); err != nil {
		return nil, err
	}
	return []event.Payload{&Generated{
		QuotationID: q.ID,
		CustomerID:  q.CustomerID,
		Product:     q.Product,
		SumInsured:  q.SumInsured,
		Currency:    q.Currency,
		Quotes:      qs,
	}}, nil
}

// Fail decides that no quotes could be produced, for reason. It returns one
// *GenerationFailed, or no events when the quotation already failed. From
// "generated" it returns apperr.Conflict; a blank reason is apperr.Invalid
// (Field "reason").
func (q *Quotation) Fail(reason string, now time.Time) ([]event.Payload, error) {
	if err := q.exists(); err != nil {
		return nil, err
	}
	switch q.Status {
	case StatusFailed:
		return nil, nil
	case StatusGenerated:
		return nil, apperr.New(apperr.Conflict, "quotation %s already has quotes; it cannot fail", q.ID)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "is required: say why no quotes could be produced")
	}
	return []event.Payload{&GenerationFailed{QuotationID: q.ID, Reason: reason}}, nil
}

// Cheapest returns the quote with the lowest premium among those not
// declined (the first one on a tie), and false when there is none.
func (q *Quotation) Cheapest() (rating.Quote, bool) {
	best := -1
	for i, qt := range q.Quotes {
		if qt.Declined {
			continue
		}
		if best < 0 || qt.Premium < q.Quotes[best].Premium {
			best = i
		}
	}
	if best < 0 {
		return rating.Quote{}, false
	}
	return q.Quotes[best], true
}

// RatingRequest returns the request to price this quotation as of asOf, with
// Details decoded into the product's typed details.
func (q *Quotation) RatingRequest(asOf time.Time) (rating.Request, error) {
	if err := q.exists(); err != nil {
		return rating.Request{}, err
	}
	m, h, err := decodeDetails(rating.Product(q.Product), q.Details)
	if err != nil {
		return rating.Request{}, fmt.Errorf("quotation %s: stored details: %s", q.ID, err.Error())
	}
	return rating.Request{
		Product:    rating.Product(q.Product),
		SumInsured: q.SumInsured,
		Currency:   q.Currency,
		Motor:      m,
		Health:     h,
		AsOf:       asOf,
	}, nil
}

// checkQuotes checks the quotes of a QuotationGenerated. Errors are
// apperr.Invalid for Field "quotes".
func checkQuotes(qs []rating.Quote) error {
	if len(qs) == 0 {
		return apperr.Field("quotes", "at least one quote is needed; record a failure when no insurer could quote")
	}
	seen := make(map[string]bool, len(qs))
	for i, qt := range qs {
		switch {
		case strings.TrimSpace(qt.Insurer) == "":
			return apperr.Field("quotes", "quote %d has no insurer", i)
		case seen[qt.Insurer]:
			return apperr.Field("quotes", "insurer %q is quoted more than once", qt.Insurer)
		case qt.Declined && strings.TrimSpace(qt.DeclineReason) == "":
			return apperr.Field("quotes", "the declined quote of %q has no decline reason", qt.Insurer)
		case qt.Declined && qt.Premium != 0:
			return apperr.Field("quotes", "the declined quote of %q has premium %d; a declined quote has none", qt.Insurer, qt.Premium)
		case !qt.Declined && qt.Premium <= 0:
			return apperr.Field("quotes", "the quote of %q has premium %d; it must be greater than zero", qt.Insurer, qt.Premium)
		case qt.Currency == "":
			return apperr.Field("quotes", "the quote of %q has no currency", qt.Insurer)
		}
		seen[qt.Insurer] = true
	}
	return nil
}

// cloneQuotes copies qs deeply, so that events and aggregates share nothing
// with the caller.
func cloneQuotes(qs []rating.Quote) []rating.Quote {
	if qs == nil {
		return nil
	}
	out := make([]rating.Quote, len(qs))
	for i, q := range qs {
		q.AddOns = slices.Clone(q.AddOns)
		if q.Breakdown != nil {
			b := *q.Breakdown
			q.Breakdown = &b
		}
		out[i] = q
	}
	return out
}
