package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// rssKB reads a process's resident set size from /proc.
func rssKB(t testing.TB, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read rss: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("parse VmRSS %q: %v", rest, err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestHugeResponseIsBounded answers a delivery with a 1 GiB body: the worker
// reads 64 KiB of it, stores that with the truncated flag, and its memory
// does not grow with the body.
func TestHugeResponseIsBounded(t *testing.T) {
	t.Parallel()
	const size = 1 << 30
	var served atomic.Int64
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	big := newReceiver(t, testreceiver.Writes(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(http.StatusOK)
		for sent := 0; sent < size; sent += len(chunk) {
			n, err := w.Write(chunk)
			served.Add(int64(n))
			if err != nil {
				return // the worker hung up, as it should
			}
		}
	}))
	small := newReceiver(t, testreceiver.Always(http.StatusOK, "ok"))

	sys := newSystem(t, options{})
	sys.startAPI(t)
	worker := sys.startWorker(t)
	ws := sys.newWorkspace(t)

	// Warm up the worker's paths with a small delivery before measuring.
	ws.createWebhook(t, map[string]any{"url": small.URL("/warm"), "events": []string{"nps.submitted"}})
	ws.postEvent(t, "nps.submitted", testfactory.EventData(t, "nps.submitted", nil))
	small.waitRequests(t, sys, 1)
	before := rssKB(t, worker.Cmd.Process.Pid)

	wh := ws.createWebhook(t, map[string]any{"url": big.URL("/huge"), "events": []string{"csat.submitted"}})
	ws.postEvent(t, "csat.submitted", testfactory.EventData(t, "csat.submitted", nil))
	ds := ws.waitHistory(t, wh.ID, 1)
	d := ws.waitFinished(t, ds[0].ID)
	after := rssKB(t, worker.Cmd.Process.Pid)

	if d.Status != "succeeded" || len(d.Attempts) != 1 {
		t.Fatalf("delivery %s with %d attempts, want succeeded after 1", d.Status, len(d.Attempts))
	}
	a := d.Attempts[0]
	if len(a.ResponseBody) != 64<<10 || !a.ResponseTruncated || strings.Trim(a.ResponseBody, "x") != "" {
		t.Errorf("attempt stored %d bytes, truncated=%v; want 65536 bytes of the body, truncated", len(a.ResponseBody), a.ResponseTruncated)
	}
	growthMB := float64(after-before) / 1024
	t.Logf("worker RSS %d kB before, %d kB after (%+.1f MB); receiver wrote %d MB before the worker hung up",
		before, after, growthMB, served.Load()>>20)
	if growthMB >= 20 {
		t.Errorf("worker RSS grew by %.1f MB reading a 1 GiB response, want < 20 MB", growthMB)
	}
	if served.Load() >= size {
		t.Errorf("the worker read the whole 1 GiB body")
	}
}

// TestBlockedDestinationIsNeverDialled runs the worker without an allowlist:
// a webhook whose name resolves to loopback is refused at dial time, the
// attempt is logged as blocked, and the receiver gets nothing.
func TestBlockedDestinationIsNeverDialled(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testreceiver.Always(http.StatusOK, "ok"))
	sys := startSystem(t, options{blockLoopback: true, retrySchedule: "100ms"})
	ws := sys.newWorkspace(t)

	// A literal loopback address is refused when the webhook is created.
	status, body := ws.do(t, "POST", "/v1/webhooks", map[string]any{"url": rcv.URL("/hook"), "events": []string{"post.created"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"url"`) {
		t.Errorf("creating a webhook on %s answered %d %s, want 422 naming url", rcv.URL("/hook"), status, body)
	}

	// A name is resolved only when dialling, and refused then.
	_, port, _ := net.SplitHostPort(rcv.Addr())
	wh := ws.createWebhook(t, map[string]any{"url": "http://localhost:" + port + "/hook", "events": []string{"post.created"}})
	ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": "to loopback"}))
	ds := ws.waitHistory(t, wh.ID, 1)
	d := ws.waitFinished(t, ds[0].ID)
	if d.Status != "failed" || len(d.Attempts) != 2 {
		t.Fatalf("delivery %s after %d attempts, want failed after 2", d.Status, len(d.Attempts))
	}
	for _, a := range d.Attempts {
		if a.StatusCode != nil || a.Error == nil || !strings.HasPrefix(*a.Error, "blocked: ") {
			t.Errorf("attempt %d: status %v error %v, want no status and a blocked error", a.Attempt, a.StatusCode, a.Error)
		}
	}
	if n := len(rcv.Requests()); n != 0 {
		t.Errorf("receiver got %d requests from a blocked destination", n)
	}
}

// TestMonitoringNeedsAdminToken checks asynqmon is mounted behind the admin
// token, for API clients and browsers, and is read-only by default.
func TestMonitoringNeedsAdminToken(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, options{})
	sys.startAPI(t)
	get := func(setAuth func(*http.Request)) int {
		req, _ := http.NewRequest("GET", sys.apiURL+"/monitoring/", nil)
		setAuth(req)
		resp, err := sys.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name string
		auth func(*http.Request)
		want int
	}{
		{"no credentials", func(*http.Request) {}, http.StatusUnauthorized},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusUnauthorized},
		{"wrong basic password", func(r *http.Request) { r.SetBasicAuth("admin", "nope") }, http.StatusUnauthorized},
		{"bearer admin token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+sys.adminToken) }, http.StatusOK},
		{"basic auth with the token as password", func(r *http.Request) { r.SetBasicAuth("ops", sys.adminToken) }, http.StatusOK},
	}
	for _, tt := range tests {
		if got := get(tt.auth); got != tt.want {
			t.Errorf("%s: GET /monitoring/ answered %d, want %d", tt.name, got, tt.want)
		}
	}
	// Read-only: the UI's API refuses changes.
	req, _ := http.NewRequest("DELETE", sys.apiURL+"/monitoring/api/queues/deliveries", nil)
	req.Header.Set("Authorization", "Bearer "+sys.adminToken)
	resp, err := sys.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("DELETE through read-only monitoring answered %d, want a refusal", resp.StatusCode)
	}
}
