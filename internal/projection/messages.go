package projection

import (
	"context"
	"encoding/json"
	"time"

	"insure/internal/communication"
	"insure/internal/database"
	"insure/internal/event"
)

// UncertainNote is the message log's note on a send whose outcome is
// uncertain (see communication.MessageSent.Uncertain).
const UncertainNote = "delivery uncertain: an earlier attempt's reply from the provider was lost; insure did not send again, to avoid a duplicate"

// messageSQL is the communication log's SQL for one target.
type messageSQL struct {
	queued, sent, requeued, delivered, failed, skipped string
}

// messages is the communication log: one row per email or WhatsApp message.
type messages struct{ sql [len(targets)]messageSQL }

func newMessages() *messages {
	m := &messages{}
	for _, to := range targets {
		r := func(s string) string { return render(s, to, "messages") }
		m.sql[to] = messageSQL{
			queued: r(`INSERT INTO {messages} (id, customer_id, channel, template, recipient_role, priority, status, document_ids, source_event_id,
				version, queued_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $10)`),
			sent: r(`UPDATE {messages} SET status = 'sent', provider_message_id = $2, sent_at = $3, error = $4, version = $5, updated_at = $6
				WHERE id = $1`),
			requeued:  r(`UPDATE {messages} SET status = 'queued', error = NULL, version = $2, updated_at = $3 WHERE id = $1`),
			delivered: r(`UPDATE {messages} SET status = 'delivered', version = $2, updated_at = $3 WHERE id = $1`),
			failed:    r(`UPDATE {messages} SET status = 'failed', error = $2, version = $3, updated_at = $4 WHERE id = $1`),
			skipped:   r(`UPDATE {messages} SET status = 'skipped', error = $2, version = $3, updated_at = $4 WHERE id = $1`),
		}
	}
	return m
}

func (*messages) Name() string { return NameMessages }

func (*messages) Events() []string {
	return []string{communication.EventEmailQueued, communication.EventWhatsAppQueued, communication.EventSent, communication.EventRequeued,
		communication.EventDelivered, communication.EventFailed, communication.EventSkipped}
}

func (*messages) Tables() []string { return []string{"messages"} }

func (m *messages) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	s := &m.sql[to]
	at, v := env.OccurredAt.UTC(), env.AggregateVersion
	exec := func(q string, args ...any) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	}
	if e, ok := event.As[communication.EmailQueued](p); ok {
		docs := make([]string, 0, len(e.Attachments))
		for _, a := range e.Attachments {
			docs = append(docs, a.DocumentID)
		}
		return m.insert(ctx, tx, s.queued, e.MessageID, e.CustomerID, "email", e.Template, e.RecipientRole, e.Priority, docs, e.SourceEventID, v, at)
	}
	if e, ok := event.As[communication.WhatsAppMessageQueued](p); ok {
		docs := []string{}
		if e.DocumentID != "" {
			docs = append(docs, e.DocumentID)
		}
		return m.insert(ctx, tx, s.queued, e.MessageID, e.CustomerID, "whatsapp", e.Template, "customer", e.Priority, docs, e.SourceEventID, v, at)
	}
	if e, ok := event.As[communication.MessageSent](p); ok {
		var note *string
		if e.Uncertain {
			s := UncertainNote
			note = &s
		}
		return exec(s.sent, e.MessageID, e.ProviderMessageID, e.SentAt.UTC(), note, v, at)
	}
	if e, ok := event.As[communication.MessageRequeued](p); ok {
		return exec(s.requeued, e.MessageID, v, at)
	}
	if e, ok := event.As[communication.MessageDelivered](p); ok {
		return exec(s.delivered, e.MessageID, v, at)
	}
	if e, ok := event.As[communication.MessageFailed](p); ok {
		return exec(s.failed, e.MessageID, e.Reason, v, at)
	}
	if e, ok := event.As[communication.MessageSkipped](p); ok {
		return exec(s.skipped, e.MessageID, e.Reason, v, at)
	}
	return nil
}

func (*messages) insert(ctx context.Context, tx database.Tx, q, id, customerID, channel, template, role, priority string, docs []string, source string, v int64, at time.Time) error {
	var cust *string
	if customerID != "" {
		cust = &customerID
	}
	raw, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, q, id, cust, channel, template, role, priority, string(raw), source, v, at)
	return err
}
