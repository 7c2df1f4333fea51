package app

import (
	"context"
	"slices"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/rating"
	"insure/internal/recorder"
	"insure/internal/snapshot"
)

// PolicyService issues, renews and watches policies.
type PolicyService struct {
	Deps
	Rates    *rating.Table
	Currency string
}

// NewPolicyService returns the service.
func NewPolicyService(d Deps, rates *rating.Table, currency string) *PolicyService {
	return &PolicyService{Deps: d, Rates: rates, Currency: currency}
}

// Create issues a policy: it records PolicyCreated, which starts the policy
// schedule PDF, the confirmation and the audit record.
func (s *PolicyService) Create(ctx context.Context, ec event.Context, cmd policy.Create) (_ projection.Policy, err error) {
	ctx, end := s.startCommand(ctx, "CreatePolicy")
	defer func() { end(err) }()
	if cmd.Currency == "" {
		cmd.Currency = s.Currency
	}
	if err := cmd.Validate(); err != nil {
		return projection.Policy{}, err
	}
	if !slices.Contains(s.Rates.Insurers(), cmd.Insurer) {
		return projection.Policy{}, apperr.Field("insurer", "unknown insurer %q; known insurers: %v", cmd.Insurer, s.Rates.Insurers())
	}
	if err := s.customerExists(ctx, nil, "customer_id", cmd.CustomerID); err != nil {
		return projection.Policy{}, err
	}
	if cmd.QuotationID != nil {
		qt, err := s.Reader.Quotation(ctx, *cmd.QuotationID)
		if apperr.IsCode(err, apperr.NotFound) {
			return projection.Policy{}, apperr.Field("quotation_id", "no quotation has id %s", *cmd.QuotationID)
		}
		if err != nil {
			return projection.Policy{}, err
		}
		if qt.CustomerID != cmd.CustomerID {
			return projection.Policy{}, apperr.Field("quotation_id", "belongs to another customer")
		}
		if qt.Product != cmd.Product {
			return projection.Policy{}, apperr.Field("product", "is %s but the quotation is for %s", cmd.Product, qt.Product)
		}
	}
	id := event.NewID()
	evs, err := policy.CreatePolicy(id, cmd, s.Now())
	if err != nil {
		return projection.Policy{}, err
	}
	if _, err := s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: policy.AggregateType, AggregateID: id, Events: evs}); err != nil {
		return projection.Policy{}, err
	}
	return s.Reader.Policy(ctx, id, s.Now())
}

// policyStream is how policies load and snapshot. A policy holds no
// personal data (ids, amounts, dates): its snapshot is stored in clear.
func policyStream() stream[policy.Policy] {
	return stream[policy.Policy]{
		what:        "policy",
		kind:        snapshot.Kind[policy.Policy]{AggregateType: policy.AggregateType, SchemaVersion: policy.SnapshotSchemaVersion},
		rebuildFrom: policy.RebuildFrom,
		version:     func(p *policy.Policy) int64 { return p.Version },
	}
}

// Aggregate rebuilds a policy from its newest snapshot and the events after
// it (see loadAggregate). q is the caller's transaction, or nil.
func (s *PolicyService) Aggregate(ctx context.Context, q database.Querier, id string) (*policy.Policy, error) {
	return loadAggregate(ctx, s.Deps, q, policyStream(), id)
}

// GetAsOf returns the policy as it was at asOf: rebuilt from the events
// that had occurred by then (never from a snapshot), with its status and
// days to expiry computed for asOf's day (UTC). A time after the last event
// gives the current terms. It fails with apperr.NotFound when the policy
// did not exist yet at asOf, or never did. The view has no document_id:
// the policy's events do not say when its schedule was generated.
func (s *PolicyService) GetAsOf(ctx context.Context, id string, asOf time.Time) (projection.Policy, error) {
	envs, err := s.loadUntil(ctx, policy.AggregateType, "policy", id, asOf)
	if err != nil {
		return projection.Policy{}, err
	}
	p, err := policy.Rebuild(envs, s.reg())
	if err != nil {
		return projection.Policy{}, domainError(err, "policy "+id)
	}
	return policyView(p, asOf), nil
}

