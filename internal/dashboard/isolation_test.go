package dashboard_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestWorkspaceIsolation opens every page and form of workspace A's
// webhook and delivery from a session of workspace B: each is the 404 page,
// exactly as for an id that does not exist, and A's data stays as it was.
func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a, _ := f.mustWorkspace(t, "A")
	b, _ := f.mustWorkspace(t, "B")
	hook := f.mustWebhook(t, a, "https://a.example/hook", "post.created")
	del := f.mustDeliver(t, hook, "post.created", map[string]any{"secret": "of A"}, answered500)
	intruder := f.signedIn(t, b)
	before, snapshot := f.rowCounts(t), f.webhookSnapshot(t, hook.ID)
	for _, ids := range []struct{ name, hook, delivery string }{
		{"A's ids", hook.ID, del},
		{"unknown ids", uuid.NewString(), uuid.NewString()},
		{"not ids", "1%20OR%201=1", "..%2f..%2fetc"},
	} {
		for _, rt := range signedRoutes(ids.hook, ids.delivery) {
			if rt.path == "/dashboard/" || rt.path == "/dashboard/webhooks" || rt.path == "/dashboard/webhooks/new" ||
				rt.path == "/dashboard/logout" || (rt.method == "POST" && rt.path == "/dashboard/webhooks") {
				continue
			}
			t.Run(ids.name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				var p page
				if rt.method == "GET" {
					p = intruder.get(t, rt.path)
				} else {
					p = intruder.post(t, rt.path, intruder.form(t, "url", "https://b.example/", "events", "post.created",
						"active", "on", "grace_period", "0s", "since", time.Now().Add(-time.Hour).Format(time.RFC3339)))
				}
				p.wantStatus(t, http.StatusNotFound)
				p.wantText(t, "Not found", "does not belong to this workspace")
			})
		}
	}
	f.wantUntouched(t, before, hook.ID, snapshot, "B's requests")
}
