package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

// fixture is a Service on a fresh migrated database, with a workspace whose
// two active webhooks take post.created; enqueues are recorded.
type fixture struct {
	svc     *manage.Service
	store   *repo.Store
	db      *sqlx.DB // a separate pool for assertions on raw rows
	enq     *queuetest.Recorder
	metrics *metrics.Metrics
	ws      repo.Workspace
	hooks   []repo.Webhook
}

func setup(tb testing.TB) *fixture {
	tb.Helper()
	store, db := dbtest.NewStoreAndDB(tb)
	f := &fixture{store: store, db: db, enq: &queuetest.Recorder{}, metrics: metrics.New(prometheus.NewRegistry())}
	f.svc = manage.New(manage.Config{Store: store, Enqueuer: f.enq, Metrics: f.metrics})
	tb.Cleanup(f.svc.Wait)
	f.ws = testfactory.Workspace(tb, store, "Acme")
	for range 2 {
		f.hooks = append(f.hooks, testfactory.Webhook(tb, store, f.ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true}))
	}
	return f
}

// publish publishes a valid post.created under the idempotency key idem
// ("" for none).
func (f *fixture) publish(ctx context.Context, tb testing.TB, idem string) (repo.AcceptedEvent, error) {
	tb.Helper()
	return f.svc.Publish(ctx, f.ws.ID, "post.created", json.RawMessage(testfactory.EventData(tb, "post.created", nil)), idem)
}

// storedDelivery is a deliveries row.
type storedDelivery struct {
	ID      string          `db:"id"`
	Status  delivery.Status `db:"status"`
	NextDue *time.Time      `db:"next_attempt_at"`
}

// deliveries reads the workspace's deliveries, ordered by id.
func (f *fixture) deliveries(tb testing.TB) []storedDelivery {
	tb.Helper()
	var ds []storedDelivery
	if err := f.db.Select(&ds, `SELECT id::text AS id, status, next_attempt_at FROM deliveries
		WHERE workspace_id = $1 ORDER BY id`, f.ws.ID); err != nil {
		tb.Fatalf("read deliveries: %v", err)
	}
	return ds
}

func ids(ds []storedDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestPublishOutlivesAHangUp: a producer that hangs up right after sending
// an event, before its commit or between the commit and the enqueue, does
// not hold its deliveries back until the outbox sweep: the event is stored
// and its tasks are enqueued on a context the hang-up does not cancel.
func TestPublishOutlivesAHangUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		beforeCommit  bool // the producer is gone before Publish runs
		atEnqueueOnly bool // the producer hangs up once the event is committed
	}{
		{name: "before the commit", beforeCommit: true},
		{name: "after the commit", atEnqueueOnly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ctx, hangUp := context.WithCancel(context.Background())
			defer hangUp()
			if tc.beforeCommit {
				hangUp()
			}
			var enqueuedAfterHangUp []error
			var mu sync.Mutex
			f.enq.Then(func(ctx context.Context, _ string) error {
				if tc.atEnqueueOnly {
					hangUp()
				}
				mu.Lock()
				defer mu.Unlock()
				enqueuedAfterHangUp = append(enqueuedAfterHangUp, ctx.Err())
				return ctx.Err() // as asynq's client does with a cancelled context
			})
			if _, err := f.publish(ctx, t, ""); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			f.svc.Wait()

			if n := dbtest.RowCounts(t, f.db, "events")["events"]; n != 1 {
				t.Fatalf("%d events stored after the hang-up, want 1", n)
			}
			if diff := cmp.Diff(ids(f.deliveries(t)), slices.Sorted(slices.Values(f.enq.Enqueued()))); diff != "" {
				t.Errorf("enqueued (-stored +enqueued):\n%s", diff)
			}
			if diff := cmp.Diff([]error{nil, nil}, enqueuedAfterHangUp, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("enqueue context errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPublishEnqueueFailureStillAccepted: while Redis refuses, an event is
// accepted all the same; its deliveries stay pending with a due time, for
// the outbox sweep.
func TestPublishEnqueueFailureStillAccepted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enq.Then(func(context.Context, string) error { return errors.New("redis: connection refused") })

	acc, err := f.publish(context.Background(), t, "")
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	f.svc.Wait()
	if acc.DeliveryCount != 2 {
		t.Errorf("deliveries = %d, want 2", acc.DeliveryCount)
	}
	stored := f.deliveries(t)
	if diff := cmp.Diff(ids(stored), slices.Sorted(slices.Values(f.enq.Enqueued()))); diff != "" {
		t.Errorf("enqueue attempts (-stored +tried):\n%s", diff)
	}
	for _, d := range stored {
		if d.Status != delivery.StatusPending || d.NextDue == nil {
			t.Errorf("delivery status %q next_attempt_at %v, want pending with a due time for the outbox sweep", d.Status, d.NextDue)
		}
	}
	if len(stored) != 2 {
		t.Errorf("%d deliveries stored, want 2", len(stored))
	}
}

// TestPublishCounts: trackelio_events_accepted_total and
// trackelio_deliveries_created_total count each accepted event and its
// fan-out once, by type; a replay, a refused event and a test event count
// nothing.
func TestPublishCounts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.enq.WorkerRecords(t, f.store, repo.AttemptResult{StatusCode: 200, Succeeded: true, NewStatus: delivery.StatusSucceeded, ExcludeFromHealth: true})
	ctx := context.Background()

	if _, err := f.publish(ctx, t, "k"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if acc, err := f.publish(ctx, t, "k"); err != nil || !acc.Replayed {
		t.Fatalf("Publish again under its key = %+v, %v; want a replay", acc, err)
	}
	var fe manage.FieldErrors
	if _, err := f.svc.Publish(ctx, f.ws.ID, "post.created", json.RawMessage(`{}`), ""); !errors.As(err, &fe) {
		t.Fatalf("Publish of invalid data: %v, want FieldErrors", err)
	}
	if _, err := f.svc.SendTest(ctx, f.hooks[0]); err != nil {
		t.Fatalf("SendTest: %v", err)
	}

	for name, c := range map[string]*prometheus.CounterVec{"events": f.metrics.EventsAccepted, "deliveries": f.metrics.DeliveriesCreated} {
		if n := testutil.CollectAndCount(c); n != 1 {
			t.Errorf("%s counted under %d event types, want post.created only", name, n)
		}
	}
	if n := testutil.ToFloat64(f.metrics.EventsAccepted.WithLabelValues("post.created")); n != 1 {
		t.Errorf("events accepted = %v, want 1", n)
	}
	if n := testutil.ToFloat64(f.metrics.DeliveriesCreated.WithLabelValues("post.created")); n != 2 {
		t.Errorf("deliveries created = %v, want 2", n)
	}
}
