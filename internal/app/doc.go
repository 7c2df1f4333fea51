// Package app holds insure's application services — CustomerService,
// QuotationService and PolicyService — and the queries behind the API. A
// service validates a command, loads the aggregate from its events, asks the
// domain for a decision, and commits the resulting events, read-model
// updates and listener jobs in one transaction through the recorder. It
// returns without waiting for any listener.
package app
