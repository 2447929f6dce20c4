# vigie: build, test and measure. `make` builds bin/vigie.
SHELL := /bin/bash
GO ?= go
# Releases are tagged vX.Y.Z; between tags the version is the next release's.
BASE_VERSION := 0.1.0
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --abbrev=0 2>/dev/null | sed 's/^v//')
ifeq ($(VERSION),)
override VERSION := $(BASE_VERSION)
endif
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
PKG := github.com/vigie-agent/vigie
LDFLAGS := -s -w -X $(PKG)/agent.Version=$(VERSION) -X $(PKG)/agent.Commit=$(COMMIT)
BIN := bin/vigie
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
STATICCHECK_VERSION := v0.8.2
# A count, not a duration: a duration-based -fuzztime can fail with a spurious
# "context deadline exceeded" when the deadline races a worker (go.dev/issue/75804).
FUZZTIME ?= 100000x

.PHONY: rehearsal all build test test-unit lint fuzz bench clean tools docs otelcol

all: build

build: $(BIN)

$(BIN): $(shell find . -name '*.go' -not -path './vmtest/*' -not -path './tools/*') go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vigie

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff >/dev/null 2>&1 || { echo "go.mod/go.sum are not tidy (go mod tidy -diff):"; $(GO) mod tidy -diff; exit 1; }
	@cd tools/otelcol && $(GO) mod tidy -diff >/dev/null 2>&1 || { echo "tools/otelcol/go.mod/go.sum are not tidy (go mod tidy -diff):"; $(GO) mod tidy -diff; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags vmtest ./vmtest/
	$(STATICCHECK) ./...

# The test OpenTelemetry Collector, tools/otelcol. It is a module of its own
# so that the collector's few hundred dependencies stay out of vigie's go.mod,
# go.sum and binary (and out of ./...). The script builds it once, cached by
# the module's content, and prints the binary's path.
OTELCOL := GO='$(GO)' ./scripts/otelcol.sh

otelcol:
	@$(OTELCOL)

# The static binary's bound: what a cloud-init fetch or a package carries.
MAX_BINARY_BYTES := 15000000

# The whole suite: lint, unit and integration tests (integration tests need
# root and the real sshd; they skip, saying why, without them), the static
# binary, and a short run of every fuzz target. The hostile-home suite
# (internal/hostiletest) runs the binary just built; the OTLP tests
# (internal/otelcoltest) run the test collector, VIGIE_OTELCOL.
test: lint build
	@file $(BIN) | grep -q 'statically linked' || { echo "$(BIN) is not statically linked"; file $(BIN); exit 1; }
	@size=$$(stat -c %s $(BIN)) && echo "$(BIN): $$size bytes (at most $(MAX_BINARY_BYTES))" && \
	  [ "$$size" -le $(MAX_BINARY_BYTES) ] || { echo "$(BIN) is larger than $(MAX_BINARY_BYTES) bytes"; exit 1; }
	otelcol="$$($(OTELCOL))" && \
	  VIGIE_BINARY='$(abspath $(BIN))' VIGIE_OTELCOL="$$otelcol" $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory rehearsal
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# The fleet rehearsal (agent/rehearsal_test.go): 1,000 agents report to the
# test collector through a 60 s outage of it. It runs alone, after the
# suite: it loads both cores for about three minutes, which would slow the
# timing-bound tests running beside it.
rehearsal:
	otelcol="$$($(OTELCOL))" && \
	  VIGIE_REHEARSAL=1 VIGIE_OTELCOL="$$otelcol" $(GO) test -count=1 -v -run '^TestFleetRehearsal$$' ./agent/ | grep -v '^=== RUN'; exit $${PIPESTATUS[0]}

test-unit:
	$(GO) test -count=1 -short ./...

# Every Fuzz* target, each for FUZZTIME (executions, or a duration).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/vigie-fuzz.log 2>&1 || { cat /tmp/vigie-fuzz.log; exit 1; }; \
	  done; \
	done

# Wall time and peak RSS of a full `vigie check` on this machine, then the
# Go benchmarks of the parsers and rules.
bench: build
	@./scripts/bench.sh $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem ./...

# docs/checks.md, from the catalogue (a test fails when it is stale).
docs:
	$(GO) run ./cmd/gendocs docs/checks.md

clean:
	rm -rf bin dist

-include packaging/package.mk
-include vmtest/vmtest.mk
