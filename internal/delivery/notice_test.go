package delivery_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
)

var (
	t0      = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	notices = delivery.NoticePolicy{FailingAfter: 5, FailingFor: 10 * time.Minute, AtRiskAt: 0.8}
	disable = delivery.AutoDisable{After: 100 * time.Hour, MinFailures: 20}
)

// streak is an active webhook failing n times since t0.
func streak(n int) delivery.Health {
	since := t0
	return delivery.Health{Active: true, ConsecutiveFailures: n, FailingSince: &since}
}

func TestNotify(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	off := func(h delivery.Health, reason string) delivery.Health {
		h.Active, h.DisabledReason = false, reason
		return h
	}
	tests := []struct {
		name       string
		told       delivery.Stage
		health     delivery.Health
		now        time.Time
		wantStage  delivery.Stage
		wantNotice delivery.Notice
	}{
		{"healthy stays quiet", delivery.StageClear, delivery.Health{Active: true}, at(0), delivery.StageClear, ""},
		{"a blip is not failing", delivery.StageClear, streak(1), at(time.Hour), delivery.StageClear, ""},
		{"enough failures, not yet for long enough", delivery.StageClear, streak(5), at(10*time.Minute - 1), delivery.StageClear, ""},
		{"long enough, not yet enough failures", delivery.StageClear, streak(4), at(time.Hour), delivery.StageClear, ""},
		{"both thresholds at their edges: failing", delivery.StageClear, streak(5), at(10 * time.Minute), delivery.StageFailing, delivery.NoticeFailing},
		{"failing told once", delivery.StageFailing, streak(9), at(time.Hour), delivery.StageFailing, ""},
		{"just short of the at-risk share", delivery.StageFailing, streak(9), at(80*time.Hour - 1), delivery.StageFailing, ""},
		{"at the at-risk share", delivery.StageFailing, streak(9), at(80 * time.Hour), delivery.StageAtRisk, delivery.NoticeAtRisk},
		{"at risk told once", delivery.StageAtRisk, streak(30), at(99 * time.Hour), delivery.StageAtRisk, ""},
		{"clear to at risk tells the stage reached", delivery.StageClear, streak(9), at(90 * time.Hour), delivery.StageAtRisk, delivery.NoticeAtRisk},
		{"disabled by the streak", delivery.StageAtRisk, off(streak(30), delivery.DisabledFailing), at(100 * time.Hour), delivery.StageDisabled, delivery.NoticeDisabled},
		{"gone on the first failure", delivery.StageClear, off(streak(1), delivery.DisabledGone), at(0), delivery.StageDisabled, delivery.NoticeDisabled},
		{"disabled told once", delivery.StageDisabled, off(streak(31), delivery.DisabledFailing), at(200 * time.Hour), delivery.StageDisabled, ""},
		{"switched off by its owner tells nothing", delivery.StageFailing, off(streak(9), ""), at(time.Hour), delivery.StageFailing, ""},
		{"switched off while clear too", delivery.StageClear, off(streak(9), ""), at(time.Hour), delivery.StageClear, ""},
		{"a success after a told streak recovers", delivery.StageFailing, delivery.Health{Active: true}, at(time.Hour), delivery.StageClear, delivery.NoticeRecovered},
		{"re-enabling after disabling recovers", delivery.StageDisabled, delivery.Health{Active: true}, at(time.Hour), delivery.StageClear, delivery.NoticeRecovered},
		{"a success after an untold blip says nothing", delivery.StageClear, delivery.Health{Active: true}, at(time.Hour), delivery.StageClear, ""},
		{"a streak never steps down but by clearing", delivery.StageAtRisk, streak(2), at(time.Hour), delivery.StageAtRisk, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stage, notice := notices.Notify(tt.told, tt.health, disable, tt.now)
			if stage != tt.wantStage || notice != tt.wantNotice {
				t.Errorf("Notify = %q, %q; want %q, %q", stage, notice, tt.wantStage, tt.wantNotice)
			}
		})
	}
	quiet := notices
	quiet.AtRiskAt = 0
	if stage, notice := quiet.Notify(delivery.StageFailing, streak(9), disable, at(99*time.Hour)); stage != delivery.StageFailing || notice != "" {
		t.Errorf("without an at-risk share, Notify = %q, %q; want no warning", stage, notice)
	}
	if stage, notice := (delivery.NoticePolicy{}).Notify(delivery.StageClear, off(streak(9), delivery.DisabledGone), disable, at(time.Hour)); stage != delivery.StageClear || notice != "" {
		t.Errorf("with FailingAfter 0, Notify = %q, %q; want no notices at all", stage, notice)
	}
}

