package repo_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/lib/pq"

	"github.com/trackelio/webhooks/repo"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: syscall.ECONNREFUSED.Error(), Addr: "127.0.0.1:5432"}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("create events: %w", refused), true},
		{"reset mid-query", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"bad connection", fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{"closed mid-answer", io.ErrUnexpectedEOF, true},
		{"closed", io.EOF, true},
		{"flush timeout", fmt.Errorf("flush: %w", context.DeadlineExceeded), true},
		{"administrator shutdown", &pq.Error{Code: "57P01"}, true},
		{"crash shutdown", &pq.Error{Code: "57P02"}, true},
		{"starting up", &pq.Error{Code: "57P03"}, true},
		{"connection failure", &pq.Error{Code: "08006"}, true},
		{"too many connections", &pq.Error{Code: "53300"}, true},
		{"disk full", &pq.Error{Code: "53100"}, true},
		{"statement timeout", &pq.Error{Code: "57014"}, true},
		{"unique violation", &pq.Error{Code: "23505"}, false},
		{"syntax error", &pq.Error{Code: "42601"}, false},
		{"serialization failure", &pq.Error{Code: "40001"}, false},
		{"conflict sentinel", fmt.Errorf("%w: events_key", repo.ErrConflict), false},
		{"not found", repo.ErrNotFound, false},
		{"cancelled by the caller", context.Canceled, false},
		{"other", errors.New("boom"), false},
	} {
		if got := repo.Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
