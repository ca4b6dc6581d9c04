package repo_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/repo"
)

// health is a webhook's health columns (migration 0003 and the counters),
// read straight from the row.
type health struct {
	Active              bool           `db:"active"`
	FailureCount        int64          `db:"failure_count"`
	ConsecutiveFailures int            `db:"consecutive_failures"`
	LastSuccessAt       sql.NullTime   `db:"last_success_at"`
	LastFailureAt       sql.NullTime   `db:"last_failure_at"`
	FailingSince        sql.NullTime   `db:"failing_since"`
	DisabledReason      sql.NullString `db:"disabled_reason"`
	DisabledAt          sql.NullTime   `db:"disabled_at"`
}

func (f *fixture) health(tb testing.TB, webhookID string) health {
	tb.Helper()
	var h health
	err := f.db.Get(&h, `SELECT active, failure_count, consecutive_failures, last_success_at,
		last_failure_at, failing_since, disabled_reason, disabled_at FROM webhooks WHERE id = $1`, webhookID)
	if err != nil {
		tb.Fatalf("read webhook health %s: %v", webhookID, err)
	}
	return h
}

// secrets is a webhook's current and previous secret as stored.
type secrets struct {
	Secret         string         `db:"secret"`
	Previous       sql.NullString `db:"previous_secret"`
	PreviousExpiry sql.NullTime   `db:"previous_secret_expires_at"`
}

func (f *fixture) secrets(tb testing.TB, webhookID string) secrets {
	tb.Helper()
	var s secrets
	if err := f.db.Get(&s, `SELECT secret, previous_secret, previous_secret_expires_at FROM webhooks WHERE id = $1`, webhookID); err != nil {
		tb.Fatalf("read webhook secrets %s: %v", webhookID, err)
	}
	return s
}

func mustRecorded(tb testing.TB, store *repo.Store, r repo.AttemptResult) repo.Recorded {
	tb.Helper()
	rec, err := store.RecordAttempt(context.Background(), r)
	if err != nil {
		tb.Fatalf("RecordAttempt(delivery %s, attempt %d): %v", r.DeliveryID, r.Attempt, err)
	}
	if !rec.Stored {
		tb.Fatalf("RecordAttempt(delivery %s, attempt %d) stored nothing", r.DeliveryID, r.Attempt)
	}
	return rec
}

// failure is a failed attempt with another attempt to come.
func failure(deliveryID string, attempt int, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{
		DeliveryID: deliveryID, Attempt: attempt, StatusCode: 500, Error: "receiver answered 500",
		At: at, NewStatus: repo.StatusPending, NextAttemptAt: at.Add(time.Minute),
	}
}

// success is a successful attempt.
func success(deliveryID string, attempt int, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{
		DeliveryID: deliveryID, Attempt: attempt, StatusCode: 200, At: at, Succeeded: true, NewStatus: repo.StatusSucceeded,
	}
}

func validTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: true} }

