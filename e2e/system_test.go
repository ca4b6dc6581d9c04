package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testproc"
)

// binDir holds the api, worker and scheduler binaries TestMain builds once
// per run of the test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trackelio-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	binDir = dir
	// The module root is the parent of this directory.
	if err := testproc.BuildServices("..", dir, true); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// The harness runs receivers, proxies and process watchers in this
	// process; a test that leaves one running fails the package.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintf(os.Stderr, "e2e: goroutines left running: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

const (
	// waitTimeout bounds every wait for the system to reach a state. Waits
	// return as soon as the state is reached; the bound only matters when
	// something is broken.
	waitTimeout  = 30 * time.Second
	pollInterval = 20 * time.Millisecond
	stopTimeout  = 10 * time.Second
	// maxLoggedOutput keeps a failing test's log readable: only the tail of
	// each process's output is attached.
	maxLoggedOutput = 256 << 10
)

// options tune one system; empty fields take the defaults of newSystem.
type options struct {
	retrySchedule string // RETRY_SCHEDULE: delays before attempts 2, 3, ...
	sweepInterval string // OUTBOX_SWEEP_INTERVAL
	outboxGrace   string // OUTBOX_GRACE
	// blockLoopback leaves DELIVERY_ALLOW_CIDRS empty, so the destination
	// guard refuses the loopback receivers.
	blockLoopback bool
	// env is more environment for every process, merged over the defaults
	// (and over the fields above).
	env map[string]string
}

// system is one isolated deployment: its own database, Redis DB and
// processes, stopped when the test ends.
type system struct {
	redisURL    string
	databaseURL string
	adminToken  string
	env         []string
	http        *http.Client
	apiURL      string // set by startAPI

	mu      sync.Mutex
	procs   []*process
	secrets []string // webhook secrets, API keys and the admin token, which no process may log
}

// newSystem prepares a system without starting any process.
func newSystem(t *testing.T, opts options) *system {
	t.Helper()
	if opts.retrySchedule == "" {
		opts.retrySchedule = "200ms,200ms"
	}
	if opts.sweepInterval == "" {
		opts.sweepInterval = "1s"
	}
	if opts.outboxGrace == "" {
		opts.outboxGrace = "500ms"
	}
	s := &system{
		redisURL:    redistest.NewDB(t),
		databaseURL: dbtest.NewDatabase(t),
		adminToken:  "admin_" + testfactory.RandomHex(16),
		// The client talks to loopback only and never through a proxy.
		http: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second},
	}
	config := map[string]string{
		"DATABASE_URL":          s.databaseURL,
		"REDIS_URL":             s.redisURL,
		"API_ADDR":              "127.0.0.1:0",
		"WORKER_ADDR":           "127.0.0.1:0",
		"SCHEDULER_ADDR":        "127.0.0.1:0",
		"ADMIN_TOKEN":           s.adminToken,
		"WORKER_CONCURRENCY":    "10",
		"DELIVERY_TIMEOUT":      "5s",
		"DELIVERY_ALLOW_CIDRS":  "127.0.0.0/8,::1/128",
		"RETRY_SCHEDULE":        opts.retrySchedule,
		"RETRY_JITTER":          "0",
		"OUTBOX_SWEEP_INTERVAL": opts.sweepInterval,
		"OUTBOX_GRACE":          opts.outboxGrace,
		"LOG_LEVEL":             "debug",
	}
	if opts.blockLoopback {
		config["DELIVERY_ALLOW_CIDRS"] = ""
	}
	for k, v := range opts.env {
		config[k] = v
	}
	s.secrets = append(s.secrets, s.adminToken)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ours := config[name]; ours {
			continue
		}
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY":
			continue
		}
		s.env = append(s.env, kv)
	}
	for k, v := range config {
		s.env = append(s.env, k+"="+v)
	}
	// Registered after the database and Redis DB, so the processes stop
	// before those go away.
	t.Cleanup(func() { s.stop(t) })
	return s
}

// startSystem starts the api, the worker and the scheduler.
func startSystem(t *testing.T, opts options) *system {
	t.Helper()
	s := newSystem(t, opts)
	s.startAPI(t)
	s.startWorker(t)
	s.startScheduler(t)
	return s
}

// rememberSecret adds a secret to those no process may log.
func (s *system) rememberSecret(secret string) {
	s.mu.Lock()
	s.secrets = append(s.secrets, secret)
	s.mu.Unlock()
}

