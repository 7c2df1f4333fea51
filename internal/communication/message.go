package communication

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
)

// The statuses of a message.
const (
	StatusQueued  = "queued"
	StatusSent    = "sent"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	// StatusDelivered: the provider reported the message delivered.
	StatusDelivered = "delivered"
)

// MaxAttachments is the most attachments one e-mail may carry.
const MaxAttachments = 10

// Email is what to queue as an e-mail.
type Email struct {
	// CustomerID is the customer the mail goes to; empty for RoleAdmin.
	CustomerID string
	// RecipientRole is RoleCustomer or RoleAdmin.
	RecipientRole string
	// Template is one of EmailTemplates().
	Template string
	// Priority is PriorityHigh or PriorityNormal (the default).
	Priority      string
	Attachments   []Attachment
	SourceEventID string
}

// WhatsApp is what to queue as a WhatsApp message.
type WhatsApp struct {
	CustomerID string
	// Template is one of WhatsAppTemplates().
	Template string
	// Priority is PriorityHigh or PriorityNormal (the default).
	Priority string
	// DocumentID is a document to send with the message, if any.
	DocumentID    string
	SourceEventID string
}

// QueueEmail decides to queue an e-mail as message id (a UUID chosen by the
// caller). It returns one *EmailQueued, or an apperr.Invalid error naming the
// field (customer_id, recipient_role, template, priority, attachments,
// source_event_id) that breaks a rule: the admin_registration template goes
// to RoleAdmin without a customer, every other template to RoleCustomer with
// a customer id; at most MaxAttachments attachments, each with a document id,
// name and content type.
func QueueEmail(id string, cmd Email) ([]event.Payload, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.Internal, "queue email: id %q is not a UUID", id)
	}
	if cmd.Priority == "" {
		cmd.Priority = PriorityNormal
	}
	if err := checkEmail(cmd); err != nil {
		return nil, err
	}
	attachments := make([]Attachment, len(cmd.Attachments))
	copy(attachments, cmd.Attachments)
	return []event.Payload{&EmailQueued{
		MessageID:     id,
		CustomerID:    cmd.CustomerID,
		RecipientRole: cmd.RecipientRole,
		Template:      cmd.Template,
		Priority:      cmd.Priority,
		Attachments:   attachments,
		SourceEventID: cmd.SourceEventID,
	}}, nil
}

// QueueWhatsApp decides to queue a WhatsApp message as message id (a UUID
// chosen by the caller). It returns one *WhatsAppMessageQueued, or an
// apperr.Invalid error naming the field (customer_id, template, priority,
// source_event_id) that breaks a rule. Whether WhatsApp is enabled and the
// customer opted in is the listener's to check; it records MessageSkipped
// when not.
func QueueWhatsApp(id string, cmd WhatsApp) ([]event.Payload, error) {
	if !event.ValidID(id) {
		return nil, apperr.New(apperr.Internal, "queue whatsapp: id %q is not a UUID", id)
	}
	if cmd.Priority == "" {
		cmd.Priority = PriorityNormal
	}
	if err := checkWhatsApp(cmd); err != nil {
		return nil, err
	}
	return []event.Payload{&WhatsAppMessageQueued{
		MessageID:     id,
		CustomerID:    cmd.CustomerID,
		Template:      cmd.Template,
		Priority:      cmd.Priority,
		DocumentID:    cmd.DocumentID,
		SourceEventID: cmd.SourceEventID,
	}}, nil
}

// checkEmail checks an e-mail whose empty priority means the default.
func checkEmail(c Email) error {
	if !oneOf(c.Template, EmailTemplates()) {
		return apperr.Field("template", "must be one of %s, got %q", strings.Join(EmailTemplates(), ", "), c.Template)
	}
	switch c.RecipientRole {
	case RoleAdmin:
		if c.Template != TemplateAdminRegistration {
			return apperr.Field("recipient_role", "the %s template goes to the customer, not to %q", c.Template, RoleAdmin)
		}
		if c.CustomerID != "" {
			return apperr.Field("customer_id", "must be empty for mail to the administrators")
		}
	case RoleCustomer:
		if c.Template == TemplateAdminRegistration {
			return apperr.Field("recipient_role", "the %s template goes to %q", c.Template, RoleAdmin)
		}
		if err := checkCustomer(c.CustomerID); err != nil {
			return err
		}
	default:
		return apperr.Field("recipient_role", "must be %q or %q, got %q", RoleCustomer, RoleAdmin, c.RecipientRole)
	}
	if err := checkPriority(c.Priority); err != nil {
		return err
	}
	if len(c.Attachments) > MaxAttachments {
		return apperr.Field("attachments", "at most %d attachments, got %d", MaxAttachments, len(c.Attachments))
	}
	for i, a := range c.Attachments {
		switch {
		case strings.TrimSpace(a.DocumentID) == "":
			return apperr.Field("attachments", "attachment %d has no document_id", i)
		case strings.TrimSpace(a.Name) == "":
			return apperr.Field("attachments", "attachment %d has no name", i)
		case strings.TrimSpace(a.ContentType) == "":
			return apperr.Field("attachments", "attachment %d has no content_type", i)
		}
	}
	return checkSource(c.SourceEventID)
}

