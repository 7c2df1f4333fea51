package projection

import (
	"context"
	"encoding/json"

	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/quotation"
)

// quotationSQL is the quotations read model's SQL for one target.
type quotationSQL struct {
	requested, generated, failed, document string
}

// quotations is the quotations read model. It also takes the id of a
// quotation's document from PDFGenerated, so that it owns every column it
// holds and can be rebuilt on its own.
type quotations struct{ sql [len(targets)]quotationSQL }

func newQuotations() *quotations {
	q := &quotations{}
	for _, to := range targets {
		r := func(s string) string { return render(s, to, "quotations") }
		q.sql[to] = quotationSQL{
			requested: r(`INSERT INTO {quotations} (id, customer_id, product, sum_insured, currency, details, status, version, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $8, $8)`),
			generated: r(`UPDATE {quotations} SET status = 'generated', quotes = $2, version = $3, updated_at = $4 WHERE id = $1`),
			failed:    r(`UPDATE {quotations} SET status = 'failed', failure_reason = $2, version = $3, updated_at = $4 WHERE id = $1`),
			document:  r(`UPDATE {quotations} SET document_id = $2 WHERE id = $1`),
		}
	}
	return q
}

func (*quotations) Name() string { return NameQuotations }

func (*quotations) Events() []string {
	return []string{quotation.EventRequested, quotation.EventGenerated, quotation.EventGenerationFailed, document.Generated{}.EventName()}
}

func (*quotations) Tables() []string { return []string{"quotations"} }

func (q *quotations) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	s := &q.sql[to]
	at, v := env.OccurredAt.UTC(), env.AggregateVersion
	if e, ok := event.As[quotation.Requested](p); ok {
		_, err := tx.Exec(ctx, s.requested, e.QuotationID, e.CustomerID, e.Product, e.SumInsured, e.Currency, string(e.Details), v, at)
		return err
	}
	if e, ok := event.As[quotation.Generated](p); ok {
		quotes, err := json.Marshal(e.Quotes)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.generated, e.QuotationID, string(quotes), v, at)
		return err
	}
	if e, ok := event.As[quotation.GenerationFailed](p); ok {
		_, err := tx.Exec(ctx, s.failed, e.QuotationID, e.Reason, v, at)
		return err
	}
	if e, ok := event.As[document.Generated](p); ok && e.SubjectType == quotation.AggregateType {
		_, err := tx.Exec(ctx, s.document, e.SubjectID, e.DocumentID)
		return err
	}
	return nil
}
