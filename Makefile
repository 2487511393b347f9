# One entry point for people and CI. `make testnet` and `make test` work on a fresh machine:
# missing tools are installed by name from package registries into .bin/ (never downloaded
# as prebuilt binaries).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BIN_DIR := $(ROOT)/.bin
# Cargo's target dir lives outside the checkout so that CI and later runs reuse the RocksDB
# build (about ten minutes on two cores). Override it freely.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/sidechain/target
export PATH := $(BIN_DIR):$(PATH)
export SIDECHAIN_BIN_DIR := $(BIN_DIR)
CARGO_PROFILE ?= release
CARGO_FLAGS := --locked --profile $(CARGO_PROFILE)
TARGET_BIN := $(CARGO_TARGET_DIR)/$(CARGO_PROFILE)

COMETBFT_VERSION := v0.38.26
# FinalizeBlock is measured on one core.
PIN_ONE_CORE := $(shell command -v taskset >/dev/null 2>&1 && echo "taskset -c 0")

.PHONY: all deps tools build test testnet bench fmt lint clean help
all: build

help:
	@echo "make testnet   install what is missing, build, start a 4-validator local network (Ctrl-C stops it)"
	@echo "make test      every test (unit, property, process-level with real CometBFT/geth)"
	@echo "make build     build every binary into $(TARGET_BIN)"
	@echo "make bench     benchmarks; figures land in bench/results/"
	@echo "make lint      rustfmt and clippy"

deps:
	@$(ROOT)/scripts/install-deps.sh

$(BIN_DIR)/.cometbft-$(COMETBFT_VERSION):
	@mkdir -p $(BIN_DIR)
	@echo "==> installing cometbft $(COMETBFT_VERSION) into $(BIN_DIR) (go install)"
	GOBIN=$(BIN_DIR) go install github.com/cometbft/cometbft/cmd/cometbft@$(COMETBFT_VERSION)
	@touch $@

tools: deps $(BIN_DIR)/.cometbft-$(COMETBFT_VERSION)

build: tools
	cargo build $(CARGO_FLAGS) --workspace --bins

test: build
	python3 $(ROOT)/scripts/run-tests.py

testnet: build
	$(TARGET_BIN)/testnet up --validators 4

bench: build
	$(PIN_ONE_CORE) $(TARGET_BIN)/finalize-bench --out $(ROOT)/bench/results/finalize.json
	$(TARGET_BIN)/testnet-bench --out $(ROOT)/bench/results/testnet.json
	$(TARGET_BIN)/bridge-bench --out $(ROOT)/bench/results/bridge.json

fmt:
	cargo fmt --all

lint: tools
	cargo fmt --all -- --check
	cargo clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings

clean:
	cargo clean

-include $(ROOT)/contracts/contracts.mk
