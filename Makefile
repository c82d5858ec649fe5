# sagekit — see README.md. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
PKG      := github.com/sagekit/sagekit
LDFLAGS  := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
HOSTARCH := $(shell $(GO) env GOARCH)

.PHONY: all build runtime check fmt vet tidy-check test help clean deps docs docs-check

all: build

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: runtime ## build bin/sagekit (carrying the runtimes and its own Go module) and the runtimes (host, linux/amd64, linux/arm64)
	mkdir -p image/runtimebin/linux-amd64 image/runtimebin/linux-arm64
	cp bin/linux-amd64/sagekit-runtime image/runtimebin/linux-amd64/sagekit-runtime
	cp bin/linux-arm64/sagekit-runtime image/runtimebin/linux-arm64/sagekit-runtime
	$(GO) run ./image/sdkmod/mksdk -o image/sdkmod/embedded
	$(GOBUILD) -tags sagekit_embed -o bin/sagekit ./cli/cmd/sagekit

runtime:
	GOOS=linux GOARCH=amd64 $(GOBUILD) -o bin/linux-amd64/sagekit-runtime ./runtime/cmd/sagekit-runtime
	GOOS=linux GOARCH=arm64 $(GOBUILD) -o bin/linux-arm64/sagekit-runtime ./runtime/cmd/sagekit-runtime
	cp bin/linux-$(HOSTARCH)/sagekit-runtime bin/sagekit-runtime

fmt: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/') ); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy-check: ## fail if go mod tidy would change go.mod or go.sum
	@cp go.mod /tmp/sagekit-go.mod.bak; cp go.sum /tmp/sagekit-go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/sagekit-go.mod.bak || ! cmp -s go.sum /tmp/sagekit-go.sum.bak; then \
	  cp /tmp/sagekit-go.mod.bak go.mod; cp /tmp/sagekit-go.sum.bak go.sum; \
	  echo "go mod tidy changes go.mod/go.sum: run 'go mod tidy' and commit"; exit 1; fi

test: build ## go test -race ./... (container tests included when Docker runs)
	$(GO) test -race -timeout 25m ./...

check: fmt vet tidy-check docs-check deps base test ## everything CI runs: gofmt, vet, tidy, Debian packages and base images (reused when present), tests with -race

docs: ## regenerate the CLI reference (docs/cli/) and docs/exit-codes.md from the commands, and the rule reference in docs/conformance.md from the rule declarations; go test fails when they are stale
	$(GO) run ./internal/clidoc/gendocs docs

docs-check: ## fail if docs/cli, docs/exit-codes.md or the rule reference in docs/conformance.md differ from what the code generates
	@tmp=$$(mktemp -d); cp -r docs/. $$tmp/; $(GO) run ./internal/clidoc/gendocs $$tmp; \
	if ! diff -r docs $$tmp >/dev/null; then diff -r docs $$tmp | head -20; rm -rf $$tmp; echo "generated docs are stale: run 'make docs' and commit"; exit 1; fi; rm -rf $$tmp

clean:
	rm -rf bin dist

# Debian packages the tests and benchmarks use: debootstrap for `sagekit base`,
# Debian's python3 with Flask/pandas/scikit-learn for the Python adapter tests.
DEB_PKGS := debootstrap python3 python3-flask python3-pandas python3-sklearn python3-numpy
deps: ## install the Debian packages the tests need (root; skipped when present)
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run 'sudo make deps')"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

.PHONY: bench-build
bench-build: build ## time cold, no-op and one-line-change builds of the go and python templates (default path and BuildKit only, side by side); image sizes
	sh bench/build/bench-build.sh

.PHONY: bench-serving
bench-serving: ## serving benchmark vs nginx+gunicorn+Flask, ~15 min (BENCH_QUICK=1: ~2 min); rewrites docs/benchmarks.md's Serving section
	$(GO) run ./bench/serving $(BENCH_FLAGS)

.PHONY: bench-local
bench-local: ## sagekit local: CreateEndpoint to InService, training start overhead, invocation overhead and throughput through the front vs direct; writes docs/local-bench.md
	$(GO) run ./bench/local $(BENCH_FLAGS)

