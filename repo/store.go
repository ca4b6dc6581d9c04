// Package repo is the only package that speaks SQL: it owns the schema, its
// embedded migrations, and every query the service runs against PostgreSQL.
package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Sentinel errors mapped to HTTP statuses in one place by the api package.
var (
	// ErrNotFound means the row does not exist or belongs to another workspace.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrLimitReached means a per-workspace limit refused the write.
	ErrLimitReached = errors.New("limit reached")
	// ErrSchemaBehind means the database needs migrations this binary expects.
	ErrSchemaBehind = errors.New("database schema is behind")
)

// Options sizes the connection pool.
type Options struct {
	// MaxConns caps open connections; idle connections are kept up to the same
	// number, because the default of two idle connections makes a busy worker
	// reconnect constantly.
	MaxConns int
}

// Store is the sqlx handle plus the statements prepared once for the hot path.
type Store struct {
	db *sqlx.DB
}

// Open connects to PostgreSQL and verifies the connection.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// mapErr turns driver errors into the package's sentinels.
func mapErr(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pqErr.Constraint)
	}
	return err
}
