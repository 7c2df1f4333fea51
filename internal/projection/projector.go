package projection

import (
	"context"
	"encoding/json"
	"time"

	"insure/internal/audit"
	"insure/internal/communication"
	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/personal"
	"insure/internal/policy"
	"insure/internal/quotation"
)

// UncertainNote is the message log's note on a send whose outcome is
// uncertain (see communication.MessageSent.Uncertain).
const UncertainNote = "delivery uncertain: an earlier attempt's reply from the provider was lost; insure did not send again, to avoid a duplicate"

// Projector updates the read models for one event. Vault seals the
// customers' personal data and computes its blind indexes; it is required
// for customer events (Project fails on them without one).
type Projector struct {
	Vault *personal.Vault
}

// Project implements recorder.Projector.
func (pr Projector) Project(ctx context.Context, tx database.Tx, env event.Envelope, p event.Payload) error {
	at := env.OccurredAt.UTC()
	v := env.AggregateVersion
	exec := func(q string, args ...any) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	}
	if handled, err := pr.projectCustomer(ctx, tx, env, p); handled {
		return err
	}
	if e, ok := event.As[quotation.Requested](p); ok {
		return exec(`INSERT INTO quotations (id, customer_id, product, sum_insured, currency, details, status, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $8, $8)`,
			e.QuotationID, e.CustomerID, e.Product, e.SumInsured, e.Currency, string(e.Details), v, at)
	}
	if e, ok := event.As[quotation.Generated](p); ok {
		quotes, err := json.Marshal(e.Quotes)
		if err != nil {
			return err
		}
		return exec(`UPDATE quotations SET status = 'generated', quotes = $2, version = $3, updated_at = $4 WHERE id = $1`,
			e.QuotationID, string(quotes), v, at)
	}
	if e, ok := event.As[quotation.GenerationFailed](p); ok {
		return exec(`UPDATE quotations SET status = 'failed', failure_reason = $2, version = $3, updated_at = $4 WHERE id = $1`,
			e.QuotationID, e.Reason, v, at)
	}
	if e, ok := event.As[policy.Created](p); ok {
		var quotationID *string // NULL, not "", for a policy bought without a quotation
		if e.QuotationID != "" {
			quotationID = &e.QuotationID
		}
		return exec(`INSERT INTO policies (id, customer_id, quotation_id, policy_number, insurer, product, premium, sum_insured, currency,
			start_date, end_date, status, renewals, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', 0, $12, $13, $13)`,
			e.PolicyID, e.CustomerID, quotationID, e.PolicyNumber, e.Insurer, e.Product, e.Premium, e.SumInsured, e.Currency,
			e.StartDate.Time, e.EndDate.Time, v, at)
	}
	if e, ok := event.As[policy.Renewed](p); ok {
		return exec(`UPDATE policies SET start_date = $2, end_date = $3, premium = $4, sum_insured = $5, renewals = renewals + 1,
			previous_start_date = $8, version = $6, updated_at = $7 WHERE id = $1`,
			e.PolicyID, e.StartDate.Time, e.EndDate.Time, e.Premium, e.SumInsured, v, at, e.PreviousStartDate.Time)
	}
	if e, ok := event.As[policy.ExpiringWarning](p); ok {
		return exec(`UPDATE policies SET version = $2, updated_at = $3 WHERE id = $1`, e.PolicyID, v, at)
	}
	if e, ok := event.As[communication.EmailQueued](p); ok {
		docs := make([]string, 0, len(e.Attachments))
		for _, a := range e.Attachments {
			docs = append(docs, a.DocumentID)
		}
		return insertMessage(ctx, tx, e.MessageID, e.CustomerID, "email", e.Template, e.RecipientRole, e.Priority, docs, e.SourceEventID, v, at)
	}
	if e, ok := event.As[communication.WhatsAppMessageQueued](p); ok {
		docs := []string{}
		if e.DocumentID != "" {
			docs = append(docs, e.DocumentID)
		}
		return insertMessage(ctx, tx, e.MessageID, e.CustomerID, "whatsapp", e.Template, "customer", e.Priority, docs, e.SourceEventID, v, at)
	}
	if e, ok := event.As[communication.MessageSent](p); ok {
		var note *string
		if e.Uncertain {
			s := UncertainNote
			note = &s
		}
		return exec(`UPDATE messages SET status = 'sent', provider_message_id = $2, sent_at = $3, error = $4, version = $5, updated_at = $6 WHERE id = $1`,
			e.MessageID, e.ProviderMessageID, e.SentAt.UTC(), note, v, at)
	}
	if e, ok := event.As[communication.MessageRequeued](p); ok {
		return exec(`UPDATE messages SET status = 'queued', error = NULL, version = $2, updated_at = $3 WHERE id = $1`, e.MessageID, v, at)
	}
	if e, ok := event.As[communication.MessageDelivered](p); ok {
		return exec(`UPDATE messages SET status = 'delivered', version = $2, updated_at = $3 WHERE id = $1`, e.MessageID, v, at)
	}
	if e, ok := event.As[communication.MessageFailed](p); ok {
		return exec(`UPDATE messages SET status = 'failed', error = $2, version = $3, updated_at = $4 WHERE id = $1`, e.MessageID, e.Reason, v, at)
	}
	if e, ok := event.As[communication.MessageSkipped](p); ok {
		return exec(`UPDATE messages SET status = 'skipped', error = $2, version = $3, updated_at = $4 WHERE id = $1`, e.MessageID, e.Reason, v, at)
	}
	if e, ok := event.As[document.GenerationRequested](p); ok {
		return exec(`INSERT INTO documents (id, kind, subject_type, subject_id, status, content_type, requested_at)
			VALUES ($1, $2, $3, $4, 'requested', 'application/pdf', $5)`, e.DocumentID, e.Kind, e.SubjectType, e.SubjectID, at)
	}
	if e, ok := event.As[document.Generated](p); ok {
		if err := exec(`UPDATE documents SET status = 'generated', content_type = $2, size = $3, sha256 = $4, generated_at = $5 WHERE id = $1`,
			e.DocumentID, e.ContentType, e.Size, e.SHA256, at); err != nil {
			return err
		}
		switch e.SubjectType {
		case quotation.AggregateType:
			return exec(`UPDATE quotations SET document_id = $2 WHERE id = $1`, e.SubjectID, e.DocumentID)
		case policy.AggregateType:
			return exec(`UPDATE policies SET document_id = $2 WHERE id = $1`, e.SubjectID, e.DocumentID)
		}
		return nil
	}
	if e, ok := event.As[audit.DataAccessed](p); ok {
		return exec(`INSERT INTO access_log (id, actor, role, action, subject_type, subject_id, ip, user_agent, request_id, accessed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			env.AggregateID, e.Actor, e.Role, e.Action, e.SubjectType, e.SubjectID, e.IP, e.UserAgent, e.RequestID, at)
	}
	if e, ok := event.As[audit.ActionLogged](p); ok {
		return exec(`INSERT INTO audit_log (id, customer_id, action, source_event_id, source_event_name, actor, occurred_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, env.EventID, e.CustomerID, e.Action, e.SourceEventID, e.SourceEventName, e.Actor, at)
	}
	return nil
}

func insertMessage(ctx context.Context, tx database.Tx, id, customerID, channel, template, role, priority string, docs []string, source string, v int64, at time.Time) error {
	var cust *string
	if customerID != "" {
		cust = &customerID
	}
	raw, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO messages (id, customer_id, channel, template, recipient_role, priority, status, document_ids, source_event_id, version, queued_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $10)`,
		id, cust, channel, template, role, priority, string(raw), source, v, at)
	return err
}
