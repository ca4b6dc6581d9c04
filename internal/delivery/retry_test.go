package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trackelio/webhooks/internal/delivery"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	hundred := strings.TrimSuffix(strings.Repeat("1s,", 100), ",")
	tests := []struct {
		in      string
		want    []time.Duration
		wantErr string
	}{
		{in: "5s", want: []time.Duration{5 * time.Second}},
		{in: "50ms,50ms,50ms", want: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}},
		{in: " 1s , 2m30s ,1h ", want: []time.Duration{time.Second, 2*time.Minute + 30*time.Second, time.Hour}},
		{in: delivery.DefaultSchedule, want: []time.Duration{
			5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
			10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
		}},
		{in: hundred, want: func() []time.Duration {
			d := make([]time.Duration, 100)
			for i := range d {
				d[i] = time.Second
			}
			return d
		}()},
		{in: "", wantErr: "entry 1"},
		{in: "1s,,2s", wantErr: "entry 2"},
		{in: "1s,2s,", wantErr: "entry 3"},
		{in: "soon", wantErr: "entry 1"},
		{in: "10", wantErr: "entry 1"},
		{in: "1s,0s", wantErr: "entry 2: 0s is not positive"},
		{in: "-5s", wantErr: "entry 1: -5s is not positive"},
		{in: hundred + ",1s", wantErr: "101 entries, at most 100"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = fmt.Sprintf("%d entries", strings.Count(name, ",")+1)
		}
		t.Run(name, func(t *testing.T) {
			got, err := delivery.ParseSchedule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSchedule(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSchedule(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRetryPolicyMaxAttempts(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 9} {
		p := delivery.RetryPolicy{Schedule: make([]time.Duration, n)}
		if got := p.MaxAttempts(); got != n+1 {
			t.Errorf("MaxAttempts with %d delays = %d, want %d", n, got, n+1)
		}
	}
}

func TestRetryPolicyLastAttemptAround(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{Schedule: []time.Duration{time.Minute, time.Hour, 24 * time.Hour}, Jitter: 0.5}
	next := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		made      int
		eventType string
		want      time.Duration // after next
	}{
		{0, "post.created", time.Minute + time.Hour + 24*time.Hour}, // attempts 1 to 4
		{1, "post.created", time.Hour + 24*time.Hour},
		{3, "post.created", 0}, // the next is the last
		{0, delivery.TestEventType, 0},
	}
	for _, tt := range tests {
		if got := p.LastAttemptAround(next, tt.made, tt.eventType).Sub(next); got != tt.want {
			t.Errorf("LastAttemptAround(next, %d made, %s) = next + %v, want next + %v", tt.made, tt.eventType, got, tt.want)
		}
	}
}

func TestRetryPolicyDelayExactWithoutJitter(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{Schedule: []time.Duration{time.Second, time.Minute, time.Hour}}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-3, time.Second}, // out-of-range attempts are clamped, never panic
		{0, time.Second},
		{1, time.Second},
		{2, time.Minute},
		{3, time.Hour},
		{4, time.Hour},
		{1000, time.Hour},
	}
	for _, tt := range tests {
		for range 20 {
			if got := p.Delay(tt.attempt); got != tt.want {
				t.Fatalf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		}
	}
}

func TestRetryPolicyDelayJitterBounds(t *testing.T) {
	t.Parallel()
	const jitter = 0.2
	p := delivery.RetryPolicy{Schedule: []time.Duration{10 * time.Second, time.Hour}, Jitter: jitter}
	for _, attempt := range []int{1, 2, 50} {
		base := p.Schedule[min(attempt, len(p.Schedule))-1]
		lo := time.Duration(float64(base) * (1 - jitter))
		hi := time.Duration(float64(base) * (1 + jitter))
		minSeen, maxSeen := hi, lo
		for range 2000 {
			d := p.Delay(attempt)
			if d < lo || d > hi {
				t.Fatalf("Delay(%d) = %v, outside [%v, %v]", attempt, d, lo, hi)
			}
			minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
		}
		// The spread covers most of the band; a constant or one-sided
		// jitter would not.
		if spread := time.Duration(float64(base) * jitter / 2); minSeen > base-spread || maxSeen < base+spread {
			t.Errorf("Delay(%d) over 2000 samples ranged [%v, %v], want it to reach below %v and above %v",
				attempt, minSeen, maxSeen, base-spread, base+spread)
		}
	}
}

func TestRetryPolicyCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schedule []time.Duration
		want     time.Duration
	}{
		{[]time.Duration{time.Second}, time.Second},
		{[]time.Duration{time.Minute, 10 * time.Minute, 5 * time.Minute}, 10 * time.Minute},
		{[]time.Duration{24 * time.Hour, time.Hour}, 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := (delivery.RetryPolicy{Schedule: tt.schedule}).Cap(); got != tt.want {
			t.Errorf("Cap of %v = %v, want %v", tt.schedule, got, tt.want)
		}
	}
	def, err := delivery.ParseSchedule(delivery.DefaultSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if got := (delivery.RetryPolicy{Schedule: def}).Cap(); got != 24*time.Hour {
		t.Errorf("Cap of the default schedule = %v, want 24h", got)
	}
}

func TestRetryPolicyAfter(t *testing.T) {
	t.Parallel()
	p := delivery.RetryPolicy{Schedule: []time.Duration{time.Minute, 10 * time.Minute, 5 * time.Minute}, MinAfterThrottle: 3 * time.Minute}
	tests := []struct {
		name       string
		n          int
		retryAfter time.Duration
		throttled  bool
		want       time.Duration
	}{
		{"schedule alone", 1, 0, false, time.Minute},
		{"schedule alone, later attempt", 2, 0, false, 10 * time.Minute},
		{"Retry-After shorter than the schedule", 2, time.Minute, false, 10 * time.Minute},
		{"Retry-After longer than the schedule", 1, 7 * time.Minute, false, 7 * time.Minute},
		{"Retry-After capped at the longest delay", 1, time.Hour, false, 10 * time.Minute},
		{"Retry-After exactly the cap", 1, 10 * time.Minute, false, 10 * time.Minute},
		{"throttled waits at least MinAfterThrottle", 1, 0, true, 3 * time.Minute},
		{"throttled with a longer Retry-After", 1, 4 * time.Minute, true, 4 * time.Minute},
		{"throttled with a shorter Retry-After", 1, 30 * time.Second, true, 3 * time.Minute},
		{"throttled on a longer scheduled delay", 2, 0, true, 10 * time.Minute},
		{"MinAfterThrottle ignored unless throttled", 1, 30 * time.Second, false, time.Minute},
	}
	for _, tt := range tests {
		if got := p.After(tt.n, tt.retryAfter, tt.throttled); got != tt.want {
			t.Errorf("%s: After(%d, %v, %v) = %v, want %v", tt.name, tt.n, tt.retryAfter, tt.throttled, got, tt.want)
		}
	}
}
