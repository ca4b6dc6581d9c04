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
test: ## Run every test with the race detector (needs PostgreSQL and Redis)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 8m ./...
	$(MAKE) test-deploy

.PHONY: test-deploy
test-deploy: ## Check deploy/: Prometheus configs, alert rules and their tests, dashboard queries, manifests
	bash deploy/check.sh

# Fixed counts: each run of the pipeline benchmark sets up its own database
# and worker, so letting b.N ramp up would mostly measure set-up; a page
# costs milliseconds, so fewer rounds measure it as well.
BENCHTIME ?= 4000x
PAGES_BENCHTIME ?= 200x
.PHONY: bench
bench: ## Run the benchmarks and print their figures (deliveries/s, dashboard ms per page)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem -count=1 ./jobs/
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
