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
	// FailingAfter 0 sends no health notices at all.
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
	if p.FailingAfter <= 0 || (!h.Active && h.DisabledReason == "") {
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

// NoticeExhausted is sent when a delivery runs out of attempts.
const NoticeExhausted Notice = "delivery.exhausted"

// Notices lists every notice, in the order the documentation gives them.
var Notices = []Notice{NoticeFailing, NoticeAtRisk, NoticeDisabled, NoticeRecovered, NoticeExhausted}

// ParseNotice reads a notice by its event type.
func ParseNotice(s string) (Notice, bool) {
	for _, n := range Notices {
		if string(n) == s {
			return n, true
		}
	}
	return "", false
}

// Figures are what a notice tells a human, taken when it was decided: the
// data of its operational event and the content of its mail. Times are
// nil when they do not apply.
type Figures struct {
	Webhook NoticeWebhook `json:"webhook"`
	// State is the webhook's state when the notice was decided: healthy,
	// failing or disabled, with at_risk for a failing one close to being
	// disabled.
	State               string     `json:"state"`
	FailingSince        *time.Time `json:"failing_since"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	// LastStatusCode is nil when the last failure got no response.
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	// DisableAt is when auto-disable will switch the webhook off if every
	// attempt until then fails.
	DisableAt      *time.Time `json:"disable_at"`
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	// Delivery is set on delivery.exhausted only.
	Delivery *NoticeDelivery `json:"delivery,omitempty"`
	// DashboardURL is the page that shows what is wrong: the webhook's, or
	// the delivery's for delivery.exhausted. Empty when the service does
	// not know its public address.
	DashboardURL string `json:"dashboard_url"`
}

// NoticeWebhook names the webhook a notice is about.
type NoticeWebhook struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description"`
}

// NoticeDelivery is the delivery a delivery.exhausted notice is about.
type NoticeDelivery struct {
	ID             string    `json:"id"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	Attempts       int       `json:"attempts"`
	LastStatusCode *int      `json:"last_status_code"`
	LastError      *string   `json:"last_error"`
	FinishedAt     time.Time `json:"finished_at"`
}
