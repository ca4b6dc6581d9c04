//go:build chaos

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/jobs"
)

// full is the size of a `make chaos` scenario: three workers, two api
// replicas, three webhooks per event, 50 events a second. The binaries are
// built with the race detector, which makes them several times slower; at
// twice this rate a two-core machine is near its capacity and the
// recovery times would measure queueing rather than the fault.
var full = chaosSize{workers: 3, apis: 2, hooks: 3, rate: 50, latency: 50 * time.Millisecond,
	before: 4 * time.Second, after: 4 * time.Second}

// TestChaos runs every scenario at full size, one after the other (some
// restart the PostgreSQL every test shares), and prints the table and the
// CHAOS line.
func TestChaos(t *testing.T) {
	var results []chaosResult
	defer func() { fmt.Printf("\n%s\n", chaosTable(results)) }()
	run := func(sc scenario) (chaosResult, bool) {
		r, ran := chaosResult{name: sc.name}, false // -run may leave it out
		if !t.Run(sc.name, func(t *testing.T) { ran = true; r = runScenario(t, sc) }) {
			r.name += " (FAILED)"
		}
		if ran {
			results = append(results, r)
		}
		return r, ran
	}
	for _, sc := range fullScenarios(t) {
		if sc.quiet == nil {
			run(sc)
			continue
		}
		quiet, ran := run(*sc.quiet)
		if !ran {
			continue
		}
		loud, _ := run(sc)
		if loud.deliveryP99 > 2*quiet.deliveryP99 {
			t.Errorf("%s: delivery p99 %v, want within twice the quiet run's %v", sc.name,
				loud.deliveryP99.Round(time.Millisecond), quiet.deliveryP99.Round(time.Millisecond))
		}
		if sc.comparePosts && loud.postP99 > 2*quiet.postP99 {
			t.Errorf("%s: POST p99 %v, want within twice the quiet run's %v", sc.name,
				loud.postP99.Round(time.Millisecond), quiet.postP99.Round(time.Millisecond))
		}
	}
}

func fullScenarios(t *testing.T) []scenario {
	// The outbox bound of a Redis loss: OUTBOX_GRACE + OUTBOX_SWEEP_INTERVAL + 5 s.
	outboxBound := 500*time.Millisecond + time.Second + 5*time.Second
	// The orphan recoverer's 12 s and 2 s, and 5 s.
	orphanBound := 19 * time.Second
	return []scenario{
		{name: "kill -9 of one worker", size: full, fault: killWorker, bound: orphanBound},
		{name: "kill -9 of every worker, restart", size: full, fault: killAllWorkers, bound: orphanBound},
		{name: "Redis FLUSHALL, a backlog queued", size: full, opts: privateRedis(t), fault: withBacklog(flushAll), bound: outboxBound},
		{name: "Redis restart, no persistence, a backlog", size: full, opts: privateRedis(t), fault: withBacklog(restartRedis), bound: outboxBound},
		{name: "Redis primary killed, Sentinel failover", size: full, opts: sentinelRedis(t), fault: killPrimary,
			// Writes the primary took but had not replicated are gone:
			// the outbox sweep brings them back, as after a Redis loss.
			// A dequeue whose answer died with the primary leaves its task
			// active on the replica with no worker: the orphan recoverer
			// brings it back.
			bound: orphanBound},
		{name: "PostgreSQL restart", size: full, fault: restartPostgres},
		{name: "receiver refuses, then answers 500", size: full, proxied: true, fault: receiverOutage,
			opts:  options{retrySchedule: "500ms,1s,1s,2s,2s,2s,2s,2s,2s,2s", env: map[string]string{"BREAKER_PROBE_INTERVAL": "1s"}},
			bound: outageBound(full, outage)},
		{name: "rolling SIGTERM of workers and apis", size: full, fault: rollingRestart, bound: 5 * time.Second},
		{name: "two schedulers", size: full, fault: twoSchedulers, bound: 5 * time.Second},
		{name: "an endpoint hangs beside healthy ones", size: full, hanging: true, fault: wait(8 * time.Second),
			quiet: &scenario{name: "healthy endpoints alone", size: full, fault: wait(8 * time.Second)}},
		{name: "a noisy workspace floods the api", size: trickle, opts: rateLimited, fault: flood, comparePosts: true,
			quiet: &scenario{name: "the same workspace, no flood", size: trickle, opts: rateLimited, fault: wait(floodFor)}},
		{name: "clients hang up after sending", size: full, fault: hangUps,
			// The sweep's grace is long, so only the api's own enqueue
			// can deliver a hung-up client's events in time.
			opts: options{outboxGrace: "1m"}, bound: 5 * time.Second},
	}
}

