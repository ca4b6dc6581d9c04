package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/trackelio/webhooks/internal/api"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/testfactory"
)

func TestMaxWebhooks(t *testing.T) {
	t.Parallel()
	f, a, b := setupTwoWorkspaces(t, func(_ *api.Config, m *manage.Config) { m.MaxWebhooks = 2 })
	first := f.mustCreateHook(t, a.APIKey, "post.created")
	f.mustCreateHook(t, a.APIKey, "post.created")

	before := f.footprint(t)
	res := f.call(t, "POST", "/v1/webhooks", a.APIKey, `{"url":"https://x.example","events":["post.created"]}`)
	res.wantError(t, apiError{Status: http.StatusUnprocessableEntity, Code: "limit_exceeded"})
	f.wantNoFootprint(t, before, "a webhook over the limit")

	// The limit is per workspace, and deleted webhooks do not count.
	f.mustCreateHook(t, b.APIKey, "post.created")
	f.call(t, "DELETE", "/v1/webhooks/"+first.ID, a.APIKey, "").wantStatus(t, http.StatusNoContent)
	f.mustCreateHook(t, a.APIKey, "post.created")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	const burst = 3
	f, a, b := setupTwoWorkspaces(t, func(c *api.Config, _ *manage.Config) { c.RateLimit, c.RateBurst = 0.001, burst })

	// Unauthenticated requests are refused before they spend a token.
	for range burst + 1 {
		f.call(t, "GET", "/v1/event-types", "trk_wrong", "").wantStatus(t, http.StatusUnauthorized)
	}
	for range burst {
		f.call(t, "GET", "/v1/event-types", a.APIKey, "").wantStatus(t, http.StatusOK)
	}

	before := f.footprint(t)
	res := f.call(t, "POST", "/v1/events", a.APIKey, testfactory.EventBody(t, "post.created", nil))
	res.wantError(t, apiError{Status: http.StatusTooManyRequests, Code: "rate_limited"})
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want a whole number of seconds ≥ 1", res.Header.Get("Retry-After"))
	}
	f.wantNoFootprint(t, before, "a rate-limited request")

	// Another workspace has its own bucket.
	f.call(t, "GET", "/v1/event-types", b.APIKey, "").wantStatus(t, http.StatusOK)
}