func TestMigration0003Schema(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type column struct {
		Name     string `db:"column_name"`
		Type     string `db:"data_type"`
		Nullable string `db:"is_nullable"`
	}
	var got []column
	err := f.db.Select(&got, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'webhooks' AND column_name::text = ANY($1::text[]) ORDER BY column_name`,
		"{last_success_at,last_failure_at,failing_since,disabled_at,previous_secret,previous_secret_expires_at}")
	if err != nil {
		t.Fatal(err)
	}
	want := []column{
		{"disabled_at", "timestamp with time zone", "YES"},
		{"failing_since", "timestamp with time zone", "YES"},
		{"last_failure_at", "timestamp with time zone", "YES"},
		{"last_success_at", "timestamp with time zone", "YES"},
		{"previous_secret", "text", "YES"},
		{"previous_secret_expires_at", "timestamp with time zone", "YES"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("webhooks columns added by 0003 (-want +got):\n%s", diff)
	}

	var def string
	if err := f.db.Get(&def, `SELECT indexdef FROM pg_indexes WHERE indexname = 'deliveries_webhook_ended'`); err != nil {
		t.Fatalf("index deliveries_webhook_ended: %v", err)
	}
	for _, part := range []string{"ON public.deliveries", "(webhook_id, created_at)", "WHERE", "'failed'", "'cancelled'"} {
		if !strings.Contains(def, part) {
			t.Errorf("index definition %q lacks %q", def, part)
		}
	}
}

// TestMigration0003UpgradesPopulatedDatabase applies 0003 to a database at
// version 2 that already holds webhooks and deliveries.
func TestMigration0003UpgradesPopulatedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := newEmptyDatabase(t)
	raw, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	names := []string{"0001_init.sql", "0002_response_headers.sql"}
	for i, sqlText := range repo.MigrationSQL()[:2] {
		if _, err := raw.Exec(sqlText); err != nil {
			t.Fatalf("apply %s: %v", names[i], err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, i+1, names[i]); err != nil {
			t.Fatal(err)
		}
	}
	var ws, hook, ev, del string
	if err := raw.Get(&ws, `INSERT INTO workspaces (name) VALUES ('old') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := raw.Get(&hook, `INSERT INTO webhooks (workspace_id, url, events, secret, consecutive_failures, failure_count)
		VALUES ($1, 'https://receiver.example/hook', '{post.created}', 'whsec_old', 2, 5) RETURNING id`, ws); err != nil {
		t.Fatal(err)
	}
	ev = uuid.NewString()
	if _, err := raw.Exec(`INSERT INTO events (id, workspace_id, type, body, created_at) VALUES ($1, $2, 'post.created', '{}', now())`, ev, ws); err != nil {
		t.Fatal(err)
	}
	if err := raw.Get(&del, `INSERT INTO deliveries (workspace_id, event_id, webhook_id, status, attempts, finished_at)
		VALUES ($1, $2, $3, 'failed', 1, now()) RETURNING id`, ws, ev, hook); err != nil {
		t.Fatal(err)
	}

	st := mustOpen(t, dbURL)
	if err := st.CheckSchema(ctx); !errors.Is(err, repo.ErrSchemaBehind) {
		t.Fatalf("CheckSchema at version 2 = %v, want ErrSchemaBehind", err)
	}
	if err := st.Migrate(ctx, discardLog); err != nil {
		t.Fatalf("Migrate from version 2: %v", err)
	}
	if v, err := st.SchemaVersion(ctx); err != nil || v != repo.LatestVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, repo.LatestVersion())
	}

	w, err := st.Webhook(ctx, ws, hook)
	if err != nil {
		t.Fatalf("Webhook after upgrade: %v", err)
	}
	got := health{w.Active, w.FailureCount, w.ConsecutiveFailures, w.LastSuccessAt, w.LastFailureAt, w.FailingSince, w.DisabledReason, w.DisabledAt}
	if diff := cmp.Diff(health{Active: true, FailureCount: 5, ConsecutiveFailures: 2}, got); diff != "" {
		t.Errorf("existing webhook after upgrade (-want +got):\n%s", diff)
	}
	work, err := st.Work(ctx, del)
	if err != nil || work.Secret != "whsec_old" || work.PreviousSecret != "" {
		t.Errorf("Work after upgrade = secret %q previous %v, %v; want the old secret and no previous one", work.Secret, work.PreviousSecret, err)
	}
	n, err := st.CountRecoverable(ctx, ws, hook, repo.RecoverWindow{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Minute), Limit: 10})
	if err != nil || n != 1 {
		t.Errorf("CountRecoverable after upgrade = %d, %v; want the existing failed delivery", n, err)
	}
	// 0004 copies each delivery's event type onto it.
	if d, err := st.Delivery(ctx, ws, del); err != nil || d.EventType != "post.created" {
		t.Errorf("Delivery after upgrade = type %q, %v; want post.created", d.EventType, err)
	}
}

