package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/httpapi"
)

// streamFor sends the request with a context that ends after d, so that a
// request to the event stream, which has no end of its own, returns.
func streamFor(d time.Duration) option {
	return func(r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		time.AfterFunc(d, cancel)
		*r = *r.WithContext(ctx)
	}
}

// memLog is an event log in memory behind the fake Events.Read.
type memLog struct {
	mu     sync.Mutex
	events []event.Envelope
	// fail, when set, is returned by every read from the next on.
	fail error
	// reads counts the reads.
	reads int
}

// add appends one event of each name.
func (l *memLog) add(names ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		env := testEnvelope(int64(len(l.events) + 1))
		env.EventName = n
		l.events = append(l.events, env)
	}
}

func (l *memLog) read(_ context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	if l.fail != nil {
		return nil, after, l.fail
	}
	var out []event.Envelope
	for _, env := range l.events {
		if env.Position > after && (len(types) == 0 || slices.Contains(types, env.EventName)) && len(out) < limit {
			out = append(out, env)
		}
	}
	next := after
	if len(out) > 0 {
		next = out[len(out)-1].Position
	}
	return out, next, nil
}

func (l *memLog) setFail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = err
}

func (l *memLog) get(pos int64) event.Envelope {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[pos-1]
}

// fastStream is a stream that polls and beats often.
var fastStream = httpapi.StreamSettings{Heartbeat: time.Hour, Poll: 5 * time.Millisecond, MaxPoll: 20 * time.Millisecond}

// streamRig is the API over happy fakes, with its events in a memLog,
// served on a local port.
type streamRig struct {
	t   *testing.T
	log *memLog
	f   *fakes
	srv *httptest.Server
	// returned receives the path of each request whose handler returned.
	returned chan string
	logs     *syncBuffer
}

func newStreamRig(t *testing.T, set httpapi.StreamSettings, config func(*http.Server)) *streamRig {
	t.Helper()
	svc, f := happyServices()
	svc.Limits = generousLimits
	svc.Stream = set
	rig := &streamRig{t: t, log: &memLog{}, f: f, returned: make(chan string, 16), logs: &syncBuffer{}}
	f.events.ReadFn = rig.log.read
	f.events.Batch = 2
	logger := slog.New(slog.NewJSONHandler(rig.logs, nil))
	srv, err := httpapi.NewServer(svc, logger, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		rig.returned <- r.URL.Path
	})
	rig.srv = httptest.NewUnstartedServer(h)
	if config != nil {
		config(rig.srv.Config)
	}
	rig.srv.Start()
	t.Cleanup(rig.srv.Close)
	return rig
}

// frame is one message of a stream: an event, or a comment.
type frame struct {
	ID, Event, Data, Comment string
}

// stream is an open event stream.
type stream struct {
	t      *testing.T
	res    *http.Response
	frames chan frame
	cancel context.CancelFunc
}

// open opens the stream at target with the given headers (name, value, …)
// and the auditor's token.
func (rig *streamRig) open(target string, headers ...string) *stream {
	rig.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Registered after the server's Close, so it runs first: Close waits
	// for the handlers.
	rig.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", rig.srv.URL+target, nil)
	if err != nil {
		rig.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+auditorToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := rig.srv.Client().Do(req)
	if err != nil {
		rig.t.Fatal(err)
	}
	s := &stream{t: rig.t, res: res, frames: make(chan frame, 100), cancel: cancel}
	go s.read()
	return s
}

// read parses the body into frames until it ends, then closes s.frames.
func (s *stream) read() {
	defer close(s.frames)
	defer s.res.Body.Close()
	br := bufio.NewReader(s.res.Body)
	var f frame
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			s.frames <- f
			f = frame{}
		case strings.HasPrefix(line, ":"):
			f.Comment = strings.TrimSpace(line[1:])
		default:
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				f.ID = v
			case "event":
				f.Event = v
			case "data":
				f.Data = v
			default:
				s.frames <- frame{Comment: "unexpected line " + line}
			}
		}
	}
}

// next returns the next frame, failing the test when none comes in time
// or the stream ends.
func (s *stream) next() frame {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return f
	case <-time.After(5 * time.Second):
		s.t.Fatal("no frame within 5s")
	}
	return frame{}
}

// nextEvent returns the next frame that is not a comment.
func (s *stream) nextEvent() frame {
	s.t.Helper()
	for {
		if f := s.next(); f.Comment == "" {
			return f
		}
	}
}

