package reliability

import (
	"testing"
	"time"

	"insure/internal/database/dbtest"
)

// TestBaseline runs the load without a fault on both dialects: the
// control for every scenario (the invariants hold on a healthy system, so a
// scenario's failure is its fault's doing).
func TestBaseline(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := Budget(t, 2*time.Minute)
			defer cancel()
			s := NewStack(t, d, StackOptions{})
			s.Start(t)
			res := s.NewLoad().Run(ctx, 0, 40)
			if len(res.Failures) > 0 {
				t.Fatalf("%d commands failed without a fault, the first: %+v", len(res.Failures), res.Failures[0])
			}
			s.WaitIdle(t, ctx, time.Minute)
			if n := s.Check(t, ctx, res, CheckOptions{}); n < 40*16 {
				t.Errorf("%d events, want at least %d (16 per customer)", n, 40*16)
			}
		})
	}
}
