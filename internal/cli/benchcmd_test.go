package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"insure/internal/database/dbtest"
)

// buildInsure builds the insure binary for the api scenario: in a test,
// os.Executable is the test binary.
func buildInsure(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "insure")
	out, err := exec.Command("go", "build", "-o", bin, "insure/cmd/insure").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every bench scenario")
	}
	bin := buildInsure(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sqlite", nil},
		{"postgres", []string{"--database-url", dbtest.PostgresURL()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "bench", "--n", "15", "--replay-events", "2000", "--duration", "300ms", "--clients", "1,4",
				"--open-rate", "50", "--api-tokens", "20", "--server-binary", bin, "--format", "json",
				"--scenario", "api,pipeline,baseline,replay,sustained", "--sustain-rates", "20", "--sustain-duration", "3s")
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, env{lookup: func(string) (string, bool) { return "", false }, stdout: &stdout, stderr: &stderr}); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var rep benchReport
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			if rep.Database != tc.name || rep.Machine.CPUs <= 0 || rep.Machine.MemoryMB <= 0 || !strings.Contains(rep.Command, "bench") {
				t.Errorf("report header: %+v", rep)
			}
			p, b := rep.Pipeline, rep.Baseline
			if p == nil || b == nil || rep.Replay == nil || rep.API == nil || rep.Memory == nil {
				t.Fatalf("missing results: %s", stdout.String())
			}
			if p.Commands != 30 || p.Events < 30 || p.Jobs <= 0 || p.JobsCompleted != p.Jobs || p.EventsPerSec <= 0 || p.JobsPerSec <= 0 {
				t.Errorf("pipeline: %+v", p)
			}
			sum := 0
			for _, n := range p.JobsByQueue {
				sum += n
			}
			if int64(sum) != p.Jobs {
				t.Errorf("pipeline jobs by queue add up to %d, want %d", sum, p.Jobs)
			}
			if b.Jobs != p.Jobs || b.Completed != b.Jobs || b.JobsPerSec <= 0 {
				t.Errorf("baseline: %+v (pipeline ran %d jobs)", b, p.Jobs)
			}
			if want := p.JobsPerSec / b.JobsPerSec; math.Abs(p.Ratio-want) > 1e-9*want || p.Ratio <= 0 {
				t.Errorf("ratio %v, want %v", p.Ratio, want)
			}
			if r := rep.Replay; r.Events != 2000 || r.EventsPerSec <= 0 {
				t.Errorf("replay: %+v", r)
			}
			if len(rep.API.Levels) != 3 {
				t.Fatalf("api levels: %+v", rep.API.Levels)
			}
			for _, l := range rep.API.Levels {
				if l.Requests == 0 || l.Errors != 0 || l.Throughput <= 0 || l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.P999Ms < l.P99Ms {
					t.Errorf("api %s: %+v", l.Name, l)
				}
			}
			if m := rep.Memory; m.IdleRSSMB <= 0 || m.PeakRSSMB < m.IdleRSSMB {
				t.Errorf("memory: %+v", m)
			}
			if rep.Sustained == nil || len(rep.Sustained.Levels) != 1 {
				t.Fatalf("sustained: %+v", rep.Sustained)
			}
			su := rep.Sustained.Levels[0]
			if su.Rate != 20 || su.Requests < 40 || su.Errors != 0 || su.Throughput <= 0 || len(su.Backlog) < 6 ||
				su.Allowed != 100 || su.KeepsUp != (su.Growth <= su.Allowed) || su.Growth != su.End-su.Early {
				t.Errorf("sustained: %+v", su)
			}
		})
	}
}

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--scenario", "api,warp"}, `unknown scenario "warp"`},
		{[]string{"bench", "--scenario", ""}, "name at least one"},
		{[]string{"bench", "--scenario", "baseline"}, "add pipeline"},
		{[]string{"bench", "--n", "0"}, "--n: 0 is out of range"},
		{[]string{"bench", "--n", "100000000"}, "--n: 100000000 is out of range"},
		{[]string{"bench", "--format", "xml"}, `--format: "xml"`},
		{[]string{"bench", "--duration", "0s"}, "--duration"},
		{[]string{"bench", "--replay-events", "-1"}, "--replay-events"},
		{[]string{"bench", "--clients", "1,x"}, "--clients"},
		{[]string{"bench", "--clients", "0"}, "--clients"},
		{[]string{"bench", "--scenario", "sustained", "--sustain-rates", "0"}, "--sustain-rates"},
		{[]string{"bench", "--scenario", "sustained", "--sustain-rates", "fast"}, "--sustain-rates"},
		{[]string{"bench", "--scenario", "sustained", "--sustain-duration", "1s"}, "--sustain-duration"},
		{[]string{"--database-url", "mysql://h/db", "bench"}, "--database-url"},
		{[]string{"--database-url", "postgres://h/db?search_path=public", "bench"}, "search_path"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, env{lookup: func(string) (string, bool) { return "", false }, stdout: &stdout, stderr: &stderr})
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestJudgeSustain: the verdict follows the backlog's trend, not its size.
func TestJudgeSustain(t *testing.T) {
	t.Parallel()
	flat := []float64{0, 40, 55, 60, 48, 52, 61, 57, 49, 50, 58, 62}
	growing := []float64{0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400, 440}
	for _, tc := range []struct {
		name    string
		backlog []float64
		errors  uint64
		want    bool
	}{
		{"flat", flat, 0, true},
		{"flat with errors", flat, 3, false},
		{"growing past a second of jobs", growing, 0, false},
		{"too few readings", []float64{0, 1, 2}, 0, false},
	} {
		l := sustainLevel{apiLevel: apiLevel{Rate: 20, Errors: tc.errors}, Backlog: tc.backlog}
		judgeSustain(&l)
		if l.KeepsUp != tc.want {
			t.Errorf("%s: keeps up %v, want %v (%+v)", tc.name, l.KeepsUp, tc.want, l)
		}
	}
	l := sustainLevel{apiLevel: apiLevel{Rate: 20}, Backlog: growing}
	judgeSustain(&l)
	if l.Early != 100 || l.End != 400 || l.Growth != 300 || l.Allowed != 100 {
		t.Errorf("growing: early %v, end %v, growth %v, allowed %v; want 100, 400, 300, 100", l.Early, l.End, l.Growth, l.Allowed)
	}
}
