package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
)

// upperCodec "opens" data by marking it, so tests can see that a load
// opened what it returns.
type upperCodec struct{}

func (upperCodec) SealEvent(_ context.Context, _ database.Querier, env event.Envelope) (json.RawMessage, error) {
	return env.Data, nil
}

func (upperCodec) OpenEvent(_ context.Context, _ database.Querier, env event.Envelope) (json.RawMessage, error) {
	return json.RawMessage(`{"opened":true}`), nil
}

// appendAt appends one ThingHappened per time, each occurring at its time,
// one append each, and returns the stored envelopes.
func appendAt(t *testing.T, db database.DB, s *eventstore.Store, reg *event.Registry, id string, times ...time.Time) []event.Envelope {
	t.Helper()
	ctx := context.Background()
	var out []event.Envelope
	for i, at := range times {
		p, err := event.New(thingHappened{N: i + 1}, event.Context{Actor: "tester"}, reg, at)
		if err != nil {
			t.Fatal(err)
		}
		envs, err := appendTx(ctx, db, s, id, int64(i), []event.Pending{p})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, envs...)
	}
	return out
}

func versions(envs []event.Envelope) []int64 {
	out := []int64{}
	for _, e := range envs {
		out = append(out, e.AggregateVersion)
	}
	return out
}

func sameVersions(got []event.Envelope, want ...int64) bool {
	v := versions(got)
	if len(v) != len(want) {
		return false
	}
	for i := range v {
		if v[i] != want[i] {
			return false
		}
	}
	return true
}

func TestLoadAfter(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		reg := registry(t)
		s := eventstore.New(db, 100, nil)
		id, other := event.NewID(), event.NewID()
		at := make([]time.Time, 5)
		for i := range at {
			at[i] = clock.Add(time.Duration(i) * time.Minute)
		}
		appendAt(t, db, s, reg, id, at...)
		appendAt(t, db, s, reg, other, at[:2]...)

		for _, tt := range []struct {
			after int64
			want  []int64
		}{{0, []int64{1, 2, 3, 4, 5}}, {2, []int64{3, 4, 5}}, {4, []int64{5}}, {5, nil}, {9, nil}} {
			got, err := s.LoadAfter(ctx, db, "thing", id, tt.after)
			if err != nil || !sameVersions(got, tt.want...) {
				t.Errorf("LoadAfter(%d) = versions %v, %v; want %v", tt.after, versions(got), err, tt.want)
			}
		}
		if _, err := s.LoadAfter(ctx, db, "thing", event.NewID(), 0); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("LoadAfter(0) of no aggregate: %v, want ErrNotFound", err)
		}
		if got, err := s.LoadAfter(ctx, db, "thing", event.NewID(), 3); err != nil || len(got) != 0 {
			t.Errorf("LoadAfter(3) of no aggregate = %d events, %v; want none and no error", len(got), err)
		}
		if _, err := s.LoadAfter(ctx, db, "thing", id, -1); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("LoadAfter(-1): %v, want ErrInvalid", err)
		}

		// The events come back opened, as Load returns them.
		s.SetCodec(upperCodec{})
		got, err := s.LoadAfter(ctx, db, "thing", id, 3)
		if err != nil || len(got) != 2 || string(got[0].Data) != `{"opened":true}` {
			t.Errorf("LoadAfter with a codec = %v, %v; want the data opened", got, err)
		}
	})
}

func TestLoadUntil(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		reg := registry(t)
		s := eventstore.New(db, 100, nil)
		id := event.NewID()
		// Fractions of a second that sort differently as text than as
		// numbers would ("…00.5" against "…00.25"), to show the comparison
		// is by time on SQLite too.
		t1 := clock.Truncate(time.Second)
		t2 := t1.Add(time.Hour + 500*time.Millisecond)
		t3 := t1.Add(2*time.Hour + 250*time.Millisecond)
		appendAt(t, db, s, reg, id, t1, t2, t3)

		for _, tt := range []struct {
			name string
			asOf time.Time
			want []int64
		}{
			{"at the first event", t1, []int64{1}},
			{"just after it", t1.Add(time.Microsecond), []int64{1}},
			{"just before the second", t2.Add(-250 * time.Millisecond), []int64{1}},
			{"at the second", t2, []int64{1, 2}},
			{"between", t2.Add(30 * time.Minute), []int64{1, 2}},
			{"at the last", t3, []int64{1, 2, 3}},
			{"in the future", t3.AddDate(10, 0, 0), []int64{1, 2, 3}},
			{"in another zone", t2.In(time.FixedZone("IST", 5*3600+1800)), []int64{1, 2}},
		} {
			got, err := s.LoadUntil(ctx, db, "thing", id, tt.asOf)
			if err != nil || !sameVersions(got, tt.want...) {
				t.Errorf("%s: LoadUntil(%s) = versions %v, %v; want %v", tt.name, tt.asOf.Format(time.RFC3339Nano), versions(got), err, tt.want)
			}
		}
		for _, asOf := range []time.Time{t1.Add(-time.Microsecond), t1.AddDate(-5, 0, 0)} {
			if _, err := s.LoadUntil(ctx, db, "thing", id, asOf); !errors.Is(err, eventstore.ErrNotFound) {
				t.Errorf("LoadUntil(%s), before the first event: %v, want ErrNotFound", asOf, err)
			}
		}
		if _, err := s.LoadUntil(ctx, db, "thing", event.NewID(), t3); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("LoadUntil of no aggregate: %v, want ErrNotFound", err)
		}

		// A clock that went back: version 3 carries an earlier time than
		// version 2. As of a time between them, the history stops before
		// version 2, the first event not yet occurred, and does not skip it.
		skew := event.NewID()
		appendAt(t, db, s, reg, skew, t1, t3, t2)
		got, err := s.LoadUntil(ctx, db, "thing", skew, t2.Add(time.Minute))
		if err != nil || !sameVersions(got, 1) {
			t.Errorf("LoadUntil over a clock step back = versions %v, %v; want [1]", versions(got), err)
		}

		s.SetCodec(upperCodec{})
		got, err = s.LoadUntil(ctx, db, "thing", id, t2)
		if err != nil || len(got) != 2 || string(got[1].Data) != `{"opened":true}` {
			t.Errorf("LoadUntil with a codec = %v, %v; want the data opened", got, err)
		}
	})
}
