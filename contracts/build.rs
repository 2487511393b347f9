//! Refuses to build when the committed artifacts in `out/` were not compiled from the Solidity
//! sources in `solidity/` as they are now (`out/manifest.json` records a SHA-256 per source).

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "sol") {
            found.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=solidity");
    println!("cargo:rerun-if-changed=out");

    let manifest_path = root.join("out/manifest.json");
    let manifest = fs::read_to_string(&manifest_path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `make contracts` to compile the Solidity sources",
            manifest_path.display()
        )
    });

    let mut files = Vec::new();
    sources(&root.join("solidity"), &mut files);
    files.sort();
    let mut stale = Vec::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .strip_prefix(&root)
            .expect("source under the crate")
            .to_string_lossy()
            .replace('\\', "/");
        let content =
            fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let hash = hex::encode(Sha256::digest(&content));
        if !manifest.contains(&format!("\"{name}\": \"{hash}\"")) {
            stale.push(name);
        }
    }
    let recorded = manifest.matches("\"solidity/").count();
    if recorded != files.len() {
        stale.push(format!(
            "({recorded} sources recorded, {} on disk)",
            files.len()
        ));
    }
    if !stale.is_empty() {
        panic!(
            "contracts/out is stale relative to contracts/solidity ({}); run `make contracts` and commit contracts/out",
            stale.join(", ")
        );
    }
}
