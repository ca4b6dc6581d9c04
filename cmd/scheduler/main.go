// Command scheduler enqueues periodic maintenance (the outbox sweep), gives
// the tasks of workers that died back to their queues, and exports queue
// depth and webhook health on SCHEDULER_ADDR. Running two replicas is safe:
// a duplicate tick is deduplicated or harmless.
package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

func main() { boot.Main("scheduler", run) }

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log, err := boot.NewLogger(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	store, err := repo.Open(ctx, cfg.DatabaseURL, repo.Options{MaxConns: 2})
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
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()

	sweep, err := jobs.NewOutboxSweepTask(cfg.OutboxGrace)
	if err != nil {
		return err
	}
	sched := asynq.NewScheduler(redisOpt, &asynq.SchedulerOpts{Logger: jobs.NewLogger(log), Location: time.UTC})
	// Unique keeps two replicas ticking together from queueing two sweeps;
	// a sweep that still slips through finds the advisory lock taken.
	if _, err := sched.Register("@every "+cfg.SweepInterval.String(), sweep, asynq.Unique(max(cfg.SweepInterval, time.Second))); err != nil {
		return fmt.Errorf("register outbox sweep: %w", err)
	}
	if err := sched.Start(); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	defer sched.Shutdown()
	log.Info("scheduler started", "sweep_interval", cfg.SweepInterval.String(), "outbox_grace", cfg.OutboxGrace.String())

	reg := prometheus.NewRegistry()
	m := metrics.NewScheduler(reg)
	reg.MustRegister(jobs.NewFleetCollector(inspector, store, log))

	rdb, err := boot.RedisClient(redisOpt)
	if err != nil {
		return err
	}
	defer rdb.Close()
	orphans := jobs.NewOrphanRecoverer(rdb, jobs.OrphanConfig{}, m.OrphansRecovered, log)
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() { orphans.Run(runCtx) })
	return boot.Serve(ctx, log, cfg.Addr, boot.AdminHandler(reg, sched.Ping), 5*time.Second)
}