// startAPI starts the api and waits until it is ready.
func (s *system) startAPI(t testing.TB) {
	t.Helper()
	s.apiURL = "http://" + s.start(t, "api").addr
	s.waitHealthy(t, s.apiURL+"/readyz")
}

// startWorker starts the worker and waits until it is healthy.
func (s *system) startWorker(t testing.TB) *process {
	t.Helper()
	p := s.start(t, "worker")
	s.waitHealthy(t, "http://"+p.addr+"/healthz")
	return p
}

// startScheduler starts the scheduler and waits until it is healthy.
func (s *system) startScheduler(t testing.TB) {
	t.Helper()
	s.waitHealthy(t, "http://"+s.start(t, "scheduler").addr+"/healthz")
}

func (s *system) waitHealthy(t testing.TB, u string) {
	t.Helper()
	s.waitFor(t, "GET "+u+" to answer 200", func() (bool, string) {
		resp, err := s.http.Get(u)
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, body)
	})
}

// process is one running binary.
type process struct {
	*testproc.Process
	addr string // the address it logged as listening on
	// stopped says the test ended the process itself (see system.signal),
	// so its exit is not a failure.
	stopped atomic.Bool
}

// start runs a binary and waits for it to log the address it listens on.
func (s *system) start(t testing.TB, name string) *process {
	t.Helper()
	tp, err := testproc.Start(filepath.Join(binDir, name), name, s.env)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{Process: tp}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	select {
	case p.addr = <-p.Listening():
		return p
	case <-p.Done():
		t.Fatalf("%s exited before logging \"listening\": %v", name, p.Err())
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not log \"listening\" within %v", name, waitTimeout)
	}
	return nil
}

// signal sends a process sig and waits until it has exited: a SIGKILL, or a
// SIGTERM, which must end it cleanly within stopTimeout.
func (s *system) signal(t testing.TB, p *process, sig syscall.Signal) {
	t.Helper()
	p.stopped.Store(true)
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.Name, err)
	}
	if !p.WaitOrKill(stopTimeout) {
		t.Fatalf("%s did not exit within %v of %v; killed", p.Name, stopTimeout, sig)
	}
	if sig == syscall.SIGTERM && p.Err() != nil {
		t.Errorf("%s did not exit cleanly on SIGTERM: %v", p.Name, p.Err())
	}
}

// stop sends every process SIGTERM, waits for them (killing any still up
// after stopTimeout), and checks how they ended and what they logged.
func (s *system) stop(t *testing.T) {
	s.http.CloseIdleConnections()
	s.mu.Lock()
	procs := s.procs
	secrets := s.secrets
	s.mu.Unlock()
	for _, p := range procs {
		if p.Exited() {
			if !p.stopped.Load() {
				t.Errorf("%s exited during the test: %v", p.Name, p.Err())
			}
			continue
		}
		p.Cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		if p.stopped.Load() && p.Exited() {
			continue
		}
		switch {
		case !p.WaitOrKill(stopTimeout):
			t.Errorf("%s did not exit within %v of SIGTERM; killed", p.Name, stopTimeout)
		case p.Err() != nil:
			t.Errorf("%s did not exit cleanly on SIGTERM: %v", p.Name, p.Err())
		}
	}
	for _, p := range procs {
		out := p.Output()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", p.Name)
		}
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s logged a secret (webhook secret, API key or admin token)", p.Name)
			}
		}
	}
	if t.Failed() {
		for _, p := range procs {
			out := p.Output()
			if len(out) > maxLoggedOutput {
				out = "[...]" + out[len(out)-maxLoggedOutput:]
			}
			t.Logf("output of %s:\n%s", p.Name, out)
		}
	}
}

// waitFor polls cond until it reports done, failing the test after
// waitTimeout or as soon as a process has died. cond's second result
// describes the state it saw, for the failure message.
func (s *system) waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		done, state := cond()
		if done {
			return
		}
		s.mu.Lock()
		procs := s.procs
		s.mu.Unlock()
		for _, p := range procs {
			if p.Exited() && !p.stopped.Load() {
				t.Fatalf("waiting for %s: %s exited: %v (last state: %s)", what, p.Name, p.Err(), state)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", waitTimeout, what, state)
		}
		time.Sleep(pollInterval)
	}
}
