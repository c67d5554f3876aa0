# Switchyard: an Open vSwitch-based Kubernetes CNI.
#   make deps    install the system packages the tests and the lab need (idempotent)
#   make build   build every binary into bin/
#   make test    every test: unit, integration (real OVS, real netns), e2e (real Kubernetes in the lab); needs root
#   make lab     bring a 3-node lab up and take a short tour (LAB_FLAGS="--nodes 2 --mode noEncap" to change it)
#   make controlplane  build the lab's Kubernetes binaries into the cache (cold ~6 min, then seconds)
#   make bench   Switchyard against the reference CNI plugins and the physical limits -> docs/benchmarks.md
#                (~20-30 min on 2 cores; BENCH_FLAGS=-quick for a ~2 min smoke run)
#   make lint    gofmt + go vet
#   make generate regenerate the OVSDB models from the committed schema
#   make manifests regenerate build/yamls/switchyard.yaml and docs/install.md's configuration reference
#   make image   build the container image (needs a Docker engine)

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin
PKGS := openvswitch-switch iproute2 ethtool iperf3 nftables tcpdump iputils-ping procps kmod
# Tests run package by package with a generous timeout; the integration packages start private OVS instances.
TEST_FLAGS ?= -count=1 -timeout 30m

LAB_FLAGS ?=
CP_BIN ?= $(or $(SWITCHYARD_CONTROLPLANE_BIN),$(or $(SWITCHYARD_CACHE),$(HOME)/.cache/switchyard)/controlplane/bin)

.PHONY: all deps build controlplane bench test unit fuzz e2e lab lab-down lint generate manifests image clean

all: build

deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all installed"; fi

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

controlplane:
	@bash test/controlplane/build.sh $(CP_BIN)

# Unit and integration packages first (in parallel), then bounded fuzzing, then the e2e packages one at a time:
# each brings up its own lab.
test: deps lint build controlplane
	$(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v /test/e2e/)
	$(MAKE) fuzz
	$(MAKE) e2e

# Every fuzz target for its own budget of inputs, about 10 s each here (go test runs their seed corpora in every
# plain test run too). Counts, not durations: with a duration Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when the time runs out mid-input (go.dev/issue/75804, fixed in Go 1.27).
# FUZZTIME=30s or FUZZTIME=1000000x overrides every budget.
FUZZTIME ?=
FUZZ_TARGETS := ./cni/config:FuzzParse$$:200000x ./cni/config:FuzzParseEnv:200000x ./policy:FuzzPolicyEvaluate:12000x
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%:*}; budget=$${rest##*:}; \
		[ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); \
		echo "fuzz $$pkg $$name for $$budget"; \
		$(GO) test -run XXX -fuzz "^$$name" -fuzztime $$budget -parallel 1 $$pkg || exit 1; done

e2e: build controlplane
	SWITCHYARD_CONTROLPLANE_BIN=$(CP_BIN) $(GO) test $(TEST_FLAGS) -p 1 ./test/e2e/...

BENCH_FLAGS ?=
bench: deps build controlplane
	$(GO) build -o $(BIN)/ ./test/bench/cmd/switchyard-bench
	$(BIN)/switchyard-bench $(BENCH_FLAGS)

lab: deps build controlplane
	$(BIN)/switchyard-lab up --controlplane-bin $(CP_BIN) $(LAB_FLAGS)
	$(BIN)/switchyard-lab tour

lab-down:
	$(BIN)/switchyard-lab down

unit:
	$(GO) test -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate:
	$(GO) generate ./ovs/ovsdb/...

manifests:
	$(GO) run ./build/yamls/gen

IMAGE ?= ghcr.io/switchyard-net/switchyard:latest
VERSION ?= dev
image:
	docker build -f build/images/Dockerfile -t $(IMAGE) --build-arg VERSION=$(VERSION) .

clean:
	rm -rf $(BIN)
