package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"insure/internal/breaker"
	"insure/internal/projection"
	"insure/internal/queue"
)

// The panels: parts of pages that the live connection re-renders on the
// server and sends whole whenever they change.
const (
	panelSummary     = "summary"
	panelChart       = "chart"
	panelListeners   = "listeners"
	panelQueues      = "queues"
	panelProjections = "projections"
	panelBreakers    = "breakers"
	panelWorkers     = "workers"
	panelDeadLetters = "deadletters"
)

// panelNames lists every panel.
func panelNames() []string {
	return []string{panelSummary, panelChart, panelListeners, panelQueues, panelProjections, panelBreakers,
		panelWorkers, panelDeadLetters}
}

// The windows the panels report on.
const (
	statsWindow   = time.Hour
	workersWindow = 2 * time.Minute
	// maxDeadLetters is how many dead letters the list shows.
	maxDeadLetters = 200
)

// The queue states shown, in order.
var queueStates = []string{"available", "scheduled", "retryable", "running", "pending"}

type summaryPanel struct {
	EventsLastHour int64
	DeadLetters    int64
	Head           int64
	Waiting        int64 // jobs available, scheduled, retryable or pending
	Running        int64
	Err            string
}

type listenersPanel struct {
	Listeners []listenerRow
	Window    time.Duration
	Err       string
}

// listenerRow is a listener's figures and its unresolved dead letters.
type listenerRow struct {
	ListenerStat
	Dead int64
}

type queueRow struct {
	Queue  string
	States []int64 // in queueStates' order
	Oldest time.Duration
}

type queuesPanel struct {
	States []string
	Queues []queueRow
	Err    string
}

type projectionsPanel struct {
	Projections []projection.Status
	Err         string
}

type breakersPanel struct {
	Breakers []breaker.Status
}

type workersPanel struct {
	Workers []Worker
	Window  time.Duration
	Now     time.Time
	Err     string
}

type deadLettersPanel struct {
	DeadLetters []queue.DeadLetter
	// More is true when there are more than the list shows.
	More bool
	Err  string
}

// volumeCache keeps the last hour's event volume for a while: every live
// page shows it, and counting an hour of events per page every few
// seconds would load the database for nothing.
type volumeCache struct {
	mu     sync.Mutex
	at     time.Time
	points []VolumePoint
}

// eventVolume returns the last hour's event volume, read at most once per
// five refreshes whatever the number of live pages.
func (h *Handler) eventVolume(ctx context.Context, now time.Time) ([]VolumePoint, error) {
	c := &h.volume
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && now.Sub(c.at) < slowEvery*h.cfg.Refresh && !now.Before(c.at) {
		return c.points, nil
	}
	points, err := h.cfg.Metrics.EventVolume(ctx, now.Add(-statsWindow))
	if err != nil {
		return nil, err
	}
	c.at, c.points = now, points
	return points, nil
}

