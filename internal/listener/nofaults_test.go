//go:build !faults

package listener

import (
	"testing"

	"insure/internal/event"
)

// TestNoFaultsWithoutTag checks that the normal binary ignores
// INSURE_FAULT_PANIC: the fault hook exists only with -tags faults.
func TestNoFaultsWithoutTag(t *testing.T) {
	t.Setenv("INSURE_FAULT_PANIC", "listener=SendWelcomeEmail,event=CustomerRegistered,nth=1")
	f, err := newFaults()
	if f != nil || err != nil {
		t.Fatalf("newFaults() = %v, %v; want nothing without the faults tag", f, err)
	}
	f.check("SendWelcomeEmail", event.Envelope{EventName: "CustomerRegistered", EventID: "e1"}) // must not panic
}
