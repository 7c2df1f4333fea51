// Package idempotency keeps the idempotency keys of the API's POST requests
// (the Idempotency-Key header): a repeat of a request under the same key is
// answered with the first response, and what the request did is never done
// twice.
//
// Each key is scoped to the authenticated principal (the API token's id)
// and lives in one row of idempotency_keys, through four states:
//
//   - claimed: Begin inserted the row for an attempt (its owner, a random
//     id) and the attempt runs. A repeat meanwhile is told the key is in
//     progress (ErrInProgress). An attempt whose process died leaves the
//     row claimed: once its lease (Config.Lease) has run out, the next
//     repeat takes the row over and runs the request again, which is safe
//     because nothing of the first attempt was committed (see committed).
//   - committed: the transaction that commits the request's events also
//     marks the row (Claim implements recorder.CommitHook), and only if the
//     row is still the attempt's own. A takeover therefore never runs a
//     command that has committed, and an attempt that lost its row to a
//     takeover cannot commit any more (ErrTakenOver rolls it back).
//   - completed: Finish stored the response; repeats get it back as it was
//     (Begin returns it). A response that carries a customer's personal
//     data is stored sealed under that customer's data key, so erasing the
//     customer makes it unreadable too (ErrErased).
//   - released: a response not worth keeping (a 5xx, a 409 or 429, which
//     a retry may well change) deletes the row, unless the request has
//     committed, so the client can retry under the same key.
//
// A row that is committed but not completed means the process died (or
// the database failed) between the commit and storing the response. Its
// repeats fail with ErrUnanswered, which names the resource the request
// changed first, rather than running the request again.
//
// A repeat must be the same request: the same method, path, query and
// body, compared through their SHA-256 (Hash). The same key with another
// request fails with ErrMismatch. Keys expire Config.TTL after their first
// use: an expired row is ignored (and deleted) by Begin, and DeleteExpired
// removes the rest.
package idempotency
