package repo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", e.Name())
		}
		v, err := strconv.Atoi(prefix)
		if err != nil {
			return nil, fmt.Errorf("migration %q: version: %w", e.Name(), err)
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary was built for.
func LatestVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		panic(err) // embedded files are fixed at build time; tests catch this
	}
	return len(ms)
}

// Migrate applies every pending migration, each in its own transaction, while
// holding a session advisory lock so concurrent starters wait for each other.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("migrate: get connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID) //nolint:errcheck // the lock dies with the session anyway

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := conn.GetContext(ctx, &current, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range ms[min(current, len(ms)):] {
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: begin: %w", m.name, err)
		}
		// Migrations rewrite whole tables: let them scan (see withPointPlans).
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = on`); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: record version: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: commit: %w", m.name, err)
		}
		log.InfoContext(ctx, "applied migration", "version", m.version, "name", m.name)
	}
	return nil
}

// schemaVersion reports the version recorded in the database (0 when none).
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := s.db.GetContext(ctx, &exists, `SELECT to_regclass('schema_migrations') IS NOT NULL`); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.db.GetContext(ctx, &v, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// CheckSchema returns an error wrapping ErrSchemaBehind when the database has
// not been migrated to the version this binary needs.
func (s *Store) CheckSchema(ctx context.Context) error {
	v, err := s.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := LatestVersion(); v < want {
		return fmt.Errorf("%w: database is at version %d, this binary needs %d; start the api (it migrates) or run `make migrate`", ErrSchemaBehind, v, want)
	}
	return nil
}

// MigrationSQL returns the embedded migrations' text in order; tests hash it
// to know when a cached template database is stale.
func MigrationSQL() []string {
	ms, err := loadMigrations()
	if err != nil {
		panic(err)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.sql
	}
	return out
}
