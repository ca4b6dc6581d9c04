// Package catalog lists the event types customers can subscribe to.
package catalog

// EventType is one entry of the catalog.
type EventType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

var types = []EventType{
	{"post.created", "Fired when a new post is submitted from any source (widget, public board, or dashboard)."},
	{"post.status_changed", "Fired when a post's status is updated."},
	{"post.assigned", "Fired when a post is assigned to a team member."},
	{"comment.created", "Fired when a comment is added to a post."},
	{"nps.submitted", "Fired when an NPS response is collected."},
	{"csat.submitted", "Fired when a CSAT response is collected."},
	{"conversation.completed", "Fired when a messenger conversation is resolved."},
}

// All returns the catalog in documentation order.
func All() []EventType {
	return append([]EventType(nil), types...)
}

// Known reports whether t is a catalog event type.
func Known(t string) bool {
	for _, e := range types {
		if e.Type == t {
			return true
		}
	}
	return false
}
