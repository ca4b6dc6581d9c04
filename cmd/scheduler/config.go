package main

import (
	"fmt"
	"time"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/internal/manage"
)

type config struct {
	Addr          string
	DatabaseURL   string
	RedisURL      string
	SweepInterval time.Duration
	OutboxGrace   time.Duration
	// RetentionPeriod is how long finished history is kept; 0 keeps
	// everything and schedules no retention at all.
	RetentionPeriod   time.Duration
	RetentionInterval time.Duration
	LogLevel          string
}

// defaultRetentionPeriod is 30 days.
const defaultRetentionPeriod = 30 * 24 * time.Hour

func loadConfig(getenv func(string) string) (config, error) {
	env := boot.NewEnv(getenv)
	c := config{
		Addr:              env.String("SCHEDULER_ADDR", ":9091"),
		DatabaseURL:       env.String("DATABASE_URL", boot.DefaultDatabaseURL),
		RedisURL:          env.String("REDIS_URL", boot.DefaultRedisURL),
		SweepInterval:     env.Duration("OUTBOX_SWEEP_INTERVAL", 30*time.Second),
		OutboxGrace:       env.Duration("OUTBOX_GRACE", time.Minute),
		RetentionPeriod:   env.Duration("RETENTION_PERIOD", defaultRetentionPeriod),
		RetentionInterval: env.Duration("RETENTION_INTERVAL", time.Hour),
		LogLevel:          env.String("LOG_LEVEL", "info"),
	}
	if c.SweepInterval < 100*time.Millisecond {
		env.Check("OUTBOX_SWEEP_INTERVAL", fmt.Errorf("must be at least 100ms"))
	}
	if c.OutboxGrace < 0 {
		env.Check("OUTBOX_GRACE", fmt.Errorf("must not be negative"))
	}
	// A shorter period would delete deliveries that POST /recover still
	// offers to re-send: keep at least the recovery window, or everything.
	if c.RetentionPeriod < 0 || c.RetentionPeriod > 0 && c.RetentionPeriod < manage.RecoverHorizon {
		env.Check("RETENTION_PERIOD", fmt.Errorf("must be 0 (keep everything) or at least %v, the %d days POST /recover reaches back",
			manage.RecoverHorizon, manage.RecoverHorizon/(24*time.Hour)))
	}
	if c.RetentionInterval < time.Second {
		env.Check("RETENTION_INTERVAL", fmt.Errorf("must be at least 1s"))
	}
	return c, env.Err()
}
