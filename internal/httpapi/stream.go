package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/event"
)

// headerLastEventID is the header an EventSource sends when it reconnects:
// the id of the last event it received, here a position.
const headerLastEventID = "Last-Event-ID"

// StreamSettings tune GET /api/v1/events/stream. The zero value of a
// field takes its default.
type StreamSettings struct {
	// Heartbeat is how long a stream may go without a write before the
	// server writes a ": keepalive" comment (default 15s), so that proxies
	// and load balancers, which close idle connections, keep it open.
	Heartbeat time.Duration
	// Poll is how soon the store is read again after a read that found
	// nothing new (default 250ms); each further empty read doubles the
	// wait, up to MaxPoll (default 1s). After a full batch the store is
	// read again at once.
	Poll    time.Duration
	MaxPoll time.Duration
	// WriteTimeout is how long one write to a stream may take before the
	// server gives up on the client (default 30s). It takes the place of
	// the http.Server's WriteTimeout, which would end every stream that
	// outlives it.
	WriteTimeout time.Duration
}

func (s StreamSettings) withDefaults() StreamSettings {
	if s.Heartbeat <= 0 {
		s.Heartbeat = 15 * time.Second
	}
	if s.Poll <= 0 {
		s.Poll = 250 * time.Millisecond
	}
	if s.MaxPoll <= 0 {
		s.MaxPoll = time.Second
	}
	s.MaxPoll = max(s.MaxPoll, s.Poll)
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 30 * time.Second
	}
	return s
}

// streamEvents serves GET /api/v1/events/stream: the global event stream
// as Server-Sent Events, from a position on and then live, until the
// client goes away or the server shuts down. Each event is
//
//	id: <position>
//	event: <event name>
//	data: <the envelope as GET /api/v1/events serves it, on one line>
//
// and a ": keepalive" comment goes out whenever the stream has been quiet
// for the heartbeat. The Last-Event-ID header, which an EventSource sends
// when it reconnects, wins over the after parameter: the client resumes
// after the last event it received.
//
// The parameters are checked, the first batch is read and the read is
// recorded (one access record for the whole stream) before anything is
// written, so those failures get an ordinary error response. A read that
// fails later ends the stream; the client reconnects with Last-Event-ID.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	after, err := q.integer("after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	types, err := eventTypes(q)
	if err != nil {
		return err
	}
	if last, ok, err := lastEventID(r); err != nil {
		return err
	} else if ok {
		after = last
	}
	ctx := r.Context()
	batch := s.svc.Events.BatchSize()
	if batch <= 0 {
		batch = defaultLogSize
	}
	events, _, err := s.svc.Events.Read(ctx, after, batch, types)
	if err != nil {
		return err
	}
	// The stream holds personal data too: an unrecorded read of it is not
	// served (see recordAccess).
	if err := s.recordAccess(r, audit.AccessEventStream, subjectEventStream, ""); err != nil {
		return err
	}

	set := s.svc.Stream.withDefaults()
	rc := http.NewResponseController(w)
	// The server's WriteTimeout, counted from the request, would fail the
	// writes of a stream that outlives it: each write sets its own
	// deadline instead (see sse.write).
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set(headerCacheControl, "no-store")
	// nginx buffers responses unless told not to.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := &sse{w: w, rc: rc, timeout: set.WriteTimeout}
	t := tail{srv: s, out: out, set: set, batch: batch, types: types, after: after, done: s.streams.shutdown(r)}
	// The response has begun: whatever ends the stream, there is no
	// error response left to write. run logs what is worth logging.
	_ = t.run(ctx, events)
	return nil
}

// eventTypes returns the type filter: valid event names, at most
// maxEventTypes.
func eventTypes(q query) ([]string, error) {
	types := q.list("type")
	if len(types) > maxEventTypes {
		return nil, apperr.Field("type", "give at most %d event types, got %d", maxEventTypes, len(types))
	}
	for _, t := range types {
		if !validEventName(t) {
			return nil, apperr.Field("type", "%q is not an event name; names look like CustomerRegistered", truncate(t, 64))
		}
	}
	return types, nil
}

// lastEventID returns the position in the Last-Event-ID header, and
// whether there is one.
func lastEventID(r *http.Request) (int64, bool, error) {
	raw := strings.TrimSpace(r.Header.Get(headerLastEventID))
	if raw == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(raw, "+") {
		return 0, false, apperr.Field(headerLastEventID, "must be the id of an event this stream sent, a position such as 42; got %q", truncate(raw, 32))
	}
	return n, true, nil
}

