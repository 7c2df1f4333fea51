// Package projection keeps insure's read models — customers, quotations,
// policies (with their expiry calendar), the communication log, documents
// and the audit trail — and answers the API's queries from them.
//
// In this release the read models are updated inline: the recorder calls
// Project for every event inside the transaction that appends it, so every
// read is strongly consistent with the event store. Each table can be
// rebuilt from the events alone (see Rebuild).
//
// The customers read model keeps personal data sealed at rest: the
// Projector seals name, email, phone and date of birth with a
// personal.Vault (under the customer's data key), and the Reader opens
// them. Customers are searched by email, phone and name words through
// blind indexes (keyed hashes of the normalised values; see
// CustomerFilter), which depend on the master key: Reindex recomputes them
// after a rotation. An erased customer keeps no personal value and no
// index, and reads event.Erased.
package projection
