//! The committed artifacts in `out/` are exactly what the pinned solc-js produces from
//! `solidity/` today (the build script only compares source hashes; this also catches changed
//! compiler settings or a hand-edited artifact). Needs node and `npm ci` (done by `make tools`).

use std::path::Path;
use std::process::Command;

#[test]
fn committed_artifacts_match_a_fresh_compile() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        dir.join("node_modules/solc").is_dir(),
        "contracts/node_modules is missing: run `make contracts` (npm ci installs the pinned solc-js)"
    );
    let output = Command::new("node")
        .args(["scripts/compile.mjs", "--check"])
        .current_dir(dir)
        .output()
        .expect("run node (install Node.js; `make tools` needs it too)");
    assert!(
        output.status.success(),
        "contracts/out is stale: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
