//go:build bench

// Package bench is the end-to-end benchmark of the webhook service: it builds
// the real api, worker and scheduler, runs each measurement on a fresh
// database, Redis DB and set of processes, drives the public API with a load
// generator, verifies every delivery at a local receiver, and compares the
// service with two in-process baselines (asynq no-op tasks and a naive
// signed sender).
//
// Besides the throughput runs against a receiver that answers at once, it
// measures the service against endpoints as customers run them: HTTPS
// receivers (trusted through the worker's DELIVERY_CA_FILE), each webhook on
// its own host:port, answering slowly (slow1, slowfleet), in a realistic
// log-normal mix with failing, throttling and hanging endpoints among them
// (mixed, against mixed_clean), with more worker processes than one
// (scale_1w, scale_2w, scale_4w: a backlog by design, measured in a steady
// window and left undelivered), and with thousands of attempts in flight at
// once (inflight). It counts the TLS connections the receivers accept per
// delivery, so lost connection reuse shows.
//
// It is a test behind the bench build tag, so `go test ./...` never runs it:
//
//	go test -tags bench -run TestBench -timeout 45m -count=1 -v ./bench/
//
// BENCH_SCALE=0.05 makes every count and duration 5% (rates stay) for a
// smoke run; see config.go for the other variables. Missed targets are
// printed, never failed.
package bench
