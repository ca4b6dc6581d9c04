package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/metrics"
)

// TestRetentionSeriesStartAtZero: every table's series is exported before
// retention first deletes anything, so dashboards and rates see 0, not no
// data.
func TestRetentionSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	want := `
# HELP trackelio_retention_deleted_total Rows data retention deleted (finished deliveries, their attempts, events with no delivery left), by table.
# TYPE trackelio_retention_deleted_total counter
trackelio_retention_deleted_total{table="deliveries"} 0
trackelio_retention_deleted_total{table="delivery_attempts"} 0
trackelio_retention_deleted_total{table="events"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trackelio_retention_deleted_total"); err != nil {
		t.Error(err)
	}
}
