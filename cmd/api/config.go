package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/manage"
)

type config struct {
	Addr             string
	DatabaseURL      string
	DatabaseMaxConns int
	RedisURL         string
	AdminToken       string
	LogLevel         string
	Guard            destination.Config
	MaxWebhooks      int
	RateLimit        float64
	RateBurst        int
	MonitorWritable  bool
	DeliveryTimeout  time.Duration
	PublicURL        string
	LinkTTL          time.Duration
	SessionTTL       time.Duration
	FrameAncestors   []string
	TrustedProxies   []netip.Prefix
	RetrySchedule    []time.Duration
	// AutoDisable is the workers' auto-disable policy: the dashboard says
	// when a failing webhook will be disabled with it.
	AutoDisable delivery.AutoDisable
}

func loadConfig(getenv func(string) string) (config, error) {
	env := boot.NewEnv(getenv)
	c := config{
		Addr:             env.String("API_ADDR", ":8080"),
		DatabaseURL:      env.String("DATABASE_URL", boot.DefaultDatabaseURL),
		DatabaseMaxConns: env.Int("DATABASE_MAX_CONNS", 20),
		RedisURL:         env.String("REDIS_URL", boot.DefaultRedisURL),
		AdminToken:       getenv("ADMIN_TOKEN"),
		LogLevel:         env.String("LOG_LEVEL", "info"),
		Guard: destination.Config{
			Allow:     env.CIDRs("DELIVERY_ALLOW_CIDRS"),
			HTTPSOnly: env.Bool("DELIVERY_HTTPS_ONLY", false),
		},
		MaxWebhooks:     env.Int("WEBHOOKS_PER_WORKSPACE", manage.DefaultMaxWebhooks),
		RateLimit:       env.Float("API_RATE_LIMIT", 500),
		RateBurst:       env.Int("API_RATE_BURST", 1000),
		MonitorWritable: env.Bool("MONITORING_WRITABLE", false),
		DeliveryTimeout: env.Duration("DELIVERY_TIMEOUT", 10*time.Second),
		PublicURL:       strings.TrimSuffix(getenv("PUBLIC_URL"), "/"),
		LinkTTL:         env.Duration("DASHBOARD_LINK_TTL", dashboard.DefaultLinkTTL),
		SessionTTL:      env.Duration("DASHBOARD_SESSION_TTL", dashboard.DefaultSessionTTL),
		TrustedProxies:  env.CIDRs("TRUSTED_PROXIES"),
	}
	var err error
	c.FrameAncestors, err = dashboard.ParseFrameAncestors(getenv("DASHBOARD_FRAME_ANCESTORS"))
	env.Check("DASHBOARD_FRAME_ANCESTORS", err)
	// The workers' schedule: the dashboard says attempt n of N with it.
	c.RetrySchedule, err = delivery.ParseSchedule(env.String("RETRY_SCHEDULE", delivery.DefaultSchedule))
	env.Check("RETRY_SCHEDULE", err)
	c.AutoDisable = env.AutoDisable()
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			env.Check("PUBLIC_URL", fmt.Errorf("%q is not a URL like https://webhooks.trackelio.com", c.PublicURL))
		}
	}
	if c.LinkTTL < 10*time.Second || c.LinkTTL > time.Hour {
		env.Check("DASHBOARD_LINK_TTL", fmt.Errorf("must be from 10s to 1h"))
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		env.Check("DASHBOARD_SESSION_TTL", fmt.Errorf("must be from 1m to 720h"))
	}
	if c.MaxWebhooks < 1 {
		env.Check("WEBHOOKS_PER_WORKSPACE", fmt.Errorf("must be at least 1"))
	}
	if c.RateLimit < 0 || c.RateBurst < 1 {
		env.Check("API_RATE_LIMIT", fmt.Errorf("API_RATE_LIMIT must not be negative (0 turns limiting off) and API_RATE_BURST must be at least 1"))
	}
	if c.DatabaseMaxConns < 1 {
		env.Check("DATABASE_MAX_CONNS", fmt.Errorf("must be at least 1"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		env.Check("ADMIN_TOKEN", fmt.Errorf("must be at least 16 characters"))
	}
	return c, env.Err()
}