func TestRecordAttemptHealthTimestamps(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	t0 := pgTime(time.Now().Add(-time.Hour))
	d1 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	d2 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))

	steps := []struct {
		name   string
		result repo.AttemptResult
		want   health
	}{
		{"first failure starts the streak", failure(d1, 1, t0), health{
			Active: true, FailureCount: 1, ConsecutiveFailures: 1,
			LastFailureAt: validTime(t0), FailingSince: validTime(t0),
		}},
		{"second failure keeps the streak's start", failure(d1, 2, t0.Add(time.Minute)), health{
			Active: true, FailureCount: 2, ConsecutiveFailures: 2,
			LastFailureAt: validTime(t0.Add(time.Minute)), FailingSince: validTime(t0),
		}},
		{"success ends the streak", success(d1, 3, t0.Add(2*time.Minute)), health{
			Active: true, FailureCount: 2, ConsecutiveFailures: 0,
			LastSuccessAt: validTime(t0.Add(2 * time.Minute)), LastFailureAt: validTime(t0.Add(time.Minute)),
		}},
		{"a new failure starts a new streak", failure(d2, 1, t0.Add(3*time.Minute)), health{
			Active: true, FailureCount: 3, ConsecutiveFailures: 1,
			LastSuccessAt: validTime(t0.Add(2 * time.Minute)), LastFailureAt: validTime(t0.Add(3 * time.Minute)),
			FailingSince: validTime(t0.Add(3 * time.Minute)),
		}},
	}
	for _, s := range steps {
		rec := mustRecorded(t, f.store, s.result)
		if rec.Disabled {
			t.Errorf("%s: Recorded.Disabled = true without a disable policy", s.name)
		}
		if diff := cmp.Diff(s.want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("%s: webhook health (-want +got):\n%s", s.name, diff)
		}
	}

	// Store.Webhook shows the same columns.
	w, err := f.store.Webhook(context.Background(), ws.ID, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := health{w.Active, w.FailureCount, w.ConsecutiveFailures, w.LastSuccessAt, w.LastFailureAt, w.FailingSince, w.DisabledReason, w.DisabledAt}
	if diff := cmp.Diff(steps[len(steps)-1].want, got); diff != "" {
		t.Errorf("Store.Webhook health (-want +got):\n%s", diff)
	}
}

