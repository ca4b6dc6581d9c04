package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/faultproxy"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// The chaos scenarios put the real binaries under steady load through the
// public API, strike them with a fault, and then prove from the receiver
// and PostgreSQL that every event answered 202 reached every subscribed
// webhook. The short versions of the worker-kill and Redis-loss scenarios
// run in every `go test`; `make chaos` (build tag chaos) runs them all at
// full size and prints the table.

// chaosSize is the shape of one scenario run.
type chaosSize struct {
	workers, apis, hooks int
	rate                 int // events per second the producers post
	// latency is how long the receiver takes to answer, so that a fault
	// always finds attempts in flight.
	latency time.Duration
	before  time.Duration // load before the fault strikes
	after   time.Duration // load after the fault has healed
}

// scenario is one fault under load.
type scenario struct {
	name string
	size chaosSize
	opts options
	// proxied puts a proxy between the workers and the receiver, so the
	// fault can refuse connections to it.
	proxied bool
	// hanging subscribes one more webhook, at an endpoint that never
	// answers (each attempt ends at DELIVERY_TIMEOUT); its deliveries are
	// not owed, the others' latency is what counts.
	hanging bool
	// quiet, when set, is the same run without the trouble: it runs first,
	// and this run's delivery p99 (and with comparePosts its POST p99)
	// must stay within twice its own.
	quiet        *scenario
	comparePosts bool
	// fault strikes while the load runs and returns once the fault has
	// healed: recovery is measured from then.
	fault func(t *testing.T, c *chaosRun)
	// bound, when set, is the longest recovery the scenario allows.
	bound time.Duration
}

// chaosRun is one scenario's deployment and what its producers saw.
type chaosRun struct {
	sys      *system
	rcv      *receiver
	rcvProxy *faultproxy.Proxy // set when the scenario is proxied
	ws       *workspace
	hooks    []client.Webhook // the webhooks whose deliveries are owed
	workers  []*process
	db       *sqlx.DB
	redisURL string // the Redis the system uses
	rdb      redis.UniversalClient
	// failing makes the receiver answer 500.
	failing atomic.Bool
	// client posts events: loopback only, no proxy, patient enough for an
	// api that waits on a restarting database.
	client *http.Client

	mu       sync.Mutex
	apis     []string             // api replicas' base URLs
	accepted map[string]time.Time // event id -> its 202
	posts    []time.Duration      // round trips of the POSTs answered 202
	retried  map[string]int       // answers the producers retried, by status or error
}

// chaosResult is what one scenario run proved.
type chaosResult struct {
	name       string
	events     int // events answered 202
	expected   int // deliveries those events owe
	received   int // of those, distinct deliveries at the receiver
	lost       int
	duplicates int // requests answered 2xx beyond the first for the same delivery
	retried    int // answers other than 202 the producers retried
	recovery   time.Duration
	// postP99 is the 99th percentile of the POSTs answered 202, and
	// deliveryP99 of accept → first 2xx receipt of the owed deliveries.
	postP99, deliveryP99 time.Duration
}

// publishPatience is how long a producer keeps retrying one event.
const publishPatience = time.Minute

// settleTimeout bounds the wait for every owed delivery after the load;
// it covers asynq's recovery of a killed worker's tasks (see README).
const settleTimeout = 4 * time.Minute

