package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"insure/internal/config"
)

// The scenarios insure bench knows, in the order it runs them.
const (
	scenarioPipeline = "pipeline"
	scenarioBaseline = "baseline"
	scenarioReplay   = "replay"
	scenarioAPI      = "api"
	scenarioSustain  = "sustained"
)

var benchScenarioOrder = []string{scenarioPipeline, scenarioBaseline, scenarioReplay, scenarioAPI, scenarioSustain}

// benchLimits keep a mistyped flag from running for hours.
const (
	benchMaxN            = 1_000_000
	benchMaxReplayEvents = 50_000_000
	benchMaxDuration     = 10 * time.Minute
	benchMaxClients      = 4096
)

// benchOptions are insure bench's flags, checked.
type benchOptions struct {
	scenarios    map[string]bool
	n            int
	format       string
	duration     time.Duration
	clients      []int
	replayEvents int
	openRate     int
	serverBinary string
	// apiTokens is how many tokens the api scenario rotates over: the API
	// allows each 600 requests a minute.
	apiTokens int
	// sustainRates are the sustained scenario's rates (requests a second),
	// each held for sustainDuration.
	sustainRates    []int
	sustainDuration time.Duration
	// databaseURL is empty for a fresh SQLite file, else a PostgreSQL URL
	// in which each scenario gets its own schema.
	databaseURL string
}

func newBenchCmd(e env, g *globals) *cobra.Command {
	var (
		scenarios, format, clients, binary   string
		sustainRates                         string
		n, replayEvents, openRate, apiTokens int
		duration, sustainDuration            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the API, the listener pipeline against bare River, projection replay and the server's memory",
		Long: "Runs the chosen scenarios on a fresh database: a temporary SQLite file (removed afterwards) or, with " +
			"--database-url postgres://…, a new schema per scenario (dropped afterwards), so existing data is never read or written.\n\n" +
			"  api       registrations over HTTP against `insure serve` in a child process, closed loop at each --clients level for\n" +
			"            --duration, plus an open loop at --open-rate req/s; also the child's RSS idle and at peak\n" +
			"  pipeline  N registrations and N quotations committed, until every listener job has finished (events/s, jobs/s)\n" +
			"  baseline  bare River no-op jobs, as many as the pipeline ran, on the same queues and worker settings\n" +
			"            (run with pipeline; the pipeline's ratio is its jobs/s over the baseline's)\n" +
			"  replay    a rebuild of the audit_log read model over --replay-events events (events/s)\n" +
			"  sustained registrations at each of --sustain-rates req/s (open loop) for --sustain-duration against `insure serve`\n" +
			"            with its workers, a fresh database per rate, watching the listener backlog: a rate is sustained when the\n" +
			"            backlog at the end is within one second of its jobs of the backlog early in the run (not in the default set)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := parseBenchOptions(scenarios, n, format, duration, clients, replayEvents, openRate, binary, g.databaseURL)
			if err != nil {
				return err
			}
			if apiTokens <= 0 || apiTokens > 100_000 {
				return fmt.Errorf("--api-tokens: %d is out of range; give 1 to 100000", apiTokens)
			}
			opts.apiTokens = apiTokens
			if opts.scenarios[scenarioSustain] {
				if sustainRates == "" {
					// The targets: 150/s on SQLite, 800/s on PostgreSQL.
					sustainRates = "100,150"
					if opts.databaseURL != "" {
						sustainRates = "400,800"
					}
				}
				if opts.sustainRates, err = parseSustainRates(sustainRates); err != nil {
					return err
				}
				if sustainDuration < 2*time.Second || sustainDuration > benchMaxDuration {
					return fmt.Errorf("--sustain-duration: %s is out of range; give 2s to %s", sustainDuration, benchMaxDuration)
				}
				opts.sustainDuration = sustainDuration
			}
			rep, err := runBench(cmd.Context(), opts, e.stderr)
			if err != nil {
				return err
			}
			rep.Command = "insure " + strings.Join(benchArgs(cmd), " ")
			return writeBench(e.stdout, opts.format, rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenarios, "scenario", "api,pipeline,baseline,replay", "comma-separated scenarios: api, pipeline, baseline, replay")
	f.IntVar(&n, "n", 1000, "pipeline: registrations (and as many quotations) to commit")
	f.StringVar(&format, "format", "table", "output: table or json")
	f.DurationVar(&duration, "duration", 5*time.Second, "api: how long each load level runs")
	f.StringVar(&clients, "clients", "1,8,32,128", "api: the concurrent clients of each closed-loop level")
	f.IntVar(&replayEvents, "replay-events", 1_000_000, "replay: events to generate and rebuild from")
	f.IntVar(&openRate, "open-rate", 200, "api: requests per second of the open-loop level (0: none)")
	f.StringVar(&binary, "server-binary", "", "api: the insure binary to serve with (default: this one)")
	_ = f.MarkHidden("server-binary")
	f.IntVar(&apiTokens, "api-tokens", 2000, "api: admin tokens to rotate over (600 requests a minute each)")
	_ = f.MarkHidden("api-tokens")
	f.StringVar(&sustainRates, "sustain-rates", "", "sustained: comma-separated open-loop rates in req/s (default 100,150 on SQLite, 400,800 on PostgreSQL)")
	f.DurationVar(&sustainDuration, "sustain-duration", time.Minute, "sustained: how long each rate is held (2s to 10m; 60s shows whether the backlog grows)")
	cmd.AddCommand(newBenchSoakCmd(e, g))
	return cmd
}

// benchArgs is the command line as given, for the report.
func benchArgs(cmd *cobra.Command) []string {
	var args []string
	if f := cmd.Flag("database-url"); f != nil && f.Changed {
		args = append(args, "--database-url", redactURL(f.Value.String()))
	}
	// "bench" or "bench soak".
	args = append(args, strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "))
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name == "database-url" {
			return
		}
		args = append(args, "--"+f.Name, f.Value.String())
	})
	return args
}