func TestRecordAttemptAutoDisable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := pgTime(time.Now())
	policy := repo.AutoDisable{After: time.Hour, MinFailures: 3}

	tests := []struct {
		name     string
		policy   repo.AutoDisable
		failures []time.Duration // attempt times relative to now, in order
		// disabledBy is the 1-based failure that disables the webhook, 0 for none.
		disabledBy int
	}{
		{"old streak reaching the count", policy, []time.Duration{-2 * time.Hour, -90 * time.Minute, 0}, 3},
		{"streak exactly After old", policy, []time.Duration{-time.Hour, -30 * time.Minute, 0}, 3},
		{"count reached but streak too young", policy, []time.Duration{-59 * time.Minute, -30 * time.Minute, 0}, 0},
		{"old streak below the count", policy, []time.Duration{-3 * time.Hour, 0}, 0},
		{"disables once", policy, []time.Duration{-3 * time.Hour, -2 * time.Hour, -2 * time.Hour, -time.Minute}, 3},
		{"no policy", repo.AutoDisable{}, []time.Duration{-72 * time.Hour, -48 * time.Hour, -24 * time.Hour, 0}, 0},
		{"After zero disables on the count alone", repo.AutoDisable{MinFailures: 2}, []time.Duration{-time.Second, 0}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := f.mustWorkspace(t, tt.name)
			hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
			id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
			want := health{Active: true}
			for i, rel := range tt.failures {
				at := now.Add(rel)
				r := failure(id, i+1, at)
				r.AutoDisable = tt.policy
				rec := mustRecorded(t, f.store, r)
				if rec.Disabled != (i+1 == tt.disabledBy) {
					t.Errorf("failure %d: Recorded.Disabled = %v, want %v", i+1, rec.Disabled, i+1 == tt.disabledBy)
				}
				want.FailureCount++
				want.ConsecutiveFailures++
				want.LastFailureAt = validTime(at)
				if i == 0 {
					want.FailingSince = validTime(at)
				}
				if i+1 == tt.disabledBy {
					want.Active = false
					want.DisabledReason = sql.NullString{String: "failing", Valid: true}
					want.DisabledAt = validTime(at)
				}
			}
			if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
				t.Errorf("webhook health (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordAttemptDisableReason(t *testing.T) {
	t.Parallel()
	f := setup(t)
	at := pgTime(time.Now())

	t.Run("gone disables at once, before any auto-disable policy", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "gone")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		d1 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		d2 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		rec := mustRecorded(t, f.store, repo.AttemptResult{
			DeliveryID: d1, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone", At: at,
			NewStatus: repo.StatusFailed, DisableReason: "gone", AutoDisable: repo.AutoDisable{After: time.Hour, MinFailures: 100},
		})
		if !rec.Disabled {
			t.Error("Recorded.Disabled = false for a gone failure, want true")
		}
		want := health{
			FailureCount: 1, ConsecutiveFailures: 1, LastFailureAt: validTime(at), FailingSince: validTime(at),
			DisabledReason: sql.NullString{String: "gone", Valid: true}, DisabledAt: validTime(at),
		}
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("webhook health (-want +got):\n%s", diff)
		}

		// A delivery already in flight fails later: the webhook stays
		// disabled as it was, and this attempt did not disable it.
		later := at.Add(time.Second)
		r := repo.AttemptResult{
			DeliveryID: d2, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone", At: later,
			NewStatus: repo.StatusFailed, DisableReason: "gone",
		}
		if rec := mustRecorded(t, f.store, r); rec.Disabled {
			t.Error("Recorded.Disabled = true for a webhook that was already disabled")
		}
		want.FailureCount, want.ConsecutiveFailures, want.LastFailureAt = 2, 2, validTime(later)
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("webhook health after a second gone (-want +got):\n%s", diff)
		}
	})

	t.Run("a webhook the customer switched off keeps no reason", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "switched off")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		off := false
		if _, err := f.store.UpdateWebhook(context.Background(), ws.ID, hook.ID, repo.WebhookPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		rec := mustRecorded(t, f.store, repo.AttemptResult{
			DeliveryID: id, Attempt: 1, StatusCode: 410, Error: "gone", At: at, NewStatus: repo.StatusFailed, DisableReason: "gone",
		})
		if rec.Disabled {
			t.Error("Recorded.Disabled = true for an inactive webhook")
		}
		if h := f.health(t, hook.ID); h.Active || h.DisabledReason.Valid || h.DisabledAt.Valid {
			t.Errorf("health = %+v, want inactive without a disabled reason or time", h)
		}
	})

	t.Run("a success never disables", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "success")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		r := success(id, 1, at)
		r.AutoDisable = repo.AutoDisable{MinFailures: 1}
		if rec := mustRecorded(t, f.store, r); rec.Disabled {
			t.Error("Recorded.Disabled = true for a success")
		}
		if h := f.health(t, hook.ID); !h.Active || h.DisabledReason.Valid {
			t.Errorf("health = %+v, want active", h)
		}
	})
}

