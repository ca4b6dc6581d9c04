package dashboard

import "github.com/trackelio/webhooks/internal/delivery"

// noticeKind is a failure notice as the pages name it: in words, with its
// event type beside them for those who receive it as an operational event.
type noticeKind struct {
	Type  delivery.Notice
	Label string
	// Description says when it is sent, for the form's choice.
	Description string
	// Class is the colour of its badge, as an outcome's.
	Class string
}

// noticeKinds are the notices in the documentation's order
// (delivery.Notices).
var noticeKinds = []noticeKind{
	{delivery.NoticeFailing, "Failing", "Its endpoint keeps failing: every attempt for a while has failed.", "pending"},
	{delivery.NoticeAtRisk, "Will be disabled soon", "The failures go on and Trackelio will soon disable the webhook.", "fail"},
	{delivery.NoticeDisabled, "Disabled", "Trackelio disabled the webhook: it kept failing, or its endpoint answered 410 Gone.", "fail"},
	{delivery.NoticeRecovered, "Recovered", "Deliveries get through again, or the webhook was re-enabled.", "ok"},
	{delivery.NoticeExhausted, "A delivery gave up", "A delivery failed its last attempt. One mail per delivery, so there may be many.", "fail"},
}

// defaultNotifyOn is what Create Webhook ticks: the health notices, as a
// webhook created without a choice mails (repo's default), not one mail
// per delivery that gives up.
var defaultNotifyOn = []string{
	string(delivery.NoticeFailing), string(delivery.NoticeAtRisk), string(delivery.NoticeDisabled), string(delivery.NoticeRecovered),
}

// kindOf names a notice; one the pages do not know keeps its type as its
// name.
func kindOf(n delivery.Notice) noticeKind {
	for _, k := range noticeKinds {
		if k.Type == n {
			return k
		}
	}
	return noticeKind{Type: n, Label: string(n), Class: "muted"}
}
