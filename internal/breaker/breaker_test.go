package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"insure/internal/breaker"
	"insure/internal/notify"
)

// mailer is a hand-written fake whose next error can be set.
type mailer struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int32
}

var _ notify.Mailer = (*mailer)(nil)

func (m *mailer) Send(context.Context, notify.Email) (notify.Receipt, error) {
	m.calls.Add(1)
	m.mu.Lock()
	e := m.err
	m.mu.Unlock()
	if e != nil {
		return notify.Receipt{}, e
	}
	return notify.Receipt{ProviderID: "ok"}, nil
}

func (m *mailer) fail(err error) { m.mu.Lock(); m.err = err; m.mu.Unlock() }
func (m *mailer) heal()          { m.fail(nil) }

func state(s *breaker.Set, name string) string {
	for _, st := range s.Statuses() {
		if st.Name == name {
			return st.State
		}
	}
	return "missing"
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	set := breaker.NewSet(3, 50*time.Millisecond, nil)
	fake := &mailer{}
	m := set.Mailer("smtp", fake)
	ctx := context.Background()
	if state(set, "smtp") != "closed" {
		t.Fatal("a new breaker must be listed closed")
	}
	fake.fail(fmt.Errorf("dial: %w", notify.ErrUnavailable))
	for i := 0; i < 3; i++ {
		if _, err := m.Send(ctx, notify.Email{}); errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("open after %d failures, want 3", i)
		}
	}
	if state(set, "smtp") != "open" {
		t.Fatalf("state %s after 3 failures", state(set, "smtp"))
	}
	before := fake.calls.Load()
	_, err := m.Send(ctx, notify.Email{})
	if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, notify.ErrUnavailable) {
		t.Fatalf("while open: %v", err)
	}
	if fake.calls.Load() != before {
		t.Fatal("an open breaker let a send through")
	}
	fake.heal()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := m.Send(ctx, notify.Email{})
		if err == nil {
			break
		}
		if !errors.Is(err, breaker.ErrOpen) || time.Now().After(deadline) {
			t.Fatalf("after healing: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if state(set, "smtp") != "closed" {
		t.Fatalf("state %s after a successful trial", state(set, "smtp"))
	}
}

func TestRejectionsAndRateLimitsDoNotOpen(t *testing.T) {
	t.Parallel()
	set := breaker.NewSet(2, time.Minute, nil)
	fake := &mailer{}
	m := set.Mailer("smtp", fake)
	for _, err := range []error{
		fmt.Errorf("550 no such mailbox: %w", notify.ErrRejected),
		fmt.Errorf("bad address: %w", notify.ErrInvalid),
		fmt.Errorf("slow down: %w", notify.ErrRateLimited),
		context.Canceled,
	} {
		fake.fail(err)
		for i := 0; i < 5; i++ {
			if _, got := m.Send(context.Background(), notify.Email{}); errors.Is(got, breaker.ErrOpen) {
				t.Fatalf("%v opened the breaker", err)
			}
		}
	}
	if s := state(set, "smtp"); s != "closed" {
		t.Fatalf("state %s", s)
	}
}

func TestBreakersAreIndependent(t *testing.T) {
	t.Parallel()
	set := breaker.NewSet(1, time.Minute, nil)
	bad, good := &mailer{}, &mailer{}
	bad.fail(errors.New("500"))
	a, b := set.Mailer("smtp", bad), set.Mailer("other", good)
	_, _ = a.Send(context.Background(), notify.Email{})
	if _, err := b.Send(context.Background(), notify.Email{}); err != nil {
		t.Fatalf("one provider's failures affected another: %v", err)
	}
	if state(set, "smtp") != "open" || state(set, "other") != "closed" {
		t.Fatalf("states %+v", set.Statuses())
	}
}
