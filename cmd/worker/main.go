// Command worker performs webhook deliveries and maintenance tasks from the
// asynq queues, and serves /healthz and /metrics on WORKER_ADDR.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/endpointlimit"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

func main() { boot.Main("worker", run) }

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log, err := boot.NewLogger(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}

	store, err := repo.Open(ctx, cfg.DatabaseURL, repo.Options{MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.CheckSchema(ctx); err != nil {
		return err
	}
	redisOpt, err := boot.ParseRedis(cfg.RedisURL)
	if err != nil {
		return err
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	guard := destination.New(cfg.Guard)
	snd := sender.New(sender.Config{
		Timeout:         cfg.DeliveryTimeout,
		MaxConnsPerHost: cfg.Limits.Slots,
		UserAgent:       "Trackelio-Webhooks/" + boot.Version(),
		Dial:            guard.DialContext(&net.Dialer{Timeout: cfg.DeliveryTimeout, KeepAlive: 30 * time.Second}),
		// Stored URLs are held to today's rules (ports, characters) too.
		CheckURL: guard.CheckURL,
		Proxy:    cfg.Proxy,
		RootCAs:  cfg.RootCAs,
	})
	if cfg.Proxy != nil {
		log.Warn("DELIVERY_PROXY is set: deliveries go through the proxy, which must filter destinations itself", "proxy_host", cfg.Proxy.Host)
	}
	srv := jobs.NewServer(redisOpt, jobs.ServerConfig{
		// asynq runs a task per slot, and as many more waiting in the
		// worker for their webhook's turn.
		Concurrency:     cfg.Limits.Slots + cfg.Limits.MaxWaiting,
		PollInterval:    cfg.PollInterval,
		ShutdownTimeout: cfg.DeliveryTimeout + 5*time.Second,
	}, m, log)
	rdb, err := boot.RedisClient(redisOpt)
	if err != nil {
		return err
	}
	defer rdb.Close()
	limits := endpointlimit.New(rdb, cfg.Limits)
	metrics.RegisterSlots(reg, cfg.Limits.Slots,
		func() int { return limits.Stats().Running }, func() int { return limits.Stats().Waiting })
	deliver := jobs.NewDeliverHandler(jobs.DeliverConfig{
		Store:       store,
		Sender:      snd,
		Policy:      cfg.Retry,
		Metrics:     m,
		Log:         log,
		Limits:      limits,
		AutoDisable: cfg.AutoDisable,
		Notices:     cfg.Notices.Policy,
		NoticeQueue: client,
		Retries:     client,
	})
	notices, err := noticeHandlers(ctx, cfg, store, client, m, log)
	if err != nil {
		return err
	}
	mux := jobs.NewMux(jobs.Handlers{
		Deliver:   deliver,
		Sweep:     jobs.NewSweepHandler(store, client, inspector, m, log),
		Retention: jobs.NewRetentionHandler(jobs.RetentionConfig{Store: store, Metrics: m, Log: log}),
		Notices:   notices,
	}, log)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	log.Info("worker started", "concurrency", cfg.Limits.Slots, "max_waiting", cfg.Limits.MaxWaiting,
		"webhook_max_in_flight", cfg.Limits.MaxInFlight, "max_attempts", cfg.Retry.MaxAttempts())

	serveErr := boot.Serve(ctx, log, cfg.Addr, boot.AdminHandler(reg, srv.Ping), 5*time.Second)
	// Tasks waiting for a slot go back to the queue at once; Shutdown stops
	// taking tasks and waits for running attempts to be recorded;
	// unfinished ones go back to the queue.
	limits.Drain()
	srv.Shutdown()
	// After the last task: the batches it handed over are written, and
	// this worker's shares of the in-flight caps go back to the others.
	deliver.Close()
	limits.Close()
	log.Info("worker stopped")
	return serveErr
}