// wantEnd waits for the stream to end.
func (s *stream) wantEnd() {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				return
			}
		case <-timeout:
			s.t.Fatal("the stream did not end within 5s")
		}
	}
}

// wantEvents reads the next events and checks they are the log's at
// these positions, each framed as the endpoint promises.
func (s *stream) wantEvents(log *memLog, positions ...int64) {
	s.t.Helper()
	for _, pos := range positions {
		f := s.nextEvent()
		want := log.get(pos)
		if f.ID != strconv.FormatInt(pos, 10) || f.Event != want.EventName {
			s.t.Fatalf("frame %+v, want id %d event %s", f, pos, want.EventName)
		}
		var got event.Envelope
		if err := json.Unmarshal([]byte(f.Data), &got); err != nil {
			s.t.Fatalf("data %q: %v", f.Data, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			s.t.Fatalf("event %d (-want +got):\n%s", pos, diff)
		}
	}
}

// waitReturned waits until the handler of a request to path returns.
func (rig *streamRig) waitReturned(path string) {
	rig.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p := <-rig.returned:
			if p == path {
				return
			}
		case <-timeout:
			rig.t.Fatalf("the handler for %s did not return within 5s", path)
		}
	}
}

func TestStreamEvents(t *testing.T) {
	t.Parallel()

	t.Run("in order, then live", func(t *testing.T) {
		t.Parallel()
		rig := newStreamRig(t, fastStream, nil)
		rig.log.add("CustomerRegistered", "QuotationRequested", "CustomerRegistered", "PolicyCreated", "CustomerRegistered")
		s := rig.open("/api/v1/events/stream")
		if s.res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", s.res.StatusCode)
		}
		for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
			if got := s.res.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		// The fake's batches hold two events: the stream reads on at once.
		s.wantEvents(rig.log, 1, 2, 3, 4, 5)
		rig.log.add("PolicyRenewed", "MessageSent", "CustomerRegistered")
		s.wantEvents(rig.log, 6, 7, 8)
		rig.log.add("PolicyExpired")
		s.wantEvents(rig.log, 9)

		got := rig.f.recorded.all()
		if len(got) != 1 || got[0].Action != "events.stream" || got[0].SubjectType != "event_stream" || got[0].Role != "auditor" {
			t.Errorf("recorded %+v, want one events.stream read by the auditor", got)
		}
	})

	t.Run("filter", func(t *testing.T) {
		t.Parallel()
		rig := newStreamRig(t, fastStream, nil)
		rig.log.add("CustomerRegistered", "QuotationRequested", "CustomerRegistered", "PolicyCreated")
		s := rig.open("/api/v1/events/stream?type=PolicyCreated,QuotationRequested&type=PolicyExpired")
		s.wantEvents(rig.log, 2, 4)
		rig.log.add("CustomerRegistered", "PolicyExpired")
		s.wantEvents(rig.log, 6)
	})

	t.Run("Last-Event-ID wins over after", func(t *testing.T) {
		t.Parallel()
		rig := newStreamRig(t, fastStream, nil)
		rig.log.add("A", "B", "C", "D", "E")
		s := rig.open("/api/v1/events/stream?after=1", "Last-Event-ID", "3")
		s.wantEvents(rig.log, 4, 5)
		s2 := rig.open("/api/v1/events/stream?after=4")
		s2.wantEvents(rig.log, 5)
	})

	t.Run("heartbeat", func(t *testing.T) {
		t.Parallel()
		set := fastStream
		set.Heartbeat = 20 * time.Millisecond
		rig := newStreamRig(t, set, nil)
		s := rig.open("/api/v1/events/stream")
		for range 3 {
			if f := s.next(); f.Comment != "keepalive" {
				t.Fatalf("frame %+v, want a keepalive", f)
			}
		}
		rig.log.add("A")
		s.wantEvents(rig.log, 1)
	})

	t.Run("stops when the client goes away", func(t *testing.T) {
		t.Parallel()
		rig := newStreamRig(t, fastStream, nil)
		rig.log.add("A")
		s := rig.open("/api/v1/events/stream")
		s.wantEvents(rig.log, 1)
		s.cancel()
		rig.waitReturned("/api/v1/events/stream")
	})

	t.Run("stops when the server shuts down", func(t *testing.T) {
		t.Parallel()
		rig := newStreamRig(t, fastStream, nil)
		rig.log.add("A")
		s := rig.open("/api/v1/events/stream")
		s.wantEvents(rig.log, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rig.srv.Config.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown waited for the stream: %v", err)
		}
		s.wantEnd()
	})

	t.Run("outlives the server's timeouts", func(t *testing.T) {
		t.Parallel()
		set := fastStream
		set.Heartbeat = 50 * time.Millisecond
		rig := newStreamRig(t, set, func(hs *http.Server) {
			hs.ReadTimeout = 150 * time.Millisecond
			hs.WriteTimeout = 150 * time.Millisecond
		})
		s := rig.open("/api/v1/events/stream")
		time.Sleep(500 * time.Millisecond)
		rig.log.add("A")
		s.wantEvents(rig.log, 1)
	})

	t.Run("a failed read ends the stream", func(t *testing.T) {
		t.Parallel()
		rig := newStreamRig(t, fastStream, nil)
		rig.log.add("A")
		s := rig.open("/api/v1/events/stream")
		s.wantEvents(rig.log, 1)
		rig.log.setFail(apperr.New(apperr.Unavailable, "fake: the store is down"))
		s.wantEnd()
		if !strings.Contains(rig.logs.String(), "event stream: read failed") {
			t.Errorf("no warning logged:\n%s", rig.logs.String())
		}
	})
}

