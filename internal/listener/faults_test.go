//go:build faults

package listener

import (
	"strings"
	"testing"

	"insure/internal/event"
)

// TestFaults checks the fault hook of the fault-injection suite: the n-th
// matching event panics, on every attempt, and nothing else does.
func TestFaults(t *testing.T) {
	for _, bad := range []string{"listener=X", "nth=0,listener=X,event=Y", "listener=X,event=Y,nth=two", "what=1", "listener"} {
		t.Setenv(faultEnv, bad)
		if _, err := newFaults(); err == nil || !strings.Contains(err.Error(), faultEnv) {
			t.Errorf("%s=%q: error %v, want one naming the variable", faultEnv, bad, err)
		}
	}
	t.Setenv(faultEnv, "")
	if f, err := newFaults(); f != nil || err != nil {
		t.Fatalf("unset: %v, %v", f, err)
	}
	t.Setenv(faultEnv, "listener=L,event=E,nth=2")
	f, err := newFaults()
	if err != nil {
		t.Fatal(err)
	}
	panics := func(listener, name, id string) (p bool) {
		defer func() { p = recover() != nil }()
		f.check(listener, event.Envelope{EventName: name, EventID: id})
		return false
	}
	for _, c := range []struct {
		listener, name, id string
		want               bool
	}{
		{"L", "E", "e1", false}, // the first
		{"M", "E", "e2", false}, // another listener
		{"L", "F", "e3", false}, // another event name
		{"L", "E", "e4", true},  // the second: poison
		{"L", "E", "e4", true},  // and again on its retry
		{"L", "E", "e5", false}, // later events are fine
		{"M", "E", "e4", false}, // the poison event's other listeners too
	} {
		if got := panics(c.listener, c.name, c.id); got != c.want {
			t.Errorf("%s on %s %s: panicked %v, want %v", c.listener, c.name, c.id, got, c.want)
		}
	}
}
