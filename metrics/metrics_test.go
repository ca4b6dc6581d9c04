package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/metrics"
)

// TestRetentionSeriesStartAtZero: every table's series, and every
// channel's notice failures, are exported before the first increment, so
// dashboards, rates and the alert on notices see 0, not no data.
func TestRetentionSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	want := `
# HELP trackelio_retention_deleted_total Rows data retention deleted (finished deliveries, their attempts, events with no delivery left, failure notices), by table.
# TYPE trackelio_retention_deleted_total counter
trackelio_retention_deleted_total{table="deliveries"} 0
trackelio_retention_deleted_total{table="delivery_attempts"} 0
trackelio_retention_deleted_total{table="events"} 0
trackelio_retention_deleted_total{table="webhook_notices"} 0
# HELP trackelio_notice_failures_total Tries to hand a failure notice on that failed, by channel (a mail is retried until it is sent or gives up).
# TYPE trackelio_notice_failures_total counter
trackelio_notice_failures_total{channel="email"} 0
trackelio_notice_failures_total{channel="operational"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trackelio_retention_deleted_total", "trackelio_notice_failures_total"); err != nil {
		t.Error(err)
	}
}
