package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// signatures returns the entries of a webhook-signature header.
func signatures(r testreceiver.Received) []string {
	return strings.Fields(r.Header.Get("webhook-signature"))
}

func TestSecretRotation(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testreceiver.Always(http.StatusOK, "ok"))
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/rotate"), "events": []string{"post.assigned"}})
	s1 := wh.Secret
	rotatePath := "/v1/webhooks/" + wh.ID + "/rotate-secret"

	rotate := func(in any) client.SecretRotation {
		t.Helper()
		var out client.SecretRotation
		start := time.Now()
		ws.call(t, "POST", rotatePath, in, http.StatusOK, &out)
		if out.Secret == "" {
			t.Fatalf("rotate-secret answered no secret")
		}
		sys.rememberSecret(out.Secret)
		t.Logf("rotated at %s; previous secret expires %s", start.Format(time.RFC3339), out.PreviousSecretExpiresAt.Format(time.RFC3339))
		return out
	}
	deliver := func(n int) testreceiver.Received {
		t.Helper()
		ws.postEvent(t, "post.assigned", testfactory.EventData(t, "post.assigned", map[string]any{"case": n}))
		return rcv.waitRequests(t, sys, n)[n-1]
	}
	type check struct {
		TrackelioWith string
		Entries       int
		StdVerifies   map[string]bool
	}
	inspect := func(r testreceiver.Received, secrets map[string]string) check {
		t.Helper()
		c := check{Entries: len(signatures(r)), StdVerifies: map[string]bool{}}
		for name, s := range secrets {
			if r.Header.Get("X-Trackelio-Signature") == sign(s, r.Body) {
				c.TrackelioWith += name
			}
			c.StdVerifies[name] = verifyStandard(t, s, r) == nil
		}
		return c
	}

	r1 := deliver(1)
	if diff := cmp.Diff(check{"s1", 1, map[string]bool{"s1": true}}, inspect(r1, map[string]string{"s1": s1})); diff != "" {
		t.Errorf("delivery before rotation mismatch (-want +got):\n%s", diff)
	}

	for _, bad := range []any{
		map[string]any{"grace_period": "169h"},
		map[string]any{"grace_period": "-1s"},
		map[string]any{"grace_period": "a day"},
	} {
		status, body := ws.do(t, "POST", rotatePath, bad)
		var e apiError
		json.Unmarshal(body, &e)
		if status != http.StatusUnprocessableEntity || e.Error.Field != "grace_period" {
			t.Errorf("rotate-secret %v: %d %s, want 422 naming grace_period", bad, status, body)
		}
	}

	before := time.Now()
	rot := rotate(map[string]any{"grace_period": "1h"})
	s2 := rot.Secret
	if s2 == s1 {
		t.Fatalf("rotation returned the same secret")
	}
	if d := rot.PreviousSecretExpiresAt.Sub(before.Add(time.Hour)); d < -2*time.Second || d > 5*time.Second {
		t.Errorf("previous_secret_expires_at %s, want about an hour from now", rot.PreviousSecretExpiresAt)
	}
	if ws.secret(t, wh.ID) != s2 {
		t.Errorf("GET secret after rotation is not the new secret")
	}

	r2 := deliver(2)
	if diff := cmp.Diff(check{"s2", 2, map[string]bool{"s1": true, "s2": true}},
		inspect(r2, map[string]string{"s1": s1, "s2": s2})); diff != "" {
		t.Errorf("delivery during the grace period mismatch (-want +got):\n%s", diff)
	}
	// The order is "v1,<new> v1,<old>".
	if sigs := signatures(r2); len(sigs) == 2 {
		var unix int64
		fmt.Sscan(r2.Header.Get("webhook-timestamp"), &unix)
		ts := time.Unix(unix, 0)
		for i, s := range []string{s2, s1} {
			w, _ := standardwebhooks.NewWebhook(s)
			want, _ := w.Sign(r2.Header.Get("webhook-id"), ts, r2.Body)
			if sigs[i] != want {
				t.Errorf("webhook-signature entry %d is not signed with the %s secret", i+1, []string{"new", "old"}[i])
			}
		}
	}

	rot = rotate(map[string]any{"grace_period": "0s"})
	s3 := rot.Secret
	r3 := deliver(3)
	if diff := cmp.Diff(check{"s3", 1, map[string]bool{"s1": false, "s2": false, "s3": true}},
		inspect(r3, map[string]string{"s1": s1, "s2": s2, "s3": s3})); diff != "" {
		t.Errorf("delivery after a rotation without grace mismatch (-want +got):\n%s", diff)
	}

	// Without a body the grace period is 24h.
	before = time.Now()
	rot = rotate(nil)
	if d := rot.PreviousSecretExpiresAt.Sub(before.Add(24 * time.Hour)); d < -2*time.Second || d > 5*time.Second {
		t.Errorf("default previous_secret_expires_at %s, want about 24h from now", rot.PreviousSecretExpiresAt)
	}
	r4 := deliver(4)
	if diff := cmp.Diff(check{"s4", 2, map[string]bool{"s3": true, "s4": true}},
		inspect(r4, map[string]string{"s3": s3, "s4": rot.Secret})); diff != "" {
		t.Errorf("delivery after a default rotation mismatch (-want +got):\n%s", diff)
	}
}