// checkWhatsApp checks a WhatsApp message whose empty priority means the
// default.
func checkWhatsApp(c WhatsApp) error {
	if err := checkCustomer(c.CustomerID); err != nil {
		return err
	}
	if !oneOf(c.Template, WhatsAppTemplates()) {
		return apperr.Field("template", "must be one of %s, got %q", strings.Join(WhatsAppTemplates(), ", "), c.Template)
	}
	if err := checkPriority(c.Priority); err != nil {
		return err
	}
	return checkSource(c.SourceEventID)
}

func checkCustomer(id string) error {
	if !event.ValidID(id) {
		return apperr.Field("customer_id", "must be a customer id (a UUID), got %q", id)
	}
	return nil
}

func checkPriority(p string) error {
	if p != "" && p != PriorityHigh && p != PriorityNormal {
		return apperr.Field("priority", "must be %q or %q, got %q", PriorityHigh, PriorityNormal, p)
	}
	return nil
}

func checkSource(id string) error {
	if !event.ValidID(id) {
		return apperr.Field("source_event_id", "must be the id (a UUID) of the event that caused the message, got %q", id)
	}
	return nil
}

// Message is the state of one message, rebuilt from its events.
type Message struct {
	ID string `json:"id"`
	// Channel is ChannelEmail or ChannelWhatsApp.
	Channel    string `json:"channel"`
	CustomerID string `json:"customer_id,omitempty"`
	// RecipientRole is RoleCustomer or RoleAdmin (always RoleCustomer for
	// WhatsApp).
	RecipientRole string       `json:"recipient_role"`
	Template      string       `json:"template"`
	Priority      string       `json:"priority"`
	Attachments   []Attachment `json:"attachments,omitempty"`
	// DocumentID is the document sent with a WhatsApp message, if any.
	DocumentID    string `json:"document_id,omitempty"`
	SourceEventID string `json:"source_event_id"`
	// Status is StatusQueued, StatusSent, StatusFailed or StatusSkipped.
	Status            string `json:"status"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	// Error is the reason of a failed or skipped message.
	Error  string    `json:"error,omitempty"`
	SentAt time.Time `json:"sent_at,omitzero"`
	// FailureRetryable: the message failed after temporary errors only,
	// so it may be requeued.
	FailureRetryable bool `json:"failure_retryable,omitempty"`
	// DeliveredAt is when the provider reported the message delivered.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	// Version is the aggregate version of the last applied event.
	Version int64 `json:"version"`
	// QueuedAt and UpdatedAt come from the events' occurred_at.
	QueuedAt  time.Time `json:"queued_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MarkSent decides that the provider accepted the message under providerID.
// It returns one *MessageSent; no events when the message is already sent;
// apperr.Conflict when it failed or was skipped; apperr.Invalid (Field
// "provider_message_id") for a blank providerID.
func (m *Message) MarkSent(providerID string, now time.Time) ([]event.Payload, error) {
	if done, err := m.finish(StatusSent); done || err != nil {
		return nil, err
	}
	providerID = strings.TrimSpace(providerID)
	if providerID == "" {
		return nil, apperr.Field("provider_message_id", "is required: the id the provider gave the message")
	}
	return []event.Payload{&MessageSent{MessageID: m.ID, Channel: m.Channel, ProviderMessageID: providerID, SentAt: now.UTC()}}, nil
}

// MarkFailed decides that the message could not be sent, for reason. It
// returns one *MessageFailed; no events when the message already failed;
// apperr.Conflict when it was sent or skipped; apperr.Invalid (Field
// "reason") for a blank reason.
func (m *Message) MarkFailed(reason string, now time.Time) ([]event.Payload, error) {
	if done, err := m.finish(StatusFailed); done || err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "is required: say why the message could not be sent")
	}
	return []event.Payload{&MessageFailed{MessageID: m.ID, Channel: m.Channel, Reason: reason}}, nil
}

