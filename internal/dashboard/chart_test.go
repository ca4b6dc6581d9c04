package dashboard

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

func TestDeliveryCharts(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 14, 35, 0, 0, time.UTC)
	hour := func(ago int) time.Time {
		return time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC).Add(-time.Duration(ago) * time.Hour)
	}
	counts := []repo.HourCount{
		{Hour: hour(30 * 24), Status: delivery.StatusSucceeded, Count: 99}, // before both windows
		{Hour: hour(6 * 24), Status: delivery.StatusSucceeded, Count: 4},   // 25 Nov: in the week, not the day
		{Hour: hour(24), Status: delivery.StatusFailed, Count: 2},          // 13:00 yesterday: one hour too old for the day
		{Hour: hour(23), Status: delivery.StatusSucceeded, Count: 10},      // the first hour of the day chart
		{Hour: hour(23), Status: delivery.StatusPending, Count: 5},
		{Hour: hour(0), Status: delivery.StatusSucceeded, Count: 20}, // this hour
		{Hour: hour(0), Status: delivery.StatusCancelled, Count: 1},
		{Hour: hour(0), Status: delivery.StatusFailed, Count: 3},
	}
	day, week := deliveryCharts(counts, now)

	if len(day.Bars) != 24 || len(week.Bars) != 7 {
		t.Fatalf("bars: day %d, week %d; want 24 and 7", len(day.Bars), len(week.Bars))
	}
	if diff := cmp.Diff(outcomeCounts{Succeeded: 30, Failed: 3, Pending: 5, Cancelled: 1}, day.Totals); diff != "" {
		t.Errorf("day totals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(outcomeCounts{Succeeded: 34, Failed: 5, Pending: 5, Cancelled: 1}, week.Totals); diff != "" {
		t.Errorf("week totals (-want +got):\n%s", diff)
	}
	if day.Summary != "Deliveries in the last 24 hours: 30 succeeded, 3 failed, 5 pending, 1 cancelled." {
		t.Errorf("day summary = %q", day.Summary)
	}
	first, last := day.Bars[0], day.Bars[23]
	if first.Label != "15:00–16:00 UTC" || last.Label != "14:00–15:00 UTC" {
		t.Errorf("day labels %q … %q", first.Label, last.Label)
	}
	if week.Bars[0].Label != "Wed 25 Nov (UTC)" || week.Bars[6].Label != "Tue 1 Dec (UTC)" {
		t.Errorf("week labels %q … %q", week.Bars[0].Label, week.Bars[6].Label)
	}
	// The fullest bar (this hour: 24) reaches the top; segments stack
	// succeeded, failed, pending, cancelled from the axis up.
	want := []segment{
		{Y: round(chartBase - 20*scaleOf(24)), H: round(20 * scaleOf(24)), Class: "ok"},
		{Y: round(chartBase - 23*scaleOf(24)), H: round(3 * scaleOf(24)), Class: "fail"},
		{Y: chartTop, H: round(scaleOf(24)), Class: "muted"},
	}
	if diff := cmp.Diff(want, last.Segments); diff != "" {
		t.Errorf("segments of this hour (-want +got):\n%s", diff)
	}
	if len(day.Bars[5].Segments) != 0 {
		t.Errorf("an empty hour has segments: %+v", day.Bars[5].Segments)
	}
	ticks := []string{}
	for _, tk := range day.Ticks {
		ticks = append(ticks, tk.Label)
	}
	if diff := cmp.Diff([]string{"18 h ago", "12 h ago", "6 h ago", "now"}, ticks); diff != "" {
		t.Errorf("day ticks (-want +got):\n%s", diff)
	}
	for _, b := range append(day.Bars, week.Bars...) {
		if b.X < 0 || b.X+b.W > chartWidth {
			t.Errorf("bar %q outside the chart: x %v w %v", b.Label, b.X, b.W)
		}
	}
}

func scaleOf(most int) float64 { return float64(chartBase-chartTop) / float64(most) }

func TestDeliveryChartsEmpty(t *testing.T) {
	t.Parallel()
	day, week := deliveryCharts(nil, time.Now())
	if day.Summary != "Deliveries in the last 24 hours: no deliveries." || week.Summary != "Deliveries in the last 7 days: no deliveries." {
		t.Errorf("summaries %q, %q", day.Summary, week.Summary)
	}
	for _, b := range day.Bars {
		if len(b.Segments) != 0 {
			t.Fatalf("an empty chart has segments")
		}
	}
}