// wait is a fault that does nothing for d: the quiet runs, and the
// hanging endpoint, which is trouble from the start.
func wait(d time.Duration) func(*testing.T, *chaosRun) {
	return func(*testing.T, *chaosRun) { time.Sleep(d) }
}

// The noisy-workspace scenario: a rate limit of 10 requests a second per
// workspace and api replica, a workspace well within it, and another
// posting at ten times the limit on each replica.
var (
	rateLimited = options{env: map[string]string{"API_RATE_LIMIT": "10", "API_RATE_BURST": "10"}}
	trickle     = chaosSize{workers: 3, apis: 2, hooks: 3, rate: 8, latency: 50 * time.Millisecond, before: 2 * time.Second, after: 2 * time.Second}
)

const floodFor = 8 * time.Second

// flood posts from a second workspace at ten times its rate limit on every
// api replica for floodFor; nearly all of it is answered 429.
func flood(t *testing.T, c *chaosRun) {
	noisy := c.sys.newWorkspace(t)
	ctx, cancel := context.WithTimeout(context.Background(), floodFor)
	defer cancel()
	const perReplica = 10 * 10
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(perReplica*len(c.apis)))
	defer tick.Stop()
	body := chaosEvent("noise")
	answers := map[int]int{}
	var mu sync.Mutex
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			t.Logf("noisy workspace: answers %v", answers)
			if answers[http.StatusTooManyRequests] == 0 {
				t.Errorf("the flood at ten times the rate limit was never answered 429: %v", answers)
			}
			return
		case <-tick.C:
			wg.Go(func() {
				status, _, _, _ := c.post(c.api(n), noisy.token, "", body) // 0: a network error
				mu.Lock()
				answers[status]++
				mu.Unlock()
			})
		}
	}
}

// Redis faults on a Redis server of the scenario's own, so FLUSHALL and a
// restart touch no other test.

type redisServer struct {
	port string
	conf string   // a config file, for a Sentinel
	args []string // more redis-server arguments
	cmd  *exec.Cmd
}

