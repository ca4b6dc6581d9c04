// Package e2e tests the service end to end: it builds the real api, worker
// and scheduler binaries with the race detector, runs them against a fresh
// PostgreSQL database and Redis DB per test, and checks what a real loopback
// receiver gets byte for byte, including with the Node.js and Python
// signature verifiers published in the webhooks documentation. Each file
// covers one feature (retry_after_test.go, gone_test.go, breaker_test.go,
// …); measured figures are logged as "FIGURE name=value" lines.
//
// Run it with `go test -race ./e2e/`; it needs the local PostgreSQL and
// Redis that internal/dbtest and internal/redistest use, and `node` and
// `python3` on PATH.
package e2e
