//go:build bench

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// apiClient drives the public API the way the Trackelio app does.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, http: &http.Client{
		// Enough idle connections for every sender of the paced run, so no
		// request pays for a new connection once the pool is warm.
		Transport: &http.Transport{Proxy: nil, MaxIdleConns: 2 * pacedSenders, MaxIdleConnsPerHost: 2 * pacedSenders, IdleConnTimeout: 2 * time.Minute},
		Timeout:   30 * time.Second,
	}}
}

// call sends a JSON request and decodes the answer into out, failing
// unless the status is want.
func (c *apiClient) call(ctx context.Context, method, path, token string, in []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(in))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, resp.StatusCode, want, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode %.300s: %w", method, path, body, err)
	}
	return nil
}

// createWorkspace creates a workspace through the admin route and returns
// its id and API key.
func (c *apiClient) createWorkspace(ctx context.Context, adminToken string) (id, key string, err error) {
	var ws struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	err = c.call(ctx, "POST", "/v1/admin/workspaces", adminToken, []byte(`{"name":"bench"}`), http.StatusCreated, &ws)
	if err == nil && (ws.ID == "" || ws.APIKey == "") {
		err = fmt.Errorf("POST /v1/admin/workspaces: answer without id or api_key")
	}
	return ws.ID, ws.APIKey, err
}

// createWebhook subscribes url to post.created and returns the webhook's
// id and generated secret.
func (c *apiClient) createWebhook(ctx context.Context, key, url string) (id, secret string, err error) {
	in, err := json.Marshal(map[string]any{"url": url, "events": []string{"post.created"}})
	if err != nil {
		return "", "", err
	}
	var wh struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	err = c.call(ctx, "POST", "/v1/webhooks", key, in, http.StatusCreated, &wh)
	if err == nil && (wh.ID == "" || wh.Secret == "") {
		err = fmt.Errorf("POST /v1/webhooks: answer without id or secret")
	}
	return wh.ID, wh.Secret, err
}

// accepted is one event the API answered 202 to.
type accepted struct {
	eventID    string
	deliveries int
	sent, at   time.Time // when the POST started and when its answer arrived
}

// postData is the data of a post.created event about post seq, valid under
// the type's schema; the naive baseline sends the same shape.
func postData(seq string) string {
	return `{"post":{"id":"post_` + seq + `","title":"Benchmark post ` + seq + `","status":"open",` +
		`"board":{"id":"feature-requests"},"author":{"id":"u_bench","name":"Bench"}},"source":"widget"}`
}

// postEvent reports one post.created event; seq makes each body distinct.
func (c *apiClient) postEvent(ctx context.Context, key string, seq int) (accepted, error) {
	s := strconv.Itoa(seq)
	body := []byte(`{"type":"post.created","data":` + postData(s) + `}`)
	var out struct {
		ID         string `json:"id"`
		Deliveries int    `json:"deliveries"`
	}
	sent := time.Now()
	if err := c.call(ctx, "POST", "/v1/events", key, body, http.StatusAccepted, &out); err != nil {
		return accepted{}, err
	}
	return accepted{eventID: out.ID, deliveries: out.Deliveries, sent: sent, at: time.Now()}, nil
}

// saturate posts n events from `clients` goroutines, each sending its next
// event as soon as the previous one is answered.
func (c *apiClient) saturate(ctx context.Context, key string, n, clients int) ([]accepted, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	results := make([][]accepted, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int(next.Add(1)); seq <= n && ctx.Err() == nil; seq = int(next.Add(1)) {
				a, err := c.postEvent(ctx, key, seq)
				if err != nil {
					cancel(err)
					return
				}
				results[i] = append(results[i], a)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	var all []accepted
	for _, r := range results {
		all = append(all, r...)
	}
	return all, nil
}

// pacedLoad is what the pacer achieved.
type pacedLoad struct {
	accepts    []accepted
	start      time.Time // when the first event was due
	lastAt     time.Time // when the last answer arrived
	maxBacklog int       // most events due but not yet taken by a sender
}

// pace posts rate events per second for duration. A ticker releases every
// event due by now on each tick, so a late tick is caught up instead of
// lowering the rate; senders take events from a queue long enough for the
// whole run, so a slow api shows as backlog rather than as a lower pace.
func (c *apiClient) pace(ctx context.Context, key string, rate int, duration time.Duration) (pacedLoad, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	total := int(float64(rate) * duration.Seconds())
	due := make(chan int, total)
	results := make([][]accepted, pacedSenders)
	var wg sync.WaitGroup
	for i := range pacedSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range due {
				if ctx.Err() != nil {
					continue // drain the queue after a failure
				}
				a, err := c.postEvent(ctx, key, seq)
				if err != nil {
					cancel(err)
					continue
				}
				results[i] = append(results[i], a)
			}
		}()
	}

	load := pacedLoad{start: time.Now()}
	tick := time.NewTicker(time.Millisecond)
	released := 0
	for released < total && ctx.Err() == nil {
		<-tick.C
		load.maxBacklog = max(load.maxBacklog, len(due))
		for n := min(total, int(time.Since(load.start).Seconds()*float64(rate))+1); released < n; released++ {
			due <- released + 1
		}
	}
	tick.Stop()
	close(due)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return pacedLoad{}, err
	}
	for _, r := range results {
		load.accepts = append(load.accepts, r...)
	}
	for _, a := range load.accepts {
		if a.at.After(load.lastAt) {
			load.lastAt = a.at
		}
	}
	return load, nil
}
