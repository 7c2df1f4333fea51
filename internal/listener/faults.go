//go:build faults

package listener

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"insure/internal/event"
)

// This file is compiled only with the build tag faults (go build -tags
// faults), for the fault-injection suite in internal/reliability. The
// normal binary has the no-op twin in nofaults.go.
//
// INSURE_FAULT_PANIC=listener=NAME,event=EVENT_NAME,nth=N makes the listener
// NAME panic on the N-th distinct event named EVENT_NAME it handles in this
// process (counting from 1), and on every later attempt at that same
// event. Empty: no fault.

// faultEnv is the variable that selects the poison event.
const faultEnv = "INSURE_FAULT_PANIC"

// faults injects the configured panic.
type faults struct {
	listener, event string
	nth             int

	mu     sync.Mutex
	seen   int
	poison string // the chosen event's id, once seen
}

// newFaults reads INSURE_FAULT_PANIC; nil when unset.
func newFaults() (*faults, error) {
	v := strings.TrimSpace(os.Getenv(faultEnv))
	if v == "" {
		return nil, nil
	}
	f := &faults{}
	for part := range strings.SplitSeq(v, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s=%q: %q is not key=value; want listener=NAME,event=EVENT_NAME,nth=N", faultEnv, v, part)
		case key == "listener":
			f.listener = val
		case key == "event":
			f.event = val
		case key == "nth":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s=%q: nth=%q is not a whole number from 1", faultEnv, v, val)
			}
			f.nth = n
		default:
			return nil, fmt.Errorf("%s=%q: unknown key %q; want listener=NAME,event=EVENT_NAME,nth=N", faultEnv, v, key)
		}
	}
	if f.listener == "" || f.event == "" || f.nth == 0 {
		return nil, fmt.Errorf("%s=%q: listener, event and nth are all required", faultEnv, v)
	}
	return f, nil
}

// check panics when listener is about to handle the poison event.
func (f *faults) check(listener string, env event.Envelope) {
	if f == nil || listener != f.listener || env.EventName != f.event {
		return
	}
	f.mu.Lock()
	if f.poison == "" {
		f.seen++
		if f.seen == f.nth {
			f.poison = env.EventID
		}
	}
	poison := f.poison == env.EventID
	f.mu.Unlock()
	if poison {
		panic(fmt.Sprintf("injected fault (%s): %s on %s %s", faultEnv, listener, env.EventName, env.EventID))
	}
}
