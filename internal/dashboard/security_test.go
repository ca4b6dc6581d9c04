package dashboard_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/dashboard"
)

var (
	scriptTag  = regexp.MustCompile(`<script[^>]*>`)
	inlineAttr = regexp.MustCompile(`\s(style|on[a-z]+)=`)
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f, ws, v := setupSignedIn(t)
	f.mustNotifyingWebhook(t, ws, "https://receiver.example/hook", "ops@example.com")
	unsubscribe := "/unsubscribe/" + f.mustToken(t, ws, "ops@example.com")
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
			"form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "same-origin",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	}
	for name, p := range map[string]page{
		"page":     v.get(t, "/dashboard/webhooks"),
		"redirect": f.visitor(t).get(t, "/dashboard/webhooks"),
		"404":      v.get(t, "/dashboard/nothing-here"),
		"login":    f.visitor(t).get(t, "/dashboard/login"),
		// Public pages outside /dashboard/, without a session.
		"unsubscribe":         f.visitor(t).get(t, unsubscribe),
		"unsubscribed":        f.visitor(t).post(t, unsubscribe, url.Values{"List-Unsubscribe": {"One-Click"}}),
		"unsubscribe unknown": f.visitor(t).get(t, unsubscribe),
	} {
		got := map[string]string{}
		for k := range want {
			got[k] = p.Header.Get(k)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: headers (-want +got):\n%s", name, diff)
		}
		for _, tag := range scriptTag.FindAllString(p.Body, -1) {
			if !strings.Contains(tag, ` src="/dashboard/static/`) {
				t.Errorf("%s: inline script %s", name, tag)
			}
		}
		if m := inlineAttr.FindString(p.Body); m != "" {
			t.Errorf("%s: inline style or handler %q, which the CSP would block", name, m)
		}
	}
	if st := v.get(t, "/dashboard/nothing-here"); st.Status != http.StatusNotFound {
		t.Errorf("unknown dashboard path = %d, want 404", st.Status)
	}
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	f := setup(t)
	v := f.visitor(t)
	login := v.get(t, "/dashboard/login")
	for _, name := range []string{"app.css", "app.js"} {
		start := strings.Index(login.Body, "/dashboard/static/"+name+"?v=")
		if start < 0 {
			t.Fatalf("the layout does not link %s", name)
		}
		ref := login.Body[start:]
		ref = ref[:strings.IndexByte(ref, '"')]
		p := v.getOK(t, ref)
		if cc := p.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control = %q, want immutable for the versioned URL", name, cc)
		}
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, map[string]string{"app.css": "text/css", "app.js": "text/javascript"}[name]) {
			t.Errorf("%s: Content-Type = %q", name, ct)
		}
		if cc := v.get(t, "/dashboard/static/"+name+"?v=old").Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s with another version: Cache-Control = %q, want no-cache", name, cc)
		}
	}
	v.get(t, "/dashboard/static/nothing.js").wantStatus(t, http.StatusNotFound)
}

func TestParseFrameAncestors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"https://app.trackelio.com", []string{"https://app.trackelio.com"}, false},
		{"https://app.trackelio.com/, http://localhost:3000  https://*.trackelio.com",
			[]string{"https://app.trackelio.com", "http://localhost:3000", "https://*.trackelio.com"}, false},
		{"*", nil, true},
		{"https://*", nil, true},
		{"https://a.*.com", nil, true},
		{"app.trackelio.com", nil, true},
		{"javascript:alert(1)", nil, true},
		{"https://app.trackelio.com/embed", nil, true},
		{"https://app.trackelio.com?x=1", nil, true},
		{"https://user@app.trackelio.com", nil, true},
		{"'self'", nil, true},
	}
	for _, tt := range tests {
		got, err := dashboard.ParseFrameAncestors(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseFrameAncestors(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFrameAncestors(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
