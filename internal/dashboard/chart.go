package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// outcomeCounts counts deliveries by where they stand.
type outcomeCounts struct {
	Succeeded, Failed, Pending, Cancelled int
}

// Total is every delivery counted.
func (c outcomeCounts) Total() int { return c.Succeeded + c.Failed + c.Pending + c.Cancelled }

func (c *outcomeCounts) add(status delivery.Status, n int) {
	switch status {
	case delivery.StatusSucceeded:
		c.Succeeded += n
	case delivery.StatusFailed:
		c.Failed += n
	case delivery.StatusCancelled:
		c.Cancelled += n
	default:
		c.Pending += n
	}
}

// Describe says the counts in words, for text alternatives and tooltips.
func (c outcomeCounts) Describe() string {
	if c.Total() == 0 {
		return "no deliveries"
	}
	var parts []string
	for _, p := range []struct {
		n    int
		word string
	}{{c.Succeeded, "succeeded"}, {c.Failed, "failed"}, {c.Pending, "pending"}, {c.Cancelled, "cancelled"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
		}
	}
	return strings.Join(parts, ", ")
}

// chart is a stacked bar chart of deliveries by outcome, laid out for an
// inline SVG drawn on the server (viewBox units).
type chart struct {
	ID, Title string
	// Summary is the chart in one sentence, its text alternative; the bars
	// are also listed as a table.
	Summary       string
	Totals        outcomeCounts
	Bars          []chartBar
	Ticks         []chartTick
	Width, Height float64
	Base          float64 // the y of the x axis
	TickY         float64 // the baseline of the axis labels
}

type chartBar struct {
	Label    string // the bucket, for the tooltip and the table
	X, W     float64
	Counts   outcomeCounts
	Segments []segment
}

type segment struct {
	Y, H  float64
	Class string
}

type chartTick struct {
	X      float64
	Label  string
	Anchor string // text-anchor: the last label ends at the edge
}

// Chart geometry in viewBox units.
const (
	chartWidth  = 480
	chartHeight = 150
	chartTop    = 6
	chartBase   = 128
)

// bucket is one bar's time range and counts.
type bucket struct {
	start  time.Time
	counts outcomeCounts
}

// deliveryCharts turns hourly counts into the last 24 hours by hour and the
// last 7 days by day (UTC), ending with the hour and day holding now.
func deliveryCharts(counts []repo.HourCount, now time.Time) (day, week chart) {
	now = now.UTC()
	thisHour := now.Truncate(time.Hour)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	hours := make([]bucket, 24)
	for i := range hours {
		hours[i].start = thisHour.Add(time.Duration(i-23) * time.Hour)
	}
	days := make([]bucket, 7)
	for i := range days {
		days[i].start = today.AddDate(0, 0, i-6)
	}
	for _, c := range counts {
		h := c.Hour.UTC()
		if i := int(h.Sub(hours[0].start) / time.Hour); h.Compare(hours[0].start) >= 0 && i < len(hours) {
			hours[i].counts.add(c.Status, c.Count)
		}
		if i := int(h.Sub(days[0].start) / (24 * time.Hour)); h.Compare(days[0].start) >= 0 && i < len(days) {
			days[i].counts.add(c.Status, c.Count)
		}
	}
	day = stackBars("chart-24h", "Last 24 hours", "in the last 24 hours", hours, func(i int, b bucket) (string, string) {
		label := b.start.Format("15:04") + "–" + b.start.Add(time.Hour).Format("15:04") + " UTC"
		tick := ""
		if ago := 23 - i; ago%6 == 0 {
			tick = fmt.Sprintf("%d h ago", ago)
			if ago == 0 {
				tick = "now"
			}
		}
		return label, tick
	})
	week = stackBars("chart-7d", "Last 7 days", "in the last 7 days", days, func(i int, b bucket) (string, string) {
		return b.start.Format("Mon 2 Jan") + " (UTC)", b.start.Format("Mon 2")
	})
	return day, week
}

// stackBars places the bars: each slot holds a bar 70% of its width, stacked
// succeeded, failed, pending, cancelled from the bottom, scaled so the
// fullest bar reaches the top.
func stackBars(id, title, span string, buckets []bucket, label func(int, bucket) (bar, tick string)) chart {
	c := chart{ID: id, Title: title, Width: chartWidth, Height: chartHeight, Base: chartBase, TickY: chartBase + 16}
	most := 0
	for _, b := range buckets {
		most = max(most, b.counts.Total())
		c.Totals.add(delivery.StatusSucceeded, b.counts.Succeeded)
		c.Totals.add(delivery.StatusFailed, b.counts.Failed)
		c.Totals.add(delivery.StatusPending, b.counts.Pending)
		c.Totals.add(delivery.StatusCancelled, b.counts.Cancelled)
	}
	c.Summary = fmt.Sprintf("Deliveries %s: %s.", span, c.Totals.Describe())
	slot := float64(chartWidth) / float64(len(buckets))
	scale := 0.0
	if most > 0 {
		scale = float64(chartBase-chartTop) / float64(most)
	}
	for i, b := range buckets {
		barLabel, tick := label(i, b)
		bar := chartBar{Label: barLabel, X: round(float64(i)*slot + slot*0.15), W: round(slot * 0.7), Counts: b.counts}
		y := float64(chartBase)
		for _, s := range []struct {
			n     int
			class string
		}{{b.counts.Succeeded, "ok"}, {b.counts.Failed, "fail"}, {b.counts.Pending, "warn"}, {b.counts.Cancelled, "muted"}} {
			if s.n == 0 {
				continue
			}
			h := float64(s.n) * scale
			y -= h
			bar.Segments = append(bar.Segments, segment{Y: round(y), H: round(h), Class: s.class})
		}
		c.Bars = append(c.Bars, bar)
		if tick != "" {
			t := chartTick{X: round(float64(i)*slot + slot/2), Label: tick, Anchor: "middle"}
			if i == len(buckets)-1 {
				t.X, t.Anchor = round(float64(i)*slot+slot*0.85), "end"
			}
			c.Ticks = append(c.Ticks, t)
		}
	}
	return c
}

func round(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
