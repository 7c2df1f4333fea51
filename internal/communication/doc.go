// Package communication is the Message aggregate: one e-mail or WhatsApp
// message to a customer or to the administrators, from the moment it is
// queued until it is sent, fails or is skipped.
//
// A message stream starts with EmailQueued or WhatsAppMessageQueued and ends
// with exactly one of MessageSent, MessageFailed or MessageSkipped. Status is
// "queued" and then "sent", "failed" or "skipped"; all three are final.
// Repeating the transition a message already made records nothing, so a
// retried delivery job is harmless; a different one is apperr.Conflict.
//
// QueueEmail and QueueWhatsApp validate what is queued: the template must be
// one of EmailTemplates or WhatsAppTemplates, the admin_registration template
// goes to the administrators ("admin" recipient role, no customer) and every
// other template to a customer, priority is "high" or "normal" ("normal"
// when empty), and source_event_id names the event that caused the message.
// The message id is the caller's: listeners derive it from the source event
// (event.DerivedID), so a retried job queues the same message again rather
// than a second one.
package communication
