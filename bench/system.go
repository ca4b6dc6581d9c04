//go:build bench

package bench

import (
	"database/sql"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver of the bench's own pool

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testproc"
)

const (
	startTimeout = 30 * time.Second
	// stopTimeout covers the worker's drain on SIGTERM (DELIVERY_TIMEOUT
	// 10 s + 5 s by default) with some margin; runs may only shorten it.
	stopTimeout = 20 * time.Second
	// logTail is how many lines of each process's output a failure report
	// shows; at LOG_LEVEL=warn a healthy run writes almost none.
	logTail = 200
)

// buildBinaries builds the api, worker and scheduler once, without -race,
// so the figures are those of the binaries that ship. The module root is
// the parent of this package's directory, where go test runs.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := testproc.BuildServices("..", dir, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// system is one deployment of the service on its own database and Redis
// DB, stopped when the (sub)test that started it ends.
type system struct {
	apiURL     string
	adminToken string
	db         *sql.DB // the bench's own pool: completion polls and seeding
	api        *process
	workers    []*process // replicas sharing the Redis DB, as deployed
	scheduler  *process
	all        []*process // every process started, for stop
}

// startSystem starts the api, the given number of workers and the
// scheduler from binDir, all with serviceEnv overlaid with env, and waits
// until each answers its health check.
func startSystem(t *testing.T, binDir string, workers int, env map[string]string) *system {
	t.Helper()
	dbURL := dbtest.NewDatabase(t)
	redisURL := redistest.NewDB(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatalf("open bench pool: %v", err)
	}
	// Seeding runs one statement per core at once; polling needs one.
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })

	s := &system{adminToken: "bench_admin_" + testfactory.RandomHex(16), db: db}
	vars := serviceEnv(dbURL, redisURL, s.adminToken)
	maps.Copy(vars, env)
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	// Registered after the database and Redis DB, so the processes stop
	// before those are dropped.
	t.Cleanup(func() { s.stop(t) })
	s.api = s.start(t, binDir, "api", environ, "/readyz")
	s.apiURL = "http://" + s.api.addr
	for range workers {
		s.workers = append(s.workers, s.start(t, binDir, "worker", environ, "/healthz"))
	}
	s.scheduler = s.start(t, binDir, "scheduler", environ, "/healthz")
	return s
}

// workerRSS is the largest peak RSS (VmHWM) among the workers, in MiB:
// what one replica needs.
func (s *system) workerRSS() (float64, error) {
	var peak float64
	for _, w := range s.workers {
		mb, err := peakRSSMB(w.Cmd.Process.Pid)
		if err != nil {
			return 0, fmt.Errorf("worker RSS: %w", err)
		}
		peak = max(peak, mb)
	}
	return peak, nil
}

// dead returns an error naming the first process that has exited.
func (s *system) dead() error {
	for _, p := range s.all {
		if p.Exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(logTail))
		}
	}
	return nil
}

// start runs one binary, finds the address it listens on and waits for
// its health route to answer 200.
func (s *system) start(t *testing.T, binDir, name string, env []string, health string) *process {
	t.Helper()
	tp, err := testproc.Start(filepath.Join(binDir, name), name, env)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{Process: tp}
	s.all = append(s.all, p) // stopped even when a wait below fails
	deadline := time.Now().Add(startTimeout)
	for {
		if p.Exited() {
			t.Fatalf("%s exited during start-up: %v\n%s", name, p.Err(), p.Tail(logTail))
		}
		if p.addr == "" {
			p.addr, err = listenAddr(p.Cmd.Process.Pid)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if p.addr != "" && healthy("http://"+p.addr+health) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy within %v (listening on %q)\n%s", name, startTimeout, p.addr, p.Tail(logTail))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// localClient talks to the service's admin routes: loopback only, never
// through a proxy, never waiting long on a process that hangs.
var localClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}

func healthy(u string) bool {
	resp, err := localClient.Get(u)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends every process SIGTERM, kills any still running after
// stopTimeout, and reports a process that did not end cleanly.
func (s *system) stop(t *testing.T) {
	var running []*process
	for _, p := range s.all {
		if p.Exited() {
			t.Errorf("%s exited before the end of the run: %v\n%s", p.Name, p.Err(), p.Tail(logTail))
			continue
		}
		p.Cmd.Process.Signal(syscall.SIGTERM)
		running = append(running, p)
	}
	for _, p := range running {
		switch {
		case !p.WaitOrKill(stopTimeout):
			t.Errorf("%s did not exit within %v of SIGTERM; killed\n%s", p.Name, stopTimeout, p.Tail(logTail))
		case p.Err() != nil:
			t.Errorf("%s did not exit cleanly on SIGTERM: %v\n%s", p.Name, p.Err(), p.Tail(logTail))
		}
	}
}

// process is one running binary and the address it listens on.
type process struct {
	*testproc.Process
	addr string
}
