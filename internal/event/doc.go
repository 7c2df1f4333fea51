// Package event defines the envelope every domain event travels in: its
// metadata, the registry of known event types with their schema versions,
// and the decoding of stored events back into typed payloads.
//
// It imports no infrastructure. Domain packages declare their payload types
// and register them; the event store persists envelopes; listeners decode
// them again through the same registry. Replay is the loop every aggregate's
// Rebuild shares: it checks a stream's events and feeds them, decoded, to
// the aggregate.
package event
