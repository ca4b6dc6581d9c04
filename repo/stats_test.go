package repo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

func TestSuccessRates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	now := time.Now()

	// hookWith makes a webhook in its own workspace with one delivery per
	// attempt result; each attempt is made at its time offset from now.
	type attempt struct {
		status int // 0 for no response
		ago    time.Duration
	}
	hookWith := func(name string, attempts ...attempt) string {
		ws := f.mustWorkspace(t, name)
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		for _, a := range attempts {
			ev := newEvent(ws.ID, "post.created")
			ev.CreatedAt = pgTime(now.Add(-a.ago - time.Minute))
			id := f.mustDelivery(t, ev)
			r := repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: a.status, At: pgTime(now.Add(-a.ago))}
			if a.status >= 200 && a.status <= 299 {
				r.Succeeded, r.NewStatus = true, delivery.StatusSucceeded
			} else {
				r.Error, r.NewStatus = "failed", delivery.StatusFailed
			}
			f.record(t, r)
		}
		return hook.ID
	}
	mixed := hookWith("mixed",
		attempt{200, time.Hour}, attempt{299, 2 * time.Hour}, attempt{500, 3 * time.Hour}, attempt{0, 4 * time.Hour},
		attempt{302, 5 * time.Hour}, attempt{410, 6 * time.Hour}, attempt{204, 7 * time.Hour}, attempt{199, 8 * time.Hour},
		attempt{500, 25 * time.Hour}, attempt{500, 30 * time.Hour}) // older than a day: not counted
	allGood := hookWith("all good", attempt{204, time.Minute})
	allBad := hookWith("all bad", attempt{503, time.Minute}, attempt{0, 2 * time.Minute})
	stale := hookWith("stale", attempt{200, 25 * time.Hour})
	quiet := hookWith("quiet")

	got, err := f.store.SuccessRates(ctx, []string{mixed, allGood, allBad, stale, quiet, uuid.NewString()})
	if err != nil {
		t.Fatalf("SuccessRates: %v", err)
	}
	want := map[string]float64{mixed: 0.375, allGood: 1, allBad: 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SuccessRates (-want +got):\n%s", diff)
	}

	got, err = f.store.SuccessRates(ctx, []string{allGood})
	if diff := cmp.Diff(map[string]float64{allGood: 1}, got); err != nil || diff != "" {
		t.Errorf("SuccessRates of one webhook = %v; (-want +got):\n%s", err, diff)
	}
	got, err = f.store.SuccessRates(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("SuccessRates(nil) = %v, %v; want an empty map", got, err)
	}
}