// TestNotifyNeverRepeats drives random sequences of attempts, re-enablings
// and owners switching the webhook off through Health.Apply and Notify:
// within one streak each escalating notice goes out at most once and in
// order, and "recovered" only ends a streak that was told.
func TestNotifyNeverRepeats(t *testing.T) {
	t.Parallel()
	seen := map[delivery.Notice]int{}
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 1))
		h, told, now := delivery.Health{Active: true}, delivery.StageClear, t0
		// Some runs fail almost always, so long streaks reach every stage.
		failing := 50 + rng.IntN(49)
		var sent []delivery.Notice
		for range 300 {
			now = now.Add(time.Duration(rng.Int64N(int64(6 * time.Hour))))
			switch r := rng.IntN(100); {
			case r < failing:
				h, _ = h.Apply([]delivery.HealthEvent{{At: now}}, disable)
			case r < failing+(100-failing)/2:
				h, _ = h.Apply([]delivery.HealthEvent{{At: now, Succeeded: true}}, disable)
			case r < 99 && rng.IntN(4) == 0:
				h, _ = h.Apply([]delivery.HealthEvent{{At: now, DisableReason: delivery.DisabledGone}}, disable)
			case !h.Active && rng.IntN(2) == 0:
				// Re-enabling clears the streak, as repo's update does.
				h.Active, h.DisabledReason, h.DisabledAt, h.ConsecutiveFailures, h.FailingSince = true, "", nil, 0, nil
			case rng.IntN(3) == 0:
				h.Active, h.DisabledReason = false, ""
			}
			var n delivery.Notice
			if told, n = notices.Notify(told, h, disable, now); n != "" {
				sent = append(sent, n)
				seen[n]++
			}
		}
		wantInOrder(t, seed, sent)
	}
	// The runs must reach every notice, or they prove nothing about it.
	for _, n := range []delivery.Notice{delivery.NoticeFailing, delivery.NoticeAtRisk, delivery.NoticeDisabled, delivery.NoticeRecovered} {
		if seen[n] == 0 {
			t.Errorf("no run sent %s", n)
		}
	}
}

// wantInOrder checks a run's notices: between two recoveries the escalating
// ones strictly climb (so none repeats), and a recovery follows at least one.
func wantInOrder(t *testing.T, seed uint64, sent []delivery.Notice) {
	t.Helper()
	rank := map[delivery.Notice]int{delivery.NoticeFailing: 1, delivery.NoticeAtRisk: 2, delivery.NoticeDisabled: 3}
	last := 0
	for i, n := range sent {
		if n == delivery.NoticeRecovered {
			if last == 0 {
				t.Fatalf("seed %d: notice %d is %s with nothing told before it: %v", seed, i, n, sent)
			}
			last = 0
			continue
		}
		if rank[n] <= last {
			t.Fatalf("seed %d: notice %d is %s after a stage as high or higher: %v", seed, i, n, sent)
		}
		last = rank[n]
	}
}

func TestDisableAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		health delivery.Health
		policy delivery.AutoDisable
		want   time.Time
		ok     bool
	}{
		{"a streak's first failure plus the limit", streak(3), disable, t0.Add(100 * time.Hour), true},
		{"nothing failing", delivery.Health{Active: true}, disable, time.Time{}, false},
		{"already disabled", func() delivery.Health { h := streak(3); h.Active = false; return h }(), disable, time.Time{}, false},
		{"auto-disable off", streak(3), delivery.AutoDisable{}, time.Time{}, false},
	}
	for _, tt := range tests {
		if got, ok := tt.policy.DisableAt(tt.health); !got.Equal(tt.want) || ok != tt.ok {
			t.Errorf("%s: DisableAt = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
