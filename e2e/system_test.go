package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trackelio/webhooks/internal/testenv"
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
	// One go build for the three mains shares the race-instrumented
	// dependencies; the module root is the parent of this directory.
	build := exec.Command("go", "build", "-race", "-o", dir+string(filepath.Separator),
		"./cmd/api", "./cmd/worker", "./cmd/scheduler")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build binaries: %v\n%s", err, out)
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
		redisURL:    testenv.NewRedis(t),
		databaseURL: testenv.NewDatabase(t),
		adminToken:  "admin_" + randomHex(16),
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
	name string
	addr string // the address it logged as listening on
	cmd  *exec.Cmd
	out  *logBuffer
	done chan struct{} // closed once the process has exited and err is set
	err  error
	// stopped says the test ended the process itself (see system.signal),
	// so its exit is not a failure.
	stopped atomic.Bool
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs a binary and waits for it to log the address it listens on.
func (s *system) start(t testing.TB, name string) *process {
	t.Helper()
	p := &process{
		name: name,
		cmd:  exec.Command(filepath.Join(binDir, name)),
		out:  &logBuffer{listening: make(chan string, 1)},
		done: make(chan struct{}),
	}
	p.cmd.Env = s.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	select {
	case p.addr = <-p.out.listening:
		return p
	case <-p.done:
		t.Fatalf("%s exited before logging \"listening\": %v", name, p.err)
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
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %v of %v; killed", p.name, stopTimeout, sig)
	}
	if sig == syscall.SIGTERM && p.err != nil {
		t.Errorf("%s did not exit cleanly on SIGTERM: %v", p.name, p.err)
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
		if p.exited() {
			if !p.stopped.Load() {
				t.Errorf("%s exited during the test: %v", p.name, p.err)
			}
			continue
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		if p.stopped.Load() && p.exited() {
			continue
		}
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("%s did not exit cleanly on SIGTERM: %v", p.name, p.err)
			}
		case <-time.After(stopTimeout):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not exit within %v of SIGTERM; killed", p.name, stopTimeout)
		}
	}
	for _, p := range procs {
		out := p.out.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", p.name)
		}
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s logged a secret (webhook secret, API key or admin token)", p.name)
			}
		}
	}
	if t.Failed() {
		for _, p := range procs {
			out := p.out.String()
			if len(out) > maxLoggedOutput {
				out = "[...]" + out[len(out)-maxLoggedOutput:]
			}
			t.Logf("output of %s:\n%s", p.name, out)
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
			if p.exited() && !p.stopped.Load() {
				t.Fatalf("waiting for %s: %s exited: %v (last state: %s)", what, p.name, p.err, state)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", waitTimeout, what, state)
		}
		time.Sleep(pollInterval)
	}
}

// logBuffer collects a process's output and reports the first
// {"msg":"listening","addr":...} line it sees.
type logBuffer struct {
	listening chan string

	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte // output after the last newline, until "listening" is found
	found   bool
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.found {
		return len(p), nil
	}
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(b.partial[:i], &line) == nil && line.Msg == "listening" && line.Addr != "" {
			b.found, b.partial = true, nil
			b.listening <- line.Addr
			return len(p), nil
		}
		b.partial = b.partial[i+1:]
	}
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
