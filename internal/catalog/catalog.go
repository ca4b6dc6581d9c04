// Package catalog lists the event types: those customers publish and
// subscribe to, and the operational notices the service sends the
// operator about customers' webhooks.
package catalog

import (
	"slices"

	"github.com/trackelio/webhooks/internal/delivery"
)

// EventType is one entry of the catalog.
type EventType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	// Operational marks the service's notices to the operator's
	// operational webhooks; customers cannot publish or subscribe to them.
	Operational bool `json:"operational"`
}

var customerTypes = []EventType{
	{Type: "post.created", Description: "Fired when a new post is submitted from any source (widget, public board, or dashboard)."},
	{Type: "post.status_changed", Description: "Fired when a post's status is updated."},
	{Type: "post.assigned", Description: "Fired when a post is assigned to a team member."},
	{Type: "comment.created", Description: "Fired when a comment is added to a post."},
	{Type: "nps.submitted", Description: "Fired when an NPS response is collected."},
	{Type: "csat.submitted", Description: "Fired when a CSAT response is collected."},
	{Type: "conversation.completed", Description: "Fired when a messenger conversation is resolved."},
}

// operationalTypes are delivery's notices, named by its constants so the
// catalog cannot describe a notice the service does not send.
var operationalTypes = []EventType{
	{Type: string(delivery.NoticeFailing), Operational: true,
		Description: "Sent when a customer's webhook has been failing long enough to be worth telling: every attempt for a while has failed."},
	{Type: string(delivery.NoticeAtRisk), Operational: true,
		Description: "Sent when a failing webhook nears auto-disable: it is switched off at disable_at if every attempt until then fails."},
	{Type: string(delivery.NoticeDisabled), Operational: true,
		Description: "Sent when the service disables a customer's webhook: after a failure streak, or at once when its endpoint answers 410 Gone."},
	{Type: string(delivery.NoticeRecovered), Operational: true,
		Description: "Sent when a webhook whose trouble was told delivers again, or is re-enabled; the data recalls the streak that ended."},
	{Type: string(delivery.NoticeExhausted), Operational: true,
		Description: "Sent when a delivery to a customer's webhook runs out of attempts without succeeding."},
}

// All returns the customer event types, in documentation order: the ones
// producers publish and webhooks subscribe to.
func All() []EventType {
	return slices.Clone(customerTypes)
}

// Known reports whether t is a customer event type. Operational types are
// not: no producer publishes them and no customer subscribes to them.
func Known(t string) bool {
	return slices.ContainsFunc(customerTypes, func(e EventType) bool { return e.Type == t })
}

// Operational returns the operational event types, in documentation order.
func Operational() []EventType {
	return slices.Clone(operationalTypes)
}

// IsOperational reports whether t is an operational event type.
func IsOperational(t string) bool {
	return slices.ContainsFunc(operationalTypes, func(e EventType) bool { return e.Type == t })
}
