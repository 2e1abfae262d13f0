# foureyes — see README.md. `make run` starts the whole stack on this
# machine; `make test` runs every test. Both install what is missing.

export PATH := /usr/local/go/bin:$(PATH)
GO        ?= go
BIN       := bin/foureyes
DEV_DATA  ?= .dev
SSH_ADDR  ?= 127.0.0.1:2222
TEST_TIMEOUT ?= 20m
BENCH     ?= .
BENCHTIME ?= 1x

.PHONY: all build run test test-short bench deps vet fmt clean

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

bench: deps
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -timeout 60m ./...

clean:
	rm -rf bin
