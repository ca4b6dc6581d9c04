package testreceiver

import (
	"net"
	"testing"
)

// ClosedAddr returns a loopback host:port where nothing listens, for
// requests that must be refused.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
