# L1 contracts: included by the root Makefile (which defines ROOT, BIN_DIR, CARGO_TARGET_DIR,
# CARGO_FLAGS and TARGET_BIN).
#
#   make contracts        npm ci (pinned solc-js) and compile solidity/ into out/
#   make contracts-check  fail if the committed out/ differs from a fresh compile
#   make gas-report       measure gas on revm and write contracts/gas-report.json
#
# geth is the local L1 of `make testnet` and of the deploy tool's test. v1.17.9 and v1.17.10
# depend on a module version the Go module proxy does not serve
# (github.com/attestantio/go-eth2-client v0.30.1), so v1.17.8 is the newest v1.17 patch that
# installs from the registry (see docs/adr/0010-l1-contract-toolchain-and-tests.md).

CONTRACTS_DIR := $(ROOT)/contracts
GETH_VERSION := v1.17.8
SOLIDITY_SOURCES := $(shell find $(CONTRACTS_DIR)/solidity -name '*.sol' 2>/dev/null)

.PHONY: contracts contracts-check gas-report

$(BIN_DIR)/.geth-$(GETH_VERSION):
	@mkdir -p $(BIN_DIR)
	@echo "==> installing geth $(GETH_VERSION) into $(BIN_DIR) (go install)"
	GOBIN=$(BIN_DIR) go install github.com/ethereum/go-ethereum/cmd/geth@$(GETH_VERSION)
	@touch $@

$(CONTRACTS_DIR)/node_modules/.package-lock.json: $(CONTRACTS_DIR)/package-lock.json $(CONTRACTS_DIR)/package.json
	@echo "==> installing the pinned solc-js and OpenZeppelin (npm ci)"
	cd $(CONTRACTS_DIR) && npm ci --no-audit --no-fund
	@touch $@

$(CONTRACTS_DIR)/out/manifest.json: $(SOLIDITY_SOURCES) $(CONTRACTS_DIR)/scripts/compile.mjs $(CONTRACTS_DIR)/node_modules/.package-lock.json
	@echo "==> compiling the Solidity contracts (solc-js)"
	cd $(CONTRACTS_DIR) && node scripts/compile.mjs
	@touch $@

contracts: $(CONTRACTS_DIR)/out/manifest.json

contracts-check: $(CONTRACTS_DIR)/node_modules/.package-lock.json
	cd $(CONTRACTS_DIR) && node scripts/compile.mjs --check

tools: $(BIN_DIR)/.geth-$(GETH_VERSION) $(CONTRACTS_DIR)/out/manifest.json

gas-report: tools
	cargo run $(CARGO_FLAGS) -p bridge-contracts --example gas-report -- $(CONTRACTS_DIR)/gas-report.json
	@echo "==> wrote $(CONTRACTS_DIR)/gas-report.json"