// TestRecordAttemptConcurrentFailures has two workers record failures for
// two deliveries of the same webhook at the same moment, as happens when a
// webhook with several attempts in flight loses its endpoint. The webhook
// row is held so both statements start before either updates it. Exactly
// one of them disables the webhook and says so (the worker counts
// Recorded.Disabled in the disabled-webhooks metric and logs it), and the
// streak both of them make counts towards MinFailures.
func TestRecordAttemptConcurrentFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		result func(id string, at time.Time) repo.AttemptResult
		reason string
	}{
		{"two 410s", func(id string, at time.Time) repo.AttemptResult {
			return repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone",
				At: at, NewStatus: repo.StatusFailed, DisableReason: "gone"}
		}, "gone"},
		{"two failures reaching MinFailures", func(id string, at time.Time) repo.AttemptResult {
			r := failure(id, 1, at)
			r.AutoDisable = repo.AutoDisable{MinFailures: 2}
			return r
		}, "failing"},
	}
	// Sequential: each case holds one of the fixture's two assertion
	// connections in a transaction and polls on the other.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ws := f.mustWorkspace(t, tt.name)
			hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
			ids := []string{f.mustDelivery(t, newEvent(ws.ID, "post.created")), f.mustDelivery(t, newEvent(ws.ID, "post.created"))}

			tx, err := f.db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // a no-op after commit
			if _, err := tx.Exec(`SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE`, hook.ID); err != nil {
				t.Fatal(err)
			}
			at := pgTime(time.Now())
			recs := make([]repo.Recorded, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() {
					recs[i], errs[i] = f.store.RecordAttempt(ctx, tt.result(id, at))
				})
			}
			waitLockWaiters(t, f.db, hook.ID, len(ids))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()

			disabled := 0
			for i := range ids {
				if errs[i] != nil || !recs[i].Stored {
					t.Fatalf("RecordAttempt %d = %+v, %v", i, recs[i], errs[i])
				}
				if recs[i].Disabled {
					disabled++
				}
			}
			if disabled != 1 {
				t.Errorf("%d of 2 concurrent failures report disabling the webhook, want exactly 1", disabled)
			}
			h := f.health(t, hook.ID)
			if h.Active || h.DisabledReason.String != tt.reason || h.ConsecutiveFailures != 2 || h.FailureCount != 2 {
				t.Errorf("health = %+v, want disabled as %q after 2 failures", h, tt.reason)
			}
		})
	}
}