// collect gathers the data of the named panels. A source that fails
// fails its panel only, which then shows the error.
func (h *Handler) collect(ctx context.Context, names []string) map[string]any {
	now := h.cfg.Now().UTC()
	out := make(map[string]any, len(names))
	want := func(n string) bool { return slices.Contains(names, n) }
	var (
		volume    []VolumePoint
		volumeErr error
	)
	if want(panelChart) || want(panelSummary) {
		volume, volumeErr = h.eventVolume(ctx, now)
	}
	var (
		depths    []QueueDepth
		depthsErr error
		dead      map[string]int64
		deadErr   error
	)
	if want(panelQueues) || want(panelSummary) {
		depths, depthsErr = h.cfg.Metrics.QueueDepths(ctx)
	}
	if want(panelListeners) || want(panelSummary) {
		dead, deadErr = h.cfg.Metrics.DeadLetterCounts(ctx)
	}
	for _, n := range names {
		switch n {
		case panelSummary:
			p := summaryPanel{}
			var err error
			for _, v := range volume {
				p.EventsLastHour += v.Events
			}
			for _, d := range dead {
				p.DeadLetters += d
			}
			for _, d := range depths {
				switch d.State {
				case "running":
					p.Running += d.Jobs
				case "available", "scheduled", "retryable", "pending":
					p.Waiting += d.Jobs
				}
			}
			p.Head, err = h.cfg.Events.Head(ctx)
			p.Err = errText(volumeErr, depthsErr, deadErr, err)
			out[n] = p
		case panelChart:
			c := buildChart(volume, now)
			c.Err = errText(volumeErr)
			out[n] = c
		case panelListeners:
			stats, err := h.cfg.Metrics.ListenerStats(ctx, now.Add(-statsWindow))
			out[n] = listenersPanel{Listeners: listenerRows(stats, dead), Window: statsWindow, Err: errText(err, deadErr)}
		case panelQueues:
			lags, err := h.cfg.Metrics.QueueLags(ctx)
			out[n] = queuesPanel{States: queueStates, Queues: queueRows(depths, lags), Err: errText(depthsErr, err)}
		case panelProjections:
			st, err := h.cfg.Projections.Status(ctx)
			out[n] = projectionsPanel{Projections: st, Err: errText(err)}
		case panelBreakers:
			out[n] = breakersPanel{Breakers: h.cfg.Breakers.Statuses()}
		case panelWorkers:
			ws, err := h.cfg.Metrics.Workers(ctx, now.Add(-workersWindow))
			slices.SortFunc(ws, func(a, b Worker) int { return cmp.Or(strings.Compare(a.Host, b.Host), cmp.Compare(a.PID, b.PID)) })
			out[n] = workersPanel{Workers: ws, Window: workersWindow, Now: now, Err: errText(err)}
		case panelDeadLetters:
			dls, err := h.cfg.DeadLetters.DeadLetters(ctx, "dead", 0, maxDeadLetters+1)
			p := deadLettersPanel{DeadLetters: dls, Err: errText(err)}
			if len(dls) > maxDeadLetters {
				p.DeadLetters, p.More = dls[:maxDeadLetters], true
			}
			out[n] = p
		}
	}
	return out
}

// listenerRows is one row per listener that worked in the window or has
// dead letters, sorted by name.
func listenerRows(stats []ListenerStat, dead map[string]int64) []listenerRow {
	rows := make([]listenerRow, 0, len(stats))
	for _, st := range stats {
		rows = append(rows, listenerRow{ListenerStat: st, Dead: dead[st.Listener]})
	}
	for l, n := range dead {
		if !slices.ContainsFunc(stats, func(st ListenerStat) bool { return st.Listener == l }) {
			rows = append(rows, listenerRow{ListenerStat: ListenerStat{Listener: l}, Dead: n})
		}
	}
	slices.SortFunc(rows, func(a, b listenerRow) int { return strings.Compare(a.Listener, b.Listener) })
	return rows
}

// queueRows is one row per queue (every known queue, and any other the
// metrics name), its jobs per state in queueStates' order.
func queueRows(depths []QueueDepth, lags []QueueLag) []queueRow {
	idx := map[string]int{}
	var rows []queueRow
	row := func(q string) *queueRow {
		i, ok := idx[q]
		if !ok {
			i = len(rows)
			idx[q] = i
			rows = append(rows, queueRow{Queue: q, States: make([]int64, len(queueStates))})
		}
		return &rows[i]
	}
	for _, q := range queue.Names() {
		row(q)
	}
	for _, d := range depths {
		if s := slices.Index(queueStates, d.State); s >= 0 {
			row(d.Queue).States[s] += d.Jobs
		}
	}
	for _, l := range lags {
		row(l.Queue).Oldest = l.Oldest
	}
	return rows
}

// errText joins the messages of the errors that are not nil.
func errText(errs ...error) string {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	return strings.Join(msgs, "; ")
}

// renderPanel renders one panel's HTML for the live connection.
func (h *Handler) renderPanel(v view, name string, data any) (string, error) {
	v.Data = data
	var buf bytes.Buffer
	if err := h.panels.ExecuteTemplate(&buf, "panel-"+name, v); err != nil {
		return "", err
	}
	return buf.String(), nil
}
