// Package snapshot keeps the newest snapshot of each aggregate's state, so
// that loading an aggregate with a long history replays only the events
// after it.
//
// A snapshot is the JSON of the aggregate's state struct (customer.Customer,
// policy.Policy, quotation.Quotation) at a version, with the schema version
// of that struct's shape. Each aggregate type describes its snapshots with a
// Kind: its schema version (a constant next to the state struct, bumped when
// the struct's shape changes) and whether the state holds personal data. A
// snapshot of another schema version, or one that does not decode, is
// thrown away and the aggregate is rebuilt from its events: snapshots are a
// cache of the events, never a source of truth, and may be deleted at any
// time.
//
// Only the newest snapshot of an aggregate is kept (one row per aggregate
// in aggregate_snapshots): the state can always be rebuilt from the events,
// so an older snapshot would serve nothing but a read as of an earlier
// time, which replays the events instead.
//
// The state of an aggregate that holds personal data (a customer: name,
// email, phone, date of birth) is stored sealed as one value under the
// customer's data key, with the field "snapshot:" + aggregate type. Once
// the customer is erased their key is destroyed, so the snapshot can no
// longer be opened; Kind.Load then deletes it and reports none, and the
// customer is rebuilt from events whose personal fields read "[erased]".
// Erasure also deletes the snapshot itself (Delete, in the erasure's
// transaction).
package snapshot
