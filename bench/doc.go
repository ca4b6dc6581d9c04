//go:build bench

// Package bench is the end-to-end benchmark of the webhook service: it builds
// the real api, worker and scheduler, runs each measurement on a fresh
// database, Redis DB and set of processes, drives the public API with a load
// generator, verifies every delivery at a local receiver, and compares the
// service with two in-process baselines (asynq no-op tasks and a naive
// signed sender).
//
// It is a test behind the bench build tag, so `go test ./...` never runs it:
//
//	go test -tags bench -run TestBench -timeout 20m -count=1 -v ./bench/
//
// BENCH_SCALE=0.05 makes every count 5% for a smoke run; see config.go for
// the other variables.
package bench
