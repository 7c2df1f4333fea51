package projection

import (
	"context"

	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/policy"
)

// policySQL is the policies read model's SQL for one target.
type policySQL struct {
	created, renewed, warned, document string
}

// policies is the policies read model, whose end_date index is the expiry
// calendar. It also takes the id of a policy's schedule from PDFGenerated.
type policies struct{ sql [len(targets)]policySQL }

func newPolicies() *policies {
	p := &policies{}
	for _, to := range targets {
		r := func(s string) string { return render(s, to, "policies") }
		p.sql[to] = policySQL{
			created: r(`INSERT INTO {policies} (id, customer_id, quotation_id, policy_number, insurer, product, premium, sum_insured, currency,
				start_date, end_date, status, renewals, version, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', 0, $12, $13, $13)`),
			renewed: r(`UPDATE {policies} SET start_date = $2, end_date = $3, premium = $4, sum_insured = $5, renewals = renewals + 1,
				previous_start_date = $8, version = $6, updated_at = $7 WHERE id = $1`),
			warned:   r(`UPDATE {policies} SET version = $2, updated_at = $3 WHERE id = $1`),
			document: r(`UPDATE {policies} SET document_id = $2 WHERE id = $1`),
		}
	}
	return p
}

func (*policies) Name() string { return NamePolicies }

func (*policies) Events() []string {
	return []string{policy.EventCreated, policy.EventRenewed, policy.EventExpiringWarning, document.Generated{}.EventName()}
}

func (*policies) Tables() []string { return []string{"policies"} }

func (pp *policies) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	s := &pp.sql[to]
	at, v := env.OccurredAt.UTC(), env.AggregateVersion
	if e, ok := event.As[policy.Created](p); ok {
		var quotationID *string // NULL, not "", for a policy bought without a quotation
		if e.QuotationID != "" {
			quotationID = &e.QuotationID
		}
		_, err := tx.Exec(ctx, s.created, e.PolicyID, e.CustomerID, quotationID, e.PolicyNumber, e.Insurer, e.Product, e.Premium,
			e.SumInsured, e.Currency, e.StartDate.Time, e.EndDate.Time, v, at)
		return err
	}
	if e, ok := event.As[policy.Renewed](p); ok {
		_, err := tx.Exec(ctx, s.renewed, e.PolicyID, e.StartDate.Time, e.EndDate.Time, e.Premium, e.SumInsured, v, at, e.PreviousStartDate.Time)
		return err
	}
	if e, ok := event.As[policy.ExpiringWarning](p); ok {
		_, err := tx.Exec(ctx, s.warned, e.PolicyID, v, at)
		return err
	}
	if e, ok := event.As[document.Generated](p); ok && e.SubjectType == policy.AggregateType {
		_, err := tx.Exec(ctx, s.document, e.SubjectID, e.DocumentID)
		return err
	}
	return nil
}
