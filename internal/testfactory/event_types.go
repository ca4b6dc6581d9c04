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
