# foureyes — see README.md. `make run` starts the whole stack on this
# machine; `make test` runs every test. Both install what is missing.

export PATH := /usr/local/go/bin:$(PATH)
GO        ?= go
BIN       := bin/foureyes
DEV_DATA  ?= .dev
SSH_ADDR  ?= 127.0.0.1:2222
TEST_TIMEOUT ?= 20m
# How long `make test` runs each fuzz target (scripts/fuzz.sh).
FUZZTIME  ?= 5s

.PHONY: all build run test bench bench-e2e bench-search chaos fuzz deps vet fmt clean

all: build

deps:
	@./scripts/install-deps.sh
	@$(GO) mod download

build:
	$(GO) build -o $(BIN) ./cmd/foureyes

run: deps build
	$(BIN) dev --data $(DEV_DATA) --ssh-addr $(SSH_ADDR)

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

test: deps vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	CI=$${CI:-true} $(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

# Every fuzz target for longer than `make test` gives them.
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} GO=$(GO) ./scripts/fuzz.sh

bench: deps
	./scripts/bench.sh

# End to end against a real sshd (internal/benche2e, issue 11): direct,
# bare relay and foureyes side by side (ingest and ClickHouse at their
# shipped priorities, then flat), then pinned with taskset, then the
# transfers check. BENCH_E2E=flat|taskset|transfers runs only that variant.
BENCH_E2E_CMD = $(GO) test -run '^$$' -bench E2E -benchtime 1x -timeout 60m -v ./internal/benche2e/
bench-e2e: deps
ifdef BENCH_E2E
	BENCH_E2E=$(BENCH_E2E) $(BENCH_E2E_CMD)
else
	BENCH_E2E= $(BENCH_E2E_CMD)
	BENCH_E2E=flat $(BENCH_E2E_CMD)
	BENCH_E2E=taskset $(BENCH_E2E_CMD)
	BENCH_E2E=transfers $(BENCH_E2E_CMD)
endif

# Search at 100M events (issue 12): generates the data under
# SEARCHBENCH_DATA when missing (resumable; tens of minutes on 2 cores),
# then runs the search benchmarks on it. SEARCHBENCH_EVENTS sets the size.
SEARCHBENCH_EVENTS ?= 100000000
SEARCHBENCH_DATA   ?= /tmp/foureyes-searchbench-$(SEARCHBENCH_EVENTS)
bench-search: deps
	@mkdir -p bench
	@echo "search benchmark data: $(SEARCHBENCH_DATA) ($(SEARCHBENCH_EVENTS) events)"
	$(GO) run ./internal/searchbench/cmd/searchbench-gen -data $(SEARCHBENCH_DATA) -events $(SEARCHBENCH_EVENTS)
	SEARCHBENCH_DATA=$(SEARCHBENCH_DATA) SEARCHBENCH_EVENTS=$(SEARCHBENCH_EVENTS) \
		$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 120m ./internal/searchbench/ | tee bench/search.txt
	@echo "search benchmark data: $(SEARCHBENCH_DATA); results in bench/search.txt"

# The fault-injection suite with the long outages the issue names (60 s).
chaos: deps
	CI=$${CI:-true} CHAOS_OUTAGE=60s $(GO) test -run . -v -timeout 60m ./chaos/

clean:
	rm -rf bin