// runScenario deploys, loads, strikes, heals and checks one scenario.
func runScenario(t *testing.T, sc scenario) chaosResult {
	c := &chaosRun{accepted: map[string]time.Time{}, retried: map[string]int{},
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}}
	c.rcv = newSlowReceiver(t, testreceiver.Switch(&c.failing,
		testreceiver.Always(http.StatusInternalServerError, "failing on purpose"), testreceiver.Always(http.StatusOK, "ok")), sc.size.latency)
	c.sys = newSystem(t, sc.opts)
	c.redisURL = c.sys.redisURL
	if u, ok := sc.opts.env["REDIS_URL"]; ok {
		c.redisURL = u
	}
	for range max(sc.size.apis, 1) {
		c.sys.startAPI(t)
		c.apis = append(c.apis, c.sys.apiURL)
	}
	for range sc.size.workers {
		c.workers = append(c.workers, c.sys.startWorker(t))
	}
	c.sys.startScheduler(t)
	c.db = sqlx.MustOpen("postgres", c.sys.databaseURL)
	c.db.SetMaxOpenConns(2)
	t.Cleanup(func() { c.db.Close() })
	// Built as the binaries build theirs, so it follows a Sentinel failover.
	c.rdb = queuetest.RedisOpt(t, c.redisURL).MakeRedisClient().(redis.UniversalClient)
	t.Cleanup(func() { c.rdb.Close() })

	c.ws = c.sys.newWorkspace(t)
	base := c.rcv.URL("")
	if sc.proxied {
		base, c.rcvProxy = faultproxy.URL(t, base)
	}
	for i := range sc.size.hooks {
		c.hooks = append(c.hooks, c.ws.createWebhook(t, map[string]any{
			"url": fmt.Sprintf("%s/hook/%d", base, i), "events": []string{"post.created"}}))
	}
	if sc.hanging {
		c.ws.createWebhook(t, map[string]any{"url": newReceiver(t, testreceiver.Hangs()).URL("/hangs"), "events": []string{"post.created"}})
	}

	ctx, stopLoad := context.WithCancel(context.Background())
	loaded := c.load(ctx, t, sc.size.rate)
	time.Sleep(sc.size.before)
	sc.fault(t, c)
	healed := time.Now()
	time.Sleep(sc.size.after)
	stopLoad()
	loaded()

	r := c.settle(t, healed)
	r.name = sc.name
	t.Logf("%s: events=%d expected=%d received=%d lost=%d duplicates=%d retried=%d recovery=%v post_p99=%v delivery_p99=%v",
		r.name, r.events, r.expected, r.received, r.lost, r.duplicates, r.retried, r.recovery.Round(time.Millisecond),
		r.postP99.Round(time.Millisecond), r.deliveryP99.Round(time.Millisecond))
	c.checkSignatures(t)
	c.checkNothingActive(t)
	if r.lost > 0 {
		t.Errorf("%s: %d of %d deliveries lost", sc.name, r.lost, r.expected)
	}
	if sc.bound > 0 && r.recovery > sc.bound {
		t.Errorf("%s: recovered after %v, want within %v", sc.name, r.recovery.Round(time.Millisecond), sc.bound)
	}
	return r
}

// load posts events at rate per second until ctx ends; the function it
// returns waits for the last publisher.
func (c *chaosRun) load(ctx context.Context, t *testing.T, rate int) func() {
	var wg sync.WaitGroup
	var seq atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(rate))
	wg.Go(func() {
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				i := seq.Add(1)
				wg.Go(func() { c.publish(t, i) })
			}
		}
	})
	return wg.Wait
}

// chaosEvent is the body of a post.created event about post id, valid
// under the type's schema.
func chaosEvent(id string) string {
	return `{"type":"post.created","data":{"post":{"id":"` + id + `","title":"chaos ` + id +
		`","status":"open","board":{"id":"board_chaos"},"author":{"id":"user_chaos"}},"source":"widget"}}`
}

// publish posts event i as a careful producer does: with an idempotency
// key, retrying network errors, 429 and 5xx (after Retry-After) and
// spreading the retries over the api replicas, until it is answered 202.
func (c *chaosRun) publish(t *testing.T, i int64) {
	body := chaosEvent(fmt.Sprintf("post_%d", i))
	key := fmt.Sprintf("chaos-%d", i)
	deadline := time.Now().Add(publishPatience)
	for n := 0; ; n++ {
		sent := time.Now()
		status, id, wait, err := c.post(c.api(int(i)+n), c.ws.token, key, body)
		if status == http.StatusAccepted {
			c.accept(id, time.Now())
			c.mu.Lock()
			c.posts = append(c.posts, time.Since(sent))
			c.mu.Unlock()
			return
		}
		what := strconv.Itoa(status)
		if err != nil {
			what = "network error"
		} else if status != http.StatusTooManyRequests && status < 500 {
			t.Errorf("event %d: POST /v1/events answered %d, which no retry can fix", i, status)
			return
		}
		c.mu.Lock()
		c.retried[what]++
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Errorf("event %d: not accepted within %v (last answer: %s)", i, publishPatience, what)
			return
		}
		time.Sleep(wait)
	}
}

