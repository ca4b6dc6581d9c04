package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/testproc"
)

func TestLoadConfigDashboard(t *testing.T) {
	t.Parallel()
	c := testproc.MustLoad(t, loadConfig, nil)
	if diff := cmp.Diff([]any{"", 5 * time.Minute, 12 * time.Hour, []string(nil), 9},
		[]any{c.PublicURL, c.LinkTTL, c.SessionTTL, c.FrameAncestors, len(c.RetrySchedule)}); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	c = testproc.MustLoad(t, loadConfig, map[string]string{
		"PUBLIC_URL": "https://webhooks.trackelio.com/", "DASHBOARD_LINK_TTL": "2m", "DASHBOARD_SESSION_TTL": "8h",
		"DASHBOARD_FRAME_ANCESTORS": "https://app.trackelio.com, https://*.trackelio.com", "RETRY_SCHEDULE": "1s,1m",
	})
	if diff := cmp.Diff([]any{"https://webhooks.trackelio.com", 2 * time.Minute, 8 * time.Hour, []string{"https://app.trackelio.com", "https://*.trackelio.com"},
		[]time.Duration{time.Second, time.Minute}},
		[]any{c.PublicURL, c.LinkTTL, c.SessionTTL, c.FrameAncestors, c.RetrySchedule}); diff != "" {
		t.Errorf("set (-want +got):\n%s", diff)
	}
}

func TestLoadConfigRefusesBadDashboardSettings(t *testing.T) {
	t.Parallel()
	testproc.WantRefused(t, loadConfig, map[string]string{
		"WEBHOOK_DISABLE_MIN_FAILURES=0":                            "WEBHOOK_DISABLE_MIN_FAILURES must be at least 1",
		"WEBHOOK_DISABLE_AFTER=soon":                                "WEBHOOK_DISABLE_AFTER",
		"PUBLIC_URL=webhooks.trackelio.com":                         `PUBLIC_URL: "webhooks.trackelio.com" is not a URL`,
		"PUBLIC_URL=ftp://webhooks.trackelio.com":                   "PUBLIC_URL",
		"PUBLIC_URL=https://webhooks.trackelio.com/?x=1":            "PUBLIC_URL",
		"DASHBOARD_LINK_TTL=soon":                                   `DASHBOARD_LINK_TTL="soon": not a duration`,
		"DASHBOARD_LINK_TTL=1s":                                     "DASHBOARD_LINK_TTL: must be from 10s to 1h",
		"DASHBOARD_LINK_TTL=2h":                                     "DASHBOARD_LINK_TTL: must be from 10s to 1h",
		"DASHBOARD_SESSION_TTL=30s":                                 "DASHBOARD_SESSION_TTL: must be from 1m to 720h",
		"DASHBOARD_SESSION_TTL=721h":                                "DASHBOARD_SESSION_TTL: must be from 1m to 720h",
		"DASHBOARD_FRAME_ANCESTORS=*":                               `DASHBOARD_FRAME_ANCESTORS: "*" is not an origin`,
		"DASHBOARD_FRAME_ANCESTORS=https://app.trackelio.com/embed": "DASHBOARD_FRAME_ANCESTORS",
		"RETRY_SCHEDULE=5s,never":                                   "RETRY_SCHEDULE",
	})
}