// MarkSkipped decides that the message is deliberately not sent, for reason
// (WhatsApp disabled, the customer opted out). It returns one
// *MessageSkipped; no events when the message was already skipped;
// apperr.Conflict when it was sent or failed; apperr.Invalid (Field "reason")
// for a blank reason.
func (m *Message) MarkSkipped(reason string, now time.Time) ([]event.Payload, error) {
	if done, err := m.finish(StatusSkipped); done || err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "is required: say why the message is not sent")
	}
	return []event.Payload{&MessageSkipped{MessageID: m.ID, Channel: m.Channel, Reason: reason}}, nil
}

// finish reports whether the message already made the transition to status
// (done), or why it cannot.
func (m *Message) finish(status string) (done bool, err error) {
	if m == nil || m.ID == "" {
		return false, apperr.New(apperr.NotFound, "message not found")
	}
	switch m.Status {
	case StatusQueued:
		return false, nil
	case status:
		return true, nil
	}
	return false, apperr.New(apperr.Conflict, "message %s is already %s; it cannot become %s", m.ID, m.Status, status)
}

// MarkGaveUp decides that delivery gave up after temporary failures: the
// message fails, but retrying its dead letter may send it (see Requeue).
func (m *Message) MarkGaveUp(reason string, now time.Time) ([]event.Payload, error) {
	evs, err := m.MarkFailed(reason, now)
	for _, e := range evs {
		if f, ok := e.(*MessageFailed); ok {
			f.Retryable = true
		}
	}
	return evs, err
}

// Requeue puts a message that gave up after temporary failures back in the
// queue. apperr.Conflict for any other message.
func (m *Message) Requeue(reason string, now time.Time) ([]event.Payload, error) {
	if m == nil || m.ID == "" {
		return nil, apperr.New(apperr.NotFound, "message not found")
	}
	if m.Status != StatusFailed || !m.FailureRetryable {
		return nil, apperr.New(apperr.Conflict, "message %s is %s and cannot be sent again", m.ID, m.Status)
	}
	return []event.Payload{&MessageRequeued{MessageID: m.ID, Channel: m.Channel, Reason: reason}}, nil
}

// MarkDelivered decides that the provider delivered the sent message. No
// events when it is already delivered; apperr.Conflict when it was not sent
// (or has failed or been skipped).
func (m *Message) MarkDelivered(at time.Time) ([]event.Payload, error) {
	if m == nil || m.ID == "" {
		return nil, apperr.New(apperr.NotFound, "message not found")
	}
	switch m.Status {
	case StatusDelivered:
		return nil, nil
	case StatusSent:
		return []event.Payload{&MessageDelivered{MessageID: m.ID, Channel: m.Channel, DeliveredAt: at.UTC()}}, nil
	}
	return nil, apperr.New(apperr.Conflict, "message %s is %s; only a sent message can be delivered", m.ID, m.Status)
}

// MarkDeliveryFailed decides that the provider, after accepting the message,
// reported that it could not deliver it. No events when it already failed;
// apperr.Conflict unless it was sent.
func (m *Message) MarkDeliveryFailed(reason string, now time.Time) ([]event.Payload, error) {
	if m == nil || m.ID == "" {
		return nil, apperr.New(apperr.NotFound, "message not found")
	}
	switch m.Status {
	case StatusFailed:
		return nil, nil
	case StatusSent:
		reason = strings.TrimSpace(reason)
		if reason == "" {
			reason = "the provider reported the delivery failed"
		}
		return []event.Payload{&MessageFailed{MessageID: m.ID, Channel: m.Channel, Reason: reason}}, nil
	}
	return nil, apperr.New(apperr.Conflict, "message %s is %s; only a sent message can fail delivery", m.ID, m.Status)
}

