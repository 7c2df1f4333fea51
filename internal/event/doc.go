// Package event defines the envelope every domain event travels in: its
// metadata, the registry of known event types with their schema versions,
// and the decoding of stored events back into typed payloads.
//
// It imports no infrastructure. Domain packages declare their payload types
// and register them; the event store persists envelopes; listeners decode
// them again through the same registry. Replay is the loop every aggregate's
// Rebuild shares: it checks a stream's events and feeds them, decoded, to
// the aggregate.
//
// # Versioning
//
// Stored events are never rewritten, so every shape an event was ever
// stored in must stay readable. The rules:
//
//   - Every event type has a schema version (Definition.SchemaVersion),
//     and every stored event keeps the version it was written at
//     (Envelope.SchemaVersion). New events are always written at the
//     current version.
//   - Never change what a stored version means. Adding an optional field
//     that old events simply lack (and whose zero value means "not
//     given") needs no new version. Renaming, removing or retyping a
//     field, making one required, or changing a value's meaning does:
//     raise SchemaVersion by one and add the upcaster from the previous
//     version (Definition.Upcasters[old]). Register refuses a definition
//     whose chain from version 1 to the current one has a gap.
//   - Upcasters work one step at a time (1→2, 2→3, …) and are chained on
//     read, so adding version N+1 only needs the upcaster from N; the older
//     ones are never touched again. Keep a stored example of each version
//     in the package's testdata, and a test that decodes it.
//   - Upcasters are pure functions of the raw JSON: no clock, no database,
//     no configuration, no normalisation of values (a stored value means
//     what it meant when it was written). They read the old shape strictly
//     (UnmarshalStrict) and return the next shape, choosing a documented
//     default for anything the old shape lacks. An upcaster that cannot
//     read its input returns an error; it must never panic (fuzz it).
//   - A retired event name lives on as a legacy name of the event that
//     replaced it (Definition.Legacy). Its upcaster gets the whole envelope,
//     because legacy data may lack what only the envelope knows, such as
//     the aggregate id, and returns the replacing event's data at a stated
//     schema version, from which the ordinary upcasters continue. A legacy
//     event has one shape, stored at schema version 1. The legacy event's
//     aggregate type must be the replacing event's. Its Personal lists the
//     personal fields as they are stored under the legacy name.
//
// # What callers see
//
// Decode, and with it Replay and every Rebuild, upcasts first and then
// decodes strictly and validates, so aggregates, listeners and projections
// only ever see payloads of the current shape and name. The envelope they
// hold is left as stored: its EventName, SchemaVersion and Data say what is
// in the event store (a legacy CustomerCreated stays CustomerCreated there).
// Code that needs the raw JSON in the current shape, for example to show or
// export it, calls Registry.Upcast, which returns a copy of the envelope
// with the current name, version and data. Lookup finds the definition for a
// legacy name too; Names lists only current names.
//
// # Personal fields
//
// The event store opens personal fields (see internal/personal) before
// anything decodes, so upcasters see them in clear. The codec finds them by
// the stored event name, in the data as stored: Definition.Personal must
// list the paths of every stored version (keep a moved field's old path),
// and Lookup of a legacy name returns LegacyEvent.Personal, the paths the
// legacy data has. Open sealed data (eventstore.Store.Open) before calling
// Upcast on it: a sealed value only opens at the name and path it was
// sealed under.
package event
