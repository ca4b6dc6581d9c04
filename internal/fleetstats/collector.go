// Package fleetstats reports, at each Prometheus scrape, the tasks in each
// asynq queue by state and the webhooks' fleet status (failing, disabled,
// outbox lag), read from asynq and Postgres as the scrape asks. It only
// reads: the series a process counts are package metrics', and the queues
// are package jobs'.
package fleetstats

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// FleetSource reports the webhooks' fleet status from Postgres.
type FleetSource interface {
	FleetStatus(ctx context.Context) (repo.FleetStatus, error)
}

// QueueSource reports queue sizes; *asynq.Inspector implements it.
type QueueSource interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// Collector reads queue depths and the fleet status when Prometheus
// scrapes, so the numbers are never staler than the scrape.
type Collector struct {
	queues QueueSource
	fleet  FleetSource
	log    *slog.Logger

	desc metrics.Fleet
}

// NewCollector builds the scheduler's collector.
func NewCollector(queues QueueSource, fleet FleetSource, log *slog.Logger) *Collector {
	return &Collector{
		queues: queues, fleet: fleet, log: log, desc: metrics.NewFleet(),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc.QueueTasks
	ch <- c.desc.WebhooksFailing
	ch <- c.desc.WebhooksDisabled
	ch <- c.desc.OutboxLag
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// A queue that never had a task does not exist yet; asynq's
	// GetQueueInfo then fails with an unexported error, so ask for the list.
	known, listErr := c.queues.Queues()
	if listErr != nil {
		c.log.Warn("queue list unavailable", "error", listErr)
	}
	for _, q := range []string{jobs.QueueDeliveries, jobs.QueueRetries, jobs.QueueMaintenance} {
		info := &asynq.QueueInfo{}
		if slices.Contains(known, q) {
			var err error
			if info, err = c.queues.GetQueueInfo(q); err != nil {
				c.log.Warn("queue info unavailable", "queue", q, "error", err)
				continue
			}
		} else if listErr != nil {
			continue
		}
		for state, n := range map[string]int{
			"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed,
		} {
			ch <- prometheus.MustNewConstMetric(c.desc.QueueTasks, prometheus.GaugeValue, float64(n), q, state)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := c.fleet.FleetStatus(ctx)
	if err != nil {
		c.log.Warn("fleet status unavailable", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc.WebhooksFailing, prometheus.GaugeValue, float64(h.FailingWebhooks))
	ch <- prometheus.MustNewConstMetric(c.desc.WebhooksDisabled, prometheus.GaugeValue, float64(h.DisabledWebhooks))
	ch <- prometheus.MustNewConstMetric(c.desc.OutboxLag, prometheus.GaugeValue, h.OutboxLag.Seconds())
}
