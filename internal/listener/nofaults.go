//go:build !faults

package listener

import "insure/internal/event"

// faults is the fault hook of the fault-injection suite (faults.go, built
// only with the build tag faults). Without the tag it does nothing, and
// INSURE_FAULT_PANIC is ignored.
type faults struct{}

func newFaults() (*faults, error) { return nil, nil }

func (*faults) check(string, event.Envelope) {}
