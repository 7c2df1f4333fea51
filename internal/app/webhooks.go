package app

import (
	"context"
	"errors"
	"fmt"

	"insure/internal/apperr"
	"insure/internal/communication"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/recorder"
)

// WebhookService records what providers report about messages after they
// were sent.
type WebhookService struct{ Deps }

// NewWebhookService returns the service.
func NewWebhookService(d Deps) *WebhookService { return &WebhookService{d} }

// WhatsAppStatuses records delivery reports: "delivered" and "read" mark the
// message delivered, "failed" marks it failed with the provider's error,
// "sent" changes nothing. Reports for messages insure does not know are
// ignored. A report that arrives before insure has recorded the send answers
// Unavailable, so the provider retries it later.
func (s *WebhookService) WhatsAppStatuses(ctx context.Context, ec event.Context, statuses []WhatsAppStatus) (err error) {
	ctx, end := s.startCommand(ctx, "RecordWhatsAppStatuses")
	defer func() { end(err) }()
	for _, st := range statuses {
		if err := s.whatsAppStatus(ctx, ec, st); err != nil {
			return err
		}
	}
	return nil
}

func (s *WebhookService) whatsAppStatus(ctx context.Context, ec event.Context, st WhatsAppStatus) error {
	if st.Status == "sent" {
		return nil
	}
	var id string
	err := s.db().QueryRow(ctx, `SELECT id FROM messages WHERE provider_message_id = $1 AND channel = 'whatsapp'`, st.ProviderMessageID).Scan(&id)
	if errors.Is(err, database.ErrNoRows) {
		// Not in the message log yet (the report can overtake the
		// recording of the send), or not ours: keep it until the delivery
		// listener records a send with this id (ApplyPending).
		_, err := s.db().Exec(ctx, `INSERT INTO pending_delivery_reports (provider_message_id, status, reported_at, error_code, error_title, received_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_message_id, status) DO NOTHING`,
			st.ProviderMessageID, st.Status, st.Timestamp.UTC(), st.ErrorCode, st.ErrorTitle, s.Now().UTC())
		if err != nil {
			return recorder.MapError(err)
		}
		// Look again: if the send was recorded meanwhile, its listener may
		// have checked for pending reports before this one was stored.
		// (Store, then look; the listener records, then looks: one of the
		// two always sees the other.)
		var again string
		err = s.db().QueryRow(ctx, `SELECT id FROM messages WHERE provider_message_id = $1 AND channel = 'whatsapp'`, st.ProviderMessageID).Scan(&again)
		if errors.Is(err, database.ErrNoRows) {
			return nil
		}
		if err != nil {
			return recorder.MapError(err)
		}
		return s.applyPending(ctx, ec, st.ProviderMessageID)
	}
	if err != nil {
		return recorder.MapError(err)
	}
	for try := 0; try < 3; try++ {
		envs, err := s.load(ctx, nil, communication.AggregateType, "message", id)
		if err != nil {
			return err
		}
		m, err := communication.Rebuild(envs, s.reg())
		if err != nil {
			return domainError(err, "message "+id)
		}
		if m.Status == communication.StatusQueued {
			return apperr.New(apperr.Unavailable, "message %s: its send is not recorded yet; deliver this report again later", id)
		}
		var evs []event.Payload
		switch st.Status {
		case "delivered", "read":
			evs, err = m.MarkDelivered(st.Timestamp)
		case "failed":
			evs, err = m.MarkDeliveryFailed(fmt.Sprintf("WhatsApp reported the delivery failed: %d %s", st.ErrorCode, st.ErrorTitle), s.Now())
		default:
			return apperr.Field("status", "unknown delivery status %q", st.Status)
		}
		if apperr.IsCode(err, apperr.Conflict) {
			return nil // e.g. "delivered" after "failed": keep the first outcome
		}
		if err != nil || len(evs) == 0 {
			return err
		}
		_, err = s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: communication.AggregateType, AggregateID: id, ExpectedVersion: m.Version, Events: evs})
		if !apperr.IsCode(err, apperr.Conflict) {
			return err
		}
	}
	return apperr.New(apperr.Conflict, "message %s kept changing while its delivery report was recorded; send the report again", id)
}

// ApplyPending applies the delivery reports that arrived for providerID
// before its send was recorded, and forgets them.
func (s *WebhookService) ApplyPending(ctx context.Context, ec event.Context, providerID string) (err error) {
	ctx, end := s.startCommand(ctx, "ApplyPendingDeliveryReports")
	defer func() { end(err) }()
	return s.applyPending(ctx, ec, providerID)
}

func (s *WebhookService) applyPending(ctx context.Context, ec event.Context, providerID string) error {
	rows, err := s.db().Query(ctx, `SELECT status, reported_at, error_code, error_title FROM pending_delivery_reports
		WHERE provider_message_id = $1 ORDER BY reported_at`, providerID)
	if err != nil {
		return recorder.MapError(err)
	}
	var pending []WhatsAppStatus
	for rows.Next() {
		st := WhatsAppStatus{ProviderMessageID: providerID}
		if err := rows.Scan(&st.Status, &st.Timestamp, &st.ErrorCode, &st.ErrorTitle); err != nil {
			rows.Close()
			return err
		}
		pending = append(pending, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, st := range pending {
		if err := s.whatsAppStatus(ctx, ec, st); err != nil {
			return err
		}
		if _, err := s.db().Exec(ctx, `DELETE FROM pending_delivery_reports WHERE provider_message_id = $1 AND status = $2`, providerID, st.Status); err != nil {
			return recorder.MapError(err)
		}
	}
	return nil
}