// waitLockWaiters waits until n sessions of the database wait for a lock.
// It must not run inside the transaction holding the lock: a transaction
// sees one snapshot of pg_stat_activity.
func waitLockWaiters(tb testing.TB, db *sqlx.DB, what string, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			tb.Fatal(err)
		}
		if waiting == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d sessions waiting for the lock on %s", waiting, n, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUpdateWebhookReactivation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	t0 := pgTime(time.Now().Add(-time.Hour))
	yes, no := true, false

	// failingHook is a webhook whose streak began at t0 and that a 410
	// disabled at t0+1m.
	failingHook := func(t *testing.T, name string) (repo.Workspace, repo.Webhook) {
		t.Helper()
		ws := f.mustWorkspace(t, name)
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		d1 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		d2 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		mustRecorded(t, f.store, failure(d1, 1, t0))
		r := failure(d2, 1, t0.Add(time.Minute))
		r.NewStatus, r.StatusCode, r.DisableReason = repo.StatusFailed, 410, "gone"
		if rec := mustRecorded(t, f.store, r); !rec.Disabled {
			t.Fatal("the 410 did not disable the webhook")
		}
		return ws, hook
	}

	t.Run("re-activation resets the streak and returns its start", func(t *testing.T) {
		t.Parallel()
		ws, hook := failingHook(t, "reactivate")
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &yes})
		if err != nil {
			t.Fatalf("UpdateWebhook: %v", err)
		}
		got := health{w.Active, w.FailureCount, w.ConsecutiveFailures, w.LastSuccessAt, w.LastFailureAt, w.FailingSince, w.DisabledReason, w.DisabledAt}
		want := health{Active: true, FailureCount: 2, LastFailureAt: validTime(t0.Add(time.Minute)), FailingSince: validTime(t0)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("returned webhook (-want +got):\n%s", diff)
		}
		want.FailingSince = sql.NullTime{}
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored webhook (-want +got):\n%s", diff)
		}
		// The streak really is over: the next failure starts a new one.
		d := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		next := pgTime(time.Now())
		mustRecorded(t, f.store, failure(d, 1, next))
		if h := f.health(t, hook.ID); h.ConsecutiveFailures != 1 || !h.FailingSince.Time.Equal(next) {
			t.Errorf("after a new failure: consecutive %d since %v; want 1 since %v", h.ConsecutiveFailures, h.FailingSince.Time, next)
		}
	})

	t.Run("other patches of a disabled webhook keep its state", func(t *testing.T) {
		t.Parallel()
		ws, hook := failingHook(t, "describe")
		before := f.health(t, hook.ID)
		desc := "still broken"
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Description: &desc})
		if err != nil {
			t.Fatal(err)
		}
		if w.Active || !w.FailingSince.Time.Equal(t0) || w.Description != desc {
			t.Errorf("returned webhook active %v failing since %v description %q", w.Active, w.FailingSince, w.Description)
		}
		if diff := cmp.Diff(before, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored health changed by a description patch (-before +after):\n%s", diff)
		}
		// Switching it off again keeps the reason it was disabled for.
		if _, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &no}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored health changed by active=false (-before +after):\n%s", diff)
		}
	})

	t.Run("active=true on an active failing webhook keeps the streak", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "still active")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		d := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		mustRecorded(t, f.store, failure(d, 1, t0))
		mustRecorded(t, f.store, failure(d, 2, t0.Add(time.Minute)))
		before := f.health(t, hook.ID)
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		if w.ConsecutiveFailures != 2 || !w.FailingSince.Time.Equal(t0) {
			t.Errorf("returned consecutive %d failing since %v, want 2 since %v", w.ConsecutiveFailures, w.FailingSince, t0)
		}
		if diff := cmp.Diff(before, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored health (-before +after):\n%s", diff)
		}
	})

	t.Run("re-activating a webhook without a streak returns no start", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "switched")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: false})
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Active || w.FailingSince.Valid {
			t.Errorf("returned active %v failing since %v, want active and no streak", w.Active, w.FailingSince)
		}
	})
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true, Secret: "whsec_first"})
	id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))

	graceEnds := pgTime(time.Now().Add(time.Hour))
	w, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_second", graceEnds)
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if w.ID != hook.ID || w.Secret != "whsec_second" || !w.UpdatedAt.After(hook.UpdatedAt) {
		t.Errorf("RotateSecret returned id %s secret %q updated %v; want the webhook with the new secret, updated", w.ID, w.Secret, w.UpdatedAt)
	}
	want := secrets{"whsec_second", sql.NullString{String: "whsec_first", Valid: true}, validTime(graceEnds)}
	if diff := cmp.Diff(want, f.secrets(t, hook.ID)); diff != "" {
		t.Errorf("stored secrets (-want +got):\n%s", diff)
	}
	work, err := f.store.Work(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if work.Secret != "whsec_second" || work.PreviousSecret != "whsec_first" {
		t.Errorf("Work during the grace period = secret %q previous %v; want the new secret and the old one", work.Secret, work.PreviousSecret)
	}

	// A second rotation whose grace period is already over: the previous
	// secret is the second one, and the worker no longer signs with it.
	ended := pgTime(time.Now().Add(-time.Second))
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_third", ended); err != nil {
		t.Fatal(err)
	}
	want = secrets{"whsec_third", sql.NullString{String: "whsec_second", Valid: true}, validTime(ended)}
	if diff := cmp.Diff(want, f.secrets(t, hook.ID)); diff != "" {
		t.Errorf("stored secrets after the second rotation (-want +got):\n%s", diff)
	}
	if work, err := f.store.Work(ctx, id); err != nil || work.Secret != "whsec_third" || work.PreviousSecret != "" {
		t.Errorf("Work after the grace period = secret %q previous %v, %v; want only the new secret", work.Secret, work.PreviousSecret, err)
	}

	before := f.secrets(t, hook.ID)
	if _, err := f.store.RotateSecret(ctx, other.ID, hook.ID, "whsec_attacker", graceEnds); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("RotateSecret from another workspace = %v, want ErrNotFound", err)
	}
	if _, err := f.store.RotateSecret(ctx, ws.ID, uuid.NewString(), "whsec_x", graceEnds); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("RotateSecret of an unknown webhook = %v, want ErrNotFound", err)
	}
	if diff := cmp.Diff(before, f.secrets(t, hook.ID)); diff != "" {
		t.Errorf("refused rotations changed the secrets (-before +after):\n%s", diff)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_x", graceEnds); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("RotateSecret of a deleted webhook = %v, want ErrNotFound", err)
	}
}

