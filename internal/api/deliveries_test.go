package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// listPage fetches one page of a webhook's delivery history.
func (f *fixture) listPage(tb testing.TB, key, hookID, query string) client.DeliveryPage {
	tb.Helper()
	res := f.call(tb, "GET", "/v1/webhooks/"+hookID+"/deliveries"+query, key, "")
	res.wantStatus(tb, http.StatusOK)
	if diff := cmp.Diff([]string{"data", "next_cursor"}, res.keys(tb)); diff != "" {
		tb.Errorf("page keys (-want +got):\n%s", diff)
	}
	// DeliveryPage reads the last page's null next_cursor as "": the
	// contract, checked on every answer by f.do, says a cursor is never "",
	// so an empty NextCursor means null.
	var p client.DeliveryPage
	res.decode(tb, &p)
	return p
}

// listAll pages through a webhook's history with the given limit and returns
// the ids in order and the size of each page.
func (f *fixture) listAll(tb testing.TB, key, hookID string, limit int) (ids []string, sizes []int) {
	tb.Helper()
	q := fmt.Sprintf("?limit=%d", limit)
	for range 100 {
		p := f.listPage(tb, key, hookID, q)
		sizes = append(sizes, len(p.Data))
		for _, d := range p.Data {
			ids = append(ids, d.ID)
		}
		if p.NextCursor == "" {
			return ids, sizes
		}
		q = fmt.Sprintf("?limit=%d&cursor=%s", limit, url.QueryEscape(p.NextCursor))
	}
	tb.Fatalf("pagination did not end after 100 pages")
	return nil, nil
}

