package repo

import (
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
)

func TestWorthWriting(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ptr := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	base := delivery.Health{Active: true, LastSuccessAt: ptr(0)}
	with := func(f func(*delivery.Health)) delivery.Health { h := base; f(&h); return h }
	tests := []struct {
		name string
		new  delivery.Health
		want bool
	}{
		{"unchanged", base, false},
		{"a success under a second later", with(func(h *delivery.Health) { h.LastSuccessAt = ptr(999 * time.Millisecond) }), false},
		{"a success a second later", with(func(h *delivery.Health) { h.LastSuccessAt = ptr(time.Second) }), true},
		{"a failure", with(func(h *delivery.Health) { h.FailureCount = 1 }), true},
		{"disabled", with(func(h *delivery.Health) { h.Active = false }), true},
	}
	for _, tt := range tests {
		if got := worthWriting(base, tt.new); got != tt.want {
			t.Errorf("%s: worthWriting = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !worthWriting(delivery.Health{Active: true}, delivery.Health{Active: true, LastSuccessAt: ptr(0)}) {
		t.Error("the first success of a webhook was not worth writing")
	}
}