// TestDeleteWebhookForgetsPreviousSecret: deleting a webhook forgets its
// secret, and since migration 0003 a webhook may hold two.
func TestDeleteWebhookForgetsPreviousSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true, Secret: "whsec_first"})
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_second", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if s := f.secrets(t, hook.ID); s.Secret != "" || s.Previous.Valid {
		t.Errorf("deleted webhook still stores secret %q and previous secret %v", s.Secret, s.Previous)
	}
}

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
				r.Succeeded, r.NewStatus = true, repo.StatusSucceeded
			} else {
				r.Error, r.NewStatus = "failed", repo.StatusFailed
			}
			mustRecorded(t, f.store, r)
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

func TestRecoverWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	sibling := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"comment.created"}, Active: true})
	since := pgTime(time.Now().Add(-time.Hour))
	until := since.Add(10 * time.Second)

	// delivery creates a delivery of the given type at since+offset and
	// brings it to the given status.
	delivery := func(typ string, offset time.Duration, status string) string {
		t.Helper()
		ev := newEvent(ws.ID, typ)
		ev.CreatedAt = since.Add(offset)
		id := f.mustDelivery(t, ev)
		at := pgTime(time.Now())
		switch status {
		case repo.StatusFailed:
			mustRecorded(t, f.store, repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: at, NewStatus: repo.StatusFailed})
		case repo.StatusSucceeded:
			mustRecorded(t, f.store, success(id, 1, at))
		case repo.StatusCancelled:
			if err := f.store.CancelDelivery(ctx, id); err != nil {
				t.Fatal(err)
			}
		case "retrying":
			mustRecorded(t, f.store, failure(id, 1, at))
		}
		return id
	}
	delivery("post.created", -time.Microsecond, repo.StatusFailed) // before the window
	atSince := delivery("post.created", 0, repo.StatusFailed)
	cancelled := delivery("post.created", time.Second, repo.StatusCancelled)
	delivery("post.created", 2*time.Second, repo.StatusSucceeded)
	delivery("post.created", 3*time.Second, repo.StatusPending)
	delivery("post.created", 4*time.Second, "retrying")
	lastFailed := delivery("post.created", 5*time.Second, repo.StatusFailed)
	delivery("comment.created", 6*time.Second, repo.StatusFailed) // the sibling webhook's
	delivery("post.created", 10*time.Second, repo.StatusFailed)   // at until: after the window

	win := repo.RecoverWindow{Since: since, Until: until, Limit: 100}
	count := func(t *testing.T, workspaceID, webhookID string, win repo.RecoverWindow) int {
		t.Helper()
		n, err := f.store.CountRecoverable(ctx, workspaceID, webhookID, win)
		if err != nil {
			t.Fatalf("CountRecoverable: %v", err)
		}
		return n
	}
	if n := count(t, ws.ID, hook.ID, win); n != 3 {
		t.Errorf("CountRecoverable = %d, want 3 (failed at since, cancelled, failed)", n)
	}
	if n := count(t, ws.ID, hook.ID, repo.RecoverWindow{Since: since, Until: until, Limit: 2}); n != 2 {
		t.Errorf("CountRecoverable with limit 2 = %d, want 2", n)
	}
	if n := count(t, ws.ID, sibling.ID, win); n != 1 {
		t.Errorf("CountRecoverable of the sibling webhook = %d, want 1", n)
	}
	if n := count(t, other.ID, hook.ID, win); n != 0 {
		t.Errorf("CountRecoverable from another workspace = %d, want 0", n)
	}

	before := f.mustCount(t, `SELECT count(*) FROM deliveries`)
	if ids, err := f.store.Recover(ctx, other.ID, hook.ID, win); err != nil || len(ids) != 0 {
		t.Errorf("Recover from another workspace = %v, %v; want nothing", ids, err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries`); n != before {
		t.Errorf("Recover from another workspace created %d deliveries", n-before)
	}

	// The limit takes the oldest first.
	start := time.Now()
	ids, err := f.store.Recover(ctx, ws.ID, hook.ID, repo.RecoverWindow{Since: since, Until: until, Limit: 2})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	var sources []string
	for _, id := range ids {
		d := f.mustGetDelivery(t, ws.ID, id)
		if d.Status != repo.StatusPending || d.Attempts != 0 || d.WebhookID != hook.ID ||
			!d.NextAttemptAt.Valid || d.NextAttemptAt.Time.Before(start.Add(-time.Minute)) || d.NextAttemptAt.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("recovered delivery = %+v, want pending, due now, to the webhook", d)
		}
		src := f.mustGetDelivery(t, ws.ID, d.RedeliveryOf.String)
		if src.EventID != d.EventID {
			t.Errorf("recovered delivery sends event %s, its source sent %s", d.EventID, src.EventID)
		}
		sources = append(sources, d.RedeliveryOf.String)
	}
	if diff := cmp.Diff(sorted([]string{atSince, cancelled}), sorted(sources)); diff != "" {
		t.Errorf("recovered sources (-want +got):\n%s", diff)
	}
	for _, id := range []string{atSince, cancelled, lastFailed} {
		if d := f.mustGetDelivery(t, ws.ID, id); d.Status != repo.StatusFailed && d.Status != repo.StatusCancelled {
			t.Errorf("source %s is %s after Recover, want it left as it ended", id, d.Status)
		}
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries`); n != before+2 {
		t.Errorf("Recover created %d deliveries, want 2", n-before)
	}
}

func TestCreateTestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	// A sibling subscribed to the test type still gets nothing.
	sibling := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created", "webhook.test"}, Active: true})

	ev := newEvent(ws.ID, "webhook.test")
	id, err := f.store.CreateTestEvent(ctx, ev, hook.ID)
	if err != nil {
		t.Fatalf("CreateTestEvent: %v", err)
	}
	want := repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "webhook.test", WebhookID: hook.ID, Status: repo.StatusPending,
		ResponseBody: []byte{}, NextAttemptAt: validTime(ev.CreatedAt), CreatedAt: ev.CreatedAt,
	}
	if diff := cmp.Diff(want, f.mustGetDelivery(t, ws.ID, id)); diff != "" {
		t.Errorf("test delivery (-want +got):\n%s", diff)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries WHERE event_id = $1`, ev.ID); n != 1 {
		t.Errorf("test event has %d deliveries, want 1", n)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, sibling.ID); n != 0 {
		t.Errorf("sibling webhook got %d deliveries", n)
	}
	work, err := f.store.Work(ctx, id)
	if err != nil || string(work.Body) != string(ev.Body) {
		t.Errorf("Work body = %q, %v; want the test event's body", work.Body, err)
	}

	deleted := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	if err := f.store.DeleteWebhook(ctx, ws.ID, deleted.ID); err != nil {
		t.Fatal(err)
	}
	otherHook := f.mustWebhook(t, other.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	events := f.mustCount(t, `SELECT count(*) FROM events`)
	deliveries := f.mustCount(t, `SELECT count(*) FROM deliveries`)
	for name, tc := range map[string]struct{ workspaceID, webhookID string }{
		"another workspace's webhook": {ws.ID, otherHook.ID},
		"a webhook from another key":  {other.ID, hook.ID},
		"a deleted webhook":           {ws.ID, deleted.ID},
		"an unknown webhook":          {ws.ID, uuid.NewString()},
	} {
		ev := newEvent(tc.workspaceID, "webhook.test")
		if _, err := f.store.CreateTestEvent(ctx, ev, tc.webhookID); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("CreateTestEvent for %s = %v, want ErrNotFound", name, err)
		}
	}
	if n := f.mustCount(t, `SELECT count(*) FROM events`); n != events {
		t.Errorf("refused test events stored %d events", n-events)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries`); n != deliveries {
		t.Errorf("refused test events stored %d deliveries", n-deliveries)
	}
}
