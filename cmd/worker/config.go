package main

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/endpointlimit"
)

// Defaults sized for receivers that take 100 ms to 2 s (see the README's
// Performance section): an attempt is a network wait, so a worker holds
// many at once for little memory, and one endpoint may need as many in
// flight as its rate times its latency.
const (
	// defaultConcurrency is WORKER_CONCURRENCY: 1,000 attempts at once is
	// 500 deliveries/s to 2 s receivers per worker.
	defaultConcurrency = 1000
	// defaultMaxInFlight is WEBHOOK_MAX_IN_FLIGHT, the ceiling of one
	// endpoint's adaptive limit: 200 deliveries/s to a receiver that
	// answers in 1 s.
	defaultMaxInFlight = 200
)

type config struct {
	Addr             string
	DatabaseURL      string
	DatabaseMaxConns int
	RedisURL         string
	PollInterval     time.Duration
	DeliveryTimeout  time.Duration
	Retry            delivery.RetryPolicy
	LogLevel         string
	Guard            destination.Config
	Proxy            *url.URL
	RootCAs          *x509.CertPool
	Limits           endpointlimit.Config
	AutoDisable      delivery.AutoDisable
	Notices          notices
}

func loadConfig(getenv func(string) string) (config, error) {
	env := boot.NewEnv(getenv)
	c := config{
		Addr:            env.String("WORKER_ADDR", ":9090"),
		DatabaseURL:     env.String("DATABASE_URL", boot.DefaultDatabaseURL),
		RedisURL:        env.String("REDIS_URL", boot.DefaultRedisURL),
		PollInterval:    env.Duration("WORKER_POLL_INTERVAL", 10*time.Millisecond),
		DeliveryTimeout: env.Duration("DELIVERY_TIMEOUT", 10*time.Second),
		LogLevel:        env.String("LOG_LEVEL", "info"),
	}
	// A delivery holds a connection only while it reads or writes its row, so
	// the pool can be smaller than the concurrency; idle connections are kept
	// at the pool size (see repo.Options).
	slots := env.Int("WORKER_CONCURRENCY", defaultConcurrency)
	c.DatabaseMaxConns = env.Int("DATABASE_MAX_CONNS", min(max(slots/2, 4), 32))
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
	if f := getenv("DELIVERY_CA_FILE"); f != "" {
		pool, err := trustedRoots(f)
		env.Check("DELIVERY_CA_FILE", err)
		c.RootCAs = pool
	}
	schedule, err := delivery.ParseSchedule(env.String("RETRY_SCHEDULE", delivery.DefaultSchedule))
	env.Check("RETRY_SCHEDULE", err)
	c.Retry = delivery.RetryPolicy{
		Schedule:         schedule,
		Jitter:           env.Float("RETRY_JITTER", 0.2),
		MinAfterThrottle: env.Duration("RETRY_MIN_AFTER_THROTTLE", time.Minute),
	}
	c.Limits = endpointlimit.Config{
		Slots: slots,
		// As many tasks may wait for a slot as there are slots: a waiting
		// task is a goroutine and its delivery's row.
		MaxWaiting:       slots,
		MaxInFlight:      env.Int("WEBHOOK_MAX_IN_FLIGHT", defaultMaxInFlight),
		BreakerThreshold: env.Int("BREAKER_THRESHOLD", 10),
		ProbeInterval:    env.Duration("BREAKER_PROBE_INTERVAL", 30*time.Second),
	}
	c.AutoDisable = env.AutoDisable()
	if c.Limits.MaxInFlight < 1 {
		env.Check("WEBHOOK_MAX_IN_FLIGHT", fmt.Errorf("must be at least 1"))
	}
	if c.Limits.BreakerThreshold < 0 || c.Limits.ProbeInterval < 100*time.Millisecond {
		env.Check("BREAKER_THRESHOLD", fmt.Errorf("BREAKER_THRESHOLD must not be negative (0 turns the breaker off) and BREAKER_PROBE_INTERVAL must be at least 100ms"))
	}

	c.Notices = loadNotices(env, getenv, destination.New(c.Guard))
	if slots < 1 {
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

// trustedRoots is the system's roots plus the PEM certificates in file, for
// receivers whose certificates a private authority signs (a test CA, a
// company CA). It refuses a file without a certificate: trusting nothing
// new would look like a typo's silent failure.
func trustedRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
