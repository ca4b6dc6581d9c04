package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/testproc"
)

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c := testproc.MustLoad(t, loadConfig, nil)
	got := []any{c.Addr, c.Limits.Slots, c.Limits.MaxWaiting, c.DatabaseMaxConns, c.PollInterval, c.DeliveryTimeout, len(c.Retry.Schedule) + 1,
		c.Retry.Jitter, c.Retry.MinAfterThrottle, c.Limits.MaxInFlight, c.Limits.BreakerThreshold,
		c.Limits.ProbeInterval, c.AutoDisable.After, c.AutoDisable.MinFailures, c.Proxy == nil}
	want := []any{":9090", 1000, 1000, 32, 10 * time.Millisecond, 10 * time.Second, 10,
		0.2, time.Minute, 200, 10,
		30 * time.Second, 120 * time.Hour, 20, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	// The pool follows the concurrency: half of it, within 4 to 32.
	for conc, pool := range map[string]int{"1": 4, "20": 10, "200": 32} {
		c, err := loadConfig(testproc.Getenv(map[string]string{"WORKER_CONCURRENCY": conc}))
		if err != nil || c.DatabaseMaxConns != pool {
			t.Errorf("WORKER_CONCURRENCY=%s: pool %d (%v), want %d", conc, c.DatabaseMaxConns, err, pool)
		}
	}
}

// TestLoadConfigRefusesBadValues: every value the worker cannot run with
// stops it at start with the variable's name in the error.
func TestLoadConfigRefusesBadValues(t *testing.T) {
	t.Parallel()
	testproc.WantRefused(t, loadConfig, map[string]string{
		"WORKER_CONCURRENCY=0":                 "WORKER_CONCURRENCY: must be at least 1",
		"WORKER_CONCURRENCY=many":              "WORKER_CONCURRENCY",
		"DATABASE_MAX_CONNS=0":                 "DATABASE_MAX_CONNS: must be at least 1",
		"WORKER_POLL_INTERVAL=0s":              "WORKER_POLL_INTERVAL: must be positive",
		"WORKER_POLL_INTERVAL=often":           "WORKER_POLL_INTERVAL",
		"DELIVERY_TIMEOUT=0s":                  "DELIVERY_TIMEOUT: must be between 0 and 5m",
		"DELIVERY_TIMEOUT=6m":                  "DELIVERY_TIMEOUT: must be between 0 and 5m",
		"DELIVERY_ALLOW_CIDRS=10.0.0.0/33":     "DELIVERY_ALLOW_CIDRS",
		"DELIVERY_HTTPS_ONLY=maybe":            "DELIVERY_HTTPS_ONLY",
		"DELIVERY_PROXY=proxy:3128":            "DELIVERY_PROXY",
		"DELIVERY_PROXY=http://":               "DELIVERY_PROXY",
		"RETRY_SCHEDULE=5s,soon":               "RETRY_SCHEDULE",
		"RETRY_JITTER=1":                       "RETRY_JITTER: must be a fraction from 0 to below 1",
		"RETRY_JITTER=-0.1":                    "RETRY_JITTER",
		"RETRY_MIN_AFTER_THROTTLE=a while":     "RETRY_MIN_AFTER_THROTTLE",
		"WEBHOOK_MAX_IN_FLIGHT=0":              "WEBHOOK_MAX_IN_FLIGHT: must be at least 1",
		"DELIVERY_CA_FILE=/nonexistent/ca.pem": "DELIVERY_CA_FILE: read the CA file",
		"DELIVERY_CA_FILE=config_test.go":      "DELIVERY_CA_FILE: config_test.go holds no PEM certificate",
		"BREAKER_THRESHOLD=-1":                 "BREAKER_THRESHOLD",
		"BREAKER_PROBE_INTERVAL=10ms":          "BREAKER_PROBE_INTERVAL must be at least 100ms",
		"WEBHOOK_DISABLE_MIN_FAILURES=0":       "WEBHOOK_DISABLE_MIN_FAILURES must be at least 1",
		"WEBHOOK_DISABLE_AFTER=-1h":            "WEBHOOK_DISABLE_AFTER not negative",
		"NOTIFY_FAILING_AFTER=-1":              "NOTIFY_FAILING_AFTER",
		"NOTIFY_FAILING_FOR=-1m":               "NOTIFY_FAILING_FOR must not be negative",
		"NOTIFY_AT_RISK_AT=1":                  "NOTIFY_AT_RISK_AT: must be a share",
		"NOTIFY_DIGEST_WINDOW=2h":              "NOTIFY_DIGEST_WINDOW: must be from 1s to 1h",
		"PUBLIC_URL=webhooks.example.com":      "PUBLIC_URL",
		"SMTP_URL=smtp://mail.example:587; SMTP_FROM=notices@example.com":                                                                             "SMTP_URL: mail needs PUBLIC_URL",
		"SMTP_URL=smtp://mail.example:587; PUBLIC_URL=https://w.example":                                                                              "SMTP_URL",
		"SMTP_URL=pop3://mail.example; SMTP_FROM=a@example.com; PUBLIC_URL=https://w.example":                                                         "SMTP_URL",
		"SMTP_URL=smtp://mail.example; SMTP_FROM=a@example.com\r\nBcc: x@evil.example; PUBLIC_URL=https://w.example":                                  "SMTP_URL",
		"SMTP_URL=smtp://mail.example; SMTP_FROM=a@example.com; PUBLIC_URL=https://w.example; SMTP_CA_FILE=config_test.go":                            "SMTP_CA_FILE",
		"OPERATIONAL_WEBHOOK_URL=https://ops.example/":                                                                                                "OPERATIONAL_WEBHOOK_URL: needs OPERATIONAL_WEBHOOK_SECRET",
		"OPERATIONAL_WEBHOOK_SECRET=" + opsSecret:                                                                                                     "OPERATIONAL_WEBHOOK_SECRET is set without a URL",
		"OPERATIONAL_WEBHOOK_URL=http://169.254.169.254/; OPERATIONAL_WEBHOOK_SECRET=" + opsSecret:                                                    "OPERATIONAL_WEBHOOK_URL",
		"OPERATIONAL_WEBHOOK_URL=http://10.1.2.3/hook; OPERATIONAL_WEBHOOK_SECRET=" + opsSecret:                                                       "OPERATIONAL_WEBHOOK_URL",
		"OPERATIONAL_WEBHOOK_URL=https://ops.example/; OPERATIONAL_WEBHOOK_SECRET=whsec_short":                                                        "not a whsec_ secret",
		"OPERATIONAL_WEBHOOK_URL=https://a.example/,https://b.example/,https://c.example/; OPERATIONAL_WEBHOOK_SECRET=" + opsSecret + "," + opsSecret: "3 URLs and 2 secrets",
	})
}

