package communication

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"insure/internal/event"
)

// AggregateType is the aggregate type of every message stream.
const AggregateType = "message"

// The names of the message events.
const (
	EventEmailQueued    = "EmailQueued"
	EventWhatsAppQueued = "WhatsAppMessageQueued"
	EventSent           = "MessageSent"
	EventFailed         = "MessageFailed"
	EventSkipped        = "MessageSkipped"
	EventDelivered      = "MessageDelivered"
	EventRequeued       = "MessageRequeued"
)

// Channels.
const (
	ChannelEmail    = "email"
	ChannelWhatsApp = "whatsapp"
)

// Recipient roles of an e-mail.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// Priorities.
const (
	PriorityHigh   = "high"
	PriorityNormal = "normal"
)

// Templates.
const (
	TemplateWelcome            = "welcome"
	TemplateAdminRegistration  = "admin_registration"
	TemplateQuotation          = "quotation"
	TemplateRenewalReminder    = "renewal_reminder"
	TemplatePolicyConfirmation = "policy_confirmation"
)

// EmailTemplates returns the e-mail templates.
func EmailTemplates() []string {
	return []string{TemplateWelcome, TemplateAdminRegistration, TemplateQuotation, TemplateRenewalReminder, TemplatePolicyConfirmation}
}

// WhatsAppTemplates returns the WhatsApp templates.
func WhatsAppTemplates() []string {
	return []string{TemplateQuotation, TemplateRenewalReminder, TemplatePolicyConfirmation}
}

// Events returns the definitions of the message events, for the registry.
func Events() []event.Definition {
	return []event.Definition{
		{Name: EventEmailQueued, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &EmailQueued{} }},
		{Name: EventWhatsAppQueued, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &WhatsAppMessageQueued{} }},
		{Name: EventSent, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &MessageSent{} }},
		{Name: EventFailed, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &MessageFailed{} }},
		{Name: EventSkipped, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &MessageSkipped{} }},
		{Name: EventDelivered, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &MessageDelivered{} }},
		{Name: EventRequeued, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &MessageRequeued{} }},
	}
}

