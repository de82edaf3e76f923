// Package dberr tells an unavailable PostgreSQL from a query it refused.
package dberr

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable tells whether err means that PostgreSQL cannot be reached or is
// not answering right now (stopped, restarting, refusing connections, the
// connection cut under a query, a bounded wait that ran out), as opposed to a
// query PostgreSQL answered with an error (a constraint, a syntax error, no
// rows). An unavailable database is an outage to answer with 503 and a
// retry, never a 500.
//
// pgx facts (pgx/v5 v5.12.0, pgconn/errors.go): a failed dial or startup is a
// *pgconn.ConnectError (whatever the server said: 57P03 "the database system
// is starting up" or "shutting down" arrives inside it); a connection the
// driver already closed gives pgconn.ErrConnClosed; a context deadline inside
// pgconn is wrapped so that pgconn.Timeout reports it. A session PostgreSQL
// terminates on shutdown gets a FATAL 57P01 admin_shutdown *PgError, then EOF
// or "connection reset" (net errors) on the next read.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableSQLState(pgErr.Code)
	}
	var connErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connErr),
		errors.Is(err, pgconn.ErrConnClosed),
		pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// pgconn reports a connection it has closed with a plain message in a few
	// places (its unexported pgconnError keeps no sentinel).
	return strings.Contains(err.Error(), "conn closed")
}

// unavailableSQLState tells whether a SQLSTATE means the server cannot serve
// now: class 08 (connection exception), 57P01 admin_shutdown, 57P02
// crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections.
func unavailableSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"):
		return true
	case code == "57P01", code == "57P02", code == "57P03", code == "53300":
		return true
	}
	return false
}