// opsSecret is a valid operational webhook secret.
const opsSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestLoadNotices: the notice settings as the worker runs with them.
func TestLoadNotices(t *testing.T) {
	t.Parallel()
	c := testproc.MustLoad(t, loadConfig, nil)
	if n := c.Notices; n.Policy.FailingAfter != 5 || n.Policy.FailingFor != 15*time.Minute || n.Policy.AtRiskAt != 0.8 ||
		n.DigestWindow != time.Minute || n.Mail != nil || n.Operational != nil {
		t.Errorf("notice defaults = %+v", n)
	}
	c = testproc.MustLoad(t, loadConfig, map[string]string{
		"SMTP_URL": "smtps://notices:p%40ss@mail.example", "SMTP_FROM": "Trackelio <notices@example.com>", "PUBLIC_URL": "https://w.example/",
		"OPERATIONAL_WEBHOOK_URL": "https://a.example/hook, https://b.example/hook", "OPERATIONAL_WEBHOOK_SECRET": opsSecret,
	})
	n := c.Notices
	if n.Mail == nil || n.Mail.Host != "mail.example" || n.Mail.Port != 465 || n.Mail.Password != "p@ss" || n.PublicURL != "https://w.example" {
		t.Errorf("mail settings = %+v, public URL %q", n.Mail, n.PublicURL)
	}
	if len(n.Operational) != 2 || n.Operational[1].URL != "https://b.example/hook" || n.Operational[1].Secret != opsSecret {
		t.Errorf("operational endpoints = %+v; want both, sharing the one secret", n.Operational)
	}
}
