package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newDLQCmd(e env, g *globals) *cobra.Command {
	dlq := &cobra.Command{Use: "dlq", Short: "List and retry dead letters (listener jobs that gave up)"}
	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	list.Flags().StringVar(&status, "status", "dead", "which to list: dead, retried, all")
	var all bool
	retry := &cobra.Command{
		Use:   "retry [ID]",
		Short: "Retry one dead letter by id, or all with --all",
		Args: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return fmt.Errorf("give an id or --all, not both")
			}
			if !all && len(args) != 1 {
				return fmt.Errorf("give the id of a dead letter (see insure dlq list), or --all")
			}
			if len(args) == 1 {
				if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
					return fmt.Errorf("dead letter id %q is not a number", args[0])
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSystem(cmd.Context(), e, g, func(ctx context.Context, s *System) error {
				if all {
					done, err := s.Queue.RetryAll(ctx)
					for _, d := range done {
						fmt.Fprintf(e.stdout, "retried %d (%s, event %s)\n", d.ID, d.Listener, d.EventID)
					}
					fmt.Fprintf(e.stdout, "%d dead letters retried\n", len(done))
					return err
				}
				id, _ := strconv.ParseInt(args[0], 10, 64)
				d, err := s.Queue.Retry(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "retried %d (%s, event %s)\n", d.ID, d.Listener, d.EventID)
				return nil
			})
		},
	}
	retry.Flags().BoolVar(&all, "all", false, "retry every dead letter")
	dlq.AddCommand(list, retry)
	return dlq
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
