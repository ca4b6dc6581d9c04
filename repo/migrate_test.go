package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// newEmptyDatabase creates a database with no schema at all (not a clone of
// the migrated template) and drops it when the test ends.
func newEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	admin, err := sqlx.Open("postgres", dbtest.PostgresURL())
	if err != nil {
		tb.Fatalf("open admin connection: %v", err)
	}
	defer admin.Close()
	name := "trackelio_empty_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sqlx.Open("postgres", dbtest.PostgresURL())
		if err != nil {
			tb.Errorf("open admin connection: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dbtest.PostgresURL())
	if err != nil {
		tb.Fatalf("parse postgres url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func mustOpen(tb testing.TB, dbURL string) *repo.Store {
	tb.Helper()
	st, err := repo.Open(context.Background(), dbURL, repo.Options{MaxConns: 2})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// mustOpenRaw is a pool on the database, for rows the Store does not show.
func mustOpenRaw(tb testing.TB, dbURL string) *sqlx.DB {
	tb.Helper()
	raw, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		tb.Fatalf("open %s: %v", dbURL, err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

// wantMigrated checks that the database is at the latest version, every
// migration recorded once.
func wantMigrated(tb testing.TB, st *repo.Store, raw *sqlx.DB) {
	tb.Helper()
	if err := st.CheckSchema(context.Background()); err != nil {
		tb.Errorf("CheckSchema after Migrate: %v", err)
	}
	var rows, version int
	if err := raw.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &version); err != nil {
		tb.Fatalf("read schema_migrations: %v", err)
	}
	if rows != repo.LatestVersion() || version != repo.LatestVersion() {
		tb.Errorf("schema_migrations has %d rows up to version %d, want %d", rows, version, repo.LatestVersion())
	}
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLatestVersionMatchesMigrations(t *testing.T) {
	t.Parallel()
	v := repo.LatestVersion()
	if v < 1 {
		t.Fatalf("LatestVersion = %d, want at least 1", v)
	}
	if n := len(repo.MigrationSQL()); n != v {
		t.Errorf("len(MigrationSQL()) = %d, want LatestVersion %d", n, v)
	}
}

func TestCheckSchemaOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mustOpen(t, newEmptyDatabase(t))

	err := st.CheckSchema(ctx)
	if !errors.Is(err, repo.ErrSchemaBehind) {
		t.Fatalf("CheckSchema = %v, want an error wrapping ErrSchemaBehind", err)
	}
	// The message must tell an operator where the database is, what the
	// binary needs, and how to fix it.
	for _, want := range []string{"version 0", fmt.Sprintf("needs %d", repo.LatestVersion()), "make migrate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema error %q does not mention %q", err, want)
		}
	}
}

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := newEmptyDatabase(t)

	// Three replicas starting at once, each with its own pool.
	const starters = 3
	errs := make([]error, starters)
	var wg sync.WaitGroup
	for i := range starters {
		st := mustOpen(t, dbURL)
		wg.Go(func() { errs[i] = st.Migrate(ctx, discardLog) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}

	st, raw := mustOpen(t, dbURL), mustOpenRaw(t, dbURL)
	wantMigrated(t, st, raw)

	// Running again is a no-op.
	if err := st.Migrate(ctx, discardLog); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	wantMigrated(t, st, raw)

	// The migrated schema is usable.
	if _, err := st.CreateWorkspace(ctx, "after migrate", []byte("k")); err != nil {
		t.Errorf("CreateWorkspace on migrated database: %v", err)
	}
}

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
	raw := mustOpenRaw(t, dbURL)
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
	wantMigrated(t, st, raw)

	w, err := st.Webhook(ctx, ws, hook)
	if err != nil {
		t.Fatalf("Webhook after upgrade: %v", err)
	}
	if diff := cmp.Diff(delivery.Health{Active: true, FailureCount: 5, ConsecutiveFailures: 2}, w.Health); diff != "" {
		t.Errorf("existing webhook after upgrade (-want +got):\n%s", diff)
	}
	if work := testfactory.Work(t, st, del); work.Secret != "whsec_old" || work.PreviousSecret != "" {
		t.Errorf("Work after upgrade = secret %q previous %v; want the old secret and no previous one", work.Secret, work.PreviousSecret)
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
