package cli

import (
	"io"
	"testing"
)

// TestServeWorkersFlag checks that --workers=0, as the scale-out docs
// write it, turns the workers off like --workers=false. The scale-out run
// itself (serve --workers=0 and three workers) is TestScaleOutPostgres in
// internal/reliability.
func TestServeWorkersFlag(t *testing.T) {
	t.Parallel()
	for arg, want := range map[string]bool{"": true, "--workers=0": false, "--workers=false": false, "--workers=1": true, "--workers": true} {
		cmd := newServeCmd(env{stdout: io.Discard, stderr: io.Discard}, &globals{})
		var args []string
		if arg != "" {
			args = []string{arg}
		}
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatalf("%q: %v", arg, err)
		}
		if got, err := cmd.Flags().GetBool("workers"); err != nil || got != want {
			t.Errorf("serve %s: workers %v (%v), want %v", arg, got, err, want)
		}
	}
}
