package client_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/client"
)

func TestCreatePortalSession(t *testing.T) {
	t.Parallel()
	a, c, rec := setup(t)
	s, err := c.CreatePortalSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, rec.last(t).Body, client.PortalSession{})
	if !strings.HasPrefix(s.URL, a.URL+"/dashboard/session/trkpl_") {
		t.Errorf("url = %q, want a sign-in link on the api", s.URL)
	}
	if d := time.Until(s.ExpiresAt); d < 4*time.Minute || d > 5*time.Minute {
		t.Errorf("the link expires in %v, want 5 minutes", d)
	}
	// The link signs its opener in.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard/webhooks" || len(res.Cookies()) == 0 {
		t.Errorf("opening the link answered %d to %q with cookies %v, want a session and Workspaces > Webhooks", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
}
