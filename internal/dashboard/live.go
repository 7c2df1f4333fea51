package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/audit"
)

// liveBatch is the most events one stream message carries.
const liveBatch = 100

// writeTimeout is how long one write to a live connection may take.
const writeTimeout = 30 * time.Second

// live serves GET /dashboard/live: Server-Sent Events that keep a page up
// to date without reloading it.
//
//	event: panel    data: {"id": "<panel>", "html": "<the panel re-rendered>"}
//	event: events   data: {"html": "<new rows of the stream, newest first>", "last": <position>}
//	event: ended    data: {}   (the session ended: expired, logged out or its token revoked)
//
// A panel is sent when its HTML changed since the last time; the stream
// sends the events after the position the page was rendered at, of the
// types it was filtered by. The session is checked again at every
// refresh, so a revoked token ends its live pages too.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var panels []string
	for _, p := range strings.Split(q.Get("panels"), ",") {
		if p == "" {
			continue
		}
		if !slices.Contains(panelNames(), p) {
			h.fail(w, r, apperr.Field("panels", "%q is not a panel", truncate(p, 32)))
			return
		}
		if !slices.Contains(panels, p) {
			panels = append(panels, p)
		}
	}
	stream := q.Get("stream") == "1"
	after, err := strconv.ParseInt(q.Get("after"), 10, 64)
	if stream && (err != nil || after < 0) {
		h.fail(w, r, apperr.Field("after", "must be the position the page was rendered at"))
		return
	}
	// An EventSource that reconnects sends the id of the last event it
	// got: the position of the last event the stream sent.
	if last, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && last >= 0 {
		after = last
	}
	types, err := h.eventTypes(q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.newView(r, "", "")
	if stream && v.CanSeeData {
		if err := h.record(r, audit.AccessEventStream, subjectEventStream, ""); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	c := &liveConn{h: h, w: w, rc: http.NewResponseController(w), view: v, panels: panels, stream: stream,
		after: after, types: types, sent: map[string]string{}, done: h.hub.shutdown(r)}
	c.run(r.Context())
}

// liveConn is one live connection.
type liveConn struct {
	h      *Handler
	w      http.ResponseWriter
	rc     *http.ResponseController
	view   view
	panels []string
	stream bool
	after  int64
	types  []string
	// sent is the HTML last sent per panel.
	sent map[string]string
	done <-chan struct{}
	// ticks counts the refreshes: the costly panels are refreshed every
	// slowEvery-th only.
	ticks int
}

// slowEvery is how many refreshes apart the costly panels (the chart and
// the listeners' figures, which scan an hour of events and jobs) are
// brought up to date.
const slowEvery = 5

// slowPanel reports whether a panel is one of the costly ones.
func slowPanel(name string) bool { return name == panelChart || name == panelListeners }

func (c *liveConn) run(ctx context.Context) {
	cfg := c.h.cfg
	refresh := time.NewTicker(cfg.Refresh)
	defer refresh.Stop()
	heartbeat := time.NewTicker(cfg.Heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(cfg.EventPoll)
	defer poll.Stop()
	if !c.stream {
		poll.Stop()
	}
	// Open the stream at once, then bring the page up to date.
	if c.write(nil) != nil || !c.refresh(ctx) {
		return
	}
	for {
		var ok bool
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-heartbeat.C:
			ok = c.write([]byte(": keepalive\n\n")) == nil
		case <-refresh.C:
			ok = c.refresh(ctx)
		case <-poll.C:
			ok = c.events(ctx)
		}
		if !ok {
			return
		}
	}
}

// refresh checks the session and sends the panels that changed. It
// returns false when the connection is to end.
func (c *liveConn) refresh(ctx context.Context) bool {
	s, err := c.h.check(ctx, c.view.Session.IDHash)
	if errors.Is(err, ErrNoSession) {
		_ = c.send("ended", struct{}{})
		return false
	}
	if err != nil {
		// The store is down for a moment: try again at the next refresh.
		return ctx.Err() == nil
	}
	c.view.Session = s
	names := make([]string, 0, len(c.panels))
	for _, name := range c.panels {
		if c.ticks%slowEvery == 0 || !slowPanel(name) {
			names = append(names, name)
		}
	}
	c.ticks++
	data := c.h.collect(ctx, names)
	for _, name := range names {
		html, err := c.h.renderPanel(c.view, name, data[name])
		if err != nil {
			c.h.cfg.Logger.Error("dashboard: rendering a panel failed", "panel", name, "error", err.Error())
			continue
		}
		if c.sent[name] == html {
			continue
		}
		if c.send("panel", map[string]string{"id": name, "html": html}) != nil {
			return false
		}
		c.sent[name] = html
	}
	return true
}

// events sends the events appended since the last ones sent.
func (c *liveConn) events(ctx context.Context) bool {
	envs, _, err := c.h.cfg.Events.Read(ctx, c.after, liveBatch, c.types)
	if err != nil {
		return ctx.Err() == nil
	}
	if len(envs) == 0 {
		return true
	}
	v := c.view
	v.Data = rowsOf(envs, v.CanSeeData)
	var buf bytes.Buffer
	if err := c.h.panels.ExecuteTemplate(&buf, "stream-rows", v); err != nil {
		c.h.cfg.Logger.Error("dashboard: rendering events failed", "error", err.Error())
		return false
	}
	c.after = envs[len(envs)-1].Position
	return c.sendID("events", strconv.FormatInt(c.after, 10), map[string]any{"html": buf.String(), "last": c.after}) == nil
}

// send writes one event whose data is v as JSON (one line).
func (c *liveConn) send(name string, v any) error { return c.sendID(name, "", v) }

// sendID is send with an event id (none when id is "").
func (c *liveConn) sendID(name, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var b []byte
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return c.write(b)
}

// write writes b and flushes, with its own deadline (the server's
// WriteTimeout would end a connection that outlives it).
func (c *liveConn) write(b []byte) error {
	if err := c.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if len(b) > 0 {
		if _, err := c.w.Write(b); err != nil {
			return err
		}
	}
	if err := c.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