// scenarioRedis maps a scenario's REDIS_URL to its servers: the one
// server, or for Sentinel the primary, the replica and the Sentinels.
var scenarioRedis = map[string][]*redisServer{}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// newRedisServer starts a redis-server without persistence on a free
// loopback port; it stops when the test ends.
func newRedisServer(t *testing.T, args ...string) *redisServer {
	r := &redisServer{port: freePort(t), args: args}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

// privateRedis starts a Redis server for one scenario and returns the
// options that point the system at it.
func privateRedis(t *testing.T) options {
	r := newRedisServer(t)
	u := "redis://127.0.0.1:" + r.port + "/0"
	scenarioRedis[u] = []*redisServer{r}
	return options{env: map[string]string{"REDIS_URL": u}}
}

// sentinelMaster is the name the Sentinels know the primary by.
const sentinelMaster = "chaos"

// sentinelRedis starts a primary, a replica of it and three Sentinels
// watching them, and returns the options that point the system at the
// Sentinels (REDIS_URL=redis-sentinel://...).
func sentinelRedis(t *testing.T) options {
	primary := newRedisServer(t)
	replica := newRedisServer(t, "--replicaof", "127.0.0.1", primary.port)
	servers := []*redisServer{primary, replica}
	var addrs []string
	for i := range 3 {
		conf := filepath.Join(t.TempDir(), fmt.Sprintf("sentinel-%d.conf", i))
		// Sentinel rewrites its config file, so each gets its own.
		if err := os.WriteFile(conf, []byte(fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 2\n"+
			"sentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n", sentinelMaster, primary.port)), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &redisServer{port: freePort(t)}
		s.args = []string{"--sentinel"}
		s.conf = conf
		s.start(t)
		t.Cleanup(s.stop)
		servers = append(servers, s)
		addrs = append(addrs, "127.0.0.1:"+s.port)
	}
	u := "redis-sentinel://" + strings.Join(addrs, ",") + "?master=" + sentinelMaster
	scenarioRedis[u] = servers
	return options{env: map[string]string{"REDIS_URL": u}}
}

func (r *redisServer) start(t *testing.T) {
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	args = append(args, "--bind", "127.0.0.1", "--port", r.port, "--save", "", "--appendonly", "no")
	r.cmd = exec.Command("redis-server", append(args, r.args...)...)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server (apt-get install redis-server): %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+r.port); err == nil {
			fmt.Fprint(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %s did not answer", r.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// withBacklog runs fault while Redis holds a second of the load's tasks:
// the workers stop (SIGTERM, cleanly) a second before it and start again
// after it. At this load the workers otherwise keep the queues nearly
// empty, and a Redis loss would find little to lose.
func withBacklog(fault func(*testing.T, *chaosRun)) func(*testing.T, *chaosRun) {
	return func(t *testing.T, c *chaosRun) {
		for _, w := range c.workers {
			c.sys.signal(t, w, syscall.SIGTERM)
		}
		time.Sleep(time.Second)
		fault(t, c)
		for i := range c.workers {
			c.workers[i] = c.sys.startWorker(t)
		}
	}
}

// flushAll empties the scenario's whole Redis server.
func flushAll(t *testing.T, c *chaosRun) {
	if err := c.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
}

// restartRedis kills the scenario's Redis and starts it again empty, two
// seconds later.
func restartRedis(t *testing.T, c *chaosRun) {
	r := scenarioRedis[c.redisURL][0]
	r.stop()
	time.Sleep(2 * time.Second)
	r.start(t)
}

// killPrimary SIGKILLs the Redis primary and waits until the Sentinels have
// promoted its replica; nothing of the service is restarted.
func killPrimary(t *testing.T, c *chaosRun) {
	servers := scenarioRedis[c.redisURL]
	primary, replica, sentinel := servers[0], servers[1], servers[2]
	primary.stop()
	s := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + sentinel.port})
	defer s.Close()
	c.sys.waitFor(t, "the Sentinels to promote the replica", func() (bool, string) {
		addr, err := s.GetMasterAddrByName(context.Background(), sentinelMaster).Result()
		if err != nil {
			return false, err.Error()
		}
		return len(addr) == 2 && addr[1] == replica.port, fmt.Sprintf("primary %v", addr)
	})
}

// restartPostgres restarts the PostgreSQL cluster every test shares, with
// the command .ci/run starts it with, and waits until it answers again.
func restartPostgres(t *testing.T, c *chaosRun) {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		t.Skipf("no Debian PostgreSQL cluster to restart: %v", err)
	}
	ctl := func(action string) error {
		out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", action).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_ctlcluster %s: %v: %s", action, err, out)
		}
		return nil
	}
	// Leave it running whatever happens.
	t.Cleanup(func() {
		if exec.Command("pg_isready", "-q", "-h", "127.0.0.1").Run() != nil {
			ctl("start") //nolint:errcheck // best effort; the next test says what is wrong
		}
	})
	if err := ctl("restart"); err != nil {
		t.Fatal(err)
	}
	c.sys.waitFor(t, "PostgreSQL to answer", func() (bool, string) {
		return exec.Command("pg_isready", "-q", "-h", "127.0.0.1").Run() == nil, "pg_isready fails"
	})
}

// outage is how long the receiver refuses connections, and then how long
// it answers 500.
const outage = 3 * time.Second

