package testreceiver_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/testreceiver"
)

// TestHostileGathersThenReleases: no answer starts before the requests to
// gather have all arrived, and the drips end on Release.
func TestHostileGathersThenReleases(t *testing.T) {
	const n = 3
	host := testreceiver.NewHostile(t, n)
	rc := testreceiver.New(t, testreceiver.Config{Reply: testreceiver.Writes(host.DripBody())})
	answers := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			status, body := post(t, t.Context(), rc.URL("/"), "d", "{}")
			answers <- fmt.Sprintf("%d %v", status, body != "" && strings.Trim(body, "a") == "")
		})
	}
	<-host.Gathered()
	if got := host.PeakInFlight(); got != n {
		t.Errorf("PeakInFlight = %d once gathered, want %d", got, n)
	}
	host.Release()
	wg.Wait()
	close(answers)
	var got []string
	for a := range answers {
		got = append(got, a)
	}
	if diff := cmp.Diff([]string{"200 true", "200 true", "200 true"}, got); diff != "" {
		t.Errorf("answers, as status and whether the body is a drip (-want +got):\n%s", diff)
	}
}

// TestHostileHugeHeaders: the header is as large as promised, and the
// default client of net/http (a 10 MB bound) reads it.
func TestHostileHugeHeaders(t *testing.T) {
	rc := testreceiver.New(t, testreceiver.Config{Reply: testreceiver.Writes(testreceiver.NewHostile(t, 0).HugeHeaders())})
	resp, err := http.Post(rc.URL("/"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(resp.Header.Get("X-Huge")); resp.StatusCode != http.StatusOK || n != testreceiver.HugeHeaderSize {
		t.Errorf("answered %d with a header of %d bytes, want 200 with %d", resp.StatusCode, n, testreceiver.HugeHeaderSize)
	}
}
