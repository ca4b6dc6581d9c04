package repo

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

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

// mapErr turns driver errors into the package's sentinels.
func mapErr(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pqErr.Constraint)
	}
	return err
}

// Unavailable says err means PostgreSQL could not be reached or could not
// serve the statement for now (down, restarting, out of connections, too
// slow), rather than refusing it: the caller may try the same request again
// shortly and should say so (the api answers 503 with Retry-After).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		code := string(pqErr.Code)
		switch {
		case strings.HasPrefix(code, "08"): // connection exception
			return true
		case strings.HasPrefix(code, "53"): // insufficient resources: connections, memory, disk
			return true
		case code == "57P01", code == "57P02", code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case code == "57014": // statement cancelled: a timeout while the server is struggling
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded)
}
