// Package metrics defines every Prometheus series the service exposes, built
// on an injected registry rather than the global one.
// It is the service's own, with no promise of compatibility to other
// modules (see the README's Layout).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the service's series. Labels are bounded: event types come
// from the catalog, outcomes and statuses from small fixed sets; there is no
// per-webhook or per-workspace label.
type Metrics struct {
	EventsAccepted    *prometheus.CounterVec
	DeliveriesCreated *prometheus.CounterVec
	EnqueueDuration   prometheus.Histogram
	EnqueueErrors     prometheus.Counter
	HTTPRequests      *prometheus.CounterVec
	HTTPDuration      *prometheus.HistogramVec

	Attempts        *prometheus.CounterVec
	AttemptDuration *prometheus.HistogramVec
	Finished        *prometheus.CounterVec
	DeliveryLatency prometheus.Histogram
	OutboxRequeued  prometheus.Counter
	TaskErrors      *prometheus.CounterVec
	Waits           *prometheus.CounterVec
	Disabled        prometheus.Counter
	// RetentionDeleted counts the rows data retention deleted, by table
	// (one of RetentionTables).
	RetentionDeleted *prometheus.CounterVec
	// Notices counts the notices handed to a channel (one of Channels) by
	// kind; NoticeFailures the tries that failed, by channel.
	Notices        *prometheus.CounterVec
	NoticeFailures *prometheus.CounterVec
}

// The channels a notice goes out on: the values of the channel label.
const (
	ChannelOperational = "operational"
	ChannelEmail       = "email"
)

// Channels lists the channel label's values.
var Channels = []string{ChannelOperational, ChannelEmail}

// The tables data retention deletes from: the values of
// trackelio_retention_deleted_total's table label.
const (
	TableDeliveries = "deliveries"
	TableAttempts   = "delivery_attempts"
	TableEvents     = "events"
	TableNotices    = "webhook_notices"
)

// RetentionTables lists the table label's values.
var RetentionTables = []string{TableDeliveries, TableAttempts, TableEvents, TableNotices}

