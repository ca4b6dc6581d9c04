package fleetstats_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/fleetstats"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

var discardLog = slog.New(slog.DiscardHandler)

type fakeQueues struct {
	QueuesFunc       func() ([]string, error)
	GetQueueInfoFunc func(queue string) (*asynq.QueueInfo, error)
}

var _ fleetstats.QueueSource = (*fakeQueues)(nil)

func (q *fakeQueues) Queues() ([]string, error) { return q.QueuesFunc() }

func (q *fakeQueues) GetQueueInfo(queue string) (*asynq.QueueInfo, error) {
	return q.GetQueueInfoFunc(queue)
}

type fakeFleet struct {
	StatusFunc func(ctx context.Context) (repo.FleetStatus, error)
}

var _ fleetstats.FleetSource = (*fakeFleet)(nil)

func (f *fakeFleet) FleetStatus(ctx context.Context) (repo.FleetStatus, error) {
	return f.StatusFunc(ctx)
}

// queueCounts is one queue's tasks in the order pending, active, scheduled,
// retry, archived, completed.
type queueCounts struct {
	queue string
	n     [6]int
}

// queueTasks renders the trackelio_queue_tasks exposition of the queues.
func queueTasks(queues ...queueCounts) string {
	var b strings.Builder
	b.WriteString("# HELP trackelio_queue_tasks Tasks in each asynq queue by state.\n# TYPE trackelio_queue_tasks gauge\n")
	states := []string{"pending", "active", "scheduled", "retry", "archived", "completed"}
	for _, q := range queues {
		for i, s := range states {
			b.WriteString(`trackelio_queue_tasks{queue="` + q.queue + `",state="` + s + `"} ` + strconv.Itoa(q.n[i]) + "\n")
		}
	}
	return b.String()
}

// allQueues is queueTasks of every queue, deliveries holding deliveries and
// the others nothing.
func allQueues(deliveries [6]int) string {
	return queueTasks(queueCounts{jobs.QueueDeliveries, deliveries}, queueCounts{jobs.QueueRetries, [6]int{}}, queueCounts{jobs.QueueMaintenance, [6]int{}})
}

const fleetHelp = `# HELP trackelio_outbox_lag_seconds How overdue the oldest pending delivery is.
# TYPE trackelio_outbox_lag_seconds gauge
trackelio_outbox_lag_seconds %s
# HELP trackelio_webhooks_disabled Webhooks disabled with a reason.
# TYPE trackelio_webhooks_disabled gauge
trackelio_webhooks_disabled %s
# HELP trackelio_webhooks_failing Active webhooks whose latest attempt failed.
# TYPE trackelio_webhooks_failing gauge
trackelio_webhooks_failing %s
`

// fleetText renders the fleet status gauges' exposition.
func fleetText(lag, disabled, failing string) string {
	return fmt.Sprintf(fleetHelp, lag, disabled, failing)
}

var fleetNames = []string{"trackelio_queue_tasks", "trackelio_webhooks_failing", "trackelio_webhooks_disabled", "trackelio_outbox_lag_seconds"}

func TestCollectorReportsQueuesAndHealth(t *testing.T) {
	t.Parallel()
	queues := &fakeQueues{QueuesFunc: func() ([]string, error) { return []string{jobs.QueueDeliveries}, nil }, GetQueueInfoFunc: func(q string) (*asynq.QueueInfo, error) {
		switch q {
		case jobs.QueueDeliveries:
			return &asynq.QueueInfo{Queue: q, Pending: 7, Active: 2, Scheduled: 30, Retry: 4, Archived: 5, Completed: 1}, nil
		default:
			// A queue that never had a task does not exist in Redis yet.
			return nil, asynq.ErrQueueNotFound
		}
	}}
	fleet := &fakeFleet{StatusFunc: func(context.Context) (repo.FleetStatus, error) {
		return repo.FleetStatus{FailingWebhooks: 3, DisabledWebhooks: 2, OutboxLag: 90 * time.Second}, nil
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(fleetstats.NewCollector(queues, fleet, discardLog))

	want := allQueues([6]int{7, 2, 30, 4, 5, 1}) + fleetText("90", "2", "3")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), fleetNames...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestCollectorSkipsUnavailableSources(t *testing.T) {
	t.Parallel()
	queues := &fakeQueues{QueuesFunc: func() ([]string, error) { return []string{jobs.QueueDeliveries, jobs.QueueMaintenance}, nil }, GetQueueInfoFunc: func(q string) (*asynq.QueueInfo, error) {
		if q == jobs.QueueDeliveries {
			return nil, errors.New("redis: connection refused")
		}
		return &asynq.QueueInfo{Queue: q, Pending: 1}, nil
	}}
	fleet := &fakeFleet{StatusFunc: func(context.Context) (repo.FleetStatus, error) {
		return repo.FleetStatus{}, errors.New("postgres down")
	}}
	c := fleetstats.NewCollector(queues, fleet, discardLog)

	// No series for the queue that could not be read; the maintenance
	// queue's counts, and zeros for the retries queue, which does not exist.
	if n := testutil.CollectAndCount(c); n != 12 {
		t.Errorf("collected %d series, want 12", n)
	}
	want := queueTasks(queueCounts{jobs.QueueMaintenance, [6]int{1, 0, 0, 0, 0, 0}}, queueCounts{jobs.QueueRetries, [6]int{}})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestCollectorWithRedisAndPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _ := dbtest.NewStoreAndDB(t)
	ws := testfactory.Workspace(t, store, "acme")
	testfactory.Webhook(t, store, ws.ID, repo.NewWebhook{URL: "https://receiver.example/hook", Events: []string{"post.created"}, Active: true})
	id := testfactory.Delivery(t, store, repo.NewEvent{WorkspaceID: ws.ID, Type: "post.created", CreatedAt: time.Now()}, `{"title":"hello"}`)
	redisOpt := queuetest.RedisOpt(t, redistest.NewDB(t))
	insp := queuetest.NewInspector(t, redisOpt)
	if err := jobs.NewDeliveryQueue(queuetest.NewClient(t, redisOpt), metrics.New(prometheus.NewRegistry())).EnqueueDelivery(ctx, id); err != nil {
		t.Fatal(err)
	}
	testfactory.Record(t, store, repo.AttemptResult{
		DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: time.Now(),
		NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Hour),
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(fleetstats.NewCollector(insp, store, discardLog))
	want := allQueues([6]int{1, 0, 0, 0, 0, 0}) + fleetText("0", "0", "1")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), fleetNames...); err != nil {
		t.Error(err)
	}
}
