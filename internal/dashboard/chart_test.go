package dashboard

import (
	"strings"
	"testing"
	"time"
)

func TestBuildChart(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 10, 30, 42, 0, time.UTC)
	at := func(minutesAgo int) time.Time {
		return now.Truncate(time.Minute).Add(-time.Duration(minutesAgo) * time.Minute)
	}
	var points []VolumePoint
	// Ten names: the eight busiest get colours, the rest are "other".
	for i := range 10 {
		points = append(points, VolumePoint{Minute: at(i), EventName: "Event" + string(rune('A'+i)), Events: int64(20 - i)})
	}
	points = append(points,
		VolumePoint{Minute: at(0), EventName: "EventA", Events: 5},
		VolumePoint{Minute: at(60), EventName: "EventA", Events: 1000}, // before the hour: left out
		VolumePoint{Minute: at(-1), EventName: "EventA", Events: 1000}, // in the future: left out
	)
	c := buildChart(points, now)
	var want int64 = 5
	for i := range 10 {
		want += int64(20 - i)
	}
	if c.Total != want {
		t.Fatalf("total %d, want %d", c.Total, want)
	}
	if len(c.Bars) != 10 {
		t.Fatalf("%d bars, want 10 (one per name and minute)", len(c.Bars))
	}
	if len(c.Legend) != 9 || c.Legend[0].Name != "EventA" || c.Legend[0].Class != "c0" || c.Legend[8].Name != "other" || c.Legend[8].Events != 11+12 {
		t.Fatalf("legend %+v", c.Legend)
	}
	for _, b := range c.Bars {
		if b.X < c.PlotLeft || b.X+b.W > c.PlotRight || b.Y < chartTop || b.Y+b.H > c.PlotBottom || b.H <= 0 {
			t.Errorf("bar outside the plot: %+v", b)
		}
		if !strings.Contains(b.Title, "UTC") {
			t.Errorf("bar title %q", b.Title)
		}
	}
	// The newest minute holds EventA 20+5: its bar is the tallest and reaches the top tick.
	if top := c.YTicks[len(c.YTicks)-1].Label; top != "40" {
		t.Errorf("top tick %s, want 40", top)
	}
	if len(c.XTicks) != 6 || c.XTicks[0].Label != "09:31" {
		t.Errorf("x ticks %+v", c.XTicks)
	}
	if empty := buildChart(nil, now); empty.Total != 0 || len(empty.Bars) != 0 || len(empty.YTicks) != 3 {
		t.Fatalf("empty chart %+v", empty)
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]int64{0: 2, 1: 2, 2: 2, 3: 4, 5: 6, 7: 8, 9: 10, 11: 20, 25: 40, 41: 60, 99: 100, 101: 200, 4500: 6000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", in, got, want)
		}
	}
}
