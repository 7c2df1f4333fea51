package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/app"
)

// The exit codes of insure health, as monitoring plugins use them.
const (
	healthOK       = 0
	healthDegraded = 1
	healthFailing  = 2
	healthUnknown  = 3
)

func newHealthCmd(e env, g *globals) *cobra.Command {
	var (
		rawURL  string
		timeout time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Ask a running insure for its readiness (GET /readyz) and exit with its status",
		Long: "health asks a running insure process for its readiness checks and prints them.\n\n" +
			"Exit codes: 0 ok, 1 degraded (a non-critical check fails), 2 failing (a critical check fails), " +
			"3 unknown (the process cannot be reached or gives no readiness answer).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := rawURL
			if base == "" {
				cfg, err := loadConfig(e, g)
				if err != nil {
					fmt.Fprintln(e.stderr, "insure:", err)
					return &exitError{code: healthUnknown}
				}
				base = addrURL(cfg.HTTPAddr)
			}
			target, err := readyURL(base)
			if err != nil {
				fmt.Fprintln(e.stderr, "insure: --url:", err)
				return &exitError{code: healthUnknown}
			}
			if timeout <= 0 || timeout > 5*time.Minute {
				fmt.Fprintf(e.stderr, "insure: --timeout %s: expected a duration from 1ms to 5m\n", timeout)
				return &exitError{code: healthUnknown}
			}
			rd, status, err := fetchReadiness(cmd.Context(), target, timeout)
			if err != nil {
				fmt.Fprintf(e.stderr, "insure: readiness of %s: %v\n", target, err)
				return &exitError{code: healthUnknown}
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rd); err != nil {
					return err
				}
			} else {
				printReadiness(e.stdout, target, status, rd)
			}
			switch rd.Status {
			case app.StatusOK:
				return nil
			case app.StatusDegraded:
				return &exitError{code: healthDegraded}
			default:
				return &exitError{code: healthFailing}
			}
		},
	}
	cmd.Flags().StringVar(&rawURL, "url", "", "base URL of the insure process (default: http://HTTP_ADDR)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the readiness answer as JSON")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		fmt.Fprintln(e.stderr, "insure:", err)
		return &exitError{code: healthUnknown}
	})
	return cmd
}

// addrURL turns a listen address into the URL to reach it on: a wildcard
// host becomes the loopback address.
func addrURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// readyURL checks base (an http or https URL without query, fragment or
// credentials) and returns its /readyz URL.
func readyURL(base string) (string, error) {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q is not a URL: %w", base, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q: expected an http or https URL such as http://127.0.0.1:8080", base)
	case u.Host == "":
		return "", fmt.Errorf("%q has no host", base)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q: expected no credentials, query or fragment", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/readyz"
	return u.String(), nil
}

// fetchReadiness asks target for readiness. A 200 or 503 with a readiness
// body is an answer; anything else is an error.
func fetchReadiness(ctx context.Context, target string, timeout time.Duration) (app.Readiness, int, error) {
	var rd app.Readiness
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return rd, 0, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return rd, 0, fmt.Errorf("no answer within %s", timeout)
		}
		return rd, 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return rd, res.StatusCode, fmt.Errorf("reading the answer: %w", err)
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusServiceUnavailable {
		return rd, res.StatusCode, fmt.Errorf("HTTP %d, not a readiness answer", res.StatusCode)
	}
	if err := json.Unmarshal(body, &rd); err != nil {
		return rd, res.StatusCode, fmt.Errorf("HTTP %d with a body that is not a readiness answer: %w", res.StatusCode, err)
	}
	switch rd.Status {
	case app.StatusOK, app.StatusDegraded, app.StatusFailing:
	default:
		return rd, res.StatusCode, fmt.Errorf("HTTP %d with readiness status %q (want ok, degraded or failing)", res.StatusCode, rd.Status)
	}
	if (rd.Status == app.StatusFailing) != (res.StatusCode == http.StatusServiceUnavailable) {
		return rd, res.StatusCode, fmt.Errorf("HTTP %d does not match readiness status %q", res.StatusCode, rd.Status)
	}
	return rd, res.StatusCode, nil
}

func printReadiness(w io.Writer, target string, status int, rd app.Readiness) {
	fmt.Fprintf(w, "%s: %s (HTTP %d)\n\n", target, rd.Status, status)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tCRITICAL\tDETAIL")
	for _, c := range rd.Checks {
		crit := "no"
		if c.Critical {
			crit = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Status, crit, c.Detail)
	}
	tw.Flush()
}
