# groundwork: build, install, test, lint.
GO      ?= go
BIN     ?= bin/groundwork
# A release tag (v1.2.3) when there is one; otherwise empty, and the binary
# says v<buildinfo.Release>-dev+<commit>.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null)
LDFLAGS := -X github.com/groundwork-dev/groundwork/internal/buildinfo.version=$(VERSION)
# The harness's first run builds kube-apiserver, etcd, kwok and the Flux
# controllers, Argo CD, helm and kustomize (about 30 minutes on 2 cores);
# later runs reuse the cache.
TEST_TIMEOUT ?= 75m

.PHONY: all build install test unit lint testbin bench fuzz clean

all: lint build test

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/groundwork

install:
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/groundwork

## test: lint, then every test: unit tests and the harness suites under tests/.
test: lint
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

## unit: the fast tests only (no control plane).
unit:
	$(GO) test -short ./internal/... ./cmd/...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## testbin: prebuild the harness's binaries into the cache (~/.cache/groundwork/testbin).
testbin:
	@command -v redis-server >/dev/null || { echo "testbin: installing redis-server (the Argo CD harness runs it)"; \
		apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; } || \
		{ echo "testbin: install redis-server (Debian: apt-get install -y redis-server)"; exit 1; }
	$(GO) run ./tests/harness/cmd/testbin

## bench: parse + validate + plan of a 100-addon spec.
bench:
	$(GO) test ./internal/plan -run '^$$' -bench . -benchmem

## fuzz: fuzz the spec decoder for FUZZTIME (default 1m).
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./internal/spec -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
