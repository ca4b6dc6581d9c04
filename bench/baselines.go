//go:build bench

package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
	"github.com/trackelio/webhooks/signature"
)

// The baselines bound what the service could reach on this machine: asynq
// alone (noop), and the least a delivery must do — dequeue, sign, POST,
// one INSERT — without the service's bookkeeping (naive).

// baseline is the outcome of one baseline run.
type baseline struct {
	tasks   int
	elapsed time.Duration
}

func (b baseline) perSecond() float64 { return float64(b.tasks) / b.elapsed.Seconds() }

// baselineServer is an asynq server configured like the worker's defaults.
func baselineServer(redis asynq.RedisConnOpt) *asynq.Server {
	return asynq.NewServer(redis, asynq.Config{
		Concurrency:       baselineConcurrency,
		TaskCheckInterval: 10 * time.Millisecond, // the worker's WORKER_POLL_INTERVAL
		LogLevel:          asynq.WarnLevel,
	})
}

// enqueueAll puts n tasks made by task(i) into Redis from a few goroutines
// before any server runs, so processing starts on a full queue.
func enqueueAll(ctx context.Context, redis asynq.RedisConnOpt, n int, task func(i int) (*asynq.Task, error)) error {
	client := asynq.NewClient(redis)
	defer client.Close()
	const producers = 16
	var next atomic.Int64
	errs := make([]error, producers)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				t, err := task(i)
				if err == nil {
					_, err = client.EnqueueContext(ctx, t)
				}
				if err != nil {
					errs[p] = fmt.Errorf("enqueue task %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// countdown reports the moment the n-th task finishes, or the first
// failure: a baseline is a best case, so one failed task voids it.
type countdown struct {
	n      int64
	done   atomic.Int64
	last   chan time.Time
	failed chan error
}

func newCountdown(n int) *countdown {
	return &countdown{n: int64(n), last: make(chan time.Time, 1), failed: make(chan error, 1)}
}

// finish records a task's end and returns what its handler should.
func (c *countdown) finish(err error) error {
	if err != nil {
		select {
		case c.failed <- err:
		default:
		}
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	if c.done.Add(1) == c.n {
		c.last <- time.Now()
	}
	return nil
}

// wait returns when the last task finished; it fails on a failed task or
// after stallTimeout without one finishing.
func (c *countdown) wait() (time.Time, error) {
	seen := c.done.Load()
	for {
		select {
		case at := <-c.last:
			return at, nil
		case err := <-c.failed:
			return time.Time{}, err
		case <-time.After(stallTimeout):
			now := c.done.Load()
			if now == seen {
				return time.Time{}, fmt.Errorf("%d of %d tasks done; none in %v", now, c.n, stallTimeout)
			}
			seen = now
		}
	}
}

// runBaseline starts a server on pre-enqueued tasks and times it from its
// start to the last task handled. asynq acknowledges a task in Redis after
// its handler returns; the few milliseconds of the last acks are not timed.
func runBaseline(redis asynq.RedisConnOpt, n int, handle func(context.Context, *asynq.Task) error, cd *countdown) (baseline, error) {
	srv := baselineServer(redis)
	start := time.Now()
	if err := srv.Start(asynq.HandlerFunc(handle)); err != nil {
		return baseline{}, fmt.Errorf("start asynq server: %w", err)
	}
	defer srv.Shutdown()
	end, err := cd.wait()
	if err != nil {
		return baseline{}, err
	}
	return baseline{tasks: n, elapsed: end.Sub(start)}, nil
}

// runNoop measures asynq itself: tasks whose handler does nothing.
func runNoop(t *testing.T, n int) baseline {
	redis := redisOpt(t)
	err := enqueueAll(t.Context(), redis, n, func(int) (*asynq.Task, error) {
		return asynq.NewTask("bench:noop", nil), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cd := newCountdown(n)
	b, err := runBaseline(redis, n, func(context.Context, *asynq.Task) error { return cd.finish(nil) }, cd)
	if err != nil {
		t.Fatalf("noop baseline: %v", err)
	}
	return b
}

// naiveTask is the payload of a naive delivery: all it needs, no lookups.
type naiveTask struct {
	DeliveryID string `json:"delivery_id"`
	URL        string `json:"url"`
	Secret     string `json:"secret"`
}

// runNaive measures the least a delivery must do: take an asynq task, sign
// a body and POST it to the same receiver, and record the attempt with one
// INSERT into a table of its own.
func runNaive(t *testing.T, n int) baseline {
	ctx := t.Context()
	redis := redisOpt(t)
	db, err := sql.Open("postgres", dbtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("naive baseline: open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(baselineConcurrency)
	db.SetMaxIdleConns(baselineConcurrency)
	if _, err := db.ExecContext(ctx, `CREATE TABLE naive_attempts (
		delivery_id uuid PRIMARY KEY,
		status_code integer NOT NULL,
		duration_ms integer NOT NULL,
		created_at  timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatalf("naive baseline: create table: %v", err)
	}

	rcv := startReceiver(t, endpoints{hooks: 1})
	secret := "whsec_" + testfactory.RandomHex(24)
	rcv.setSecret(0, secret)
	err = enqueueAll(ctx, redis, n, func(int) (*asynq.Task, error) {
		p, err := json.Marshal(naiveTask{DeliveryID: uuid.NewString(), URL: rcv.url(0), Secret: secret})
		return asynq.NewTask("bench:naive", p), err
	})
	if err != nil {
		t.Fatal(err)
	}

	transport := &http.Transport{Proxy: nil, MaxIdleConns: baselineConcurrency, MaxIdleConnsPerHost: baselineConcurrency, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	t.Cleanup(transport.CloseIdleConnections)
	cd := newCountdown(n)
	handle := func(ctx context.Context, task *asynq.Task) error {
		return cd.finish(naiveDeliver(ctx, client, db, task.Payload()))
	}
	b, err := runBaseline(redis, n, handle, cd)
	if err != nil {
		t.Fatalf("naive baseline: %v", err)
	}
	if err := rcv.Err(); err != nil {
		t.Fatalf("naive baseline: %v", err)
	}
	var stored int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM naive_attempts`).Scan(&stored); err != nil {
		t.Fatalf("naive baseline: count attempts: %v", err)
	}
	if stored != n || rcv.Deliveries() != n {
		t.Fatalf("naive baseline: %d attempts stored and %d deliveries received, want %d", stored, rcv.Deliveries(), n)
	}
	return b
}

func naiveDeliver(ctx context.Context, client *http.Client, db *sql.DB, payload []byte) error {
	var p naiveTask
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	// A body of the size and shape the service sends.
	body := []byte(`{"id":"` + p.DeliveryID + `","type":"post.created","created_at":"` + time.Now().UTC().Format(time.RFC3339Nano) +
		`","workspace_id":"00000000-0000-7000-8000-000000000000","data":` + postData("1") + `}`)
	req, err := http.NewRequestWithContext(ctx, "POST", p.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("delivery %s: %w", p.DeliveryID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.Header, signature.Sign(p.Secret, body))
	req.Header.Set(testreceiver.DeliveryHeader, p.DeliveryID)
	started := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("delivery %s: %w", p.DeliveryID, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("delivery %s: receiver answered %d", p.DeliveryID, resp.StatusCode)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO naive_attempts (delivery_id, status_code, duration_ms) VALUES ($1, $2, $3)`,
		p.DeliveryID, resp.StatusCode, time.Since(started).Milliseconds())
	if err != nil {
		return fmt.Errorf("delivery %s: record attempt: %w", p.DeliveryID, err)
	}
	return nil
}

// redisOpt claims a Redis DB for the (sub)test.
func redisOpt(t *testing.T) asynq.RedisConnOpt {
	t.Helper()
	opt, err := asynq.ParseRedisURI(redistest.NewDB(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	return opt
}