// policyView is the read-model view of a policy aggregate on asOf's day,
// with status and days to expiry computed as the read model computes them.
func policyView(p *policy.Policy, asOf time.Time) projection.Policy {
	day := policy.DateOf(asOf.UTC())
	v := projection.Policy{
		ID:           p.ID,
		CustomerID:   p.CustomerID,
		PolicyNumber: p.Number,
		Insurer:      p.Insurer,
		Product:      p.Product,
		Premium:      p.Premium,
		SumInsured:   p.SumInsured,
		Currency:     p.Currency,
		StartDate:    p.StartDate.String(),
		EndDate:      p.EndDate.String(),
		Status:       p.Status(day),
		DaysToExpiry: policy.DaysBetween(day, p.EndDate),
		Renewals:     p.Renewals,
		Version:      p.Version,
		CreatedAt:    p.CreatedAt.UTC(),
		UpdatedAt:    p.UpdatedAt.UTC(),
	}
	if p.QuotationID != "" {
		qid := p.QuotationID
		v.QuotationID = &qid
	}
	return v
}

// Renew extends an active or expiring policy by a new term.
func (s *PolicyService) Renew(ctx context.Context, ec event.Context, id string, cmd policy.Renew) (_ projection.Policy, err error) {
	ctx, end := s.startCommand(ctx, "RenewPolicy")
	defer func() { end(err) }()
	p, err := s.Aggregate(ctx, nil, id)
	if err != nil {
		return projection.Policy{}, err
	}
	evs, err := p.Renew(cmd, policy.DateOf(s.Now()))
	if err != nil {
		return projection.Policy{}, err
	}
	if _, err := s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: policy.AggregateType, AggregateID: id, ExpectedVersion: p.Version, Events: evs}); err != nil {
		return projection.Policy{}, err
	}
	return s.Reader.Policy(ctx, id, s.Now())
}

// Get returns one policy.
func (s *PolicyService) Get(ctx context.Context, id string) (projection.Policy, error) {
	return s.Reader.Policy(ctx, id, s.Now())
}

// List lists policies by expiry date.
func (s *PolicyService) List(ctx context.Context, expiringWithinDays *int, after string, limit int) ([]projection.Policy, string, error) {
	return s.Reader.Policies(ctx, expiringWithinDays, s.Now(), after, limit)
}

// ScanExpiring records a PolicyExpiringWarning for every policy that has
// crossed an expiry threshold (30, 15, 7 or 1 days) as of asOf (today when
// nil): once per policy and threshold, and only the nearest threshold. A
// second scan on the same day warns nothing new; two scans at once cannot
// both warn, because each warning is appended at the version it was decided on.
func (s *PolicyService) ScanExpiring(ctx context.Context, ec event.Context, asOf *time.Time) (_ ScanReport, err error) {
	ctx, end := s.startCommand(ctx, "ScanExpiringPolicies")
	defer func() { end(err) }()
	day := policy.DateOf(s.Now())
	if asOf != nil {
		day = policy.DateOf(*asOf)
	}
	report := ScanReport{AsOf: day.String(), Warned: []Warning{}}
	ids, err := s.Reader.ExpiringPolicyIDs(ctx, day.Time, day.AddDays(policy.Thresholds()[0]).Time)
	if err != nil {
		return report, recorder.MapError(err)
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		report.Scanned++
		p, err := s.Aggregate(ctx, nil, id)
		if err != nil {
			return report, err
		}
		evs, err := p.WarnExpiry(day)
		if err != nil {
			return report, err
		}
		if len(evs) == 0 {
			continue
		}
		rec, err := s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: policy.AggregateType, AggregateID: id, ExpectedVersion: p.Version, Events: evs})
		if apperr.IsCode(err, apperr.Conflict) {
			continue // another scan (or a renewal) got there first
		}
		if err != nil {
			return report, err
		}
		for _, r := range rec {
			if w, ok := event.As[policy.ExpiringWarning](r.Payload); ok {
				report.Warned = append(report.Warned, Warning{PolicyID: w.PolicyID, PolicyNumber: w.PolicyNumber, EndDate: w.EndDate.String(),
					DaysLeft: w.DaysLeft, Threshold: w.Threshold, Urgency: w.Urgency, EventID: r.EventID})
			}
		}
	}
	return report, nil
}
