package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/destination"
	"github.com/trackelio/webhooks/jobs"
)

type config struct {
	Addr             string
	DatabaseURL      string
	DatabaseMaxConns int
	RedisURL         string
	Concurrency      int
	PollInterval     time.Duration
	DeliveryTimeout  time.Duration
	Retry            jobs.RetryPolicy
	LogLevel         string
	Guard            destination.Config
	Proxy            *url.URL
}

func loadConfig(getenv func(string) string) (config, error) {
	env := boot.NewEnv(getenv)
	c := config{
		Addr:            env.String("WORKER_ADDR", ":9090"),
		DatabaseURL:     env.String("DATABASE_URL", boot.DefaultDatabaseURL),
		RedisURL:        env.String("REDIS_URL", boot.DefaultRedisURL),
		Concurrency:     env.Int("WORKER_CONCURRENCY", 64),
		PollInterval:    env.Duration("WORKER_POLL_INTERVAL", 10*time.Millisecond),
		DeliveryTimeout: env.Duration("DELIVERY_TIMEOUT", 10*time.Second),
		LogLevel:        env.String("LOG_LEVEL", "info"),
	}
	// A delivery holds a connection only while it reads or writes its row, so
	// the pool can be smaller than the concurrency; idle connections are kept
	// at the pool size (see repo.Options).
	c.DatabaseMaxConns = env.Int("DATABASE_MAX_CONNS", min(max(c.Concurrency/2, 4), 32))
	c.Guard = destination.Config{
		Allow:     env.CIDRs("DELIVERY_ALLOW_CIDRS"),
		HTTPSOnly: env.Bool("DELIVERY_HTTPS_ONLY", false),
	}
	if p := getenv("DELIVERY_PROXY"); p != "" {
		u, err := url.Parse(p)
		if err == nil && (u.Scheme == "" || u.Host == "") {
			err = fmt.Errorf("want a URL like http://proxy:3128")
		}
		env.Check("DELIVERY_PROXY", err)
		c.Proxy = u
	}
	schedule, err := jobs.ParseSchedule(env.String("RETRY_SCHEDULE", jobs.DefaultSchedule))
	env.Check("RETRY_SCHEDULE", err)
	c.Retry = jobs.RetryPolicy{Schedule: schedule, Jitter: env.Float("RETRY_JITTER", 0.2)}

	if c.Concurrency < 1 {
		env.Check("WORKER_CONCURRENCY", fmt.Errorf("must be at least 1"))
	}
	if c.DatabaseMaxConns < 1 {
		env.Check("DATABASE_MAX_CONNS", fmt.Errorf("must be at least 1"))
	}
	if c.PollInterval <= 0 {
		env.Check("WORKER_POLL_INTERVAL", fmt.Errorf("must be positive"))
	}
	if c.DeliveryTimeout <= 0 || c.DeliveryTimeout > 5*time.Minute {
		env.Check("DELIVERY_TIMEOUT", fmt.Errorf("must be between 0 and 5m"))
	}
	if c.Retry.Jitter < 0 || c.Retry.Jitter >= 1 {
		env.Check("RETRY_JITTER", fmt.Errorf("must be a fraction from 0 to below 1"))
	}
	return c, env.Err()
}
