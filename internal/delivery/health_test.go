package delivery_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
)

func TestHealthApply(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	ptr := func(t time.Time) *time.Time { return &t }
	ok := func(min int) delivery.HealthEvent { return delivery.HealthEvent{At: at(min), Succeeded: true} }
	fail := func(min int) delivery.HealthEvent { return delivery.HealthEvent{At: at(min)} }
	healthy := delivery.Health{Active: true, FailureCount: 4, LastSuccessAt: ptr(at(-10)), LastFailureAt: ptr(at(-20))}
	policy := delivery.AutoDisable{After: time.Hour, MinFailures: 3}
	tests := []struct {
		name       string
		from       delivery.Health
		events     []delivery.HealthEvent
		policy     delivery.AutoDisable
		want       delivery.Health
		disabledBy int
	}{
		{"successes only move the last success", healthy, []delivery.HealthEvent{ok(1), ok(2), ok(3)}, policy,
			delivery.Health{Active: true, FailureCount: 4, LastSuccessAt: ptr(at(3)), LastFailureAt: ptr(at(-20))}, -1},
		{"failures count and start a streak at the first", healthy, []delivery.HealthEvent{fail(1), fail(2)}, policy,
			delivery.Health{Active: true, FailureCount: 6, ConsecutiveFailures: 2, LastSuccessAt: ptr(at(-10)),
				LastFailureAt: ptr(at(2)), FailingSince: ptr(at(1))}, -1},
		{"a success ends the streak; failures after it start a new one", healthy, []delivery.HealthEvent{fail(1), ok(2), fail(3)}, policy,
			delivery.Health{Active: true, FailureCount: 6, ConsecutiveFailures: 1, LastSuccessAt: ptr(at(2)),
				LastFailureAt: ptr(at(3)), FailingSince: ptr(at(3))}, -1},
		{"an old streak reaching the count disables, once", delivery.Health{Active: true, ConsecutiveFailures: 1, FailureCount: 1, FailingSince: ptr(at(-90))},
			[]delivery.HealthEvent{fail(1), fail(2), fail(3)}, policy,
			delivery.Health{FailureCount: 4, ConsecutiveFailures: 4, LastFailureAt: ptr(at(3)), FailingSince: ptr(at(-90)),
				DisabledReason: "failing", DisabledAt: ptr(at(2))}, 1},
		{"a young streak does not", delivery.Health{Active: true, ConsecutiveFailures: 5, FailingSince: ptr(at(-30))},
			[]delivery.HealthEvent{fail(1)}, policy,
			delivery.Health{Active: true, FailureCount: 1, ConsecutiveFailures: 6, LastFailureAt: ptr(at(1)), FailingSince: ptr(at(-30))}, -1},
		{"exactly After old does", delivery.Health{Active: true, ConsecutiveFailures: 2, FailingSince: ptr(at(-59))},
			[]delivery.HealthEvent{fail(1)}, policy,
			delivery.Health{FailureCount: 1, ConsecutiveFailures: 3, LastFailureAt: ptr(at(1)), FailingSince: ptr(at(-59)),
				DisabledReason: "failing", DisabledAt: ptr(at(1))}, 0},
		{"no policy never disables", delivery.Health{Active: true, ConsecutiveFailures: 99, FailingSince: ptr(at(-9999))},
			[]delivery.HealthEvent{fail(1)}, delivery.AutoDisable{},
			delivery.Health{Active: true, FailureCount: 1, ConsecutiveFailures: 100, LastFailureAt: ptr(at(1)), FailingSince: ptr(at(-9999))}, -1},
		{"gone disables at once", healthy, []delivery.HealthEvent{{At: at(1), DisableReason: delivery.DisabledGone}}, policy,
			delivery.Health{FailureCount: 5, ConsecutiveFailures: 1, LastSuccessAt: ptr(at(-10)), LastFailureAt: ptr(at(1)),
				FailingSince: ptr(at(1)), DisabledReason: "gone", DisabledAt: ptr(at(1))}, 0},
		{"a webhook switched off keeps no reason", delivery.Health{ConsecutiveFailures: 9, FailingSince: ptr(at(-999))},
			[]delivery.HealthEvent{fail(1), {At: at(2), DisableReason: delivery.DisabledGone}}, policy,
			delivery.Health{FailureCount: 2, ConsecutiveFailures: 11, LastFailureAt: ptr(at(2)), FailingSince: ptr(at(-999))}, -1},
		{"attempts out of time order keep the latest times", delivery.Health{Active: true, LastFailureAt: ptr(at(10)), LastSuccessAt: ptr(at(9))},
			[]delivery.HealthEvent{fail(5)}, policy,
			delivery.Health{Active: true, FailureCount: 1, ConsecutiveFailures: 1, LastSuccessAt: ptr(at(9)), LastFailureAt: ptr(at(10)), FailingSince: ptr(at(5))}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, by := tt.from.Apply(tt.events, tt.policy)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("health (-want +got):\n%s", diff)
			}
			if by != tt.disabledBy {
				t.Errorf("disabled by event %d, want %d", by, tt.disabledBy)
			}
		})
	}
}
