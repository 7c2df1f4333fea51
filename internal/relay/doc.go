// Package relay publishes every stored event to a NATS JetStream stream, at
// least once and in order per aggregate.
//
// A Relay reads the global event stream in position order (the event
// store's ReadAll: data as stored, personal fields sealed), publishes each
// event on the subject <prefix>.<aggregate_type>.<event_name> with the
// Nats-Msg-Id header set to the event id (so the stream drops a re-publish
// within its duplicate window), waits for the stream's acknowledgement of
// each message before publishing the next, and then moves its checkpoint
// in the relay_checkpoints table.
//
// One row of relay_checkpoints per stream is both the checkpoint and a
// lease: only the process that holds the lease publishes, and a checkpoint
// write succeeds only while the writer still holds it. Several processes
// can therefore run a relay on one database; one publishes, the others
// wait and take over when its lease runs out or it stops.
//
// An event whose aggregate type or event name cannot be a subject token
// (empty, or holding a space, a dot, '*' or '>') is not skipped and does
// not stop the relay: it is published on <prefix>._unroutable with the
// same headers, and logged by event id.
package relay
