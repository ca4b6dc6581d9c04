package testfactory

import "github.com/trackelio/webhooks/client"

// DocumentedEventTypes is the table of event types in the customer-facing
// documentation, in its order. Tests hold the service's answers to it as
// an oracle kept apart from the catalog they test.
func DocumentedEventTypes() []client.EventType {
	return []client.EventType{
		{Type: "post.created", Description: "Fired when a new post is submitted from any source (widget, public board, or dashboard)."},
		{Type: "post.status_changed", Description: "Fired when a post's status is updated."},
		{Type: "post.assigned", Description: "Fired when a post is assigned to a team member."},
		{Type: "comment.created", Description: "Fired when a comment is added to a post."},
		{Type: "nps.submitted", Description: "Fired when an NPS response is collected."},
		{Type: "csat.submitted", Description: "Fired when a CSAT response is collected."},
		{Type: "conversation.completed", Description: "Fired when a messenger conversation is resolved."},
	}
}

// DocumentedOperationalEventTypes is the documentation's table of the
// operator's notices sent to operational webhooks, in its order: the
// types GET /v1/event-types lists after DocumentedEventTypes.
func DocumentedOperationalEventTypes() []client.EventType {
	return []client.EventType{
		{Type: "webhook.failing", Operational: true,
			Description: "Sent when a customer's webhook has been failing long enough to be worth telling: every attempt for a while has failed."},
		{Type: "webhook.at_risk", Operational: true,
			Description: "Sent when a failing webhook nears auto-disable: it is switched off at disable_at if every attempt until then fails."},
		{Type: "webhook.disabled", Operational: true,
			Description: "Sent when the service disables a customer's webhook: after a failure streak, or at once when its endpoint answers 410 Gone."},
		{Type: "webhook.recovered", Operational: true,
			Description: "Sent when a webhook whose trouble was told delivers again, or is re-enabled; the data recalls the streak that ended."},
		{Type: "delivery.exhausted", Operational: true,
			Description: "Sent when a delivery to a customer's webhook runs out of attempts without succeeding."},
	}
}
