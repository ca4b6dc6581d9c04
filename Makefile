# Trackelio Webhooks task runner. `make` lists the targets.
SHELL := /bin/bash
GO    ?= go

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the three binaries into bin/
	$(GO) build -o bin/ ./cmd/api ./cmd/worker ./cmd/scheduler

.PHONY: run
run: build ## Run api, worker and scheduler on local PostgreSQL and Redis
	./deploy/run-local.sh

.PHONY: migrate
migrate: ## Apply database migrations to DATABASE_URL
	$(GO) run ./cmd/api migrate

.PHONY: test
test: ## Run every test with the race detector (starts local PostgreSQL and Redis, installs missing test tools)
	./deploy/test-setup.sh
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 8m ./...
	$(MAKE) test-deploy

.PHONY: test-deploy
test-deploy: ## Check deploy/: Prometheus configs, alert rules and their tests, dashboard queries, manifests
	bash deploy/check.sh

.PHONY: chaos
chaos: ## Faults under load against the real binaries, every delivery accounted for (restarts the local PostgreSQL; a few minutes)
	$(GO) test -tags chaos -run '^TestChaos$$' -timeout 30m -count=1 -v ./e2e/

.PHONY: bench
bench: ## Measure throughput and latency of the real binaries against baselines and slow, mixed, HTTPS endpoints (about 12 minutes; BENCH_SCALE=0.05 for a smoke run)
	$(GO) test -tags bench -run TestBench -timeout 45m -count=1 -v ./bench/

# A page costs milliseconds: a fixed count of rounds measures it well.
PAGES_BENCHTIME ?= 200x
.PHONY: bench-pages
bench-pages: ## Server time of the dashboard's pages over a 10,000-delivery history
	$(GO) test -run '^$$' -bench . -benchtime $(PAGES_BENCHTIME) -count=1 ./dashboard/

FUZZTIME ?= 15s
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (seed corpora in testdata/fuzz)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

.PHONY: clean
clean: ## Remove build output and local run state
	rm -rf bin .run