// Rebuild returns the message that envs, the events of one message stream
// in version order, describe. It decodes each envelope through reg and
// applies it. It returns an apperr.NotFound error when envs is empty, and an
// error for an event of another aggregate type or another aggregate, a
// version that does not follow the previous one (the first must be 1), an
// event that does not decode, or one that does not apply.
func Rebuild(envs []event.Envelope, reg *event.Registry) (*Message, error) {
	if len(envs) == 0 {
		return nil, apperr.New(apperr.NotFound, "message not found")
	}
	m := &Message{}
	err := event.Replay(envs, reg, AggregateType, func(p event.Payload, at time.Time) (string, error) {
		err := m.ApplyAt(p, at)
		return m.ID, err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Apply applies one event to m and adds one to its Version. It accepts the
// payload types of Events() as pointers or values. It returns an error, and
// leaves m unchanged, for an event of another aggregate, one for another
// message or channel, or one out of order (anything before the message was
// queued, a second queueing, or a second outcome).
func (m *Message) Apply(p event.Payload) error { return m.ApplyAt(p, time.Time{}) }

// ApplyAt is Apply that also records at, the time the event occurred, as
// UpdatedAt (and as QueuedAt for the queued events). A zero at leaves the
// timestamps alone.
func (m *Message) ApplyAt(p event.Payload, at time.Time) error {
	switch e := p.(type) {
	case EmailQueued:
		p = &e
	case WhatsAppMessageQueued:
		p = &e
	case MessageSent:
		p = &e
	case MessageFailed:
		p = &e
	case MessageSkipped:
		p = &e
	case MessageDelivered:
		p = &e
	case MessageRequeued:
		p = &e
	}
	next := *m
	var err error
	switch e := p.(type) {
	case nil:
		return fmt.Errorf("message: nil event")
	case *EmailQueued:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventEmailQueued)
		}
		err = next.queued(e.MessageID, at)
		next.Channel = ChannelEmail
		next.CustomerID = e.CustomerID
		next.RecipientRole = e.RecipientRole
		next.Template = e.Template
		next.Priority = e.Priority
		next.Attachments = slices.Clone(e.Attachments)
		next.SourceEventID = e.SourceEventID
	case *WhatsAppMessageQueued:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventWhatsAppQueued)
		}
		err = next.queued(e.MessageID, at)
		next.Channel = ChannelWhatsApp
		next.CustomerID = e.CustomerID
		next.RecipientRole = RoleCustomer
		next.Template = e.Template
		next.Priority = e.Priority
		next.DocumentID = e.DocumentID
		next.SourceEventID = e.SourceEventID
	case *MessageSent:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventSent)
		}
		err = next.outcome(EventSent, e.MessageID, e.Channel)
		next.Status = StatusSent
		next.ProviderMessageID = e.ProviderMessageID
		next.SentAt = e.SentAt
	case *MessageFailed:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventFailed)
		}
		// Also from sent: a delivery failure the provider reported after
		// accepting the message.
		err = next.outcome(EventFailed, e.MessageID, e.Channel, StatusQueued, StatusSent)
		next.Status = StatusFailed
		next.Error = e.Reason
		next.FailureRetryable = e.Retryable
	case *MessageSkipped:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventSkipped)
		}
		err = next.outcome(EventSkipped, e.MessageID, e.Channel)
		next.Status = StatusSkipped
		next.Error = e.Reason
	case *MessageRequeued:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventRequeued)
		}
		if next.Status == StatusFailed && !next.FailureRetryable {
			return fmt.Errorf("message %s: %s of a message that failed for good", m.ID, EventRequeued)
		}
		err = next.outcome(EventRequeued, e.MessageID, e.Channel, StatusFailed)
		next.Status = StatusQueued
		next.Error, next.FailureRetryable = "", false
	case *MessageDelivered:
		if e == nil {
			return fmt.Errorf("message: nil %s", EventDelivered)
		}
		err = next.outcome(EventDelivered, e.MessageID, e.Channel, StatusSent)
		next.Status = StatusDelivered
		next.DeliveredAt = e.DeliveredAt
	default:
		return fmt.Errorf("message: cannot apply %T: not a message event", p)
	}
	if err != nil {
		return err
	}
	next.Version++
	if !at.IsZero() {
		next.UpdatedAt = at
	}
	*m = next
	return nil
}

// queued starts the message; the caller fills in the rest.
func (m *Message) queued(id string, at time.Time) error {
	if m.ID != "" {
		return fmt.Errorf("message %s: already queued", m.ID)
	}
	m.ID = id
	m.Status = StatusQueued
	m.QueuedAt = at
	return nil
}

// outcome checks that an outcome event may follow: it is for this message
// and channel, and the message is in one of the from statuses (queued when
// none are given).
func (m *Message) outcome(name, id, channel string, from ...string) error {
	if len(from) == 0 {
		from = []string{StatusQueued}
	}
	switch {
	case m.ID == "":
		return fmt.Errorf("message: %s before the message was queued", name)
	case id != m.ID:
		return fmt.Errorf("message %s: %s is for message %s", m.ID, name, id)
	case channel != m.Channel:
		return fmt.Errorf("message %s: %s is for channel %q, but the message is %s", m.ID, name, channel, m.Channel)
	case !slices.Contains(from, m.Status):
		return fmt.Errorf("message %s: %s after the message was %s", m.ID, name, m.Status)
	}
	return nil
}
