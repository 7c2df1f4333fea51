// Package audit is the customer audit trail: one CustomerActionLogged event
// for everything that happened to or for a customer, each pointing at the
// domain event it records.
//
// A listener turns customer-related events into log entries: ActionFor maps
// an event name to its action ("CustomerRegistered" → "customer.registered"),
// and LogAction validates and returns the entry to record. Summaries are
// short human text without personal data ("Customer registered via web");
// LogAction rejects a summary that contains an e-mail address.
//
// The stream a log entry goes to is the service's choice: one stream per
// customer (aggregate id = the customer id), or one per entry with an id
// derived from the source event (event.DerivedID), which makes a retried
// listener job a no-op. Log rebuilds either kind.
package audit
