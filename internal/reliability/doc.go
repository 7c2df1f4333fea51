// Package reliability holds no code of its own: its tests are the
// fault-injection suite. Each scenario builds the real binary (with the
// build tag faults, which compiles in the fault hooks of
// internal/listener/faults.go; the normal binary has none), runs
// `insure serve` as a subprocess against a fresh SQLite file or PostgreSQL
// schema, a real SMTP server (Mailpit) and the WhatsApp Cloud API test
// server (internal/notify/whatsapptest), pushes hundreds of commands at it
// over HTTP while it injects one fault, and then checks the same
// invariants:
//
//   - every command acknowledged with a 2xx has its events in the store;
//   - every event started exactly the listeners its name calls for, each
//     as one River job that completed (or, where the scenario says so,
//     was dead-lettered), and each listener's effect is there (audit rows,
//     messages sent, PDFs rendered);
//   - no email or WhatsApp message was delivered twice: every Message-ID
//     is at most once at Mailpit and every message at most once at the
//     WhatsApp test server, and exactly once unless the driver recorded
//     the delivery as uncertain;
//   - no job is left stuck (available, running, retryable, scheduled or
//     pending) after the deadline.
//
// The scenarios:
//
//   - crash_test.go: SIGKILL of insure serve in the middle of the load, on
//     SQLite and on PostgreSQL; the restarted process finishes the work.
//   - slowsmtp_test.go: the SMTP server stalls for ten times the SMTP
//     timeout; the PDF, audit and WhatsApp queues keep their pace.
//   - poison_test.go: a listener panics on one event; that job alone is
//     dead-lettered, with the stack in its error.
//   - shutdown_test.go: SIGTERM during the load; in-flight requests and
//     jobs finish or are released within the grace period, nothing is lost
//     across the restart.
//   - outage_test.go, pgcluster_test.go, diskfull_test.go: the database
//     becomes unreachable, and the disk fills up.
//   - scaleout_test.go: serve --workers=0 and three `insure worker`
//     processes on PostgreSQL; SIGKILL of one worker mid-load, the others
//     rescue its jobs after QUEUE_RESCUE_AFTER.
//
// harness_test.go is the shared harness (Stack, Proc, Load, the checks).
// The suite needs the mailpit binary (see internal/notify/mailpittest) and
// the PostgreSQL test server (see internal/database/dbtest); it is skipped
// with -short.
package reliability