// latencyBuckets spans fast local receivers to the 10 s timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New registers the service's series, plus Go and process collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		EventsAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_events_accepted_total", Help: "Events accepted from producers.",
		}, []string{"event_type"}),
		DeliveriesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_deliveries_created_total", Help: "Deliveries created by fan-out of accepted events.",
		}, []string{"event_type"}),
		EnqueueDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "trackelio_enqueue_duration_seconds", Help: "Time to enqueue one delivery task in Redis.",
			Buckets: latencyBuckets,
		}),
		EnqueueErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trackelio_enqueue_errors_total", Help: "Delivery tasks that failed to enqueue; the outbox sweep enqueues them later.",
		}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_http_requests_total", Help: "API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trackelio_http_request_duration_seconds", Help: "API request latency by route pattern.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_delivery_attempts_total", Help: "Delivery attempts by event type and outcome.",
		}, []string{"event_type", "outcome"}),
		AttemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trackelio_delivery_attempt_duration_seconds", Help: "Duration of one delivery attempt by outcome.",
			Buckets: latencyBuckets,
		}, []string{"outcome"}),
		Finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_deliveries_finished_total", Help: "Deliveries that reached a final status.",
		}, []string{"event_type", "status"}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "trackelio_delivery_latency_seconds", Help: "Time from event acceptance to successful delivery.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300, 3600, 21600, 86400, 259200},
		}),
		OutboxRequeued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trackelio_outbox_requeued_total", Help: "Pending deliveries the outbox sweep found missing from Redis and enqueued again.",
		}),
		TaskErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_task_errors_total", Help: "Task handler errors that are not delivery failures (for example the database being unreachable).",
		}, []string{"task_type"}),
		Waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_delivery_waits_total", Help: "Tasks sent back to the queue without an attempt: the webhook's turn for an in-flight slot was not expected within the worker's wait, or its circuit breaker was open.",
		}, []string{"reason"}),
		Disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trackelio_webhooks_disabled_total", Help: "Webhooks disabled by the service (410 Gone or a long failure streak).",
		}),
		RetentionDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trackelio_retention_deleted_total", Help: "Rows data retention deleted (finished deliveries, their attempts, events with no delivery left, failure notices), by table.",
		}, []string{"table"}),
	}
	m.Notices = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trackelio_notices_sent_total", Help: "Failure notices handed on by kind and channel: operational events published, mails accepted by the relay.",
	}, []string{"kind", "channel"})
	m.NoticeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trackelio_notice_failures_total", Help: "Tries to hand a failure notice on that failed, by channel (a mail is retried until it is sent or gives up).",
	}, []string{"channel"})
	// Every table's and channel's series exists from the start, so a rate
	// over it is 0 rather than absent before the first increment.
	for _, t := range RetentionTables {
		m.RetentionDeleted.WithLabelValues(t)
	}
	for _, c := range Channels {
		m.NoticeFailures.WithLabelValues(c)
	}
	reg.MustRegister(
		m.EventsAccepted, m.DeliveriesCreated, m.EnqueueDuration, m.EnqueueErrors, m.HTTPRequests, m.HTTPDuration,
		m.Attempts, m.AttemptDuration, m.Finished, m.DeliveryLatency, m.OutboxRequeued, m.TaskErrors,
		m.Waits, m.Disabled, m.RetentionDeleted, m.Notices, m.NoticeFailures,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// RegisterSlots exports a worker's attempt slots, read at each scrape: how
// many it has, how many attempts run, and how many tasks wait in it for a
// slot (an adaptive per-webhook limit or every slot taken).
func RegisterSlots(reg prometheus.Registerer, slots int, running, waiting func() int) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "trackelio_worker_slots", Help: "Delivery attempts the worker may run at once (WORKER_CONCURRENCY).",
		}, func() float64 { return float64(slots) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "trackelio_worker_attempts_in_flight", Help: "Delivery attempts the worker is running now.",
		}, func() float64 { return float64(running()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "trackelio_worker_tasks_waiting", Help: "Delivery tasks waiting in the worker for an in-flight slot.",
		}, func() float64 { return float64(waiting()) }),
	)
}

// Handler serves the registry's metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Scheduler holds the series only the scheduler exports, beside the fleet
// gauges its collector reports.
type Scheduler struct {
	OrphansRecovered prometheus.Counter
}

// NewScheduler registers the scheduler's series, plus Go and process
// collectors, on reg.
func NewScheduler(reg prometheus.Registerer) *Scheduler {
	s := &Scheduler{
		OrphansRecovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trackelio_orphaned_tasks_recovered_total",
			Help: "Tasks left active by a worker that died, put back in their queue by the scheduler.",
		}),
	}
	reg.MustRegister(s.OrphansRecovered,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Fleet describes the gauges the scheduler's fleet collector computes at
// each scrape (queue depths and the fleet status); they are read, not
// counted, so they are descriptions rather than registered series.
type Fleet struct {
	QueueTasks, WebhooksFailing, WebhooksDisabled, OutboxLag *prometheus.Desc
}

// NewFleet returns the fleet gauges' descriptions.
func NewFleet() Fleet {
	return Fleet{
		QueueTasks:       prometheus.NewDesc("trackelio_queue_tasks", "Tasks in each asynq queue by state.", []string{"queue", "state"}, nil),
		WebhooksFailing:  prometheus.NewDesc("trackelio_webhooks_failing", "Active webhooks whose latest attempt failed.", nil, nil),
		WebhooksDisabled: prometheus.NewDesc("trackelio_webhooks_disabled", "Webhooks disabled with a reason.", nil, nil),
		OutboxLag:        prometheus.NewDesc("trackelio_outbox_lag_seconds", "How overdue the oldest pending delivery is.", nil, nil),
	}
}
