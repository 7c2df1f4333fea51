package relay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/relay"
)

// natsURL is the machine's NATS server (TEST_NATS_URL to override).
func natsURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

type fixture struct {
	db     database.DB
	store  *eventstore.Store
	url    string
	stream string
	prefix string
	js     jetstream.JetStream
	// versions is each aggregate's current version (key type/id).
	versions map[string]int64
}

// setup returns a fixture on db with its own stream name and subject
// prefix on the NATS server at url; the stream is deleted when t ends.
func setup(t *testing.T, db database.DB, url string) *fixture {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	f := &fixture{
		db: db, store: eventstore.New(db, 100, nil), url: url,
		stream: "TEST_RELAY_" + id, prefix: "test" + id + ".events",
		versions: map[string]int64{},
	}
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to NATS at %s (start nats-server with -js): %v", url, err)
	}
	t.Cleanup(nc.Close)
	if f.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.js.DeleteStream(ctx, f.stream)
	})
	return f
}

// relay starts a relay for f named owner; it is stopped when t ends.
func (f *fixture) relay(t *testing.T, owner string) *relay.Relay {
	t.Helper()
	r, err := relay.New(f.db, f.store, relay.Config{
		URL: f.url, Stream: f.stream, SubjectPrefix: f.prefix, Owner: owner,
		PollInterval: 20 * time.Millisecond, LeaseTTL: 2 * time.Second, PublishTimeout: 500 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// append appends n events to each of the aggregates, round robin, one
// transaction each.
func (f *fixture) append(t *testing.T, aggType, name string, ids []string, n int) {
	t.Helper()
	ctx := t.Context()
	for range n {
		for _, id := range ids {
			key := aggType + "/" + id
			v := f.versions[key]
			p := event.Pending{Name: name, SchemaVersion: 1,
				Data:     json.RawMessage(fmt.Sprintf(`{"aggregate":%q,"n":%d}`, id, v+1)),
				Metadata: event.Metadata{EventID: event.NewID(), CorrelationID: event.NewID(), Actor: "test", IP: "192.0.2.1", OccurredAt: time.Now()}}
			err := f.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				_, err := f.store.Append(ctx, tx, aggType, id, v, []event.Pending{p})
				return err
			})
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			f.versions[key] = v + 1
		}
	}
}

// stored returns every event in the store.
func (f *fixture) stored(t *testing.T) []event.Envelope {
	t.Helper()
	var out []event.Envelope
	var after int64
	for {
		envs, err := f.store.ReadAll(t.Context(), f.db, after, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) == 0 {
			return out
		}
		out = append(out, envs...)
		after = envs[len(envs)-1].Position
	}
}

// waitCaughtUp waits until the relay checkpoint reaches the stream head.
func (f *fixture) waitCaughtUp(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		head, err := f.store.Head(t.Context(), f.db)
		if err != nil {
			t.Fatal(err)
		}
		st, err := relay.ReadStatus(t.Context(), f.db, f.stream, head)
		if err != nil {
			t.Fatal(err)
		}
		if st.Lag == 0 && head > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay not caught up after %s: at %d of %d", timeout, st.Position, head)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// messages reads every message in the stream.
func (f *fixture) messages(t *testing.T) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := f.js.Stream(ctx, f.stream)
	if err != nil {
		t.Fatalf("stream %s: %v", f.stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := int(info.State.Msgs)
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for len(out) < want {
		batch, err := c.Fetch(want-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			out = append(out, m)
		}
		if batch.Error() != nil && ctx.Err() != nil {
			t.Fatalf("fetch: %v (%d of %d)", batch.Error(), len(out), want)
		}
	}
	return out
}

// check compares the stream with the store: every event exactly once, on
// its subject, with its headers and stored data, in order per aggregate.
func (f *fixture) check(t *testing.T) {
	t.Helper()
	envs := f.stored(t)
	msgs := f.messages(t)
	if len(msgs) != len(envs) {
		t.Errorf("stream holds %d messages, store %d events", len(msgs), len(envs))
	}
	byID := map[string]event.Envelope{}
	for _, e := range envs {
		byID[e.EventID] = e
	}
	seen := map[string]bool{}
	lastVersion := map[string]int64{}
	for _, m := range msgs {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		e, ok := byID[id]
		if !ok {
			t.Errorf("message %q with unknown Nats-Msg-Id %q", m.Subject(), id)
			continue
		}
		if seen[id] {
			t.Errorf("event %s in the stream twice", id)
		}
		seen[id] = true
		want, _ := relay.Subject(f.prefix, e.AggregateType, e.EventName)
		if m.Subject() != want {
			t.Errorf("event %s on subject %q, want %q", id, m.Subject(), want)
		}
		if got := m.Headers().Get(relay.HeaderPosition); got != strconv.FormatInt(e.Position, 10) {
			t.Errorf("event %s position header %q, want %d", id, got, e.Position)
		}
		if got := m.Headers().Get(relay.HeaderAggregateID); got != e.AggregateID {
			t.Errorf("event %s aggregate id header %q, want %q", id, got, e.AggregateID)
		}
		var body struct {
			EventID          string          `json:"event_id"`
			AggregateVersion int64           `json:"aggregate_version"`
			Data             json.RawMessage `json:"data"`
			Metadata         event.Metadata  `json:"metadata"`
		}
		if err := json.Unmarshal(m.Data(), &body); err != nil {
			t.Fatalf("event %s body: %v", id, err)
		}
		if body.EventID != id || !sameJSON(t, body.Data, e.Data) {
			t.Errorf("event %s body %s, want data %s", id, m.Data(), e.Data)
		}
		if body.Metadata.IP != "" {
			t.Errorf("event %s body carries the caller's IP address", id)
		}
		key := e.AggregateType + "/" + e.AggregateID
		if e.AggregateVersion <= lastVersion[key] {
			t.Errorf("%s: version %d after %d", key, e.AggregateVersion, lastVersion[key])
		}
		lastVersion[key] = e.AggregateVersion
	}
	for _, e := range envs {
		if !seen[e.EventID] {
			t.Errorf("event %s at position %d missing from the stream", e.EventID, e.Position)
		}
	}
}

// sameJSON reports whether a and b hold the same JSON value (PostgreSQL
// stores jsonb in its own normal form).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestRelayPublishesEveryEvent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db, natsURL())
		f.append(t, "customer", "CustomerRegistered", []string{"c1", "c2", "c3"}, 4)
		// Neither can be a subject token: published as unroutable.
		f.append(t, "odd.type", "Whatever", []string{"x1"}, 1)
		f.append(t, "customer", "Has Space", []string{"c1"}, 1)
		f.relay(t, "only")
		f.waitCaughtUp(t, 20*time.Second)
		f.append(t, "policy", "PolicyCreated", []string{"p1", "p2"}, 3)
		f.waitCaughtUp(t, 20*time.Second)
		f.check(t)
	})
}