// tail writes the events of one stream.
type tail struct {
	srv   *Server
	out   *sse
	set   StreamSettings
	batch int
	types []string
	// after is the position of the last event written.
	after int64
	// done is closed when the server shuts down.
	done <-chan struct{}
}

// run writes first, then reads and writes until ctx ends, the server shuts
// down, or a read or a write fails.
func (t *tail) run(ctx context.Context, first []event.Envelope) error {
	heartbeat := time.NewTimer(t.set.Heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTimer(t.set.Poll)
	defer poll.Stop()
	// Send the headers now: the client learns that the stream is open
	// even when there is nothing to send yet.
	if err := t.out.write(nil); err != nil {
		return err
	}
	events, idle := first, 0
	for {
		if len(events) > 0 {
			if err := t.write(events); err != nil {
				return err
			}
			heartbeat.Reset(t.set.Heartbeat)
		}
		var wait time.Duration
		switch {
		case len(events) >= t.batch:
			// A full batch: there may be more right behind it.
			idle = 0
		case len(events) > 0:
			idle, wait = 0, t.set.Poll
		default:
			wait = min(t.set.Poll<<min(idle, 16), t.set.MaxPoll)
			idle++
		}
		if err := t.sleep(ctx, wait, poll, heartbeat); err != nil {
			return err
		}
		var err error
		if events, _, err = t.srv.svc.Events.Read(ctx, t.after, t.batch, t.types); err != nil {
			if ctx.Err() == nil {
				t.srv.logger.LogAttrs(ctx, slog.LevelWarn, "event stream: read failed; ending the stream, the client may reconnect with Last-Event-ID",
					slog.String("request_id", requestIDFrom(ctx)), slog.Int64("after", t.after), slog.String("error", err.Error()))
			}
			return err
		}
	}
}

// errStreamClosed ends a stream whose client went away or whose server is
// shutting down.
var errStreamClosed = errors.New("stream closed")

// sleep waits d, writing a heartbeat whenever one falls due. It returns
// errStreamClosed when ctx ends or the server shuts down first.
func (t *tail) sleep(ctx context.Context, d time.Duration, poll, heartbeat *time.Timer) error {
	if d <= 0 {
		select {
		case <-ctx.Done():
			return errStreamClosed
		case <-t.done:
			return errStreamClosed
		default:
			return nil
		}
	}
	poll.Reset(d)
	for {
		select {
		case <-ctx.Done():
			return errStreamClosed
		case <-t.done:
			return errStreamClosed
		case <-heartbeat.C:
			if err := t.out.write([]byte(": keepalive\n\n")); err != nil {
				return err
			}
			heartbeat.Reset(t.set.Heartbeat)
		case <-poll.C:
			return nil
		}
	}
}

// write writes events as one write and one flush.
func (t *tail) write(events []event.Envelope) error {
	var b []byte
	for _, env := range events {
		data, err := json.Marshal(env)
		if err != nil {
			return err
		}
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, env.Position, 10)
		// A name is one line (validEventName's alphabet); one that is not
		// is left out rather than let it break the framing.
		if !strings.ContainsAny(env.EventName, "\r\n") {
			b = append(b, "\nevent: "...)
			b = append(b, env.EventName...)
		}
		// json.Marshal writes no newline: the envelope is one data line.
		b = append(b, "\ndata: "...)
		b = append(b, data...)
		b = append(b, "\n\n"...)
	}
	if err := t.out.write(b); err != nil {
		return err
	}
	t.after = events[len(events)-1].Position
	return nil
}

// sse writes to a stream: each write has its own deadline and is flushed.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (o *sse) write(b []byte) error {
	if err := o.rc.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if len(b) > 0 {
		if _, err := o.w.Write(b); err != nil {
			return err
		}
	}
	if err := o.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// streamHub ends the open streams when the http.Server serving them shuts
// down: http.Server.Shutdown waits for every handler to return, and a
// stream would otherwise only end with the client.
type streamHub struct {
	mu   sync.Mutex
	done map[*http.Server]chan struct{}
}

// shutdown returns a channel that is closed when the http.Server serving r
// shuts down, registering that with the server the first time. It is nil
// (never closed) for a request that came through no http.Server.
func (h *streamHub) shutdown(r *http.Request) <-chan struct{} {
	hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || hs == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.done[hs]; ok {
		return ch
	}
	if h.done == nil {
		h.done = make(map[*http.Server]chan struct{})
	}
	ch := make(chan struct{})
	h.done[hs] = ch
	var once sync.Once
	hs.RegisterOnShutdown(func() { once.Do(func() { close(ch) }) })
	return ch
}
