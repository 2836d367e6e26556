# facecluster — the two commands a fresh machine needs: `make run` and `make test`.
GO        ?= go
BIN       ?= bin/facecluster
MODELS    := models/node_modules/@vladmandic/face-api/model
GOTEST    ?= $(GO) test -timeout 45m -count=1
# The version `facecluster version` prints; the Dockerfile sets the same variable from its VERSION arg.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/facecluster/facecluster/cmd/facecluster/internal/cli.version=$(VERSION)
IMAGE     ?= facecluster:$(VERSION)
# Tests that need MySQL read this DSN (each test creates and drops its own database).
export FACECLUSTER_TEST_MYSQL_DSN ?= root@tcp(127.0.0.1:3306)/
export FACECLUSTER_MODELS_DIR ?= $(CURDIR)/$(MODELS)

.PHONY: all build image dev-cluster run test test-deps models bench bench-engine generate lint clean

all: build

## models: install the pinned face-api.js weights from models/package-lock.json (no install scripts)
models: models/node_modules/.stamp
models/node_modules/.stamp: models/package.json models/package-lock.json
	cd models && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/facecluster

## image: the container image (Dockerfile; needs a Docker engine or BuildKit), see docs/deploy.md
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) -t $(IMAGE) .

## dev-cluster: the production topology as processes on loopback (MariaDB, 3 nsqlookupd, 2 receivers…; docs/deploy.md)
dev-cluster: models build
	$(BIN) dev cluster --models-dir $(MODELS)

## run: the whole product on this machine (SQLite + in-process nsqd under ./data)
run: models build
	$(BIN) serve --data-dir ./data --models-dir $(MODELS)

## test-deps: everything the tests need that is not a Go module
test-deps: models
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ echo "installing Debian's chromium for the browser tests"; \
		  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); }

## test: every test, with real MySQL, real nsqd, real models and a real browser
test: test-deps
	$(GOTEST) ./...
	@if [ -f deploy/go.mod ]; then cd deploy && $(GOTEST) ./...; fi

## bench: the benchmarks recorded in docs/benchmarks.md
bench: models
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-engine: the face engine's benchmarks side by side with ../shared/reference-runner, and the ratios
bench-engine: models
	scripts/bench-engine.sh

generate:
	$(GO) generate ./...

clean:
	rm -rf bin
