package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/delivery"
	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

func TestPortalLinksAndSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	now := pgTime(time.Now())
	link, expired := []byte("link-1"), []byte("link-old")
	for _, l := range []struct {
		hash    []byte
		expires time.Time
	}{{link, now.Add(5 * time.Minute)}, {expired, now.Add(-time.Second)}} {
		if err := f.store.CreatePortalLink(ctx, l.hash, ws.ID, l.expires); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.CreatePortalLink(ctx, []byte("link-x"), uuid.NewString(), now.Add(time.Minute)); err == nil {
		t.Error("a link for a workspace that does not exist was stored")
	}

	// An expired link is refused, and gone.
	if _, err := f.store.StartSessionFromLink(ctx, expired, []byte("s-0"), now, now.Add(time.Hour)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("expired link: %v, want ErrNotFound", err)
	}
	// A valid one starts one session, once.
	got, err := f.store.StartSessionFromLink(ctx, link, []byte("s-1"), now, now.Add(time.Hour))
	if err != nil || got != ws.ID {
		t.Fatalf("StartSessionFromLink = %q, %v; want %s", got, err, ws.ID)
	}
	if _, err := f.store.StartSessionFromLink(ctx, link, []byte("s-2"), now, now.Add(time.Hour)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second use: %v, want ErrNotFound", err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_links`); n != 0 {
		t.Errorf("%d links left, want none", n)
	}

	sess, err := f.store.SessionAt(ctx, []byte("s-1"), now.Add(59*time.Minute))
	if diff := cmp.Diff(repo.Session{WorkspaceID: ws.ID, WorkspaceName: "acme", ExpiresAt: now.Add(time.Hour)}, sess); err != nil || diff != "" {
		t.Errorf("SessionAt before expiry = %v (-want +got):\n%s", err, diff)
	}
	if _, err := f.store.SessionAt(ctx, []byte("s-1"), now.Add(time.Hour)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("SessionAt at expiry: %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteSession(ctx, []byte("s-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SessionAt(ctx, []byte("s-1"), now); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("SessionAt after sign-out: %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteSession(ctx, []byte("never")); err != nil {
		t.Errorf("DeleteSession of an unknown session: %v", err)
	}
}

func TestPortalLinkAtDoesNotUseTheLink(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	now := pgTime(time.Now())
	if err := f.store.CreatePortalLink(ctx, []byte("l"), ws.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if l, err := f.store.PortalLinkAt(ctx, []byte("l"), now); err != nil || l != (repo.PortalLink{WorkspaceID: ws.ID, WorkspaceName: "acme"}) {
			t.Errorf("PortalLinkAt = %+v, %v", l, err)
		}
	}
	if _, err := f.store.PortalLinkAt(ctx, []byte("l"), now.Add(time.Minute)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("PortalLinkAt at expiry: %v, want ErrNotFound", err)
	}
	if _, err := f.store.StartSessionFromLink(ctx, []byte("l"), []byte("s"), now, now.Add(time.Hour)); err != nil {
		t.Errorf("the link no longer works after PortalLinkAt: %v", err)
	}
}

// A flash is shown once, to its own session, before it expires.
func TestFlashes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	now := pgTime(time.Now())
	for _, s := range []string{"mine", "theirs"} {
		if err := f.store.CreateSession(ctx, []byte(s), ws.ID, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	flash := repo.Flash{Kind: "created", WebhookID: hook.ID}
	for _, token := range []string{"f1", "f2"} {
		if err := f.store.CreateFlash(ctx, []byte(token), []byte("mine"), flash, now, now.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.TakeFlash(ctx, []byte("f1"), []byte("theirs"), now); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("another session took the flash: %v", err)
	}
	if got, err := f.store.TakeFlash(ctx, []byte("f1"), []byte("mine"), now); err != nil || got != flash {
		t.Errorf("TakeFlash = %+v, %v; want %+v", got, err, flash)
	}
	if _, err := f.store.TakeFlash(ctx, []byte("f1"), []byte("mine"), now); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("a flash was shown twice: %v", err)
	}
	if _, err := f.store.TakeFlash(ctx, []byte("f2"), []byte("mine"), now.Add(5*time.Minute)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("an expired flash was shown: %v", err)
	}
	// Expired ones are cleared by the next flash; a session's end takes its own.
	if err := f.store.CreateFlash(ctx, []byte("f3"), []byte("mine"), flash, now.Add(time.Hour), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteSession(ctx, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_flashes`); n != 0 {
		t.Errorf("%d flashes left, want none", n)
	}
}

func TestExpiredSessionsAndLinksAreCleared(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	now := pgTime(time.Now())
	for _, table := range []string{"dashboard_sessions", "dashboard_links"} {
		if _, err := f.db.Exec(`INSERT INTO `+table+` (token_hash, workspace_id, expires_at)
			SELECT ('old-' || i)::bytea, $1, $2 FROM generate_series(1, 150) i`, ws.ID, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Each sign-in clears a bounded batch of what has expired.
	if err := f.store.CreateSession(ctx, []byte("new"), ws.ID, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_sessions`); n != 51 {
		t.Errorf("sessions after one sign-in = %d, want 50 expired left and the new one", n)
	}
	if err := f.store.CreatePortalLink(ctx, []byte("fresh"), ws.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.StartSessionFromLink(ctx, []byte("fresh"), []byte("new-2"), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM dashboard_links`); n != 50 {
		t.Errorf("links after one portal sign-in = %d, want 50 expired left", n)
	}
}

func TestLastAttempts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	tried := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	quiet := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"b"}, Active: true})
	older := f.mustDelivery(t, newEvent(ws.ID, "a"))
	at := pgTime(time.Now())
	f.mustRecord(t, repo.AttemptResult{DeliveryID: older, Attempt: 1, Error: "timed out", At: at, NewStatus: delivery.StatusFailed}, true)
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
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	other := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"b"}, Active: true})
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
	_ = other
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

func TestEventBody(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	ev := newEvent(ws.ID, "a")
	f.mustEvent(t, ev)
	got, err := f.store.EventBody(ctx, ws.ID, ev.ID)
	if err != nil || string(got) != string(ev.Body) {
		t.Errorf("EventBody = %q, %v; want %q", got, err, ev.Body)
	}
	if _, err := f.store.EventBody(ctx, f.mustWorkspace(t, "other").ID, ev.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("another workspace's event: %v, want ErrNotFound", err)
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
