package main

import (
	"fmt"
	"time"

	"github.com/trackelio/webhooks/cmd/internal/boot"
)

type config struct {
	Addr          string
	DatabaseURL   string
	RedisURL      string
	SweepInterval time.Duration
	OutboxGrace   time.Duration
	LogLevel      string
}

func loadConfig(getenv func(string) string) (config, error) {
	env := boot.NewEnv(getenv)
	c := config{
		Addr:          env.String("SCHEDULER_ADDR", ":9091"),
		DatabaseURL:   env.String("DATABASE_URL", boot.DefaultDatabaseURL),
		RedisURL:      env.String("REDIS_URL", boot.DefaultRedisURL),
		SweepInterval: env.Duration("OUTBOX_SWEEP_INTERVAL", 30*time.Second),
		OutboxGrace:   env.Duration("OUTBOX_GRACE", time.Minute),
		LogLevel:      env.String("LOG_LEVEL", "info"),
	}
	if c.SweepInterval < 100*time.Millisecond {
		env.Check("OUTBOX_SWEEP_INTERVAL", fmt.Errorf("must be at least 100ms"))
	}
	if c.OutboxGrace < 0 {
		env.Check("OUTBOX_GRACE", fmt.Errorf("must not be negative"))
	}
	return c, env.Err()
}
