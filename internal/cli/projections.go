package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/projection"
)

func newProjectionsCmd(e env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "List the read models' projections, how far behind the event stream they are, and rebuild them",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List each projection with its position, the stream head, its lag (events and age) and its last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSystem(cmd.Context(), e, g, func(ctx context.Context, s *System) error {
				return listProjections(ctx, e.stdout, s.Projections)
			})
		},
	}
	var (
		batch   int
		restart bool
	)
	rebuild := &cobra.Command{
		Use:   "rebuild NAME",
		Short: "Rebuild one projection from the first event into shadow tables and swap them in, with no downtime",
		Long: "Rebuilds the read model NAME (see `insure projections list`) from the event stream into shadow tables while " +
			"the live ones keep serving reads and taking writes, then swaps them in, in one transaction, once caught up. " +
			"Prints progress (position of head, events/s) as it goes. An interrupted rebuild resumes where it stopped; " +
			"--restart starts it again from the first event.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSystem(cmd.Context(), e, g, func(ctx context.Context, s *System) error {
				return rebuildProjection(ctx, e.stdout, s.Projections, args[0], projection.RebuildOptions{BatchSize: batch, Restart: restart})
			})
		},
	}
	rebuild.Flags().IntVar(&batch, "batch", 5000, "events per transaction")
	rebuild.Flags().BoolVar(&restart, "restart", false, "drop an unfinished rebuild of NAME and start again from the first event")
	cmd.AddCommand(list, rebuild)
	return cmd
}

// listProjections prints where each projection is.
func listProjections(ctx context.Context, w io.Writer, subs *projection.Subscriptions) error {
	sts, err := subs.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPOSITION\tHEAD\tLAG\tAGE\tUPDATED\tSTATUS")
	for _, st := range sts {
		age := "-"
		if st.Lag > 0 {
			age = st.Age.Round(time.Millisecond).String()
		}
		status := "caught up"
		switch {
		case st.LastError != "":
			status = "failing: " + oneLine(st.LastError, 100)
		case st.Lag > 0:
			status = "catching up"
		}
		if st.Rebuilding >= 0 {
			status += fmt.Sprintf("; rebuild at %d", st.Rebuilding)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", st.Name, st.Position, st.Head, st.Lag, age,
			st.UpdatedAt.Format("2006-01-02 15:04:05"), status)
	}
	return tw.Flush()
}

// rebuildProjection rebuilds one projection, printing its progress at
// most once a second.
func rebuildProjection(ctx context.Context, w io.Writer, subs *projection.Subscriptions, name string, opts projection.RebuildOptions) error {
	var last time.Time
	opts.Progress = func(p projection.Progress) {
		if p.Phase == "copy" && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		switch p.Phase {
		case "copy":
			pct := 100.0
			if p.Head > 0 {
				pct = 100 * float64(p.Position) / float64(p.Head)
			}
			fmt.Fprintf(w, "%s: copying, position %d of head %d (%.0f%%), %.0f events/s\n", name, p.Position, p.Head, pct, p.Rate())
		case "swap":
			fmt.Fprintf(w, "%s: swapping in the rebuilt tables at position %d of head %d\n", name, p.Position, p.Head)
		}
	}
	p, err := subs.Rebuild(ctx, name, opts)
	if err != nil {
		return err
	}
	resumed := ""
	if p.Resumed > 0 {
		resumed = fmt.Sprintf(" (resumed from position %d)", p.Resumed)
	}
	fmt.Fprintf(w, "%s rebuilt: %d events in %s, %.0f events/s%s; live at position %d\n", name, p.Applied,
		p.Elapsed.Round(time.Millisecond), p.Rate(), resumed, p.Position)
	return nil
}
