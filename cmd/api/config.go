package main

import (
	"fmt"

	"github.com/trackelio/webhooks/cmd/internal/boot"
)

type config struct {
	Addr             string
	DatabaseURL      string
	DatabaseMaxConns int
	RedisURL         string
	AdminToken       string
	LogLevel         string
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
	}
	if c.DatabaseMaxConns < 1 {
		env.Check("DATABASE_MAX_CONNS", fmt.Errorf("must be at least 1"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		env.Check("ADMIN_TOKEN", fmt.Errorf("must be at least 16 characters"))
	}
	return c, env.Err()
}