func TestRelayResumesAfterACrash(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db, natsURL())
		f.append(t, "quotation", "QuotationRequested", []string{"q1", "q2"}, 5)
		r := f.relay(t, "first")
		f.waitCaughtUp(t, 20*time.Second)
		r.Stop()
		// A crash after publishing, before the checkpoint moved.
		if _, err := db.Exec(t.Context(), `UPDATE relay_checkpoints SET position = 3 WHERE name = $1`, f.stream); err != nil {
			t.Fatal(err)
		}
		f.append(t, "quotation", "QuotationGenerated", []string{"q1", "q2"}, 2)
		r2 := f.relay(t, "second")
		f.waitCaughtUp(t, 20*time.Second)
		f.check(t)
		if r2.Published() != 14-3 {
			t.Errorf("second relay published %d, want %d (republishing from position 3)", r2.Published(), 14-3)
		}
	})
}

func TestOneActiveRelay(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db, natsURL())
		f.append(t, "customer", "CustomerRegistered", []string{"a", "b"}, 3)
		r1 := f.relay(t, "one")
		r2 := f.relay(t, "two")
		f.waitCaughtUp(t, 20*time.Second)
		for i := range 5 {
			f.append(t, "customer", "CustomerProfileUpdated", []string{"a", "b"}, 1)
			f.waitCaughtUp(t, 20*time.Second)
			if r1.Active() == r2.Active() {
				t.Fatalf("round %d: active one=%v two=%v, want exactly one", i, r1.Active(), r2.Active())
			}
		}
		active, standby := r1, r2
		if r2.Active() {
			active, standby = r2, r1
		}
		if standby.Published() != 0 {
			t.Errorf("the standby relay published %d messages", standby.Published())
		}
		active.Stop()
		f.append(t, "customer", "CustomerEmailVerified", []string{"a", "b"}, 2)
		f.waitCaughtUp(t, 20*time.Second)
		if !standby.Active() {
			t.Error("the standby relay did not take over")
		}
		f.check(t)
	})
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsServer runs this machine's nats-server on port with JetStream in dir
// until the returned stop is called (or t ends).
func natsServer(t *testing.T, port int, dir string) (stop func()) {
	t.Helper()
	bin := "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no %s: %v", bin, err)
	}
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server on port %d did not answer: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRelaySurvivesANATSOutage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		port, dir := freePort(t), t.TempDir()
		stop := natsServer(t, port, dir)
		f := setup(t, db, "nats://127.0.0.1:"+strconv.Itoa(port))
		f.append(t, "policy", "PolicyCreated", []string{"p1", "p2"}, 3)
		r := f.relay(t, "only")
		f.waitCaughtUp(t, 20*time.Second)

		stop()
		f.append(t, "policy", "PolicyRenewed", []string{"p1", "p2"}, 3)
		deadline := time.Now().Add(20 * time.Second)
		for r.LastError() == "" {
			if time.Now().After(deadline) {
				t.Fatal("the relay did not notice that NATS is down")
			}
			time.Sleep(10 * time.Millisecond)
		}
		head, err := f.store.Head(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := relay.ReadStatus(t.Context(), db, f.stream, head); st.Lag == 0 {
			t.Fatal("the checkpoint moved while NATS was down")
		}

		natsServer(t, port, dir)
		f.waitCaughtUp(t, 30*time.Second)
		f.check(t)
	})
}

func TestSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		aggType, name, want string
		ok                  bool
	}{
		{"customer", "CustomerRegistered", "p.x.customer.CustomerRegistered", true},
		{"odd.type", "E", "p.x._unroutable", false},
		{"customer", "Has Space", "p.x._unroutable", false},
		{"customer", "", "p.x._unroutable", false},
		{"cust*", "E", "p.x._unroutable", false},
		{"c", "E>", "p.x._unroutable", false},
		{"c", "E\n", "p.x._unroutable", false},
	} {
		got, ok := relay.Subject("p.x", tc.aggType, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Subject(%q, %q) = %q, %v; want %q, %v", tc.aggType, tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	store := eventstore.New(db, 10, nil)
	for name, cfg := range map[string]relay.Config{
		"no url":     {},
		"bad stream": {URL: "nats://127.0.0.1:4222", Stream: "A.B"},
		"bad prefix": {URL: "nats://127.0.0.1:4222", SubjectPrefix: "a.>"},
		"short ttl":  {URL: "nats://127.0.0.1:4222", LeaseTTL: time.Second, PublishTimeout: time.Second},
	} {
		if _, err := relay.New(db, store, cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
