package dashboard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/repo"
)

func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "nps.submitted")
	answer := answered500
	answer.ResponseBody, answer.Duration = []byte(`<script>alert("x")</script>`), 42*time.Millisecond
	answer.NewStatus, answer.NextAttemptAt = repo.StatusPending, time.Now().Add(time.Minute)
	f.enq.WorkerRecords(t, f.store, answer)
	v := f.signedIn(t, ws)
	path := "/dashboard/webhooks/" + hook.ID + "/test"

	// Without script the form answers with the page and the result on it.
	p := v.post(t, path, v.form(t))
	p.wantStatus(t, http.StatusOK)
	p.wantHTML(t, `class="code fail">500<`, `42 ms`, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`)
	if strings.Contains(p.Body, `<script>alert`) {
		t.Error("the receiver's answer reached the page as markup")
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
	f := setup(t) // TestWait 2 s and a queue that never runs the task
	ws, _ := f.mustWorkspace(t, "Acme")
	hook := f.mustWebhook(t, ws, "https://receiver.example/hook", "nps.submitted")
	v := f.signedIn(t, ws)
	p := v.post(t, "/dashboard/webhooks/"+hook.ID+"/test", v.form(t))
	p.wantStatus(t, http.StatusOK)
	p.wantText(t, "No answer within 2s. The test delivery stays in the history and will still be attempted.")
	if n := len(f.enq.Enqueued()); n != 1 {
		t.Errorf("enqueued %d deliveries, want the test one", n)
	}
}
