// Package projection keeps insure's read models — customers, quotations,
// policies (with their expiry calendar), the communication log, documents,
// the audit trail and the access log — and answers the API's queries from
// them (Reader).
//
// Each read model is a named Projection fed by a subscription to the
// global event stream (Subscriptions), with a checkpoint in
// projection_checkpoints that moves in the same transaction as the
// projection's writes, so a crash never applies an event twice or skips
// one:
//
//   - Inline: the recorder applies a command's events, in the command's
//     transaction, to every projection that is caught up (its checkpoint is
//     the position just before the command's first event; one
//     compare-and-set UPDATE moves them all). Reads of those read models are
//     strongly consistent: a GET after a 201 sees the change.
//   - Catch-up: a projection that is behind — new (it starts at 0), or
//     stopped by an error — is skipped inline, and the Runner (started by
//     `insure serve` and `insure worker`) applies the events after its
//     checkpoint in batches until it is at the head; from then on the
//     inline path keeps it there. Until then its reads are stale; `insure
//     projections list` shows each projection's lag and last error.
//   - Rebuild: Subscriptions.Rebuild (`insure projections rebuild NAME`)
//     builds a projection from the first event into shadow tables while
//     the live ones keep serving and taking writes, and swaps them in, in
//     one transaction under the stream head lock, once caught up.
//
// Appends are serialised by the event store's one-row stream head lock,
// which each append holds until it commits: positions become visible in
// commit order, on PostgreSQL too, and the inline compare-and-set runs
// while holding it. That is why no projection can skip an event, however
// many concurrent writers there are (see Subscriptions).
//
// Catch-up and rebuilds read the stream themselves: only the columns a
// projection sees, only the events it reads (filtered in SQL, including
// their legacy names), decoded by several goroutines while the previous
// batch is applied, with the statements pipelined on PostgreSQL and
// prepared on SQLite. Insert-only read models (the audit trail, the access
// log) apply a whole batch in one INSERT … SELECT that takes the fields out
// of the stored JSON (SetApplier), with no decoding in Go.
//
// The customers read model keeps personal data sealed at rest: it seals
// name, email, phone and date of birth with a personal.Vault (under the
// customer's data key), and the Reader opens them. Customers are searched
// by email, phone and name words through blind indexes (keyed hashes of the
// normalised values; see CustomerFilter), which depend on the master key:
// Reindex recomputes them after a rotation. An erased customer keeps no
// personal value and no index, and reads event.Erased.
package projection