// Attachment is a stored document attached to an e-mail.
type Attachment struct {
	DocumentID  string `json:"document_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
}

// EmailQueued is recorded when an e-mail is queued for sending. CustomerID is
// empty for mail to the administrators.
type EmailQueued struct {
	MessageID     string       `json:"message_id"`
	CustomerID    string       `json:"customer_id,omitempty"`
	RecipientRole string       `json:"recipient_role"`
	Template      string       `json:"template"`
	Priority      string       `json:"priority"`
	Attachments   []Attachment `json:"attachments"`
	SourceEventID string       `json:"source_event_id"`
}

// EventName implements event.Payload.
func (EmailQueued) EventName() string { return EventEmailQueued }

// Validate checks the fields a stored EmailQueued must have.
func (e EmailQueued) Validate() error {
	if err := checkEmail(Email{CustomerID: e.CustomerID, RecipientRole: e.RecipientRole, Template: e.Template,
		Priority: e.Priority, Attachments: e.Attachments, SourceEventID: e.SourceEventID}); err != nil {
		return errors.New(err.Error())
	}
	if !event.ValidID(e.MessageID) {
		return errors.New("message_id must be a UUID")
	}
	if e.Priority == "" {
		return errors.New("priority is required")
	}
	return nil
}

// WhatsAppMessageQueued is recorded when a WhatsApp message is queued.
// DocumentID names a document to send with it, if any.
type WhatsAppMessageQueued struct {
	MessageID     string `json:"message_id"`
	CustomerID    string `json:"customer_id"`
	Template      string `json:"template"`
	Priority      string `json:"priority"`
	DocumentID    string `json:"document_id,omitempty"`
	SourceEventID string `json:"source_event_id"`
}

// EventName implements event.Payload.
func (WhatsAppMessageQueued) EventName() string { return EventWhatsAppQueued }

// Validate checks the fields a stored WhatsAppMessageQueued must have.
func (e WhatsAppMessageQueued) Validate() error {
	if err := checkWhatsApp(WhatsApp{CustomerID: e.CustomerID, Template: e.Template, Priority: e.Priority,
		DocumentID: e.DocumentID, SourceEventID: e.SourceEventID}); err != nil {
		return errors.New(err.Error())
	}
	if !event.ValidID(e.MessageID) {
		return errors.New("message_id must be a UUID")
	}
	if e.Priority == "" {
		return errors.New("priority is required")
	}
	return nil
}

// MessageSent is recorded when the provider accepted the message.
type MessageSent struct {
	MessageID         string    `json:"message_id"`
	Channel           string    `json:"channel"`
	ProviderMessageID string    `json:"provider_message_id"`
	SentAt            time.Time `json:"sent_at"`
	// Uncertain is set when an earlier attempt may already have reached the
	// provider (its reply was lost): insure did not send again, to avoid a
	// duplicate, so the message was delivered at most once.
	Uncertain bool `json:"uncertain,omitempty"`
}

// EventName implements event.Payload.
func (MessageSent) EventName() string { return EventSent }

// Validate checks the fields a stored MessageSent must have.
func (e MessageSent) Validate() error {
	if err := outcome(e.MessageID, e.Channel, "provider_message_id", e.ProviderMessageID); err != nil {
		return err
	}
	if e.SentAt.IsZero() {
		return errors.New("sent_at is required")
	}
	return nil
}

// MessageFailed is recorded when the message could not be sent and will not
// be retried.
type MessageFailed struct {
	MessageID string `json:"message_id"`
	Channel   string `json:"channel"`
	Reason    string `json:"reason"`
	// Retryable is set when delivery gave up after temporary failures (the
	// provider was down): retrying the dead letter sends the message again.
	// A message the provider refused is not retryable.
	Retryable bool `json:"retryable,omitempty"`
}

// EventName implements event.Payload.
func (MessageFailed) EventName() string { return EventFailed }

// Validate checks the fields a stored MessageFailed must have.
func (e MessageFailed) Validate() error { return outcome(e.MessageID, e.Channel, "reason", e.Reason) }

// MessageSkipped is recorded when the message was deliberately not sent,
// for example because WhatsApp is disabled or the customer opted out.
type MessageSkipped struct {
	MessageID string `json:"message_id"`
	Channel   string `json:"channel"`
	Reason    string `json:"reason"`
}

// EventName implements event.Payload.
func (MessageSkipped) EventName() string { return EventSkipped }

// Validate checks the fields a stored MessageSkipped must have.
func (e MessageSkipped) Validate() error { return outcome(e.MessageID, e.Channel, "reason", e.Reason) }

// MessageDelivered is recorded when the provider reports the message
// delivered to the recipient's device (WhatsApp's delivery status).
type MessageDelivered struct {
	MessageID   string    `json:"message_id"`
	Channel     string    `json:"channel"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// EventName implements event.Payload.
func (MessageDelivered) EventName() string { return EventDelivered }

// Validate checks the fields a stored MessageDelivered must have.
func (e MessageDelivered) Validate() error {
	if e.DeliveredAt.IsZero() {
		return errors.New("delivered_at is required")
	}
	return outcome(e.MessageID, e.Channel, "delivered_at", "set")
}

// MessageRequeued puts a message that failed for a temporary reason back in
// the queue: an operator retried its dead letter.
type MessageRequeued struct {
	MessageID string `json:"message_id"`
	Channel   string `json:"channel"`
	Reason    string `json:"reason"`
}

// EventName implements event.Payload.
func (MessageRequeued) EventName() string { return EventRequeued }

// Validate checks the fields a stored MessageRequeued must have.
func (e MessageRequeued) Validate() error { return outcome(e.MessageID, e.Channel, "reason", e.Reason) }

func outcome(id, channel, name, value string) error {
	switch {
	case !event.ValidID(id):
		return errors.New("message_id must be a UUID")
	case channel != ChannelEmail && channel != ChannelWhatsApp:
		return fmt.Errorf("channel %q is not email or whatsapp", channel)
	case strings.TrimSpace(value) == "":
		return fmt.Errorf("%s is required", name)
	}
	return nil
}

func oneOf(v string, set []string) bool { return slices.Contains(set, v) }