// api returns the nth api replica's URL, round robin.
func (c *chaosRun) api(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apis[n%len(c.apis)]
}

// accept records that an event was answered 202 (or, for a producer that
// never waits for the answer, stored) at at.
func (c *chaosRun) accept(eventID string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.accepted[eventID]; !seen {
		c.accepted[eventID] = at
	}
}

// post sends one POST /v1/events with the workspace key token and, unless
// empty, the idempotency key, and returns its status, the event id of a 202
// and how long to wait before a retry.
func (c *chaosRun) post(api, token, key, body string) (status int, eventID string, wait time.Duration, err error) {
	req, err := http.NewRequest(http.MethodPost, api+"/v1/events", strings.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	wait = 100 * time.Millisecond
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", wait, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", wait, err
	}
	if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil {
		wait = time.Duration(s) * time.Second
	}
	var a client.Event
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
			return 0, "", wait, fmt.Errorf("202 without an event id: %s", b)
		}
	}
	return resp.StatusCode, a.ID, wait, nil
}

// owed is one delivery an accepted event owes a webhook.
type owed struct {
	ID         string     `db:"id"`
	EventID    string     `db:"event_id"`
	Status     string     `db:"status"`
	FinishedAt *time.Time `db:"finished_at"`
}

// settle waits until every delivery the accepted events owe has reached
// the receiver and succeeded in PostgreSQL, or settleTimeout, and counts.
func (c *chaosRun) settle(t *testing.T, healed time.Time) chaosResult {
	c.mu.Lock()
	accepted := make(map[string]time.Time, len(c.accepted))
	for id, at := range c.accepted {
		accepted[id] = at
	}
	r := chaosResult{events: len(accepted), postP99: percentile(c.posts, 0.99)}
	for _, n := range c.retried {
		r.retried += n
	}
	c.mu.Unlock()
	hookIDs := make([]string, len(c.hooks))
	for i, h := range c.hooks {
		hookIDs[i] = h.ID
	}
	ids := make([]string, 0, len(accepted))
	for id := range accepted {
		ids = append(ids, id)
	}
	r.expected = len(ids) * len(c.hooks)

	var rows []owed
	first := map[string]time.Time{} // delivery id -> first receipt
	sends := map[string]int{}
	deadline := time.Now().Add(settleTimeout)
	for {
		rows = rows[:0]
		if err := c.db.Select(&rows, `SELECT id::text, event_id::text, status, finished_at FROM deliveries
			 WHERE event_id = ANY($1::uuid[]) AND webhook_id = ANY($2::uuid[])`, dbtest.Array(ids), dbtest.Array(hookIDs)); err != nil {
			t.Fatalf("owed deliveries: %v", err)
		}
		clear(first)
		clear(sends)
		for _, got := range c.rcv.Requests() {
			if got.Status/100 != 2 {
				continue // a failed attempt, retried later: not a delivery
			}
			d := got.Delivery()
			sends[d]++
			if _, ok := first[d]; !ok {
				first[d] = got.At
			}
		}
		done := len(rows) == r.expected
		for _, o := range rows {
			if _, ok := first[o.ID]; !ok || o.Status != "succeeded" {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	r.lost = r.expected - len(rows) // deliveries never even stored
	var last time.Time
	var latencies []time.Duration
	for _, o := range rows {
		at, ok := first[o.ID]
		if !ok {
			r.lost++
			continue
		}
		r.received++
		latencies = append(latencies, at.Sub(accepted[o.EventID]))
		r.duplicates += sends[o.ID] - 1
		delete(sends, o.ID)
		if o.Status != "succeeded" || o.FinishedAt == nil {
			t.Errorf("delivery %s arrived but is %s in PostgreSQL", o.ID, o.Status)
			continue
		}
		// Recovered once it arrived and its success is stored.
		if done := maxTime(at, *o.FinishedAt); accepted[o.EventID].Before(healed) && done.After(last) {
			last = done
		}
	}
	for id := range sends {
		t.Errorf("the receiver got delivery %q, which no accepted event owes", id)
	}
	r.recovery = max(0, last.Sub(healed))
	r.deliveryP99 = percentile(latencies, 0.99)
	return r
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// checkNothingActive checks that no task is left active once every
// delivery has succeeded: a worker that stopped or died must not leave one
// behind (asynq#1051).
func (c *chaosRun) checkNothingActive(t *testing.T) {
	insp := queuetest.NewInspector(t, queuetest.RedisOpt(t, c.redisURL))
	var state string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		queues, err := insp.Queues()
		if err != nil {
			state = err.Error()
			continue
		}
		active := 0
		for _, q := range queues {
			info, err := insp.GetQueueInfo(q)
			if err != nil {
				state = err.Error()
				active = -1
				break
			}
			active += info.Active
		}
		if active == 0 {
			return
		}
		state = fmt.Sprintf("%d tasks active", active)
	}
	t.Errorf("tasks left active after every delivery succeeded: %s", state)
}

// checkSignatures checks every request the receiver got against its
// webhook's secret and the body it carried.
func (c *chaosRun) checkSignatures(t *testing.T) {
	secrets := map[string]string{}
	for i, h := range c.hooks {
		secrets[fmt.Sprintf("/hook/%d", i)] = h.Secret
	}
	bad := 0
	for _, got := range c.rcv.Requests() {
		if got.Header.Get("X-Trackelio-Signature") != sign(secrets[got.URI], got.Body) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d requests carried a signature that does not match their webhook's secret and body", bad)
	}
}

// Faults.

// killWorker SIGKILLs the first worker mid-load.
func killWorker(t *testing.T, c *chaosRun) {
	c.sys.signal(t, c.workers[0], syscall.SIGKILL)
}

// killAllWorkers SIGKILLs every worker, waits a moment with none running,
// and starts as many again.
func killAllWorkers(t *testing.T, c *chaosRun) {
	for _, w := range c.workers {
		c.sys.signal(t, w, syscall.SIGKILL)
	}
	time.Sleep(time.Second)
	for i := range c.workers {
		c.workers[i] = c.sys.startWorker(t)
	}
}

// flushRedis drops everything asynq holds, as a Redis restarted without
// persistence does.
func flushRedis(t *testing.T, c *chaosRun) {
	if err := c.rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush redis: %v", err)
	}
}

// chaosTable formats results and the closing CHAOS line.
func chaosTable(results []chaosResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %7s %8s %8s %5s %10s %7s %10s %9s %13s\n", "scenario", "events", "expected", "received", "lost", "duplicates", "retried", "recovery_s", "post_p99", "delivery_p99")
	lost, dups := 0, 0
	var worst time.Duration
	for _, r := range results {
		fmt.Fprintf(&b, "%-40s %7d %8d %8d %5d %10d %7d %10.1f %9s %13s\n", r.name, r.events, r.expected, r.received, r.lost, r.duplicates, r.retried,
			r.recovery.Seconds(), r.postP99.Round(time.Millisecond), r.deliveryP99.Round(time.Millisecond))
		lost += r.lost
		dups += r.duplicates
		worst = max(worst, r.recovery)
	}
	fmt.Fprintf(&b, "CHAOS scenarios=%d lost=%d duplicates=%d max_recovery_s=%.1f", len(results), lost, dups, worst.Seconds())
	return b.String()
}

// shortScenarios are the quick versions of the worker-kill and Redis-loss
// scenarios that every test run includes.
func shortScenarios() []scenario {
	small := chaosSize{workers: 2, apis: 1, hooks: 2, rate: 40, latency: 100 * time.Millisecond, before: time.Second, after: time.Second}
	return []scenario{
		{name: "kill -9 of one worker", size: small, fault: killWorker,
			// The orphan recoverer's 12 s and 2 s, and 5 s.
			bound: 19 * time.Second},
		{name: "Redis loses everything", size: small, fault: flushRedis,
			// OUTBOX_GRACE + OUTBOX_SWEEP_INTERVAL + 5 s.
			bound: 500*time.Millisecond + time.Second + 5*time.Second},
	}
}

func TestChaosShort(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var results []chaosResult
	t.Cleanup(func() { t.Logf("\n%s", chaosTable(results)) }) // after the subtests
	for _, sc := range shortScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := runScenario(t, sc)
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		})
	}
}
