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
func (s *WebhookService) WhatsAppStatuses(ctx context.Context, ec event.Context, statuses []WhatsAppStatus) error {
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
		return nil
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
