// Package cli is insure's command line: the cobra commands and the wiring of
// everything they run. cmd/insure only handles signals and the exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"insure/internal/config"
)

// env is where a command gets its configuration and streams; tests give
// their own.
type env struct {
	lookup func(string) (string, bool)
	stdout io.Writer
	stderr io.Writer
}

// Main runs the command line with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, env{lookup: os.LookupEnv, stdout: stdout, stderr: stderr})
}

func run(ctx context.Context, args []string, e env) int {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ex *exitError
		if errors.As(err, &ex) {
			return ex.code
		}
		fmt.Fprintln(e.stderr, "insure:", err)
		return 1
	}
	return 0
}

// exitError ends a command with a code after it has printed its own output.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

type globals struct {
	databaseURL string
}

func newRoot(e env) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "insure",
		Short:         "insure: an event-driven insurance management backend",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.databaseURL, "database-url", "", "database to use (overrides DATABASE_URL): a SQLite file path, sqlite:///path.db, or postgres://…")
	root.AddCommand(newServeCmd(e, g), newWorkerCmd(e, g), newMigrateCmd(e, g), newEventsCmd(e, g), newDLQCmd(e, g), newConfigCmd(e, g), newTokenCmd(e, g), newKeysCmd(e, g), newProjectionsCmd(e, g), newHealthCmd(e, g), newBenchCmd(e, g))
	return root
}

// loadConfig reads the environment and applies the global flags.
func loadConfig(e env, g *globals) (config.Config, error) {
	cfg, err := config.FromEnv(e.lookup)
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n%w", err)
	}
	if g.databaseURL != "" {
		if err := cfg.Set("DATABASE_URL", g.databaseURL); err != nil {
			return cfg, fmt.Errorf("--database-url: %w", err)
		}
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