// TestStreamEventsErrors: what is wrong is answered before the stream
// starts, with an ordinary error.
func TestStreamEventsErrors(t *testing.T) {
	t.Parallel()
	bad := []struct {
		name, target string
		opts         []option
		field        string
	}{
		{"after negative", "/api/v1/events/stream?after=-1", nil, "after"},
		{"after twice", "/api/v1/events/stream?after=1&after=2", nil, "after"},
		{"type", "/api/v1/events/stream?type=1Event", nil, "type"},
		{"too many types", "/api/v1/events/stream?type=" + strings.Repeat("A,", 51), nil, "type"},
		{"Last-Event-ID", "/api/v1/events/stream", []option{header("Last-Event-ID", "abc")}, "Last-Event-ID"},
		{"Last-Event-ID negative", "/api/v1/events/stream", []option{header("Last-Event-ID", "-3")}, "Last-Event-ID"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", tt.target, "", append(tt.opts, wrong())...)
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", tt.field)
			if got := h.f.recorded.all(); len(got) != 0 {
				t.Errorf("recorded %+v for a request that was not served", got)
			}
		})
	}

	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.events.ReadFn = func(context.Context, int64, int, []string) ([]event.Envelope, int64, error) {
			return nil, 0, apperr.New(apperr.Unavailable, "fake: the store is down")
		}
		w := h.do("GET", "/api/v1/events/stream", "")
		wantError(t, w, http.StatusServiceUnavailable, "unavailable", "")
	})

	t.Run("unrecorded read is not served", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.access.RecordFn = func(context.Context, event.Context, string, string, string, string) error {
			return apperr.New(apperr.Unavailable, "fake: the access log is down")
		}
		w := h.do("GET", "/api/v1/events/stream", "")
		wantError(t, w, http.StatusServiceUnavailable, "unavailable", "")
	})
}

// TestStreamEventsSample checks the sample request's body through the
// contract: the first event, framed, then the stream ends with the
// request's context.
func TestStreamEventsSample(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.f.events.Batch = 1 // every read is a full batch: the stream reads on at once
	var calls []int64
	var mu sync.Mutex
	h.f.events.ReadFn = func(_ context.Context, after int64, _ int, _ []string) ([]event.Envelope, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, after)
		if after >= 8 {
			return nil, after, nil
		}
		return []event.Envelope{testEnvelope(after + 1)}, after + 1, nil
	}
	w := h.do("GET", "/api/v1/events/stream?after=5", "", streamFor(100*time.Millisecond), header("Last-Event-ID", "6"))
	wantStatus(t, w, http.StatusOK)
	data, err := json.Marshal(testEnvelope(7))
	if err != nil {
		t.Fatal(err)
	}
	want := "id: 7\nevent: CustomerRegistered\ndata: " + string(data) + "\n\n"
	if !strings.HasPrefix(w.Body.String(), want) || !strings.Contains(w.Body.String(), "id: 8\n") {
		t.Errorf("body = %q, want it to start with %q and go on to 8", w.Body.String(), want)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[0] != 6 {
		t.Errorf("first read after %d, want 6 (Last-Event-ID)", calls[0])
	}
	if w.Header().Get("Content-Type") != "text/event-stream" {
		t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
	}
}
