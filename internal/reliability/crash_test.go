package reliability

import (
	"sync/atomic"
	"testing"
	"time"

	"insure/internal/database/dbtest"
)

// TestCrash is scenario 1: insure serve is killed with SIGKILL in the
// middle of the load, on SQLite and on PostgreSQL, and restarted at once;
// the load goes on (its commands fail while the process is down), and the
// restarted process finishes the work. The jobs the dead process left
// running are rescued after QUEUE_RESCUE_AFTER (4 s here) once the new
// process is River's leader (up to 15 s: the dead leader's term has to
// run out). Then every invariant holds: acknowledged commands kept their
// events, every event has all its listeners' effects, no message went
// out twice, no job is stuck.
func TestCrash(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := Budget(t, 2*time.Minute)
			defer cancel()
			const customers, killAt = 160, 120 // acknowledged commands before the kill
			s := NewStack(t, d, StackOptions{})
			p := s.Start(t)

			var acks atomic.Int32
			reached := make(chan struct{})
			load := s.NewLoad()
			load.Pause = 250 * time.Millisecond
			load.OnAck = func(Ack) {
				if acks.Add(1) == killAt {
					close(reached)
				}
			}
			done := make(chan LoadResult, 1)
			go func() { done <- load.Run(ctx, 0, customers) }()
			select {
			case <-reached:
			case res := <-done:
				t.Fatalf("the load ended (%d acks, %d failures) before %d acknowledgements", len(res.Acks), len(res.Failures), killAt)
			}
			p.Kill(t)
			killed := time.Now()
			running := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND state = 'running'`)
			pending := s.Count(t, ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'insure.listener' AND state IN `+pendingStates)
			t.Logf("killed serve after %d acknowledged commands: %d listener jobs left running, %d not done", acks.Load(), running, pending)
			if pending == 0 {
				t.Fatal("the queue was already idle at the kill; nothing was interrupted")
			}
			s.Start(t)
			t.Logf("restarted in %s", time.Since(killed).Round(time.Millisecond))
			res := <-done
			if len(res.Failures) == 0 {
				t.Error("no command failed, so none reached the dead process; the kill came too late")
			}
			for status, n := range res.Statuses() {
				if status != 0 {
					t.Errorf("%d commands answered HTTP %d; only connection failures are expected while the process is down", n, status)
				}
			}
			t.Logf("load: %d commands acknowledged, %d failed while the process was down", len(res.Acks), len(res.Failures))
			s.WaitIdle(t, ctx, 75*time.Second)
			t.Logf("idle %s after the kill", time.Since(killed).Round(time.Millisecond))
			s.Check(t, ctx, res, CheckOptions{})
		})
	}
}
