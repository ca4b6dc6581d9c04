package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestV1RoutesRequireAPIKey(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	deliveryID := f.mustEventDelivery(t, ws.APIKey, "post.created")

	routes := []struct {
		method, path, body string
	}{
		{"GET", "/v1/event-types", ""},
		{"POST", "/v1/events", `{"type":"post.created","data":{}}`},
		{"POST", "/v1/webhooks", `{"url":"https://x.example","events":["post.created"]}`},
		{"GET", "/v1/webhooks", ""},
		{"GET", "/v1/webhooks/" + hook.ID, ""},
		{"PATCH", "/v1/webhooks/" + hook.ID, `{"active":false}`},
		{"DELETE", "/v1/webhooks/" + hook.ID, ""},
		{"GET", "/v1/webhooks/" + hook.ID + "/secret", ""},
		{"GET", "/v1/webhooks/" + hook.ID + "/deliveries", ""},
		{"GET", "/v1/deliveries/" + deliveryID, ""},
		{"POST", "/v1/deliveries/" + deliveryID + "/redeliver", ""},
	}
	auths := []struct {
		name, header string
	}{
		{"no header", ""},
		{"wrong key", "Bearer trk_" + strings.Repeat("A", 43)},
		{"key with a typo", "Bearer " + ws.APIKey[:len(ws.APIKey)-1] + "x"},
		{"basic scheme", "Basic " + ws.APIKey},
		{"basic auth carrying the key", basicAuth("api", ws.APIKey)},
		{"basic auth with the admin token", basicAuth("admin", testAdminToken)},
		{"bare key", ws.APIKey},
		{"empty bearer", "Bearer "},
		{"admin token", "Bearer " + testAdminToken},
	}
	before := f.footprint(t)
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.method+" "+rt.path+"/"+a.name, func(t *testing.T) {
				res := f.do(t, request{Method: rt.method, Path: rt.path, Auth: a.header, Body: rt.body})
				res.wantError(t, apiError{Status: http.StatusUnauthorized, Code: "unauthorized"})
				if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="Trackelio Webhooks"` {
					t.Errorf("WWW-Authenticate = %q, want the Bearer challenge", got)
				}
			})
		}
	}

	f.wantNoFootprint(t, before, "unauthenticated requests")
	// The webhook survived the unauthenticated PATCH and DELETE.
	if got := f.mustGetWebhook(t, ws.APIKey, hook.ID); !got.Active {
		t.Errorf("webhook was deactivated by an unauthenticated PATCH")
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res := f.do(t, request{Method: "GET", Path: "/v2/nothing"})
	res.wantError(t, apiError{Status: http.StatusNotFound, Code: "not_found"})
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := uuid.NewString()
	tests := []struct {
		method, path string
		allow        []string
	}{
		{"PUT", "/v1/webhooks/" + id, []string{"DELETE", "GET", "PATCH"}},
		{"DELETE", "/v1/webhooks", []string{"GET", "POST"}},
		{"GET", "/v1/events", []string{"POST"}},
		{"GET", "/v1/deliveries/" + id + "/redeliver", []string{"POST"}},
		{"POST", "/healthz", []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := f.do(t, request{Method: tt.method, Path: tt.path})
			res.wantError(t, apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed"})
			allow := strings.Split(res.Header.Get("Allow"), ", ")
			if diff := cmp.Diff(tt.allow, sorted(allow)); diff != "" {
				t.Errorf("Allow (-want +got):\n%s", diff)
			}
		})
	}
}
