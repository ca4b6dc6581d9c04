package testreceiver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/testreceiver"
)

// post sends body to url with a delivery id and returns the status and body.
func post(t *testing.T, ctx context.Context, url, delivery, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(testreceiver.DeliveryHeader, delivery)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestReceiverRecordsAndReplies(t *testing.T) {
	// n counts every request, k those of the same delivery.
	rc := testreceiver.New(t, testreceiver.Config{Reply: func(r testreceiver.Received, n, k int) testreceiver.Answer {
		return testreceiver.Answer{Status: 200 + n, Body: fmt.Sprintf("%s n=%d k=%d", r.Delivery(), n, k), Header: map[string]string{"X-N": fmt.Sprint(n)}}
	}})
	var got []string
	for _, d := range []string{"a", "b", "a"} {
		status, body := post(t, t.Context(), rc.URL("/hook?x=1"), d, "body-"+d)
		got = append(got, fmt.Sprintf("%d %s", status, body))
	}
	if diff := cmp.Diff([]string{"201 a n=1 k=1", "202 b n=2 k=1", "203 a n=3 k=2"}, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	var seen []string
	for _, r := range rc.Requests() {
		seen = append(seen, fmt.Sprintf("%s %s %s %s %d", r.Method, r.URI, r.Delivery(), r.Body, r.Status))
	}
	if diff := cmp.Diff([]string{"POST /hook?x=1 a body-a 201", "POST /hook?x=1 b body-b 202", "POST /hook?x=1 a body-a 203"}, seen); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
	if rc.Count() != 3 || rc.Deliveries() != 2 || rc.PeakInFlight() != 1 || rc.Err() != nil {
		t.Errorf("count %d deliveries %d peak %d err %v, want 3, 2, 1, nil", rc.Count(), rc.Deliveries(), rc.PeakInFlight(), rc.Err())
	}
	if r := rc.Request(t, "b"); string(r.Body) != "body-b" {
		t.Errorf("Request(b) = %+v", r)
	}
}

func TestReceiverReplies(t *testing.T) {
	var mended, broken atomic.Bool
	mended.Store(true)
	tests := []struct {
		name  string
		reply testreceiver.Reply
		want  []string
	}{
		{"nil answers 204", nil, []string{"204 ", "204 "}},
		{"always", testreceiver.Always(503, "down"), []string{"503 down", "503 down"}},
		{"statuses repeat the last", testreceiver.Statuses(500, 200), []string{"500 answer 1: 500", "200 answer 2: 200", "200 answer 3: 200"}},
		{"switch on", testreceiver.Switch(&mended, testreceiver.Always(200, "ok"), testreceiver.Always(500, "down")), []string{"200 ok", "200 ok"}},
		{"switch off", testreceiver.Switch(&broken, testreceiver.Always(200, "ok"), testreceiver.Always(500, "down")), []string{"500 down", "500 down"}},
		{"writes", testreceiver.Writes(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "by hand")
		}), []string{"418 by hand"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := testreceiver.New(t, testreceiver.Config{Reply: tt.reply})
			var got []string
			for range tt.want {
				status, body := post(t, t.Context(), rc.URL("/"), "d", "{}")
				got = append(got, fmt.Sprintf("%d %s", status, body))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReceiverHangsUntilTheClientGivesUp(t *testing.T) {
	rc := testreceiver.New(t, testreceiver.Config{Reply: testreceiver.Hangs()})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if status, body := post(t, ctx, rc.URL("/"), "d", "{}"); status != 0 {
				t.Errorf("a hanging receiver answered %d %s", status, body)
			}
		})
	}
	wg.Wait()
	if rc.PeakInFlight() != 3 {
		t.Errorf("PeakInFlight = %d, want 3", rc.PeakInFlight())
	}
}

// recordingTB keeps the errors a Receiver reports instead of failing.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestReceiverCheckFailsTheTest(t *testing.T) {
	tb := &recordingTB{TB: t}
	refused := errors.New("not signed")
	rc := testreceiver.New(tb, testreceiver.Config{Check: func(r testreceiver.Received) error {
		if string(r.Body) == "bad" {
			return refused
		}
		return nil
	}})
	for _, body := range []string{"good", "bad", "bad"} {
		if status, _ := post(t, t.Context(), rc.URL("/in"), "d", body); status != http.StatusNoContent {
			t.Errorf("status %d: a refused check still gets Reply's answer", status)
		}
	}
	if err := rc.Err(); !errors.Is(err, refused) || !strings.Contains(err.Error(), "refused 2 requests") {
		t.Errorf("Err = %v, want 2 refusals wrapping the check's error", err)
	}
	want := []string{"testreceiver: POST /in: not signed", "testreceiver: POST /in: not signed"}
	if diff := cmp.Diff(want, tb.errors); diff != "" {
		t.Errorf("test errors (-want +got):\n%s", diff)
	}
}