func parseBenchOptions(scenarios string, n int, format string, duration time.Duration, clients string, replayEvents, openRate int,
	binary, databaseURL string) (benchOptions, error) {
	o := benchOptions{scenarios: map[string]bool{}, n: n, format: format, duration: duration, replayEvents: replayEvents,
		openRate: openRate, serverBinary: binary, databaseURL: databaseURL}
	known := map[string]bool{}
	for _, s := range benchScenarioOrder {
		known[s] = true
	}
	for _, s := range strings.Split(scenarios, ",") {
		s = strings.TrimSpace(strings.ToLower(s))
		if s == "" {
			continue
		}
		if !known[s] {
			return o, fmt.Errorf("--scenario: unknown scenario %q (choose from api, pipeline, baseline, replay, sustained)", s)
		}
		o.scenarios[s] = true
	}
	if len(o.scenarios) == 0 {
		return o, errors.New("--scenario: name at least one of api, pipeline, baseline, replay, sustained")
	}
	if o.scenarios[scenarioBaseline] && !o.scenarios[scenarioPipeline] {
		return o, errors.New("--scenario: baseline runs as many jobs as the pipeline produced; add pipeline")
	}
	if o.scenarios[scenarioPipeline] {
		// The ratio needs both.
		o.scenarios[scenarioBaseline] = true
	}
	if n <= 0 || n > benchMaxN {
		return o, fmt.Errorf("--n: %d is out of range; give 1 to %d", n, benchMaxN)
	}
	if format != "table" && format != "json" {
		return o, fmt.Errorf("--format: %q is not table or json", format)
	}
	if duration <= 0 || duration > benchMaxDuration {
		return o, fmt.Errorf("--duration: %s is out of range; give more than 0 and at most %s", duration, benchMaxDuration)
	}
	if replayEvents <= 0 || replayEvents > benchMaxReplayEvents {
		return o, fmt.Errorf("--replay-events: %d is out of range; give 1 to %d", replayEvents, benchMaxReplayEvents)
	}
	if openRate < 0 || openRate > 100_000 {
		return o, fmt.Errorf("--open-rate: %d is out of range; give 0 to 100000", openRate)
	}
	for _, c := range strings.Split(clients, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || k <= 0 || k > benchMaxClients {
			return o, fmt.Errorf("--clients: %q is not a number of clients from 1 to %d", c, benchMaxClients)
		}
		o.clients = append(o.clients, k)
	}
	if err := checkBenchDatabaseURL(databaseURL); err != nil {
		return o, err
	}
	if (o.scenarios[scenarioAPI] || o.scenarios[scenarioSustain]) && binary != "" {
		if _, err := os.Stat(binary); err != nil {
			return o, fmt.Errorf("--server-binary: %w", err)
		}
	}
	return o, nil
}

