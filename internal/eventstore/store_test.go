package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
)

type thingHappened struct {
	N int `json:"n"`
}

func (thingHappened) EventName() string { return "ThingHappened" }

type otherHappened struct {
	S string `json:"s"`
}

func (otherHappened) EventName() string { return "OtherHappened" }

func registry(t *testing.T) *event.Registry {
	t.Helper()
	r := event.NewRegistry()
	err := r.Register(
		event.Definition{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 1, New: func() event.Payload { return &thingHappened{} }},
		event.Definition{Name: "OtherHappened", AggregateType: "thing", SchemaVersion: 2, New: func() event.Payload { return &otherHappened{} },
			Upcasters: map[int]event.Upcaster{1: func(d json.RawMessage) (json.RawMessage, error) { return d, nil }}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var clock = time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)

func pending(t *testing.T, reg *event.Registry, ps ...event.Payload) []event.Pending {
	t.Helper()
	out := make([]event.Pending, len(ps))
	for i, p := range ps {
		e, err := event.New(p, event.Context{Actor: "tester", Channel: "test", IP: "127.0.0.1"}, reg, clock)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func appendTx(ctx context.Context, db database.DB, s *eventstore.Store, id string, expected int64, evs []event.Pending) ([]event.Envelope, error) {
	var out []event.Envelope
	err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		var err error
		out, err = s.Append(ctx, tx, "thing", id, expected, evs)
		return err
	})
	return out, err
}

// TestConformance runs the same behaviour checks on every engine.
func TestConformance(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		reg := registry(t)
		s := eventstore.New(db, 3, func() time.Time { return clock })

		t.Run("append and load", func(t *testing.T) {
			id := event.NewID()
			evs := pending(t, reg, thingHappened{N: 1}, otherHappened{S: "x"})
			got, err := appendTx(ctx, db, s, id, 0, evs)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].AggregateVersion != 1 || got[1].AggregateVersion != 2 {
				t.Fatalf("versions %d,%d", got[0].AggregateVersion, got[1].AggregateVersion)
			}
			if got[1].Position != got[0].Position+1 {
				t.Fatalf("positions not consecutive: %d, %d", got[0].Position, got[1].Position)
			}
			loaded, err := s.Load(ctx, db, "thing", id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, loaded, cmp.Comparer(func(a, b json.RawMessage) bool {
				var x, y any
				_ = json.Unmarshal(a, &x)
				_ = json.Unmarshal(b, &y)
				return cmp.Equal(x, y)
			})); diff != "" {
				t.Fatalf("loaded differs from appended (-appended +loaded):\n%s", diff)
			}
			if loaded[1].SchemaVersion != 2 || loaded[0].Metadata.Actor != "tester" || loaded[0].Metadata.IP != "127.0.0.1" {
				t.Fatalf("metadata or schema version lost: %+v", loaded[0])
			}
			p, err := reg.Decode(loaded[0])
			if err != nil {
				t.Fatal(err)
			}
			if p.(*thingHappened).N != 1 {
				t.Fatalf("decoded %+v", p)
			}
			v, err := s.Version(ctx, db, "thing", id)
			if err != nil || v != 2 {
				t.Fatalf("version %d, %v", v, err)
			}
			one, err := s.Get(ctx, db, got[1].EventID)
			if err != nil || one.EventName != "OtherHappened" {
				t.Fatalf("get: %+v %v", one, err)
			}
		})

		t.Run("stale version writes nothing", func(t *testing.T) {
			id := event.NewID()
			if _, err := appendTx(ctx, db, s, id, 0, pending(t, reg, thingHappened{N: 1})); err != nil {
				t.Fatal(err)
			}
			head, _ := s.Head(ctx, db)
			_, err := appendTx(ctx, db, s, id, 0, pending(t, reg, thingHappened{N: 2}, thingHappened{N: 3}))
			if !errors.Is(err, eventstore.ErrConcurrency) {
				t.Fatalf("want ErrConcurrency, got %v", err)
			}
			envs, _ := s.Load(ctx, db, "thing", id)
			if len(envs) != 1 {
				t.Fatalf("stale append wrote %d events", len(envs)-1)
			}
			if h, _ := s.Head(ctx, db); h != head {
				t.Fatalf("head moved from %d to %d on a failed append", head, h)
			}
		})

		t.Run("duplicate event id is a conflict", func(t *testing.T) {
			evs := pending(t, reg, thingHappened{N: 1})
			if _, err := appendTx(ctx, db, s, event.NewID(), 0, evs); err != nil {
				t.Fatal(err)
			}
			_, err := appendTx(ctx, db, s, event.NewID(), 0, evs)
			if !errors.Is(err, eventstore.ErrConcurrency) {
				t.Fatalf("want ErrConcurrency for a repeated event id, got %v", err)
			}
		})

		t.Run("invalid appends", func(t *testing.T) {
			good := pending(t, reg, thingHappened{N: 1})[0]
			noID := good
			noID.Metadata.EventID = "nope"
			badData := good
			badData.Metadata.EventID = event.NewID()
			badData.Data = json.RawMessage(`[1]`)
			cases := map[string]struct {
				typ, id string
				ver     int64
				evs     []event.Pending
			}{
				"no events":    {"thing", "a", 0, nil},
				"no type":      {"", "a", 0, []event.Pending{good}},
				"negative":     {"thing", "a", -1, []event.Pending{good}},
				"bad event id": {"thing", "a", 0, []event.Pending{noID}},
				"non-object":   {"thing", "a", 0, []event.Pending{badData}},
			}
			for name, c := range cases {
				_, err := appendTx(ctx, db, s, c.id, c.ver, c.evs)
				if c.typ == "" {
					err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
						_, err := s.Append(ctx, tx, c.typ, c.id, c.ver, c.evs)
						return err
					})
				}
				if !errors.Is(err, eventstore.ErrInvalid) {
					t.Errorf("%s: want ErrInvalid, got %v", name, err)
				}
			}
		})

		t.Run("rollback discards events and positions", func(t *testing.T) {
			id := event.NewID()
			head, _ := s.Head(ctx, db)
			boom := errors.New("boom")
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				if _, err := s.Append(ctx, tx, "thing", id, 0, pending(t, reg, thingHappened{N: 1})); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, db, "thing", id); !errors.Is(err, eventstore.ErrNotFound) {
				t.Fatalf("want ErrNotFound after rollback, got %v", err)
			}
			if h, _ := s.Head(ctx, db); h != head {
				t.Fatalf("head %d after rollback, want %d", h, head)
			}
		})

		t.Run("read stream with limit and filter", func(t *testing.T) {
			head, _ := s.Head(ctx, db)
			id := event.NewID()
			if _, err := appendTx(ctx, db, s, id, 0, pending(t, reg, thingHappened{N: 1}, otherHappened{S: "a"}, thingHappened{N: 2}, otherHappened{S: "b"}, thingHappened{N: 3})); err != nil {
				t.Fatal(err)
			}
			all, err := s.ReadAll(ctx, db, head, 100, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 3 { // capped by the batch size
				t.Fatalf("got %d events, want the batch cap 3", len(all))
			}
			for i, e := range all {
				if e.Position != head+int64(i)+1 {
					t.Fatalf("position %d at %d", e.Position, i)
				}
			}
			others, err := s.ReadAll(ctx, db, head, 10, []string{"OtherHappened"})
			if err != nil {
				t.Fatal(err)
			}
			if len(others) != 2 || others[0].EventName != "OtherHappened" || others[1].Position <= others[0].Position {
				t.Fatalf("filtered read: %+v", others)
			}
			if _, err := s.ReadAll(ctx, db, -1, 1, nil); !errors.Is(err, eventstore.ErrInvalid) {
				t.Fatalf("negative position: %v", err)
			}
		})

		t.Run("replay", func(t *testing.T) {
			id := event.NewID()
			if _, err := appendTx(ctx, db, s, id, 0, pending(t, reg, thingHappened{N: 1}, thingHappened{N: 2}, thingHappened{N: 4})); err != nil {
				t.Fatal(err)
			}
			sum := 0
			err := s.Replay(ctx, db, "thing", id, func(_ context.Context, env event.Envelope) error {
				p, err := event.DecodeAs[*thingHappened](reg, env)
				sum += p.N
				return err
			})
			if err != nil || sum != 7 {
				t.Fatalf("replay sum %d, %v", sum, err)
			}
		})

		t.Run("concurrent writers never lose or reorder", func(t *testing.T) {
			head, _ := s.Head(ctx, db)
			const writers, each = 8, 25
			id := event.NewID() // one contended aggregate
			var wg sync.WaitGroup
			var mu sync.Mutex
			conflicts := 0
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					own := event.NewID()
					for i := 0; i < each; i++ {
						if _, err := appendTx(ctx, db, s, own, int64(i), pending(t, reg, thingHappened{N: i})); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						for {
							v, err := s.Version(ctx, db, "thing", id)
							if err != nil {
								t.Error(err)
								return
							}
							_, err = appendTx(ctx, db, s, id, v, pending(t, reg, thingHappened{N: w}))
							if errors.Is(err, eventstore.ErrConcurrency) {
								mu.Lock()
								conflicts++
								mu.Unlock()
								continue
							}
							if err != nil {
								t.Errorf("contended append: %v", err)
								return
							}
							break
						}
					}
				}(w)
			}
			wg.Wait()
			envs, err := s.Load(ctx, db, "thing", id)
			if err != nil {
				t.Fatal(err)
			}
			if len(envs) != writers*each {
				t.Fatalf("contended aggregate has %d events, want %d", len(envs), writers*each)
			}
			for i, e := range envs {
				if e.AggregateVersion != int64(i)+1 {
					t.Fatalf("version gap at %d: %d", i, e.AggregateVersion)
				}
			}
			// The global stream is gap-free and complete.
			seen := 0
			pos := head
			big := eventstore.New(db, 1000, nil)
			for {
				batch, err := big.ReadAll(ctx, db, pos, 1000, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(batch) == 0 {
					break
				}
				for _, e := range batch {
					if e.Position != pos+1 {
						t.Fatalf("gap in the global stream: %d after %d", e.Position, pos)
					}
					pos = e.Position
					seen++
				}
			}
			if want := 2 * writers * each; seen != want {
				t.Fatalf("stream has %d new events, want %d", seen, want)
			}
			t.Logf("%d optimistic-concurrency retries", conflicts)
		})
	})
}

func TestGetUnknown(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	s := eventstore.New(db, 10, nil)
	for _, id := range []string{"", "x", event.NewID()} {
		if _, err := s.Get(context.Background(), db, id); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("Get(%q): want ErrNotFound, got %v", id, err)
		}
	}
}
