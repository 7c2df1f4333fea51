package event_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/event"
)

// stream returns envelopes of the "thing" stream t-1, one ThingHappened per
// n, at versions 1, 2, 3… and occurring a minute apart from at.
func stream(at time.Time, ns ...int) []event.Envelope {
	envs := make([]event.Envelope, len(ns))
	for i, n := range ns {
		envs[i] = envelope("ThingHappened", 1, `{"n":`+itoa(n)+`}`)
		envs[i].AggregateVersion = int64(i) + 1
		envs[i].OccurredAt = at.Add(time.Duration(i) * time.Minute)
	}
	return envs
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

type replayed struct {
	N  int
	At time.Time
}

func TestReplay(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	envs := stream(at, 1, 2, 3)
	// An envelope without occurred_at falls back to its metadata's.
	envs[2].OccurredAt = time.Time{}
	envs[2].Metadata.OccurredAt = at.Add(time.Hour)

	var got []replayed
	err := event.Replay(envs, reg, "thing", func(p event.Payload, at time.Time) (string, error) {
		th, ok := event.As[thingHappened](p)
		if !ok {
			t.Fatalf("payload is %T, want thingHappened", p)
		}
		got = append(got, replayed{N: th.N, At: at})
		return "t-1", nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	want := []replayed{{1, at}, {2, at.Add(time.Minute)}, {3, at.Add(time.Hour)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("applied (-want +got):\n%s", diff)
	}
}

func TestReplayErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	errApply := errors.New("cannot apply")
	ok := func(event.Payload, time.Time) (string, error) { return "t-1", nil }
	tests := []struct {
		name    string
		envs    func() []event.Envelope
		typ     string
		apply   func(event.Payload, time.Time) (string, error)
		wantErr string
		wantIs  error
	}{
		{"no events", func() []event.Envelope { return nil }, "thing", ok, "rebuild thing: no events", nil},
		{"other aggregate type", func() []event.Envelope {
			envs := stream(at, 1)
			envs[0].AggregateType = "other"
			return envs
		}, "thing", ok, `rebuild thing t-1: event %ID0 (ThingHappened) belongs to aggregate type "other"`, nil},
		{"other aggregate id", func() []event.Envelope {
			envs := stream(at, 1, 2)
			envs[1].AggregateID = "t-2"
			return envs
		}, "thing", ok, "rebuild thing t-1: event %ID1 (ThingHappened) belongs to thing t-2", nil},
		{"gap", func() []event.Envelope {
			envs := stream(at, 1, 2)
			envs[1].AggregateVersion = 3
			return envs
		}, "thing", ok, "rebuild thing t-1: event %ID1 (ThingHappened) has version 3, want 2", nil},
		{"not starting at 1", func() []event.Envelope {
			envs := stream(at, 1)
			envs[0].AggregateVersion = 2
			return envs
		}, "thing", ok, "rebuild thing t-1: event %ID0 (ThingHappened) has version 2, want 1", nil},
		{"unknown event", func() []event.Envelope {
			envs := stream(at, 1)
			envs[0].EventName = "ThingVanished"
			return envs
		}, "thing", ok, "rebuild thing t-1: decode event %ID0 (ThingVanished): unknown event type", event.ErrUnknownEvent},
		{"invalid data", func() []event.Envelope {
			return stream(at, 1, -1)
		}, "thing", ok, "rebuild thing t-1: decode event %ID1 (ThingHappened): invalid data", errNegative},
		{"apply fails", func() []event.Envelope {
			return stream(at, 1)
		}, "thing", func(event.Payload, time.Time) (string, error) { return "t-1", errApply },
			"rebuild thing t-1: event %ID0: cannot apply", errApply},
		{"payload for another aggregate", func() []event.Envelope {
			return stream(at, 1)
		}, "thing", func(event.Payload, time.Time) (string, error) { return "t-9", nil },
			"rebuild thing t-1: event %ID0 is for thing t-9", nil},
		{"underscores name the aggregate with spaces", func() []event.Envelope {
			envs := stream(at, 1, 2)
			envs[0].AggregateType, envs[1].AggregateType = "thing_log", "thing_log"
			envs[1].AggregateID = "t-2"
			return envs
		}, "thing_log", ok, "rebuild thing log t-1: event %ID1 (ThingHappened) belongs to thing log t-2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			envs := tt.envs()
			want := tt.wantErr
			for i, env := range envs {
				want = strings.ReplaceAll(want, "%ID"+itoa(i), env.EventID)
			}
			err := event.Replay(envs, reg, tt.typ, tt.apply)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Replay = %v; want an error containing %q", err, want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Replay = %v; want an error wrapping %v", err, tt.wantIs)
			}
		})
	}
}

func TestReplayStopsAtFirstError(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	envs := stream(time.Now(), 1, 2, 3)
	envs[2].AggregateVersion = 9
	calls := 0
	err := event.Replay(envs, reg, "thing", func(event.Payload, time.Time) (string, error) {
		calls++
		if calls == 2 {
			return "t-1", errors.New("second fails")
		}
		return "t-1", nil
	})
	if err == nil || !strings.Contains(err.Error(), "second fails") {
		t.Fatalf("Replay = %v; want the second apply's error", err)
	}
	if calls != 2 {
		t.Fatalf("apply called %d times, want 2", calls)
	}
}
