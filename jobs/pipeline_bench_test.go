package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/internal/testenv"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/sender"
)

// BenchmarkDeliveryPipeline measures deliveries per second through the whole
// worker path on real PostgreSQL and Redis: fan-out insert, enqueue, dequeue,
// load, signed POST to a loopback receiver, attempt recorded.
func BenchmarkDeliveryPipeline(b *testing.B) {
	ctx := context.Background()
	_, dbURL := testenv.NewStore(b)
	// Sized like a worker's pool: each commit waits for an fsync, so
	// throughput grows with the connections that can wait together.
	store, err := repo.Open(ctx, dbURL, repo.Options{MaxConns: 32})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	redisOpt, err := asynq.ParseRedisURI(testenv.NewRedis(b))
	if err != nil {
		b.Fatal(err)
	}
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(receiver.Close)

	ws, err := store.CreateWorkspace(ctx, "bench", []byte(uuid.NewString()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.CreateWebhook(ctx, ws.ID, repo.NewWebhook{
		URL: receiver.URL, Events: []string{"post.created"}, Active: true, Secret: "whsec_bench",
	}, 1); err != nil {
		b.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New(prometheus.NewRegistry())
	const concurrency = 64
	srv := jobs.NewServer(redisOpt, jobs.ServerConfig{Concurrency: concurrency, PollInterval: 10 * time.Millisecond, ShutdownTimeout: time.Second}, m, log)
	handlers := jobs.Handlers{
		Deliver: jobs.NewDeliverHandler(store, sender.New(sender.Config{Timeout: 5 * time.Second, MaxConnsPerHost: concurrency, UserAgent: "bench"}),
			jobs.RetryPolicy{Schedule: []time.Duration{time.Second}}, m, log),
		Sweep: asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }),
	}
	if err := srv.Start(jobs.NewMux(handlers, log)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	client := asynq.NewClient(redisOpt)
	b.Cleanup(func() { client.Close() })
	enq := jobs.NewEnqueuer(client, m)

	body := []byte(`{"id":"evt","type":"post.created","data":{"title":"benchmark"}}`)
	b.ResetTimer()
	const producers = 8
	var wg sync.WaitGroup
	var next atomic.Int64
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				id, _ := uuid.NewV7()
				acc, err := store.CreateEvent(ctx, repo.NewEvent{ID: id.String(), WorkspaceID: ws.ID, Type: "post.created", Body: body, CreatedAt: time.Now()})
				if err != nil {
					b.Error(err)
					return
				}
				for _, d := range acc.DeliveryIDs {
					if err := enq.EnqueueDelivery(ctx, d); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for received.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	if got := received.Load(); got < int64(b.N) {
		b.Fatalf("receiver got %d of %d deliveries", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(0, "ns/op")
}
