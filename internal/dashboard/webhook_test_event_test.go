package dashboard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://receiver.example/hook", "nps.submitted")
	answer := answered500
	answer.ResponseBody, answer.Duration = []byte(`<script>alert("x")</script>`), 42*time.Millisecond
	answer.ExcludeFromHealth = true
	f.enq.WorkerRecords(t, f.store, answer)
	v, hookPage := f.signedInTo(t, hook)
	path := hookPage + "/test"

	// Without script the form leads to the page with the result on it; a
	// reload shows the same result and sends nothing.
	shown := v.post(t, path, v.form(t)).wantRedirectTo(t, hookPage+"?test=")
	for range 2 {
		p := v.getOK(t, shown)
		p.wantHTML(t, `class="code fail">500<`, `42 ms`, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`)
		if strings.Contains(p.Body, `<script>alert`) {
			t.Error("the receiver's answer reached the page as markup")
		}
	}
	if n := len(f.enq.Enqueued()); n != 1 {
		t.Errorf("%d tests sent, want 1", n)
	}
	// An id that is not a test of this webhook shows nothing.
	for _, id := range []string{"nope", "00000000-0000-0000-0000-000000000000", f.mustDeliver(t, hook, "nps.submitted", nil, answered500)} {
		if p := v.get(t, hookPage+"?test="+id); p.Status != http.StatusOK || strings.Contains(testResult(p), "Open the delivery") {
			t.Errorf("?test=%s: status %d, or a result shown", id, p.Status)
		}
	}

	// The page's script asks for JSON.
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader("csrf="+v.csrf(t)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res := v.do(t, req)
	res.wantStatus(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
		t.Fatal(err)
	}
	id, _ := got["delivery_id"].(string)
	want := map[string]any{
		"delivery_id": id, "delivery_url": "/dashboard/deliveries/" + id, "succeeded": false, "status_code": 500.0,
		"response_body": `<script>alert("x")</script>`, "response_truncated": false,
		"error": "receiver answered 500 Internal Server Error", "duration_ms": 42.0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON answer (-want +got):\n%s", diff)
	}
	var typ string
	if err := f.db.Get(&typ, `SELECT e.type FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1`, id); err != nil || typ != "webhook.test" {
		t.Errorf("test delivery's event type = %q, %v", typ, err)
	}
}

func TestSendTestEventWithoutAnswer(t *testing.T) {
	t.Parallel()
	// setup waits 2 s for the test's answer, and its queue never runs the task.
	f, _, hook := setupWebhook(t, "https://receiver.example/hook", "nps.submitted")
	v, path := f.signedInTo(t, hook)
	shown := v.post(t, path+"/test", v.form(t)).wantRedirectTo(t, path+"?test=")
	p := v.getOK(t, shown)
	p.wantText(t, "No answer yet: the test delivery is waiting for its attempt. Reload the page to see it.")
	if n := len(f.enq.Enqueued()); n != 1 {
		t.Errorf("enqueued %d deliveries, want the test one", n)
	}
}

// testResult is what the page's test result area holds.
func testResult(p page) string {
	start := strings.Index(p.Body, `id="test-result"`)
	if start < 0 {
		return ""
	}
	rest := p.Body[start:]
	return rest[:strings.Index(rest, "</div>")]
}
