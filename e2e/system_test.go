package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// client is a small JSON client for the api.
type client struct {
	sys   *system
	token string
}

// do sends a request and returns the status and body. in is sent as is
// when it is a []byte, otherwise encoded as JSON; nil sends no body.
// Extra headers come as name, value pairs. An answer api/openapi.json does
// not describe fails the test.
func (c client) do(t testing.TB, method, path string, in any, headers ...string) (int, []byte) {
	t.Helper()
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encode %s %s body: %v", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.sys.apiURL+path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.sys.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	checkAnswer(t, req, resp, b)
	return resp.StatusCode, b
}

// call sends a request, fails the test unless the status is want, and
// decodes the answer into out unless out is nil.
func (c client) call(t testing.TB, method, path string, in any, want int, out any, headers ...string) {
	t.Helper()
	status, body := c.do(t, method, path, in, headers...)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, status, want, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, body, err)
		}
	}
}

// apiError is the api's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// workspace is an api client authenticated with a new workspace's key.
type workspace struct {
	client
	ID   string
	Name string
}

func (s *system) newWorkspace(t testing.TB) *workspace {
	t.Helper()
	var created struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		APIKey string `json:"api_key"`
	}
	name := "e2e " + t.Name()
	client{sys: s, token: s.adminToken}.call(t, "POST", "/v1/admin/workspaces",
		map[string]string{"name": name}, http.StatusCreated, &created)
	if created.ID == "" || created.APIKey == "" || created.Name != name {
		t.Fatalf("POST /v1/admin/workspaces answered %+v", created)
	}
	s.mu.Lock()
	s.secrets = append(s.secrets, created.APIKey)
	s.mu.Unlock()
	return &workspace{client: client{sys: s, token: created.APIKey}, ID: created.ID, Name: created.Name}
}

type webhook struct {
	ID                  string    `json:"id"`
	URL                 string    `json:"url"`
	Events              []string  `json:"events"`
	Active              bool      `json:"active"`
	Description         string    `json:"description"`
	Secret              string    `json:"secret"`
	FailureCount        int       `json:"failure_count"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// createWebhook creates a webhook from a request body and remembers its
// secret so the processes' output can be checked for it.
func (w *workspace) createWebhook(t testing.TB, req map[string]any) webhook {
	t.Helper()
	var wh webhook
	w.call(t, "POST", "/v1/webhooks", req, http.StatusCreated, &wh)
	if wh.ID == "" || wh.Secret == "" {
		t.Fatalf("POST /v1/webhooks answered %+v", wh)
	}
	w.sys.mu.Lock()
	w.sys.secrets = append(w.sys.secrets, wh.Secret)
	w.sys.mu.Unlock()
	return wh
}

func (w *workspace) webhook(t testing.TB, id string) webhook {
	t.Helper()
	var wh webhook
	w.call(t, "GET", "/v1/webhooks/"+id, nil, http.StatusOK, &wh)
	return wh
}

// accepted is the answer to POST /v1/events.
type accepted struct {
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
}

// postEvent posts {"type": typ, "data": data} with data as raw JSON text,
// so the test controls its exact bytes. Extra headers come as name, value
// pairs.
func (w *workspace) postEvent(t testing.TB, typ, data string, headers ...string) accepted {
	t.Helper()
	typJSON, _ := json.Marshal(typ)
	body := []byte(`{"type": ` + string(typJSON) + `, "data": ` + data + "}")
	var a accepted
	w.call(t, "POST", "/v1/events", body, http.StatusAccepted, &a, headers...)
	if a.ID == "" {
		t.Fatalf("POST /v1/events answered no event id")
	}
	return a
}

// delivery is a delivery as the webhook history lists it.
type delivery struct {
	ID                string     `json:"id"`
	EventID           string     `json:"event_id"`
	EventType         string     `json:"event_type"`
	WebhookID         string     `json:"webhook_id"`
	Status            string     `json:"status"`
	Attempts          int        `json:"attempts"`
	StatusCode        *int       `json:"status_code"`
	ResponseBody      string     `json:"response_body"`
	ResponseTruncated bool       `json:"response_truncated"`
	LastError         *string    `json:"last_error"`
	LastAttemptAt     *time.Time `json:"last_attempt_at"`
	NextAttemptAt     *time.Time `json:"next_attempt_at"`
	CreatedAt         time.Time  `json:"created_at"`
}

// attempt is one HTTP attempt of a delivery.
type attempt struct {
	Attempt           int       `json:"attempt"`
	StatusCode        *int      `json:"status_code"`
	ResponseBody      string    `json:"response_body"`
	ResponseTruncated bool      `json:"response_truncated"`
	Error             *string   `json:"error"`
	DurationMS        int       `json:"duration_ms"`
	CreatedAt         time.Time `json:"created_at"`
}

// deliveryDetail is GET /v1/deliveries/{id}: the delivery with its attempts.
type deliveryDetail struct {
	delivery
	Attempts     []attempt `json:"attempts"` // shadows delivery.Attempts
	AttemptCount int       `json:"attempt_count"`
}

func (w *workspace) delivery(t testing.TB, id string) deliveryDetail {
	t.Helper()
	var d deliveryDetail
	w.call(t, "GET", "/v1/deliveries/"+id, nil, http.StatusOK, &d)
	return d
}

// history returns a webhook's whole delivery history, newest first, read
// in pages of the given size.
func (w *workspace) history(t testing.TB, webhookID string, pageSize int) []delivery {
	t.Helper()
	all := []delivery{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("delivery history of %s does not end", webhookID)
		}
		q := url.Values{"limit": {fmt.Sprint(pageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp struct {
			Data       []delivery `json:"data"`
			NextCursor *string    `json:"next_cursor"`
		}
		w.call(t, "GET", "/v1/webhooks/"+webhookID+"/deliveries?"+q.Encode(), nil, http.StatusOK, &resp)
		if len(resp.Data) > pageSize {
			t.Fatalf("asked for %d deliveries, got %d", pageSize, len(resp.Data))
		}
		all = append(all, resp.Data...)
		if resp.NextCursor == nil {
			return all
		}
		if *resp.NextCursor == "" || *resp.NextCursor == cursor {
			t.Fatalf("bad next_cursor %q after cursor %q", *resp.NextCursor, cursor)
		}
		cursor = *resp.NextCursor
	}
}

// waitFinished waits until a delivery is no longer pending and returns it.
func (w *workspace) waitFinished(t testing.TB, id string) deliveryDetail {
	t.Helper()
	var d deliveryDetail
	w.sys.waitFor(t, "delivery "+id+" to finish", func() (bool, string) {
		d = w.delivery(t, id)
		return d.Status != "pending", fmt.Sprintf("status %s after %d attempts", d.Status, d.AttemptCount)
	})
	return d
}

// waitHistory waits until a webhook's history holds n finished deliveries
// and returns it.
func (w *workspace) waitHistory(t testing.TB, webhookID string, n int) []delivery {
	t.Helper()
	var h []delivery
	w.sys.waitFor(t, fmt.Sprintf("%d finished deliveries of webhook %s", n, webhookID), func() (bool, string) {
		h = w.history(t, webhookID, 100)
		finished := 0
		for _, d := range h {
			if d.Status != "pending" {
				finished++
			}
		}
		return len(h) == n && finished == n, fmt.Sprintf("%d deliveries, %d finished", len(h), finished)
	})
	return h
}

func intp(n int) *int { return &n }
