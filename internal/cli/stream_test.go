package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
)

// sseEvent is one event received from GET /api/v1/events/stream.
type sseEvent struct {
	id   int64
	name string
	env  event.Envelope
	raw  string
}

// openStream opens the event stream at path with the admin's token, and
// the Last-Event-ID header when lastID is not empty. Events arrive on the
// returned channel, which is closed when the stream ends; stop closes it.
func openStream(t *testing.T, base, path, lastID string) (events <-chan sseEvent, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		t.Fatalf("stream: status %d, Content-Type %q: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	ch := make(chan sseEvent, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			k, v, _ := strings.Cut(line, ": ")
			switch {
			case line == "":
				if ev.raw != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"): // a comment
			case k == "id":
				ev.id, _ = strconv.ParseInt(v, 10, 64)
			case k == "event":
				ev.name = v
			case k == "data":
				ev.raw = v
				if err := json.Unmarshal([]byte(v), &ev.env); err != nil {
					t.Errorf("data %q: %v", v, err)
				}
			default:
				t.Errorf("unexpected line %q", line)
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	// Before the server's Close, which waits for the handlers.
	t.Cleanup(stop)
	return ch, stop
}

// registerConcurrently registers n customers through the API at once and
// returns their ids.
func registerConcurrently(t *testing.T, base string, from, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := from + i
			body := fmt.Sprintf(`{"name":"Stream Person %d","email":"stream%d@example.com","phone":"+91 98765 %05d","channel":"web","preferences":{"email":true}}`, k, k, 10000+k)
			req, err := http.NewRequest("POST", base+"/api/v1/customers", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			var c struct {
				ID string `json:"id"`
			}
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &c) != nil {
				t.Errorf("register %d: status %d: %s", k, res.StatusCode, raw)
				return
			}
			ids[i] = c.ID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// receiveUntil reads events until every one of customers has its
// CustomerRegistered, and returns them all. Each must follow the one
// before it by one position, from after+1 on.
func receiveUntil(t *testing.T, events <-chan sseEvent, after int64, customers []string) []sseEvent {
	t.Helper()
	missing := make(map[string]bool, len(customers))
	for _, id := range customers {
		missing[id] = true
	}
	var got []sseEvent
	timeout := time.After(30 * time.Second)
	for len(missing) > 0 {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended after %d events", len(got))
			}
			if want := after + int64(len(got)) + 1; ev.id != want || ev.env.Position != want {
				t.Fatalf("event id %d (position %d), want %d: every event, in position order", ev.id, ev.env.Position, want)
			}
			if ev.name != ev.env.EventName {
				t.Errorf("event: %s, data names %s", ev.name, ev.env.EventName)
			}
			if ev.name == "CustomerRegistered" {
				delete(missing, ev.env.AggregateID)
			}
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("30s and no CustomerRegistered for %d customers; received %d events", len(missing), len(got))
		}
	}
	return got
}

// TestEventStream follows GET /api/v1/events/stream with a real HTTP
// client while customers register concurrently: every event arrives, in
// position order, as stored. A reconnect with Last-Event-ID gets only the
// events after it.
func TestEventStream(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			s := startSystem(t, testConfig(t, d))
			// Not through the contract checker: it holds a response until
			// it ends, and a stream does not.
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			ctx := context.Background()
			head, err := s.Store.Head(ctx, s.DB)
			if err != nil {
				t.Fatal(err)
			}

			events, stop := openStream(t, srv.URL, fmt.Sprintf("/api/v1/events/stream?after=%d", head), "")
			first := registerConcurrently(t, srv.URL, 0, 8)
			got := receiveUntil(t, events, head, first)
			stop()

			// As stored: the same envelopes as the store's, personal
			// fields sealed.
			last := got[len(got)-1].id
			var stored []event.Envelope
			for pos := head; pos < last; {
				envs, err := s.Store.ReadAll(ctx, s.DB, pos, int(last-pos), nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(envs) == 0 {
					break
				}
				stored = append(stored, envs...)
				pos = envs[len(envs)-1].Position
			}
			if len(stored) != len(got) {
				t.Fatalf("received %d events, the store has %d up to %d", len(got), len(stored), last)
			}
			for i, env := range stored {
				want, err := json.Marshal(env)
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, want, []byte(got[i].raw)) {
					t.Errorf("position %d: received %s, stored %s", env.Position, got[i].raw, want)
				}
				if strings.Contains(got[i].raw, "@example.com") {
					t.Errorf("position %d: an email in clear: %s", env.Position, got[i].raw)
				}
			}

			// Reconnect as an EventSource does: the same URL, and the id of
			// the last event received.
			more := registerConcurrently(t, srv.URL, 8, 3)
			events, _ = openStream(t, srv.URL, fmt.Sprintf("/api/v1/events/stream?after=%d", head), strconv.FormatInt(last, 10))
			again := receiveUntil(t, events, last, more)
			if again[0].id != last+1 {
				t.Errorf("resumed at %d, want %d", again[0].id, last+1)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(ax, by)
}

// TestEventStreamEndsOnShutdown: serve's graceful shutdown ends the open
// streams rather than waiting its grace period out for them.
func TestEventStreamEndsOnShutdown(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	var errs bytes.Buffer
	e := env{lookup: func(string) (string, bool) { return "", false }, stdout: io.Discard, stderr: &syncWriter{w: &errs}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	const grace = 20 * time.Second
	go func() { done <- serve(ctx, e, cfg, false, grace, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	events, _ := openStream(t, "http://"+addr, "/api/v1/events/stream", "")
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve shut down with %v", err)
		}
	case <-time.After(grace):
		t.Fatal("serve waited out its grace period")
	}
	if took := time.Since(start); took > grace/2 {
		t.Errorf("shutdown took %s with a stream open", took)
	}
	for range events { // the stream has ended: the channel closes
	}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
