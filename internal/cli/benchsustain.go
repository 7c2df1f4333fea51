package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The sustained scenario: registrations at a steady open-loop rate against
// `insure serve` with its workers, on a fresh database per rate, while the
// listener backlog is watched. A rate is sustained when the backlog at the
// end is not above the backlog early in the run by more than one second's
// worth of the jobs the registrations start: the listeners keep up.

const (
	// sustainJobsPerRegistration is how many listener jobs one registration
	// starts (welcome email, audit entry, admin notice, and the delivery
	// of each of the two emails).
	sustainJobsPerRegistration = 5
	sustainMaxRate             = 100_000
)

// sustainLevel is one rate held for the scenario's duration.
type sustainLevel struct {
	// apiLevel is the load: its rate, requests, errors and latencies.
	apiLevel
	// Backlog holds the listener jobs not yet finished (available,
	// running, retryable, pending), read from serve's /metrics every
	// BacklogEveryS seconds from the start of the load.
	Backlog       []float64 `json:"backlog"`
	BacklogEveryS float64   `json:"backlog_every_s"`
	// Early is the median backlog over the second sixth of the run, End
	// the median of the last three readings; Growth is End − Early and
	// Allowed the growth that still counts as keeping up (one second of
	// the rate's jobs).
	Early   float64 `json:"backlog_early"`
	End     float64 `json:"backlog_end"`
	Growth  float64 `json:"backlog_growth"`
	Allowed float64 `json:"backlog_growth_allowed"`
	KeepsUp bool    `json:"keeps_up"`
}

type sustainResult struct {
	Endpoint string         `json:"endpoint"`
	Levels   []sustainLevel `json:"levels"`
}

// parseSustainRates reads --sustain-rates: comma-separated requests per
// second, each from 1 to sustainMaxRate.
func parseSustainRates(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := strconv.Atoi(f)
		if err != nil || r <= 0 || r > sustainMaxRate {
			return nil, fmt.Errorf("--sustain-rates: %q is not a rate from 1 to %d requests a second", f, sustainMaxRate)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("--sustain-rates: give at least one rate, e.g. 100,150")
	}
	return out, nil
}

// benchSustained runs every rate of o.sustainRates for o.sustainDuration.
func benchSustained(ctx context.Context, b *benchDB, o benchOptions) (*sustainResult, error) {
	bin, err := benchServerBinary(o)
	if err != nil {
		return nil, err
	}
	res := &sustainResult{Endpoint: "POST /api/v1/customers"}
	for i, rate := range o.sustainRates {
		l, err := sustainRate(ctx, b, bin, fmt.Sprintf("sustain%d", i), rate, o.sustainDuration, o.apiTokens)
		if err != nil {
			return nil, fmt.Errorf("%d/s: %w", rate, err)
		}
		res.Levels = append(res.Levels, l)
	}
	return res, nil
}

func sustainRate(ctx context.Context, b *benchDB, bin, name string, rate int, d time.Duration, tokenCount int) (sustainLevel, error) {
	// About 30 readings over the run, at most one every 2 s.
	every := min(max(d/30, 100*time.Millisecond), 2*time.Second)
	l := sustainLevel{apiLevel: apiLevel{Rate: rate}, BacklogEveryS: every.Seconds()}
	dbURL, err := b.fresh(ctx, name)
	if err != nil {
		return l, err
	}
	tokens, err := benchTokens(ctx, b, dbURL, tokenCount)
	if err != nil {
		return l, fmt.Errorf("create tokens: %w", err)
	}
	child, err := startServeChild(ctx, b, bin, dbURL, name)
	if err != nil {
		return l, err
	}
	defer child.stop()
	client := &http.Client{Timeout: 5 * time.Second}
	sctx, stop := context.WithCancel(ctx)
	var (
		wg      sync.WaitGroup
		backlog []float64
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
				var s soakSample
				if err := scrapeServe(sctx, client, child.base, &s); err == nil {
					backlog = append(backlog, s.Backlog)
				}
			}
		}
	}()
	lvl := attack(registrations(child.base, tokens, "sustain", "97"), fmt.Sprintf("sustained %d/s", rate), 0, rate, d)
	stop()
	wg.Wait()
	if ctx.Err() != nil {
		return l, ctx.Err()
	}
	l.apiLevel = lvl
	l.Backlog = backlog
	judgeSustain(&l)
	return l, nil
}

// judgeSustain sets the level's verdict from its backlog readings: the
// listeners keep up when the backlog at the end (median of the last three
// readings) exceeds the backlog early in the run (median over the second
// sixth, once the first jobs flow) by at most one second's worth of the
// jobs the rate starts, and no request failed.
func judgeSustain(l *sustainLevel) {
	n := len(l.Backlog)
	l.Allowed = float64(l.Rate * sustainJobsPerRegistration)
	if n < 6 {
		// Too short a run to see a trend.
		l.KeepsUp = false
		return
	}
	l.Early, l.End = soakMedian(l.Backlog[n/6:max(n/3, n/6+1)]), soakMedian(l.Backlog[n-3:])
	l.Growth = l.End - l.Early
	l.KeepsUp = l.Errors == 0 && l.Growth <= l.Allowed
}

// benchServerBinary is the insure binary a scenario serves with:
// --server-binary, or this one.
func benchServerBinary(o benchOptions) (string, error) {
	if o.serverBinary != "" {
		return o.serverBinary, nil
	}
	bin, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the insure binary: %w", err)
	}
	return bin, nil
}
