package reliability

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"insure/internal/database"
)

// TestPoisonEvent is scenario 4: a listener panics on one particular event
// (the binary's fault hook, INSURE_FAULT_PANIC, picks the 7th
// QuotationGenerated that CreateCustomerAuditLog handles). The panic is
// recovered, that one job is dead-lettered at its first attempt with the
// stack in its error (as `insure dlq list` shows), and every other event,
// the poison event's other listeners included, flows on.
func TestPoisonEvent(t *testing.T) {
	t.Parallel()
	ctx, cancel := Budget(t, 2*time.Minute)
	defer cancel()
	const poisoned = "CreateCustomerAuditLog"
	s := NewStack(t, database.SQLite, StackOptions{})
	p := s.Start(t, "INSURE_FAULT_PANIC=listener="+poisoned+",event=QuotationGenerated,nth=7")
	res := s.NewLoad().Run(ctx, 0, 60)
	if len(res.Failures) > 0 {
		t.Fatalf("%d commands failed, the first: %+v", len(res.Failures), res.Failures[0])
	}
	s.WaitIdle(t, ctx, time.Minute)

	dls := s.DeadLetters(t, ctx)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want exactly the poisoned job: %+v", len(dls), dls)
	}
	dl := dls[0]
	var name string
	for _, e := range s.Events(t, ctx) {
		if e.ID == dl.EventID {
			name = e.Name
		}
	}
	if dl.Listener != poisoned || name != "QuotationGenerated" {
		t.Errorf("dead letter for %s on a %q event, want %s on QuotationGenerated", dl.Listener, name, poisoned)
	}
	// Dead-lettered at the first panic: QUEUE_MAX_ATTEMPTS is 20.
	if dl.Attempts != 1 {
		t.Errorf("the poisoned job was dead-lettered after %d attempts, want 1 (a panic is not retried)", dl.Attempts)
	}
	for _, want := range []string{"panic: injected fault", "goroutine ", "insure/internal/listener.(*Set).Handle", "insure/internal/queue.(*Queue).safeHandle"} {
		if !strings.Contains(dl.Error, want) {
			t.Errorf("dead letter error lacks %q (the panic and its stack):\n%.2000s", want, dl.Error)
		}
	}
	// The process recovered: it is still serving and logged the give-up.
	if p.Exited() {
		t.Fatalf("serve exited: %v", p.ExitErr)
	}
	if n := len(p.LogLines("listener gave up: dead letter")); n != 1 {
		t.Errorf("%d \"listener gave up\" log lines, want 1", n)
	}
	// The operator sees it, stack and all, in insure dlq list.
	out, err := dlqList(t, ctx, s)
	if err != nil {
		t.Fatalf("insure dlq list: %v\n%s", err, out)
	}
	if !strings.Contains(out, poisoned) || !strings.Contains(out, dl.EventID) || !strings.Contains(out, "1 dead letters") {
		t.Errorf("insure dlq list does not show the dead letter:\n%s", out)
	}

	// Every other job completed with its effect; only the poisoned one is dead.
	s.Check(t, ctx, res, CheckOptions{Dead: []JobKey{{Listener: dl.Listener, EventID: dl.EventID}}})

	// More load after the poison: the workers are unharmed.
	more := s.NewLoad().Run(ctx, 60, 90)
	res.Merge(more)
	if len(more.Failures) > 0 {
		t.Fatalf("%d commands failed after the panic", len(more.Failures))
	}
	s.WaitIdle(t, ctx, time.Minute)
	s.Check(t, ctx, res, CheckOptions{Dead: []JobKey{{Listener: dl.Listener, EventID: dl.EventID}}})
}

// dlqList runs insure dlq list against the stack's database.
func dlqList(t testing.TB, ctx context.Context, s *Stack) (string, error) {
	cmd := exec.CommandContext(ctx, Binary(t), "dlq", "list")
	cmd.Env, cmd.Dir = s.Env, s.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