// outageBound is how long after a receiver outage the backlog may take to
// drain: the last failures' 2 s retry wait, then the deliveries owed since
// the outage began, at what the in-flight cap leaves over the ongoing load
// (WEBHOOK_MAX_IN_FLIGHT=10 attempts of the receiver's latency each), and
// 5 s of slack for the limit to grow back and the breaker to close.
func outageBound(sz chaosSize, outage time.Duration) time.Duration {
	perHook := float64(time.Second) / float64(sz.latency) * 10 // deliveries a second one webhook can take
	backlog := float64(sz.rate) * (2 * outage).Seconds()
	drain := time.Duration(backlog / (perHook - float64(sz.rate)) * float64(time.Second))
	return 2*time.Second + drain + 5*time.Second
}

// receiverOutage refuses the workers' connections, then answers 500.
func receiverOutage(t *testing.T, c *chaosRun) {
	c.rcvProxy.Cut()
	time.Sleep(outage)
	c.failing.Store(true)
	c.rcvProxy.Restore(t)
	time.Sleep(outage)
	c.failing.Store(false)
}

// rollingRestart SIGTERMs each worker in turn and starts a new one, then
// each api replica.
func rollingRestart(t *testing.T, c *chaosRun) {
	for i, w := range c.workers {
		c.sys.signal(t, w, syscall.SIGTERM)
		c.workers[i] = c.sys.startWorker(t)
		time.Sleep(500 * time.Millisecond)
	}
	for i := range c.apis {
		c.mu.Lock()
		old := c.apis[i]
		c.mu.Unlock()
		p := c.sys.processAt(t, old)
		c.sys.signal(t, p, syscall.SIGTERM)
		c.sys.startAPI(t)
		c.mu.Lock()
		c.apis[i] = c.sys.apiURL
		c.mu.Unlock()
		time.Sleep(500 * time.Millisecond)
	}
}

// twoSchedulers runs a second scheduler for ten sweep intervals and checks
// the sweeps did not double.
func twoSchedulers(t *testing.T, c *chaosRun) {
	insp := queuetest.NewInspector(t, queuetest.RedisOpt(t, c.redisURL))
	processed := func() int {
		info, err := insp.GetQueueInfo(jobs.QueueMaintenance)
		if err != nil {
			t.Fatalf("maintenance queue: %v", err)
		}
		return info.ProcessedTotal
	}
	c.sys.startScheduler(t)
	before := processed()
	const window, interval = 10 * time.Second, time.Second // OUTBOX_SWEEP_INTERVAL of newSystem
	time.Sleep(window)
	if n := processed() - before; n > int(window/interval)+1 {
		t.Errorf("two schedulers ran %d sweeps in %v at an interval of %v, want at most %d", n, window, interval, int(window/interval)+1)
	} else {
		t.Logf("two schedulers: %d sweeps in %v", n, window)
	}
}

// hangUps posts 50 events from clients that close the connection as soon
// as the request is written, and checks that each was stored and delivered
// within 5 s, long before the outbox sweep's grace.
func hangUps(t *testing.T, c *chaosRun) {
	const n = 50
	sent := map[string]time.Time{}
	for i := range n {
		key := fmt.Sprintf("hangup-%d", i)
		body := chaosEvent(fmt.Sprintf("hangup_%d", i))
		u, _ := url.Parse(c.api(i))
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
			u.Host, c.ws.token, key, len(body), body)
		sent[key] = time.Now()
		conn.Close()
	}
	c.sys.waitFor(t, fmt.Sprintf("the %d hung-up events to be stored", n), func() (bool, string) {
		var rows []struct {
			ID  string `db:"id"`
			Key string `db:"idempotency_key"`
		}
		if err := c.db.Select(&rows, `SELECT id::text, idempotency_key FROM events WHERE idempotency_key LIKE 'hangup-%'`); err != nil {
			return false, err.Error()
		}
		for _, r := range rows {
			c.accept(r.ID, sent[r.Key])
		}
		return len(rows) == n, fmt.Sprintf("%d stored", len(rows))
	})
}

// processAt returns the running process whose base URL is u.
func (s *system) processAt(t *testing.T, u string) *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if "http://"+p.addr == u && !p.Exited() {
			return p
		}
	}
	t.Fatalf("no running process serves %s", u)
	return nil
}
