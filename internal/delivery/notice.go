package delivery

import "time"

// Notice is a change in a webhook's health worth telling its owners about.
// The values are the operational event types that carry them.
type Notice string

// Health notices, each sent once per change of stage.
const (
	NoticeFailing   Notice = "webhook.failing"
	NoticeAtRisk    Notice = "webhook.at_risk"
	NoticeDisabled  Notice = "webhook.disabled"
	NoticeRecovered Notice = "webhook.recovered"
)

// Stage is how far a webhook's trouble has gone, as its owners have been
// told: the last notice sent, kept with the health so each is sent once.
type Stage string

// Stages, in the order trouble escalates.
const (
	StageClear    Stage = ""
	StageFailing  Stage = "failing"
	StageAtRisk   Stage = "at_risk"
	StageDisabled Stage = "disabled"
)

// rank orders the stages; a notice is sent only when trouble climbs, or
// when it clears.
func (s Stage) rank() int {
	switch s {
	case StageFailing:
		return 1
	case StageAtRisk:
		return 2
	case StageDisabled:
		return 3
	}
	return 0
}

var stageNotice = map[Stage]Notice{StageFailing: NoticeFailing, StageAtRisk: NoticeAtRisk, StageDisabled: NoticeDisabled}

// NoticePolicy says when a failure streak is worth telling, so one blip
// tells nobody.
type NoticePolicy struct {
	// FailingAfter and FailingFor make a streak "failing": at least
	// FailingAfter consecutive failures, the first at least FailingFor ago.
	FailingAfter int
	FailingFor   time.Duration
	// AtRiskAt is the share of AutoDisable.After a failing streak must
	// reach to warn that the webhook will be disabled (0.8: a day before a
	// five-day limit). Zero never warns.
	AtRiskAt float64
}

// Notify decides, from the stage the owners were last told and the health
// as it stands at now, the stage to record and the notice to send ("" for
// none). A notice goes out when trouble climbs a stage (one notice, for the
// stage reached) and when it clears: the first success after a told streak,
// or re-enabling, which clears the streak. A webhook its owner switched off
// tells nothing until it is back; a streak never steps down but by
// clearing, so no notice repeats within one streak.
func (p NoticePolicy) Notify(told Stage, h Health, d AutoDisable, now time.Time) (Stage, Notice) {
	if !h.Active && h.DisabledReason == "" {
		return told, ""
	}
	stage := p.stage(h, d, now)
	switch {
	case stage.rank() > told.rank():
		return stage, stageNotice[stage]
	case stage == StageClear && told != StageClear && h.ConsecutiveFailures == 0:
		return StageClear, NoticeRecovered
	}
	return told, ""
}

// stage is where the health stands at now, whatever was told.
func (p NoticePolicy) stage(h Health, d AutoDisable, now time.Time) Stage {
	switch {
	case !h.Active:
		return StageDisabled
	case h.ConsecutiveFailures == 0 || h.FailingSince == nil:
		return StageClear
	case h.ConsecutiveFailures < p.FailingAfter || now.Sub(*h.FailingSince) < p.FailingFor:
		return StageClear
	case p.AtRiskAt > 0 && d.MinFailures > 0 && !now.Before(h.FailingSince.Add(time.Duration(p.AtRiskAt*float64(d.After)))):
		return StageAtRisk
	}
	return StageFailing
}

// DisableAt is when a failing streak disables the webhook if every attempt
// until then fails: its first failure plus AutoDisable.After. A streak
// still short of MinFailures then is disabled by the failure that reaches
// it. False when nothing is failing or auto-disable is off.
func (d AutoDisable) DisableAt(h Health) (time.Time, bool) {
	if !h.Active || h.FailingSince == nil || d.MinFailures == 0 {
		return time.Time{}, false
	}
	return h.FailingSince.Add(d.After), true
}
