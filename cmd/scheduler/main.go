// Command scheduler enqueues periodic maintenance (the outbox sweep and data
// retention), gives the tasks of workers that died back to their queues,
// and exports queue depth and webhook health on SCHEDULER_ADDR. Running two
// replicas is safe: a duplicate tick is deduplicated or harmless.
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
	"github.com/trackelio/webhooks/internal/fleetstats"
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

	sched := asynq.NewScheduler(redisOpt, &asynq.SchedulerOpts{Logger: jobs.NewLogger(log), Location: time.UTC})
	if err := schedule(sched, cfg); err != nil {
		return err
	}
	if err := sched.Start(); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	defer sched.Shutdown()
	log.Info("scheduler started", "sweep_interval", cfg.SweepInterval.String(), "outbox_grace", cfg.OutboxGrace.String(),
		"retention_period", cfg.RetentionPeriod.String(), "retention_interval", cfg.RetentionInterval.String())

	reg := prometheus.NewRegistry()
	m := metrics.NewScheduler(reg)
	reg.MustRegister(fleetstats.NewCollector(inspector, store, log))

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

// registrar is the part of *asynq.Scheduler that registers periodic tasks.
type registrar interface {
	Register(cronspec string, task *asynq.Task, opts ...asynq.Option) (string, error)
}

// schedule registers the periodic maintenance tasks.
func schedule(r registrar, cfg config) error {
	sweep, err := jobs.NewOutboxSweepTask(cfg.OutboxGrace)
	if err != nil {
		return err
	}
	// Unique keeps two replicas ticking together from queueing two sweeps;
	// a sweep that still slips through finds the advisory lock taken.
	if _, err := r.Register("@every "+cfg.SweepInterval.String(), sweep, asynq.Unique(max(cfg.SweepInterval, time.Second))); err != nil {
		return fmt.Errorf("register outbox sweep: %w", err)
	}
	// Retention the same way; a run that outlasts its interval also makes
	// the next one find the retention lock taken. A period of 0 keeps
	// everything, so nothing is scheduled.
	if cfg.RetentionPeriod == 0 {
		return nil
	}
	retention, err := jobs.NewRetentionTask(cfg.RetentionPeriod)
	if err != nil {
		return err
	}
	if _, err := r.Register("@every "+cfg.RetentionInterval.String(), retention, asynq.Unique(cfg.RetentionInterval)); err != nil {
		return fmt.Errorf("register retention: %w", err)
	}
	return nil
}
