package dashboard

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// The event volume chart: a stacked bar per minute over the last hour,
// drawn as SVG on the server. Colours come from the stylesheet's classes
// c0…c8 (no inline style).
const (
	chartMinutes = 60
	chartSeries  = 8 // the busiest names get a colour each; the rest are "other"
	chartWidth   = 760
	chartHeight  = 220
	chartLeft    = 44 // room for the y labels
	chartBottom  = 24 // room for the x labels
	chartTop     = 8
	barGap       = 2
)

// chart is what the chart template draws.
type chart struct {
	Width, Height int
	Bars          []bar
	YTicks        []tick
	XTicks        []tick
	Legend        []legendItem
	Total         int64
	// PlotLeft, PlotRight, PlotBottom frame the plot area (the axes).
	PlotLeft, PlotRight, PlotBottom int
	Err                             string
}

type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

type tick struct {
	X, Y  int
	Label string
}

type legendItem struct {
	Name   string
	Class  string
	Events int64
}

// buildChart lays out points (one per minute and name) over the hour
// ending at now.
func buildChart(points []VolumePoint, now time.Time) chart {
	end := now.UTC().Truncate(time.Minute)
	start := end.Add(-(chartMinutes - 1) * time.Minute)
	totals := map[string]int64{}
	perMinute := make([]map[string]int64, chartMinutes)
	var all int64
	for _, p := range points {
		i := int(p.Minute.UTC().Truncate(time.Minute).Sub(start) / time.Minute)
		if i < 0 || i >= chartMinutes || p.Events <= 0 {
			continue
		}
		if perMinute[i] == nil {
			perMinute[i] = map[string]int64{}
		}
		perMinute[i][p.EventName] += p.Events
		totals[p.EventName] += p.Events
		all += p.Events
	}
	names := make([]string, 0, len(totals))
	for n := range totals {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b))
	})
	class := map[string]string{}
	c := chart{Width: chartWidth, Height: chartHeight, Total: all, PlotLeft: chartLeft, PlotRight: chartWidth - 4,
		PlotBottom: chartHeight - chartBottom}
	var other int64
	for i, n := range names {
		if i < chartSeries {
			class[n] = fmt.Sprintf("c%d", i)
			c.Legend = append(c.Legend, legendItem{Name: n, Class: class[n], Events: totals[n]})
			continue
		}
		class[n] = "c8"
		other += totals[n]
	}
	if other > 0 {
		c.Legend = append(c.Legend, legendItem{Name: "other", Class: "c8", Events: other})
	}
	// Stack order: the legend's, busiest at the bottom.
	order := func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b))
	}
	var peak int64
	for _, m := range perMinute {
		var sum int64
		for _, v := range m {
			sum += v
		}
		peak = max(peak, sum)
	}
	top := niceCeil(peak)
	plotH := c.PlotBottom - chartTop
	slot := (c.PlotRight - c.PlotLeft) / chartMinutes
	for i, m := range perMinute {
		minute := start.Add(time.Duration(i) * time.Minute)
		x := c.PlotLeft + i*slot + barGap/2
		if i%10 == 0 {
			c.XTicks = append(c.XTicks, tick{X: x, Y: c.PlotBottom + 16, Label: minute.Format("15:04")})
		}
		if len(m) == 0 {
			continue
		}
		keys := make([]string, 0, len(m))
		for n := range m {
			keys = append(keys, n)
		}
		slices.SortFunc(keys, order)
		var below int64
		for _, n := range keys {
			v := m[n]
			y0 := c.PlotBottom - int(below*int64(plotH)/top)
			below += v
			y1 := c.PlotBottom - int(below*int64(plotH)/top)
			c.Bars = append(c.Bars, bar{X: x, Y: y1, W: slot - barGap, H: max(y0-y1, 1), Class: class[n],
				Title: fmt.Sprintf("%s UTC: %d × %s", minute.Format("15:04"), v, n)})
		}
	}
	for _, f := range []int64{0, 1, 2} {
		v := top * f / 2
		c.YTicks = append(c.YTicks, tick{X: c.PlotLeft - 6, Y: c.PlotBottom - int(v*int64(plotH)/top) + 4, Label: fmt.Sprint(v)})
	}
	return c
}

// niceCeil rounds n up to a round even number (1, 2, 4, 6 or 8 times a
// power of ten, at least 2), so that the middle tick is a whole number.
func niceCeil(n int64) int64 {
	if n <= 2 {
		return 2
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 4, 6, 8} {
			if m*p >= n {
				if m*p%2 != 0 {
					continue
				}
				return m * p
			}
		}
	}
}
