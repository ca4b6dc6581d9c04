package repo

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthFold(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	ptr := func(t time.Time) *time.Time { return &t }
	ok := func(min int) healthEvent { return healthEvent{at: at(min), succeeded: true} }
	fail := func(min int) healthEvent { return healthEvent{at: at(min)} }
	healthy := WebhookHealth{Active: true, FailureCount: 4, LastSuccessAt: ptr(at(-10)), LastFailureAt: ptr(at(-20))}
	policy := AutoDisable{After: time.Hour, MinFailures: 3}
	tests := []struct {
		name       string
		from       WebhookHealth
		events     []healthEvent
		policy     AutoDisable
		want       WebhookHealth
		disabledBy int
	}{
		{"successes only move the last success", healthy, []healthEvent{ok(1), ok(2), ok(3)}, policy,
			WebhookHealth{Active: true, FailureCount: 4, LastSuccessAt: ptr(at(3)), LastFailureAt: ptr(at(-20))}, -1},
		{"failures count and start a streak at the first", healthy, []healthEvent{fail(1), fail(2)}, policy,
			WebhookHealth{Active: true, FailureCount: 6, ConsecutiveFailures: 2, LastSuccessAt: ptr(at(-10)),
				LastFailureAt: ptr(at(2)), FailingSince: ptr(at(1))}, -1},
		{"a success ends the streak; failures after it start a new one", healthy, []healthEvent{fail(1), ok(2), fail(3)}, policy,
			WebhookHealth{Active: true, FailureCount: 6, ConsecutiveFailures: 1, LastSuccessAt: ptr(at(2)),
				LastFailureAt: ptr(at(3)), FailingSince: ptr(at(3))}, -1},
		{"an old streak reaching the count disables, once", WebhookHealth{Active: true, ConsecutiveFailures: 1, FailureCount: 1, FailingSince: ptr(at(-90))},
			[]healthEvent{fail(1), fail(2), fail(3)}, policy,
			WebhookHealth{FailureCount: 4, ConsecutiveFailures: 4, LastFailureAt: ptr(at(3)), FailingSince: ptr(at(-90)),
				DisabledReason: "failing", DisabledAt: ptr(at(2))}, 1},
		{"a young streak does not", WebhookHealth{Active: true, ConsecutiveFailures: 5, FailingSince: ptr(at(-30))},
			[]healthEvent{fail(1)}, policy,
			WebhookHealth{Active: true, FailureCount: 1, ConsecutiveFailures: 6, LastFailureAt: ptr(at(1)), FailingSince: ptr(at(-30))}, -1},
		{"exactly After old does", WebhookHealth{Active: true, ConsecutiveFailures: 2, FailingSince: ptr(at(-59))},
			[]healthEvent{fail(1)}, policy,
			WebhookHealth{FailureCount: 1, ConsecutiveFailures: 3, LastFailureAt: ptr(at(1)), FailingSince: ptr(at(-59)),
				DisabledReason: "failing", DisabledAt: ptr(at(1))}, 0},
		{"no policy never disables", WebhookHealth{Active: true, ConsecutiveFailures: 99, FailingSince: ptr(at(-9999))},
			[]healthEvent{fail(1)}, AutoDisable{},
			WebhookHealth{Active: true, FailureCount: 1, ConsecutiveFailures: 100, LastFailureAt: ptr(at(1)), FailingSince: ptr(at(-9999))}, -1},
		{"gone disables at once", healthy, []healthEvent{{at: at(1), disable: "gone"}}, policy,
			WebhookHealth{FailureCount: 5, ConsecutiveFailures: 1, LastSuccessAt: ptr(at(-10)), LastFailureAt: ptr(at(1)),
				FailingSince: ptr(at(1)), DisabledReason: "gone", DisabledAt: ptr(at(1))}, 0},
		{"a webhook switched off keeps no reason", WebhookHealth{ConsecutiveFailures: 9, FailingSince: ptr(at(-999))},
			[]healthEvent{fail(1), {at: at(2), disable: "gone"}}, policy,
			WebhookHealth{FailureCount: 2, ConsecutiveFailures: 11, LastFailureAt: ptr(at(2)), FailingSince: ptr(at(-999))}, -1},
		{"attempts out of time order keep the latest times", WebhookHealth{Active: true, LastFailureAt: ptr(at(10)), LastSuccessAt: ptr(at(9))},
			[]healthEvent{fail(5)}, policy,
			WebhookHealth{Active: true, FailureCount: 1, ConsecutiveFailures: 1, LastSuccessAt: ptr(at(9)), LastFailureAt: ptr(at(10)), FailingSince: ptr(at(5))}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, by := tt.from.fold(tt.events, tt.policy)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("health (-want +got):\n%s", diff)
			}
			if by != tt.disabledBy {
				t.Errorf("disabled by event %d, want %d", by, tt.disabledBy)
			}
		})
	}
}

func TestWorthWriting(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ptr := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	base := WebhookHealth{Active: true, LastSuccessAt: ptr(0)}
	with := func(f func(*WebhookHealth)) WebhookHealth { h := base; f(&h); return h }
	tests := []struct {
		name string
		new  WebhookHealth
		want bool
	}{
		{"unchanged", base, false},
		{"a success under a second later", with(func(h *WebhookHealth) { h.LastSuccessAt = ptr(999 * time.Millisecond) }), false},
		{"a success a second later", with(func(h *WebhookHealth) { h.LastSuccessAt = ptr(time.Second) }), true},
		{"a failure", with(func(h *WebhookHealth) { h.FailureCount = 1 }), true},
		{"disabled", with(func(h *WebhookHealth) { h.Active = false }), true},
	}
	for _, tt := range tests {
		if got := worthWriting(base, tt.new); got != tt.want {
			t.Errorf("%s: worthWriting = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !worthWriting(WebhookHealth{Active: true}, WebhookHealth{Active: true, LastSuccessAt: ptr(0)}) {
		t.Error("the first success of a webhook was not worth writing")
	}
}
