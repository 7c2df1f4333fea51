package reliability

import (
	"context"
	"testing"
	"time"

	"insure/internal/database"
)

// TestSlowSMTP is scenario 3: the SMTP server stalls for ten times the SMTP
// timeout (and longer, until the rest of the work is done). A proxy in
// front of Mailpit holds every connection before the greeting, so each
// email attempt times out (SMTP_URL timeout=500ms) with nothing sent and
// its job is released for later; the circuit breaker is kept closed
// (BREAKER_FAILURES=1000), so the email workers stay busy with attempts
// the whole time: the worst case for the other queues.
//
// Phase A measures, without a fault, how long the PDF, audit, quotation
// and WhatsApp jobs of 60 customers take. Phase B pushes 60 more customers
// with SMTP stalled: those jobs must finish within twice phase A's time
// (plus 2 s for noise), while no email gets through. Each queue has its own
// workers (QUEUE_WORKERS is per queue), so a slow provider cannot take the
// workers of another. Then SMTP recovers and every email is delivered
// exactly once.
//
// It is the one scenario that does not run in parallel (t.Parallel): it
// compares two timings, which other tests' load would skew. Go runs it
// before the parallel ones.
func TestSlowSMTP(t *testing.T) {
	ctx, cancel := Budget(t, 2*time.Minute)
	defer cancel()
	const batch = 60
	s := NewStack(t, database.SQLite, StackOptions{SMTPProxy: true})
	s.Start(t)

	// Phase A: the pace without a fault.
	a := time.Now()
	res := s.NewLoad().Run(ctx, 0, batch)
	tookA, jobsA := waitOthers(t, ctx, s, a)
	s.WaitIdle(t, ctx, time.Minute)
	mailsA := len(s.Mail.Messages(t))
	t.Logf("phase A (no fault): %d non-email jobs done in %s; %d emails delivered", jobsA, tookA.Round(time.Millisecond), mailsA)

	// Phase B: SMTP stalls.
	s.SMTPProxy.Stall()
	b := time.Now()
	res.Merge(s.NewLoad().Run(ctx, batch, 2*batch))
	tookB, jobsB := waitOthers(t, ctx, s, b)
	jobsB -= jobsA
	t.Logf("phase B (SMTP stalled): %d non-email jobs done in %s", jobsB, tookB.Round(time.Millisecond))
	if jobsB != jobsA {
		t.Errorf("phase B completed %d non-email jobs, want %d as in phase A", jobsB, jobsA)
	}
	if limit := 2*tookA + 2*time.Second; tookB > limit {
		t.Errorf("with SMTP stalled the other queues took %s, more than twice their %s without a fault (+2 s): a slow provider starves them", tookB, tookA)
	}
	// The stall lasts at least ten times the SMTP timeout.
	if rest := 10*SMTPTimeout - time.Since(b); rest > 0 {
		time.Sleep(rest)
	}
	pendingMail := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND queue LIKE 'email-%' AND state IN `+pendingStates)
	timedOut := s.Count(t, ctx, `SELECT COUNT(*) FROM mail_deliveries WHERE state = 'failed' AND error LIKE '%greeting%'`)
	mailsB := len(s.Mail.Messages(t))
	t.Logf("after %s of stall: %d email jobs waiting, %d attempts timed out at the greeting, %d connections held",
		time.Since(b).Round(time.Millisecond), pendingMail, timedOut, s.SMTPProxy.Held.Load())
	if pendingMail == 0 || timedOut == 0 || mailsB != mailsA {
		t.Errorf("the stall did not hold email back: %d email jobs waiting, %d timed-out attempts, %d emails at Mailpit (was %d)",
			pendingMail, timedOut, mailsB, mailsA)
	}

	// SMTP recovers: every email once.
	s.SMTPProxy.Release()
	r := time.Now()
	s.WaitIdle(t, ctx, time.Minute)
	t.Logf("SMTP back: the queue was idle %s later", time.Since(r).Round(time.Millisecond))
	s.Check(t, ctx, res, CheckOptions{})
}

// waitOthers waits until no listener job outside the email queues is
// pending and returns how long that took from start and how many such jobs
// have completed.
func waitOthers(t *testing.T, ctx context.Context, s *Stack, start time.Time) (time.Duration, int) {
	t.Helper()
	WaitFor(t, time.Minute, "the non-email jobs to finish", func() bool {
		return s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND queue NOT LIKE 'email-%' AND state IN `+pendingStates) == 0
	})
	took := time.Since(start)
	return took, s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND queue NOT LIKE 'email-%' AND state = 'completed'`)
}
