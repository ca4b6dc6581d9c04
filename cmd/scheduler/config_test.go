package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/testproc"
)

func TestLoadConfigRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		vars     map[string]string
		period   time.Duration
		interval time.Duration
	}{
		{"defaults", nil, 30 * 24 * time.Hour, time.Hour},
		{"keep everything", map[string]string{"RETENTION_PERIOD": "0"}, 0, time.Hour},
		{"the recovery window exactly", map[string]string{"RETENTION_PERIOD": "336h", "RETENTION_INTERVAL": "15m"}, 14 * 24 * time.Hour, 15 * time.Minute},
		{"a year", map[string]string{"RETENTION_PERIOD": "8760h", "RETENTION_INTERVAL": "1s"}, 365 * 24 * time.Hour, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testproc.MustLoad(t, loadConfig, tt.vars)
			if diff := cmp.Diff([]time.Duration{tt.period, tt.interval}, []time.Duration{c.RetentionPeriod, c.RetentionInterval}); diff != "" {
				t.Errorf("RETENTION_PERIOD, RETENTION_INTERVAL (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfigRefusesBadRetentionSettings(t *testing.T) {
	t.Parallel()
	testproc.WantRefused(t, loadConfig, map[string]string{
		"RETENTION_PERIOD=30d":      `RETENTION_PERIOD="30d": not a duration`,
		"RETENTION_PERIOD=forever":  `RETENTION_PERIOD="forever": not a duration`,
		"RETENTION_PERIOD=-720h":    "RETENTION_PERIOD: must be 0 (keep everything) or at least 336h0m0s, the 14 days POST /recover reaches back",
		"RETENTION_PERIOD=335h59m":  "RETENTION_PERIOD: must be 0 (keep everything) or at least 336h0m0s",
		"RETENTION_PERIOD=1s":       "RETENTION_PERIOD: must be 0 (keep everything) or at least 336h0m0s",
		"RETENTION_INTERVAL=hourly": `RETENTION_INTERVAL="hourly": not a duration`,
		"RETENTION_INTERVAL=0":      "RETENTION_INTERVAL: must be at least 1s",
		"RETENTION_INTERVAL=-1h":    "RETENTION_INTERVAL: must be at least 1s",
		"RETENTION_INTERVAL=999ms":  "RETENTION_INTERVAL: must be at least 1s",
	})
}
