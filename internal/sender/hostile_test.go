package sender_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// headersTooLarge is what the customer reads of headers past HeaderLimit.
var headersTooLarge = fmt.Sprintf("the response headers were larger than %d KiB", sender.HeaderLimit>>10)

// requireHTTP2 wraps h with a check that the request came over HTTP/2.
func requireHTTP2(tb testing.TB, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			tb.Errorf("the receiver got %s, want HTTP/2", r.Proto)
		}
		h(w, r)
	}
}

// dripped reports whether body is what a drip sent: one "a" or more.
func dripped(body []byte) bool {
	return len(body) > 0 && len(bytes.Trim(body, "a")) == 0
}

// TestSendHostileReceivers: whatever a receiver answers, an attempt reads
// a bounded amount and ends by its timeout.
func TestSendHostileReceivers(t *testing.T) {
	t.Parallel()
	const (
		slow = 300 * time.Millisecond // drips end by this timeout
		fast = 10 * time.Second       // never reached by the others
	)
	tests := []struct {
		name    string
		handler func(*testreceiver.Hostile) http.HandlerFunc
		http2   bool
		timeout time.Duration
		want    sender.Result
		// dripBody says the body is a drip, whose length depends on timing.
		dripBody bool
	}{
		{
			name: "huge headers", handler: (*testreceiver.Hostile).HugeHeaders, timeout: fast,
			want: sender.Result{Outcome: delivery.ConnectionError, Error: headersTooLarge},
		},
		{
			// net/http derives HTTP/2's header list limit from the same
			// bound; HPACK refuses the oversized string first.
			name: "huge headers over HTTP/2", handler: (*testreceiver.Hostile).HugeHeaders, http2: true, timeout: fast,
			want: sender.Result{Outcome: delivery.ConnectionError, Error: headersTooLarge + " or could not be decoded (HTTP/2)"},
		},
		{
			name: "endless body", handler: (*testreceiver.Hostile).EndlessBody, timeout: fast,
			want: sender.Result{Outcome: delivery.Success, StatusCode: http.StatusOK,
				Body: bytes.Repeat([]byte("x"), sender.CaptureLimit), Truncated: true},
		},
		{
			name: "slow drip of headers", handler: (*testreceiver.Hostile).DripHeaders, timeout: slow,
			want: sender.Result{Outcome: delivery.Timeout, Error: "timed out after 300ms waiting for the response headers"},
		},
		{
			// The status arrived, so it is the receiver's answer.
			name: "slow drip of body", handler: (*testreceiver.Hostile).DripBody, timeout: slow, dripBody: true,
			want: sender.Result{Outcome: delivery.Success, StatusCode: http.StatusOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.handler(testreceiver.NewHostile(t, 0))
			s, url := newSender(tt.timeout), ""
			if tt.http2 {
				srv := newTLSReceiver(t, requireHTTP2(t, h), nil)
				s, url = trusting(s, srv), srv.URL
			} else {
				url = newReceiver(t, h).URL("")
			}

			start := time.Now()
			res := s.Send(context.Background(), request(url))
			elapsed := time.Since(start)

			if tt.dripBody {
				if !dripped(res.Body) {
					t.Errorf("Body = %q, want the bytes dripped before the timeout", res.Body)
				}
				res.Body = nil
			}
			if diff := cmp.Diff(tt.want, res, resultOpts); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s", diff)
			}
			if elapsed > tt.timeout+5*time.Second {
				t.Errorf("Send took %v with a %v timeout", elapsed, tt.timeout)
			}
		})
	}
}

// maxHeapPerAttempt bounds the heap one attempt takes at the peak of many
// running at once: both ends of its connection (the receivers run in this
// process), the request, the response headers up to HeaderLimit and body
// up to CaptureLimit, and the garbage they leave until the next GC.
// Goroutine stacks are not heap and are not counted. Measured: 50 to 70
// KiB per attempt with 64 or 256 at once, with -race or without; without
// HeaderLimit one attempt at a 9 MB header holds megabytes.
const maxHeapPerAttempt = 256 << 10

// TestSendMemoryPerAttemptIsBounded holds many attempts in flight at once
// against hostile receivers, and bounds the heap in use during the run. It
// is not parallel: it measures this process's heap, which no other test
// may allocate from meanwhile. Nothing depends on timing: every answer
// waits until all attempts have arrived, the huge headers and endless
// bodies then end their attempts, and the drips hold theirs until the test
// releases them.
func TestSendMemoryPerAttemptIsBounded(t *testing.T) {
	// The collector runs at a tenth of the heap's growth instead of all of
	// it, so that the samples show what the attempts hold, not how much
	// garbage was left when the collector last ran.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, n := range []int{64, 256} {
		t.Run(fmt.Sprintf("%d attempts", n), func(t *testing.T) {
			host := testreceiver.NewHostile(t, n)
			kinds := []struct {
				handler http.HandlerFunc
				fast    bool // ends its attempt by itself; the drips wait for Release
				want    sender.Result
			}{
				{host.HugeHeaders(), true, sender.Result{Outcome: delivery.ConnectionError, Error: headersTooLarge}},
				{host.EndlessBody(), true, sender.Result{Outcome: delivery.Success, StatusCode: http.StatusOK, Truncated: true}},
				{host.DripHeaders(), false, sender.Result{Outcome: delivery.Success, StatusCode: http.StatusOK}},
				{host.DripBody(), false, sender.Result{Outcome: delivery.Success, StatusCode: http.StatusOK}},
			}
			urls := make([]string, len(kinds))
			for i, k := range kinds {
				urls[i] = newReceiver(t, k.handler).URL("")
			}
			s := newSender(time.Minute) // the test ends every attempt well before

			base := heapInUse()
			peak := sampleHeap()
			results := make([]sender.Result, n)
			var fast, slow sync.WaitGroup
			for i := range n {
				wg := &slow
				if kinds[i%len(kinds)].fast {
					wg = &fast
				}
				wg.Go(func() { results[i] = s.Send(context.Background(), request(urls[i%len(kinds)])) })
			}
			select {
			case <-host.Gathered():
			case <-time.After(time.Minute):
				t.Fatalf("the %d attempts did not all reach the receivers within a minute", n)
			}
			fast.Wait()
			host.Release()
			slow.Wait()
			top := peak()

			for i, res := range results {
				got := sender.Result{Outcome: res.Outcome, StatusCode: res.StatusCode, Error: res.Error, Truncated: res.Truncated}
				if diff := cmp.Diff(kinds[i%len(kinds)].want, got); diff != "" {
					t.Errorf("attempt %d (-want +got):\n%s", i, diff)
				}
			}
			per := (int64(top) - int64(base)) / int64(n)
			t.Logf("heap in use: %d KiB before, %d KiB at the peak: %d KiB per attempt (bound %d KiB)",
				base>>10, top>>10, per>>10, maxHeapPerAttempt>>10)
			if per > maxHeapPerAttempt {
				t.Errorf("%d attempts at once took %d KiB of heap each, want at most %d KiB", n, per>>10, maxHeapPerAttempt>>10)
			}
		})
	}
}

// heapInUse is the heap in use once garbage is collected.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// sampleHeap samples the heap in use every millisecond until the returned
// function is called, which returns the highest sample.
func sampleHeap() func() uint64 {
	done, result := make(chan struct{}), make(chan uint64)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		var top uint64
		for {
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapInuse)
			select {
			case <-done:
				result <- top
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}