// checkBenchDatabaseURL checks --database-url for insure bench: empty (a
// fresh SQLite file) or a PostgreSQL URL without search_path.
func checkBenchDatabaseURL(databaseURL string) error {
	if databaseURL == "" {
		return nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return fmt.Errorf("--database-url: %q is not a postgres://host/db URL (leave it out to bench on a fresh SQLite file)",
			redactURL(databaseURL))
	}
	if u.Query().Get("search_path") != "" {
		return errors.New("--database-url: leave out search_path; the bench makes and drops its own schemas")
	}
	return nil
}

func redactURL(s string) string { return config.RedactDatabaseURL(s) }

// benchReport is what insure bench prints.
type benchReport struct {
	Command  string          `json:"command"`
	Machine  benchMachine    `json:"machine"`
	Database string          `json:"database"`
	API      *apiResult      `json:"api,omitempty"`
	Pipeline *pipelineResult `json:"pipeline,omitempty"`
	Baseline *baselineResult `json:"baseline,omitempty"`
	Replay   *replayResult   `json:"replay,omitempty"`
	Memory   *memoryResult   `json:"memory,omitempty"`
	// Sustained is the sustained scenario's result.
	Sustained *sustainResult `json:"sustained,omitempty"`
}

type benchMachine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	MemoryMB  int64  `json:"memory_mb"`
	GoVersion string `json:"go_version"`
}

func machineInfo() benchMachine {
	m := benchMachine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if kb, err := procField("/proc/meminfo", "MemTotal:"); err == nil {
		m.MemoryMB = kb / 1024
	}
	return m
}

// procField reads a "Name:  123 kB" line of a /proc file, in kB.
func procField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}

// benchDB hands out a fresh database per scenario.
type benchDB struct {
	dir       string
	pgURL     string
	masterKey string
	drops     []string
}

// newBenchDB makes the fresh databases of one bench run in a new
// temporary directory (prefix names it), or on the PostgreSQL server at
// pgURL when it is set, under a master key of their own. close removes
// them.
func newBenchDB(prefix, pgURL string) (*benchDB, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	return &benchDB{dir: dir, pgURL: pgURL, masterKey: base64.StdEncoding.EncodeToString(key[:])}, nil
}

func (b *benchDB) kind() string {
	if b.pgURL != "" {
		return "postgres"
	}
	return "sqlite"
}

