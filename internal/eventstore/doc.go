// Package eventstore keeps every domain event, in order, forever: per
// aggregate with an optimistic-concurrency version, and in one global stream
// with a monotonic position. One implementation serves SQLite and
// PostgreSQL; the conformance tests run against both.
//
// Appends take the single-row stream head lock for the rest of their
// transaction, so positions become visible in the order transactions commit:
// a reader of "events after position N" never skips an event that commits
// late, on either engine.
package eventstore
