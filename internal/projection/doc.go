// Package projection keeps insure's read models — customers, quotations,
// policies (with their expiry calendar), the communication log, documents
// and the audit trail — and answers the API's queries from them.
//
// In this release the read models are updated inline: the recorder calls
// Project for every event inside the transaction that appends it, so every
// read is strongly consistent with the event store. Each table can be
// rebuilt from the events alone (see Rebuild).
package projection