// fresh returns the DATABASE_URL of a new, empty database for name.
func (b *benchDB) fresh(ctx context.Context, name string) (string, error) {
	if b.pgURL == "" {
		return filepath.Join(b.dir, name+".db"), nil
	}
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redactURL(b.pgURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var r [6]byte
	_, _ = rand.Read(r[:])
	schema := "insure_bench_" + name + "_" + hex.EncodeToString(r[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	b.drops = append(b.drops, schema)
	u, _ := url.Parse(b.pgURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close drops the schemas and removes the files it made.
func (b *benchDB) close(log io.Writer) {
	if len(b.drops) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, b.pgURL)
		if err != nil {
			fmt.Fprintf(log, "bench: could not drop schemas %v: %v\n", b.drops, err)
		} else {
			for _, s := range b.drops {
				if _, err := conn.Exec(ctx, "DROP SCHEMA "+s+" CASCADE"); err != nil {
					fmt.Fprintf(log, "bench: drop schema %s: %v\n", s, err)
				}
			}
			conn.Close(ctx)
		}
	}
	_ = os.RemoveAll(b.dir)
}

// config is the configuration of a system on dbURL: recording drivers,
// its own documents directory, quiet logs.
func (b *benchDB) config(dbURL, name string) (config.Config, error) {
	cfg := config.Default()
	if err := cfg.Set("DATABASE_URL", dbURL); err != nil {
		return cfg, err
	}
	cfg.DocumentsDir = filepath.Join(b.dir, name+"-documents")
	cfg.MasterKey = b.masterKey
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = slog.LevelError
	return cfg, nil
}

func runBench(ctx context.Context, o benchOptions, log io.Writer) (*benchReport, error) {
	b, err := newBenchDB("insure-bench-", o.databaseURL)
	if err != nil {
		return nil, err
	}
	defer b.close(log)
	rep := &benchReport{Machine: machineInfo(), Database: b.kind()}
	if o.scenarios[scenarioPipeline] {
		fmt.Fprintf(log, "bench: pipeline, %d registrations and %d quotations on %s\n", o.n, o.n, b.kind())
		if rep.Pipeline, err = benchPipeline(ctx, b, o.n); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		fmt.Fprintf(log, "bench: baseline, %d bare River jobs\n", rep.Pipeline.Jobs)
		if rep.Baseline, err = benchBaseline(ctx, b, rep.Pipeline); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if rep.Baseline.JobsPerSec > 0 {
			rep.Pipeline.Ratio = rep.Pipeline.JobsPerSec / rep.Baseline.JobsPerSec
		}
	}
	if o.scenarios[scenarioReplay] {
		fmt.Fprintf(log, "bench: replay, %d events\n", o.replayEvents)
		if rep.Replay, err = benchReplay(ctx, b, o.replayEvents); err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
	}
	if o.scenarios[scenarioAPI] {
		fmt.Fprintf(log, "bench: api, clients %v for %s each\n", o.clients, o.duration)
		if rep.API, rep.Memory, err = benchAPI(ctx, b, o); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	if o.scenarios[scenarioSustain] {
		fmt.Fprintf(log, "bench: sustained, %v registrations/s for %s each\n", o.sustainRates, o.sustainDuration)
		if rep.Sustained, err = benchSustained(ctx, b, o); err != nil {
			return nil, fmt.Errorf("sustained: %w", err)
		}
	}
	return rep, nil
}

func writeBench(w io.Writer, format string, rep *benchReport) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	m := rep.Machine
	fmt.Fprintf(w, "%s\n%s/%s, %d CPUs, %d MB, %s, database %s\n\n", rep.Command, m.GOOS, m.GOARCH, m.CPUs, m.MemoryMB, m.GoVersion, rep.Database)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tresult")
	if p := rep.Pipeline; p != nil {
		fmt.Fprintf(tw, "pipeline\t%d commands, %d events, %d jobs in %s (commit %s): %.0f events/s, %.0f jobs/s, ratio %.2f\n",
			p.Commands, p.Events, p.Jobs, ms(p.Seconds), ms(p.CommitSeconds), p.EventsPerSec, p.JobsPerSec, p.Ratio)
	}
	if b := rep.Baseline; b != nil {
		fmt.Fprintf(tw, "baseline\t%d no-op jobs in %s: %.0f jobs/s (insert %.0f jobs/s)\n", b.Jobs, ms(b.Seconds), b.JobsPerSec, b.InsertPerSec)
	}
	if r := rep.Replay; r != nil {
		fmt.Fprintf(tw, "replay\t%s over %d events in %s: %.0f events/s\n", r.Projection, r.Events, ms(r.Seconds), r.EventsPerSec)
	}
	if a := rep.API; a != nil {
		for _, l := range a.Levels {
			fmt.Fprintf(tw, "api %s\t%d requests, %d errors: %.0f registrations/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n",
				l.Name, l.Requests, l.Errors, l.Throughput, l.P50Ms, l.P99Ms, l.P999Ms)
		}
	}
	if su := rep.Sustained; su != nil {
		for _, l := range su.Levels {
			verdict := "listeners keep up"
			if !l.KeepsUp {
				verdict = "listeners fall behind"
			}
			fmt.Fprintf(tw, "sustained %d/s\t%d requests, %d errors: %.0f registrations/s, p50 %.2f ms, p99 %.2f ms; backlog %.0f early, %.0f at the end (growth %.0f, allowed %.0f): %s\n",
				l.Rate, l.Requests, l.Errors, l.Throughput, l.P50Ms, l.P99Ms, l.Early, l.End, l.Growth, l.Allowed, verdict)
		}
	}
	if mem := rep.Memory; mem != nil {
		fmt.Fprintf(tw, "memory\tserve RSS idle %.1f MB, peak %.1f MB\n", mem.IdleRSSMB, mem.PeakRSSMB)
	}
	return tw.Flush()
}

func ms(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(time.Millisecond).String()
}