.PHONY: bench-launcher
bench-launcher: ## overhead of `sagekit-runtime train` around /bin/true and python3: min and median of BENCH_N (200) runs each
	$(GO) test -run '^$$' -bench Launcher -benchtime $(or $(BENCH_N),200)x ./runtime/cmd/sagekit-runtime

.PHONY: base
base: build ## make the local base images sagekit/{base,python,cuda}:bookworm from Debian's mirror (root; BASE_FLAGS="--only base,python")
	@command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
	bin/sagekit base $(BASE_FLAGS)

.PHONY: bench-conformance
bench-conformance: ## time `sagekit test`'s whole cpu profile on the Go example image (bound: 60 s per run)
	$(GO) test -run '^$$' -bench SuiteGoImage -benchtime $(or $(BENCH_N),3)x -timeout 20m ./conformance/

.PHONY: bench-push
bench-push: ## push a 4-layer 32 MiB image to a loopback registry: fresh upload vs all blobs present (BENCH_N runs, default 5)
	$(GO) test -run '^$$' -bench 'BenchmarkImage' -benchtime $(or $(BENCH_N),5)x ./image/push/

# The container tests that once failed now and then under load, STRESS_N
# times in a row while `stress` keeps every core busy: each run must pass.
.PHONY: stress-flaky
stress-flaky: build ## the once-flaky container tests STRESS_N (5) times in a row under `stress --cpu N` (Debian package stress)
	@command -v stress >/dev/null || { echo "stress is missing: apt-get install stress"; exit 1; }
	@stress --cpu $$(nproc) --quiet & pid=$$!; trap "kill $$pid" EXIT; \
	for i in $$(seq $(or $(STRESS_N),5)); do \
	  echo "run $$i (load $$(cut -d' ' -f1 /proc/loadavg))"; \
	  $(GO) test -race -count=1 -run 'TestDirectMatchesBuildKit|TestRunScratchImage' ./image/build/ || exit 1; \
	  $(GO) test -race -count=1 -run 'TestStopAfterGraceKills|TestStopAfterLateHandler' ./platform/ || exit 1; \
	  $(GO) test -race -count=1 -run 'TestRunEndpoint$$$$|TestInterrupt' ./cli/ || exit 1; \
	  $(GO) test -race -count=1 -run 'TestGoodFixturePasses|TestFixturesFailOnlyTheirRule/C-TR-10' ./conformance/ || exit 1; \
	done; echo "$(or $(STRESS_N),5) runs green"

# Where `make install` puts bin/sagekit ($(PREFIX)/bin/sagekit; DESTDIR for packaging).
PREFIX ?= /usr/local
# The project `make quickstart` writes and the image it builds.
QUICKSTART     ?= quickstart
QUICKSTART_TAG ?= quickstart:latest
DIST := dist/sagekit-$(VERSION)-linux-$(HOSTARCH)

.PHONY: install dist quickstart
install: build ## install sagekit as $(PREFIX)/bin/sagekit (PREFIX=/usr/local); the one file carries the runtimes and the Go SDK
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 bin/sagekit $(DESTDIR)$(PREFIX)/bin/sagekit

dist: build ## $(DIST).tar.gz: bin/sagekit, README.md and the docs, for machines without Go or a checkout
	rm -rf $(DIST) && mkdir -p $(DIST)/bin
	cp bin/sagekit $(DIST)/bin/sagekit
	cp -r README.md docs $(DIST)/
	tar -C dist -czf $(DIST).tar.gz $(notdir $(DIST))
	rm -rf $(DIST)
	@echo wrote $(DIST).tar.gz

quickstart: install ## install sagekit, then with it alone: scaffold a Go algorithm in $(QUICKSTART), build it, train it locally, run the conformance suite on its defaults
	$(PREFIX)/bin/sagekit init $(QUICKSTART) --template go --force
	cd $(QUICKSTART) && $(PREFIX)/bin/sagekit build -t $(QUICKSTART_TAG) .
	cd $(QUICKSTART) && $(PREFIX)/bin/sagekit run train $(QUICKSTART_TAG) --data training=local/input/data/training --output out
	cd $(QUICKSTART) && $(PREFIX)/bin/sagekit test $(QUICKSTART_TAG)
