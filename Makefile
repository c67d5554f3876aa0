# Switchyard: an Open vSwitch-based Kubernetes CNI.
#   make deps    install the system packages the tests and the lab need (idempotent)
#   make build   build every binary into bin/
#   make test    every test: unit, integration (real OVS, real netns); needs root
#   make lint    gofmt + go vet
#   make generate regenerate the OVSDB models from the committed schema

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin
PKGS := openvswitch-switch iproute2 ethtool iperf3 nftables tcpdump iputils-ping procps kmod
# Tests run package by package with a generous timeout; the integration packages start private OVS instances.
TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: all deps build test unit lint generate clean

all: build

deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all installed"; fi

build:
	$(GO) build -o $(BIN)/ ./cmd/...

test: deps lint build
	$(GO) test $(TEST_FLAGS) ./...

unit:
	$(GO) test -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate:
	$(GO) generate ./ovs/ovsdb/...

clean:
	rm -rf $(BIN)
