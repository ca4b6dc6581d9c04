package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// TestWorkspaceIsolation uses workspace B's key on every route that takes an
// id of workspace A's: each must answer exactly as for an id that does not
// exist, and leave A's data as it was.
func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	f, a, b := setupTwoWorkspaces(t)
	hook := f.mustCreateHook(t, a.APIKey, "post.created")
	f.mustCreateHook(t, b.APIKey, "post.created")
	ev := f.mustPostEvent(t, a.APIKey, testfactory.EventBody(t, "post.created", map[string]any{"secret": "of A"}))
	del := f.deliveryIDsOfEvent(t, ev.ID)[0]
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: del, Attempt: 1, StatusCode: 500,
		ResponseBody: []byte("A's receiver says no"), Error: "HTTP 500", Duration: time.Millisecond,
		At: time.Now(), NewStatus: delivery.StatusFailed})

	// snapshot is everything A can read about its webhook and delivery.
	snapshot := func(t *testing.T) []string {
		t.Helper()
		var out []string
		for _, path := range []string{
			"/v1/webhooks", "/v1/webhooks/" + hook.ID, "/v1/webhooks/" + hook.ID + "/secret",
			"/v1/webhooks/" + hook.ID + "/deliveries", "/v1/deliveries/" + del,
		} {
			res := f.call(t, "GET", path, a.APIKey, "")
			res.wantStatus(t, http.StatusOK)
			out = append(out, path+" "+string(res.Body))
		}
		return out
	}
	before, left := snapshot(t), f.footprint(t)

	routes := []struct {
		name, method, path, body string
	}{
		{"get webhook", "GET", "/v1/webhooks/{hook}", ""},
		{"patch webhook", "PATCH", "/v1/webhooks/{hook}", `{"url":"https://attacker.example","active":false}`},
		{"delete webhook", "DELETE", "/v1/webhooks/{hook}", ""},
		{"get secret", "GET", "/v1/webhooks/{hook}/secret", ""},
		{"list deliveries", "GET", "/v1/webhooks/{hook}/deliveries", ""},
		{"get delivery", "GET", "/v1/deliveries/{delivery}", ""},
		{"redeliver", "POST", "/v1/deliveries/{delivery}/redeliver", ""},
		{"recover", "POST", "/v1/webhooks/{hook}/recover", `{"since":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`},
		{"recover dry run", "POST", "/v1/webhooks/{hook}/recover?dry_run=true", `{"since":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`},
		{"test event", "POST", "/v1/webhooks/{hook}/test", ""},
		{"rotate secret", "POST", "/v1/webhooks/{hook}/rotate-secret", `{"grace_period":"1h"}`},
	}
	unknown := uuid.NewString()
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			path := strings.NewReplacer("{hook}", hook.ID, "{delivery}", del).Replace(rt.path)
			res := f.call(t, rt.method, path, b.APIKey, rt.body)
			res.wantError(t, apiError{Status: http.StatusNotFound, Code: "not_found"})
			for _, leak := range []string{hook.URL, hook.Secret, "of A", "A's receiver"} {
				if strings.Contains(string(res.Body), leak) {
					t.Errorf("answer leaks %q: %s", leak, res.Body)
				}
			}
			// Indistinguishable from an id that exists nowhere.
			path = strings.NewReplacer("{hook}", unknown, "{delivery}", unknown).Replace(rt.path)
			missing := f.call(t, rt.method, path, b.APIKey, rt.body)
			if diff := cmp.Diff(string(missing.Body), string(res.Body)); diff != "" || missing.Status != res.Status {
				t.Errorf("answer differs from an unknown id's (-unknown +other workspace's):\n%s", diff)
			}
		})
	}

	t.Run("B's list leaves A's webhook out", func(t *testing.T) {
		res := f.call(t, "GET", "/v1/webhooks", b.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		if strings.Contains(string(res.Body), hook.ID) {
			t.Errorf("B lists A's webhook: %s", res.Body)
		}
	})

	t.Run("A's data is unchanged", func(t *testing.T) {
		if diff := cmp.Diff(before, snapshot(t)); diff != "" {
			t.Errorf("A's view (-before +after):\n%s", diff)
		}
		f.wantNoFootprint(t, left, "B's requests")
	})
}
