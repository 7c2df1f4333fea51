package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"insure/internal/queue"
)

func newDLQCmd(e env, g *globals) *cobra.Command {
	dlq := &cobra.Command{Use: "dlq", Short: "List, retry and discard dead letters (listener jobs that gave up)"}
	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch status {
			case "dead", "retried", "discarded", "all":
			default:
				return fmt.Errorf("--status %q: expected dead, retried, discarded or all", status)
			}
			return withSystem(cmd.Context(), e, g, func(ctx context.Context, s *System) error {
				w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tLISTENER\tQUEUE\tEVENT\tATTEMPTS\tSTATUS\tFAILED AT\tERROR")
				var after int64
				n := 0
				for {
					dls, err := s.Queue.DeadLetters(ctx, status, after, 500)
					if err != nil {
						return err
					}
					if len(dls) == 0 {
						break
					}
					for _, d := range dls {
						after = d.ID
						n++
						fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Listener, d.Queue, d.EventID, d.Attempts, d.Status,
							d.FailedAt.Format("2006-01-02 15:04:05"), oneLine(d.Error, 80))
					}
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d dead letters (%s)\n", n, status)
				return nil
			})
		},
	}
	list.Flags().StringVar(&status, "status", "dead", "which to list: dead, retried, discarded, all")
	dlq.AddCommand(list,
		resolveCmd(e, g, "retry", "retried", "Retry one dead letter by id (its job runs again with one more attempt), or all with --all",
			func(s *System) (func(context.Context, int64) (queue.DeadLetter, error), func(context.Context) ([]queue.DeadLetter, error)) {
				return s.Queue.Retry, s.Queue.RetryAll
			}),
		resolveCmd(e, g, "discard", "discarded", "Discard one dead letter by id (its job never runs again), or all with --all",
			func(s *System) (func(context.Context, int64) (queue.DeadLetter, error), func(context.Context) ([]queue.DeadLetter, error)) {
				return s.Queue.Discard, s.Queue.DiscardAll
			}))
	return dlq
}

// resolveCmd is insure dlq retry or discard: one dead letter by id, or
// every one with --all.
func resolveCmd(e env, g *globals, verb, done, short string,
	ops func(s *System) (func(context.Context, int64) (queue.DeadLetter, error), func(context.Context) ([]queue.DeadLetter, error))) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   verb + " [ID]",
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return fmt.Errorf("give an id or --all, not both")
			}
			if !all && len(args) != 1 {
				return fmt.Errorf("give the id of a dead letter (see insure dlq list), or --all")
			}
			if len(args) == 1 {
				if id, err := strconv.ParseInt(args[0], 10, 64); err != nil || id < 1 {
					return fmt.Errorf("dead letter id %q is not a positive number", args[0])
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSystem(cmd.Context(), e, g, func(ctx context.Context, s *System) error {
				one, every := ops(s)
				if all {
					resolved, err := every(ctx)
					for _, d := range resolved {
						fmt.Fprintf(e.stdout, "%s %d (%s, event %s)\n", done, d.ID, d.Listener, d.EventID)
					}
					fmt.Fprintf(e.stdout, "%d dead letters %s\n", len(resolved), done)
					return err
				}
				id, _ := strconv.ParseInt(args[0], 10, 64)
				d, err := one(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s %d (%s, event %s)\n", done, d.ID, d.Listener, d.EventID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, verb+" every dead letter")
	return cmd
}

// withSystem opens an insert-only system (no workers) for a command.
func withSystem(ctx context.Context, e env, g *globals, fn func(ctx context.Context, s *System) error) error {
	cfg, err := loadConfig(e, g)
	if err != nil {
		return err
	}
	s, err := Open(ctx, cfg, newLogger(cfg, e.stderr), Options{Migrate: true})
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(ctx, s)
}

func oneLine(s string, n int) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}
