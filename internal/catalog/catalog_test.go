package catalog_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/delivery"
)

func TestKnownAndIsOperational(t *testing.T) {
	tests := []struct {
		typ                  string
		known, isOperational bool
	}{
		{"post.created", true, false},
		{"post.status_changed", true, false},
		{"post.assigned", true, false},
		{"comment.created", true, false},
		{"nps.submitted", true, false},
		{"csat.submitted", true, false},
		{"conversation.completed", true, false},
		// No producer publishes, and no customer subscribes to, a notice.
		{"webhook.failing", false, true},
		{"webhook.at_risk", false, true},
		{"webhook.disabled", false, true},
		{"webhook.recovered", false, true},
		{"delivery.exhausted", false, true},
		{delivery.TestEventType, false, false},
		{"post.deleted", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := catalog.Known(tt.typ); got != tt.known {
			t.Errorf("Known(%q) = %v, want %v", tt.typ, got, tt.known)
		}
		if got := catalog.IsOperational(tt.typ); got != tt.isOperational {
			t.Errorf("IsOperational(%q) = %v, want %v", tt.typ, got, tt.isOperational)
		}
	}
}

// The operational types are the notices the service sends, in their
// order, and only they carry the flag.
func TestOperationalAreTheNotices(t *testing.T) {
	var got, want []string
	for _, e := range catalog.Operational() {
		got = append(got, e.Type)
		if !e.Operational || e.Description == "" {
			t.Errorf("%s: %+v, want an operational type with a description", e.Type, e)
		}
	}
	for _, n := range delivery.Notices {
		want = append(want, string(n))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operational types (-notices +catalog):\n%s", diff)
	}
	for _, e := range catalog.All() {
		if e.Operational {
			t.Errorf("customer type %s is marked operational", e.Type)
		}
	}
}
