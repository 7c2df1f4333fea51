// Package listener says which event starts which listener, and holds the
// listeners themselves: the welcome email, the audit record, the admin
// notification, quotation rating, PDFs, WhatsApp messages, renewal
// reminders, and the delivery of every queued email and WhatsApp message.
//
// Every listener is idempotent. The events and messages it creates get ids
// derived from the event that started it (event.DerivedID), and it appends
// them at version 0 of a new aggregate: a retry that finds them already
// there has nothing left to do. Deliveries go through drivers that are
// idempotent on the message id.
package listener