func TestListDeliveriesPagination(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	other := f.mustCreateHook(t, ws.APIKey, "post.created") // its deliveries stay out of hook's history

	// newestFirst holds hook's delivery ids, newest first.
	var newestFirst []string
	for i := range 25 {
		ev := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", map[string]any{"i": i}))
		var id string
		if err := f.db.Get(&id, `SELECT id::text FROM deliveries WHERE event_id = $1 AND webhook_id = $2`, ev.ID, hook.ID); err != nil {
			t.Fatal(err)
		}
		newestFirst = slices.Insert(newestFirst, 0, id)
	}

	for _, tt := range []struct {
		limit int
		sizes []int
	}{
		{10, []int{10, 10, 5}},
		{1, slices.Repeat([]int{1}, 25)},
		{5, []int{5, 5, 5, 5, 5}},
		{24, []int{24, 1}},
		{25, []int{25}},
		{100, []int{25}},
	} {
		t.Run(fmt.Sprintf("limit=%d", tt.limit), func(t *testing.T) {
			ids, sizes := f.listAll(t, ws.APIKey, hook.ID, tt.limit)
			if diff := cmp.Diff(tt.sizes, sizes); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(newestFirst, ids); diff != "" {
				t.Errorf("ids, newest first, no duplicates or gaps (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("default limit is 20", func(t *testing.T) {
		p := f.listPage(t, ws.APIKey, hook.ID, "")
		if len(p.Data) != 20 || p.NextCursor == "" {
			t.Errorf("got %d deliveries, next_cursor %q; want 20 and a cursor", len(p.Data), p.NextCursor)
		}
	})

	t.Run("fresh deliveries look pending", func(t *testing.T) {
		p := f.listPage(t, ws.APIKey, hook.ID, "?limit=1")
		got := p.Data[0]
		var eventID string
		if err := f.db.Get(&eventID, `SELECT event_id::text FROM deliveries WHERE id = $1`, got.ID); err != nil {
			t.Fatal(err)
		}
		if got.NextAttemptAt == nil {
			t.Fatalf("pending delivery has no next_attempt_at")
		}
		want := client.Delivery{
			ID: newestFirst[0], EventID: eventID, EventType: "post.created", WebhookID: hook.ID,
			Status: "pending", NextAttemptAt: got.NextAttemptAt, CreatedAt: got.CreatedAt,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("delivery (-want +got):\n%s", diff)
		}
	})

	t.Run("a cursor holds its place while new deliveries arrive", func(t *testing.T) {
		first := f.listPage(t, ws.APIKey, hook.ID, "?limit=10")
		f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", map[string]any{"late": true}))
		second := f.listPage(t, ws.APIKey, hook.ID, "?limit=10&cursor="+url.QueryEscape(first.NextCursor))
		var ids []string
		for _, d := range second.Data {
			ids = append(ids, d.ID)
		}
		if diff := cmp.Diff(newestFirst[10:20], ids); diff != "" {
			t.Errorf("second page (-want +got):\n%s", diff)
		}
	})

	t.Run("the other webhook has its own history", func(t *testing.T) {
		ids, _ := f.listAll(t, ws.APIKey, other.ID, 100)
		if len(ids) != 26 {
			t.Errorf("other webhook lists %d deliveries, want 26", len(ids))
		}
		for _, id := range ids {
			if slices.Contains(newestFirst, id) {
				t.Errorf("other webhook lists hook's delivery %s", id)
			}
		}
	})

	t.Run("an empty history", func(t *testing.T) {
		empty := f.mustCreateHook(t, ws.APIKey, "nps.submitted")
		p := f.listPage(t, ws.APIKey, empty.ID, "")
		if diff := cmp.Diff(client.DeliveryPage{Data: []client.Delivery{}}, p); diff != "" {
			t.Errorf("page (-want +got):\n%s", diff)
		}
	})
}

// TestListDeliveriesPaginationWithTies pages through deliveries that share one
// created_at, as the deliveries of one event do, so the order and the cursor
// rest on the id alone.
func TestListDeliveriesPaginationWithTies(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	for i := range 25 {
		f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", map[string]any{"i": i}))
	}
	// Three groups of equal timestamps with a microsecond fraction, so
	// neighbours in each group differ only by id.
	if _, err := f.db.Exec(`UPDATE deliveries d
		SET created_at = '2030-01-02 03:04:05.123456+00'::timestamptz + (x.n % 3) * interval '1 second'
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM deliveries WHERE webhook_id = $1) x
		WHERE d.id = x.id`, hook.ID); err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := f.db.Select(&want, `SELECT id::text FROM deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC`, hook.ID); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 3, 10} {
		ids, _ := f.listAll(t, ws.APIKey, hook.ID, limit)
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("limit=%d: ids (-want +got):\n%s", limit, diff)
		}
	}
}

func TestListDeliveriesFilters(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created", "nps.submitted")
	// Six deliveries, newest last: types alternate, every third one failed.
	var all []string
	for i := range 6 {
		typ := []string{"post.created", "nps.submitted"}[i%2]
		ev := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, typ, map[string]any{"i": i}))
		id := f.deliveryIDsOfEvent(t, ev.ID)[0]
		all = append([]string{id}, all...)
		if i%3 == 0 {
			f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "HTTP 500",
				At: time.Now(), NewStatus: delivery.StatusFailed})
		}
	}
	// all is newest first: index 5-i is the i-th event.
	of := func(is ...int) []string {
		var ids []string
		for _, i := range is {
			ids = append(ids, all[5-i])
		}
		return ids
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", of(5, 4, 3, 2, 1, 0)},
		{"?status=failed", of(3, 0)},
		{"?status=pending", of(5, 4, 2, 1)},
		{"?status=succeeded", nil},
		{"?event_type=nps.submitted", of(5, 3, 1)},
		{"?event_type=post.created&status=failed", of(0)},
		{"?event_type=webhook.test", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p := f.listPage(t, ws.APIKey, hook.ID, tt.query)
			var got []string
			for _, d := range p.Data {
				got = append(got, d.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("pages keep the filter", func(t *testing.T) {
		first := f.listPage(t, ws.APIKey, hook.ID, "?status=pending&limit=3")
		if len(first.Data) != 3 || first.NextCursor == "" {
			t.Fatalf("first page: %d deliveries, next %q", len(first.Data), first.NextCursor)
		}
		rest := f.listPage(t, ws.APIKey, hook.ID, "?status=pending&limit=3&cursor="+url.QueryEscape(first.NextCursor))
		if len(rest.Data) != 1 || rest.Data[0].ID != of(1)[0] || rest.NextCursor != "" {
			t.Errorf("second page = %+v, want only event 1 and no cursor", rest)
		}
	})
	for _, tt := range []struct{ query, field string }{
		{"?status=done", "status"},
		{"?event_type=post.deleted", "event_type"},
	} {
		t.Run("bad "+tt.query, func(t *testing.T) {
			res := f.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries"+tt.query, ws.APIKey, "")
			res.wantError(t, apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Field: tt.field})
		})
	}
}

func TestGetDeliveryWithAttempts(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "comment.created")
	ev := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "comment.created", nil))
	id := f.deliveryIDsOfEvent(t, ev.ID)[0]

	get := func(t *testing.T) client.DeliveryDetail {
		t.Helper()
		res := f.call(t, "GET", "/v1/deliveries/"+id, ws.APIKey, "")
		res.wantStatus(t, http.StatusOK)
		var d client.DeliveryDetail
		res.decode(t, &d)
		return d
	}

	fresh := get(t)
	if fresh.NextAttemptAt == nil {
		t.Fatalf("fresh delivery has no next_attempt_at")
	}
	want := client.DeliveryDetail{
		Delivery: client.Delivery{
			ID: id, EventID: ev.ID, EventType: "comment.created", WebhookID: hook.ID, Status: "pending",
			NextAttemptAt: fresh.NextAttemptAt, CreatedAt: fresh.CreatedAt,
		},
		Attempts: []client.Attempt{},
	}
	if diff := cmp.Diff(want, fresh); diff != "" {
		t.Errorf("fresh delivery (-want +got):\n%s", diff)
	}
	// No attempts yet is an empty list, not null.
	raw := f.call(t, "GET", "/v1/deliveries/"+id, ws.APIKey, "").fields(t)
	if diff := cmp.Diff(map[string]string{"attempts": "[]", "attempt_count": "0"},
		map[string]string{"attempts": string(raw["attempts"]), "attempt_count": string(raw["attempt_count"])}); diff != "" {
		t.Errorf("attempts of a fresh delivery (-want +got):\n%s", diff)
	}

	// The worker's three attempts: a 500, a timeout, then a success.
	t1 := time.Now().UTC().Truncate(time.Microsecond)
	t2, t3 := t1.Add(30*time.Second), t1.Add(3*time.Minute)
	results := []repo.AttemptResult{
		{DeliveryID: id, Attempt: 1, StatusCode: 500, ResponseBody: []byte("oops"), Error: "HTTP 500",
			ResponseHeaders: map[string]string{"Content-Type": "text/plain", "Retry-After": "30"},
			RequestHeaders:  map[string]string{"X-Trackelio-Delivery": id, "webhook-timestamp": "1796154985"},
			Duration:        120 * time.Millisecond, At: t1, NewStatus: delivery.StatusPending, NextAttemptAt: t2},
		{DeliveryID: id, Attempt: 2, Error: "timeout after 10s",
			Duration: 10 * time.Second, At: t2, NewStatus: delivery.StatusPending, NextAttemptAt: t3},
		{DeliveryID: id, Attempt: 3, StatusCode: 200, ResponseBody: []byte(`{"ok":true,"big":"...`), ResponseTruncated: true,
			Duration: 45 * time.Millisecond, At: t3, Succeeded: true, NewStatus: delivery.StatusSucceeded},
	}
	wantAttempts := []client.Attempt{
		{Attempt: 1, StatusCode: new(500), ResponseBody: "oops", Error: new("HTTP 500"), DurationMS: 120, CreatedAt: t1,
			ResponseHeaders: map[string]string{"Content-Type": "text/plain", "Retry-After": "30"},
			RequestHeaders:  map[string]string{"X-Trackelio-Delivery": id, "webhook-timestamp": "1796154985"}},
		{Attempt: 2, Error: new("timeout after 10s"), DurationMS: 10000, CreatedAt: t2,
			ResponseHeaders: map[string]string{}, RequestHeaders: map[string]string{}},
		{Attempt: 3, StatusCode: new(200), ResponseBody: `{"ok":true,"big":"...`, ResponseTruncated: true, DurationMS: 45, CreatedAt: t3,
			ResponseHeaders: map[string]string{}, RequestHeaders: map[string]string{}},
	}
	wantAfter := []client.Delivery{
		{Status: "pending", Attempts: 1, StatusCode: new(500), ResponseBody: "oops", LastError: new("HTTP 500"),
			LastAttemptAt: &t1, NextAttemptAt: &t2},
		{Status: "pending", Attempts: 2, LastError: new("timeout after 10s"), LastAttemptAt: &t2, NextAttemptAt: &t3},
		{Status: "succeeded", Attempts: 3, StatusCode: new(200), ResponseBody: `{"ok":true,"big":"...`, ResponseTruncated: true,
			LastAttemptAt: &t3, FinishedAt: &t3},
	}
	for i, r := range results {
		t.Run(fmt.Sprintf("after attempt %d", i+1), func(t *testing.T) {
			f.mustRecordAttempt(t, r)
			d := wantAfter[i]
			d.ID, d.EventID, d.EventType, d.WebhookID, d.CreatedAt = id, ev.ID, "comment.created", hook.ID, fresh.CreatedAt
			want := client.DeliveryDetail{Delivery: d, Attempts: wantAttempts[:i+1], AttemptCount: i + 1}
			want.Delivery.Attempts = 0 // the detail lists the attempts instead of counting them
			if diff := cmp.Diff(want, get(t)); diff != "" {
				t.Errorf("delivery (-want +got):\n%s", diff)
			}

			// The history shows the same delivery with its attempt count.
			p := f.listPage(t, ws.APIKey, hook.ID, "")
			if len(p.Data) != 1 {
				t.Fatalf("history has %d deliveries, want 1", len(p.Data))
			}
			if diff := cmp.Diff(d, p.Data[0]); diff != "" {
				t.Errorf("listed delivery (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("the webhook tracks failures", func(t *testing.T) {
		if got := f.mustGetWebhook(t, ws.APIKey, hook.ID); got.FailureCount != 2 || got.ConsecutiveFailures != 0 {
			t.Errorf("failure_count %d consecutive_failures %d, want 2 and 0", got.FailureCount, got.ConsecutiveFailures)
		}
	})
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	ev := f.mustPostEvent(t, ws.APIKey, testfactory.EventBody(t, "post.created", nil))
	orig := f.deliveryIDsOfEvent(t, ev.ID)[0]
	at := time.Now().UTC().Truncate(time.Microsecond)
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: orig, Attempt: 1, StatusCode: 410,
		Error: "HTTP 410", Duration: time.Millisecond, At: at, NewStatus: delivery.StatusFailed})
	origBefore := f.call(t, "GET", "/v1/deliveries/"+orig, ws.APIKey, "")
	origBefore.wantStatus(t, http.StatusOK)

	redeliver := func(t *testing.T, id string) client.Delivery {
		t.Helper()
		enqueued := len(f.enq.Enqueued())
		res := f.call(t, "POST", "/v1/deliveries/"+id+"/redeliver", ws.APIKey, "")
		res.wantStatus(t, http.StatusAccepted)
		var got client.Delivery
		res.decode(t, &got)
		if got.NextAttemptAt == nil {
			t.Fatalf("redelivery has no next_attempt_at")
		}
		want := client.Delivery{
			ID: got.ID, EventID: ev.ID, EventType: "post.created", WebhookID: hook.ID, RedeliveryOf: &id,
			Status: "pending", NextAttemptAt: got.NextAttemptAt, CreatedAt: got.CreatedAt,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("redelivery (-want +got):\n%s", diff)
		}
		if got.ID == id {
			t.Errorf("redelivery reuses the id %s", id)
		}
		if diff := cmp.Diff([]string{got.ID}, f.enq.Enqueued()[enqueued:]); diff != "" {
			t.Errorf("enqueued (-want +got):\n%s", diff)
		}
		return got
	}

	again := redeliver(t, orig)

	t.Run("the original stays as it ended", func(t *testing.T) {
		res := f.call(t, "GET", "/v1/deliveries/"+orig, ws.APIKey, "")
		if diff := cmp.Diff(string(origBefore.Body), string(res.Body)); diff != "" {
			t.Errorf("original delivery (-before +after):\n%s", diff)
		}
	})

	t.Run("the history shows the redelivery first", func(t *testing.T) {
		p := f.listPage(t, ws.APIKey, hook.ID, "")
		var ids []string
		for _, d := range p.Data {
			ids = append(ids, d.ID)
		}
		if diff := cmp.Diff([]string{again.ID, orig}, ids); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})

	t.Run("a redelivery can be redelivered", func(t *testing.T) {
		redeliver(t, again.ID)
	})

	t.Run("enqueue failure still answers 202", func(t *testing.T) {
		f.enq.Then(func(context.Context, string) error { return errors.New("redis down") })
		defer f.enq.Then(nil)
		got := redeliver(t, orig)
		var status string
		if err := f.db.Get(&status, `SELECT status FROM deliveries WHERE id = $1`, got.ID); err != nil {
			t.Fatal(err)
		}
		if status != "pending" {
			t.Errorf("status = %q, want pending", status)
		}
	})

	t.Run("inactive webhook", func(t *testing.T) {
		f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":false}`).wantStatus(t, http.StatusOK)
		before := f.footprint(t)
		res := f.call(t, "POST", "/v1/deliveries/"+orig+"/redeliver", ws.APIKey, "")
		res.wantError(t, apiError{Status: http.StatusConflict, Code: "webhook_inactive"})
		f.wantNoFootprint(t, before, "a refused redelivery")

		f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":true}`).wantStatus(t, http.StatusOK)
		redeliver(t, orig)
	})

	t.Run("the event is not duplicated", func(t *testing.T) {
		var events int
		if err := f.db.Get(&events, `SELECT count(*) FROM events`); err != nil {
			t.Fatal(err)
		}
		if events != 1 {
			t.Errorf("%d events stored, want 1", events)
		}
	})
}
