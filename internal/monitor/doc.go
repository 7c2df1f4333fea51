// Package monitor reads what operators watch from the database: queue
// depth and lag, dead letters, event volume, listener timings and the
// heartbeats of the processes that work the queues. The metrics, the
// readiness check and the dashboard all read through it, so that every
// process (API-only ones too) sees the whole system, not only itself.
//
// It reads River's job table (river_job) for queue figures; it never
// writes to it.
package monitor
