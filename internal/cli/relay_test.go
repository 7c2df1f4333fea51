package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"insure/internal/customer"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/relay"
)

// TestRelayPublishesSealedEvents: a worker process with EVENT_BUS_URL
// relays a customer's registration to JetStream, and the customer's email,
// phone and name are not readable in the message.
func TestRelayPublishesSealedEvents(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := os.Getenv("TEST_NATS_URL")
			if url == "" {
				url = "nats://127.0.0.1:4222"
			}
			var b [6]byte
			_, _ = rand.Read(b[:])
			id := hex.EncodeToString(b[:])
			rcfg := relay.Config{Stream: "TEST_CLI_" + id, SubjectPrefix: "testcli" + id + ".events", PollInterval: 20 * time.Millisecond}

			// Reconnecting: the machine's NATS may be restarted under a
			// long suite; the relay resumes, and so does this reader.
			nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
			if err != nil {
				t.Fatalf("connect to NATS at %s (start nats-server with -js): %v", url, err)
			}
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = js.DeleteStream(ctx, rcfg.Stream)
			})

			cfg := testConfig(t, d)
			cfg.EventBusURL = url
			ctx := context.Background()
			s, err := Open(ctx, cfg, newLoggerDiscard(), Options{Workers: true, Migrate: true, Relay: rcfg})
			if err != nil {
				t.Fatal(err)
			}
			if s.Relay == nil {
				t.Fatal("EVENT_BUS_URL is set but the system has no relay")
			}
			if err := s.Queue.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = s.Queue.Stop(sctx)
				_ = s.Close()
			})
			const email, phone = "relay.person@example.com", "9876501234"
			c, err := s.Customers.Register(ctx, event.Context{Actor: "test", IP: "198.51.100.7"}, customer.Register{Name: "Ravi Relayson", Email: email, Phone: phone})
			if err != nil {
				t.Fatal(err)
			}

			subject := rcfg.SubjectPrefix + ".customer.CustomerRegistered"
			var msg *jetstream.RawStreamMsg
			deadline := time.Now().Add(60 * time.Second)
			for msg == nil {
				if time.Now().After(deadline) {
					t.Fatalf("no message on %s (test connection %v; relay active %v, last error %q)", subject, nc.Status(), s.Relay.Active(), s.Relay.LastError())
				}
				st, err := js.Stream(ctx, rcfg.Stream)
				if err == nil {
					msg, _ = st.GetLastMsgForSubject(ctx, subject)
				}
				if msg == nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if got := msg.Header.Get(relay.HeaderAggregateID); got != c.ID {
				t.Errorf("aggregate id header %q, want %q", got, c.ID)
			}
			if !event.ValidID(msg.Header.Get(jetstream.MsgIDHeader)) {
				t.Errorf("Nats-Msg-Id %q is not an event id", msg.Header.Get(jetstream.MsgIDHeader))
			}
			for _, secret := range []string{email, phone, "Ravi", "Relayson", "198.51.100.7"} {
				if bytes.Contains(msg.Data, []byte(secret)) {
					t.Errorf("the relayed message holds %q in clear: %s", secret, msg.Data)
				}
			}
			// Every stored event reaches the stream (listeners add more).
			waitUntil(t, "relay caught up", func() bool {
				head, err := s.Store.Head(ctx, s.DB)
				if err != nil {
					return false
				}
				st, err := relay.ReadStatus(ctx, s.DB, rcfg.Stream, head)
				return err == nil && st.Lag == 0 && s.Relay.Active()
			})
			found := false
			for _, c := range s.Health().Ready(ctx).Checks {
				if c.Name == "relay" {
					found = true
					if c.Status != "ok" || c.Critical {
						t.Errorf("relay readiness %+v, want ok and not critical", c)
					}
				}
			}
			if !found {
				t.Error("readiness has no relay check")
			}
		})
	}
}