func TestLastAttempts(t *testing.T) {
	t.Parallel()
	f, ws, tried, quiet := setupTwoHooks(t)
	ctx := context.Background()
	older := f.mustDelivery(t, newEvent(ws.ID, "a"))
	at := pgTime(time.Now())
	f.record(t, repo.AttemptResult{DeliveryID: older, Attempt: 1, Error: "timed out", At: at, NewStatus: delivery.StatusFailed})
	f.mustDelivery(t, newEvent(ws.ID, "a")) // newer, not attempted yet
	f.mustDelivery(t, newEvent(ws.ID, "b"))

	got, err := f.store.LastAttempts(ctx, []string{tried.ID, quiet.ID, uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]repo.LastAttempt{tried.ID: {DeliveryID: older, Status: delivery.StatusFailed, At: at}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LastAttempts (-want +got):\n%s", diff)
	}
}

func TestHourlyCounts(t *testing.T) {
	t.Parallel()
	f, ws, hook, _ := setupTwoHooks(t) // the other webhook's deliveries do not count
	ctx := context.Background()
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	at := map[string]time.Time{}
	for i, c := range []struct {
		typ     string
		created time.Time
		status  string
	}{
		{"a", base.Add(5 * time.Minute), "succeeded"},
		{"a", base.Add(59 * time.Minute), "failed"},
		{"a", base.Add(61 * time.Minute), "succeeded"},
		{"a", base.Add(65 * time.Minute), "succeeded"},
		{"a", base.Add(-time.Hour), "succeeded"}, // before since
		{"b", base.Add(5 * time.Minute), "failed"},
	} {
		id := f.mustDelivery(t, newEvent(ws.ID, c.typ))
		at[id] = c.created
		if _, err := f.db.Exec(`UPDATE deliveries SET created_at = $2, status = $3 WHERE id = $1`, id, c.created, c.status); err != nil {
			t.Fatal(i, err)
		}
	}
	got, err := f.store.HourlyCounts(ctx, ws.ID, hook.ID, base)
	if err != nil {
		t.Fatal(err)
	}
	want := []repo.HourCount{
		{Hour: base, Status: "failed", Count: 1},
		{Hour: base, Status: "succeeded", Count: 1},
		{Hour: base.Add(time.Hour), Status: "succeeded", Count: 2},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("HourlyCounts (-want +got):\n%s", diff)
	}
	if got, err := f.store.HourlyCounts(ctx, uuid.NewString(), hook.ID, base); err != nil || len(got) != 0 {
		t.Errorf("another workspace's counts = %v, %v; want none", got, err)
	}
}

// TestDashboardReadsUseTheHistoryIndex looks at the plans of the queries a
// webhook's pages run, on a history of 10,000 deliveries among 50,000: the
// history page walks its webhook's range of deliveries_webhook_history,
// neither sorting nor counting. The aggregates (hourly counts, last
// attempts, success rate) must have a plan that reads only that webhook's
// range too; at this size the planner may still prefer scanning the small
// tables, as it rightly would, so for them sequential scans are disabled
// and the test asserts the index-driven plan exists.
func TestDashboardReadsUseTheHistoryIndex(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	// 40 other webhooks with 1,000 deliveries each, and this one with
	// 10,000 over a week.
	for i := range 40 {
		other := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true, URL: fmt.Sprintf("https://other.example/%d", i)})
		testfactory.SeedHistory(t, f.db, ws.ID, other.ID, 1000, 10*time.Minute)
	}
	testfactory.SeedHistory(t, f.db, ws.ID, hook.ID, 10000, time.Minute)
	dbtest.Analyze(t, f.db)
	cursor := &repo.Cursor{CreatedAt: time.Now().Add(-24 * time.Hour), ID: uuid.NewString()}
	type query struct {
		name      string
		sql       string
		args      []any
		aggregate bool
	}
	var queries []query
	for _, q := range []struct {
		name   string
		filter repo.DeliveryFilter
		after  *repo.Cursor
	}{
		{"newest page", repo.DeliveryFilter{}, nil},
		{"older page", repo.DeliveryFilter{}, cursor},
		{"failed only", repo.DeliveryFilter{Status: "failed"}, nil},
		{"one event type", repo.DeliveryFilter{EventType: "a"}, cursor},
		{"newer page", repo.DeliveryFilter{}, &repo.Cursor{CreatedAt: cursor.CreatedAt, ID: cursor.ID, Newer: true}},
	} {
		sql, args := repo.DeliveriesQuery(ws.ID, hook.ID, q.filter, q.after, 26)
		queries = append(queries, query{q.name, sql, args, false})
	}
	queries = append(queries,
		query{"hourly counts", repo.HourlyCountsSQL, []any{hook.ID, ws.ID, time.Now().Add(-7 * 24 * time.Hour)}, true},
		query{"last attempts", repo.LastAttemptsSQL, []any{pq.StringArray{hook.ID}}, true},
		query{"success rates", repo.SuccessRatesSQL, []any{pq.StringArray{hook.ID}}, true},
	)
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			tx, err := f.db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if q.aggregate {
				if _, err := tx.Exec(`SET LOCAL enable_seqscan = off`); err != nil {
					t.Fatal(err)
				}
			}
			var raw []byte
			if err := tx.Get(&raw, `EXPLAIN (FORMAT JSON) `+q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
			var plan []struct{ Plan planNode }
			if err := json.Unmarshal(raw, &plan); err != nil {
				t.Fatal(err)
			}
			nodes := plan[0].Plan.all()
			var usesIndex bool
			for _, n := range nodes {
				if strings.Contains(n.Type, "Seq Scan") {
					t.Errorf("scans the whole %s table:\n%s", n.Relation, raw)
				}
				// The partial index of ended deliveries serves "failed" as well.
				usesIndex = usesIndex || n.Index == "deliveries_webhook_history" || n.Index == "deliveries_webhook_ended"
				if strings.HasPrefix(q.name, "newest") || strings.HasPrefix(q.name, "older") || strings.HasPrefix(q.name, "newer") {
					if n.Type == "Sort" || n.Type == "Aggregate" {
						t.Errorf("the history page has a %s node:\n%s", n.Type, raw)
					}
				}
			}
			if !usesIndex {
				t.Errorf("does not use deliveries_webhook_history:\n%s", raw)
			}
		})
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	Type     string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) all() []planNode {
	out := []planNode{n}
	for _, c := range n.Plans {
		out = append(out, c.all()...)
	}
	return out
}
