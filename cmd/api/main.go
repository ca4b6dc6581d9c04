// Command api serves the producer and management API. It applies database
// migrations at start; `api migrate` applies them and exits.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

func main() { boot.Main("api", run) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log, err := boot.NewLogger(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	if len(args) > 1 || (len(args) == 1 && args[0] != "migrate") {
		return fmt.Errorf("usage: api [migrate]")
	}

	store, err := repo.Open(ctx, cfg.DatabaseURL, repo.Options{MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx, log); err != nil {
		return err
	}
	if len(args) == 1 {
		log.Info("database is migrated", "version", repo.LatestVersion())
		return nil
	}

	redisOpt, err := boot.ParseRedis(cfg.RedisURL)
	if err != nil {
		return err
	}
	rc, closeRedis, err := boot.OpenRedis(redisOpt)
	if err != nil {
		return err
	}
	defer closeRedis()
	client := asynq.NewClientFromRedisClient(rc)

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	svc := manage.New(manage.Config{
		Store:       store,
		Enqueuer:    jobs.NewDeliveryQueue(client, m),
		Log:         log,
		Metrics:     m,
		CheckURL:    destination.New(cfg.Guard).CheckURL,
		MaxWebhooks: cfg.MaxWebhooks,
		// Bounded below the server's 60 s write timeout.
		TestWait: min(cfg.DeliveryTimeout+5*time.Second, 55*time.Second),
	})
	dash := dashboard.New(dashboard.Config{
		Store:          store,
		Manage:         svc,
		Log:            log,
		PublicURL:      cfg.PublicURL,
		LinkTTL:        cfg.LinkTTL,
		SessionTTL:     cfg.SessionTTL,
		FrameAncestors: cfg.FrameAncestors,
		TrustedProxies: cfg.TrustedProxies,
		Retry:          delivery.RetryPolicy{Schedule: cfg.RetrySchedule},
		AutoDisable:    cfg.AutoDisable,
	})
	handler := api.New(api.Config{
		Store:      store,
		Manage:     svc,
		Dashboard:  dash,
		Portal:     dash,
		Metrics:    m,
		Log:        log,
		AdminToken: cfg.AdminToken,
		RateLimit:  cfg.RateLimit,
		RateBurst:  cfg.RateBurst,
		Monitoring: asynqmon.New(asynqmon.Options{
			RootPath:     "/monitoring",
			RedisConnOpt: redisOpt,
			ReadOnly:     !cfg.MonitorWritable,
		}),
		Ready: []api.Check{
			{Name: "postgres", Fn: store.Ping},
			{Name: "redis", Fn: func(context.Context) error { return client.Ping() }},
			{Name: "schema", Fn: store.CheckSchema},
		},
	})
	root := http.NewServeMux()
	root.Handle("GET /metrics", metrics.Handler(reg))
	root.Handle("/", handler)
	if cfg.AdminToken == "" {
		log.Warn("ADMIN_TOKEN is not set; admin routes are disabled")
	}
	if cfg.PublicURL == "" {
		log.Warn("PUBLIC_URL is not set; portal links are built only for requests to a loopback address")
	}
	err = boot.Serve(ctx, log, cfg.Addr, root, 20*time.Second)
	// The last requests' enqueues, before Redis closes.
	svc.Wait()
	return err
}
