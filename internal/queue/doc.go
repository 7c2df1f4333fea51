// Package queue runs insure's queued listeners on River. Jobs are enqueued
// in the caller's transaction (the same one that appends the events that
// caused them), carry only a listener name and an event id, and are worked
// with the listener's own backoff, timeout and attempt limit.
//
// A listener that gives up becomes a dead letter: a row in dead_letters
// written, together with the listener's Failed hook, in one transaction, so
// the hook runs exactly once per give-up. River's own discarded and
// cancelled jobs are kept forever (retention -1) so a dead letter can always
// be retried.
package queue
