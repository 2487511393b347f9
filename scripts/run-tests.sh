#!/usr/bin/env bash
# Runs every test of the workspace once, in the release profile that `make build` already
# compiled (so RocksDB and the binaries are built once), and prints a summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
profile="${CARGO_PROFILE:-release}"
log="$(mktemp -t sidechain-tests.XXXXXX)"
trap 'rm -f "$log"' EXIT

cargo test --locked --profile "$profile" --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
echo
echo "==> failing tests:"
grep -E '^test .* FAILED$' "$log" || echo "    none"
echo "${passed} passed, ${failed} failed"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "cargo test exited with status $status (a build error or a crashed test binary; see above)"
fi
exit "$status"
