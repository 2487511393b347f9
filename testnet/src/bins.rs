//! Finding the programs a network runs: `sidechaind`, `bridge-relayer` (and the `sidechain` CLI
//! the printed hints use) next to the `testnet` binary, as `make build` places them;
//! `cometbft` and `geth` in `$SIDECHAIN_BIN_DIR`, the project's `.bin/`, or `PATH`.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct Binaries {
    pub sidechaind: PathBuf,
    pub sidechain: PathBuf,
    pub bridge_relayer: PathBuf,
    pub cometbft: PathBuf,
}

/// A tool from `make tools`: `$SIDECHAIN_BIN_DIR`, then `./.bin` (or a parent's), then `PATH`.
fn tool(name: &str) -> Result<PathBuf> {
    std::env::var_os("SIDECHAIN_BIN_DIR")
        .map(|d| PathBuf::from(d).join(name))
        .filter(|p| executable(p))
        .or_else(|| in_project_bin(name))
        .or_else(|| on_path(name))
        .ok_or_else(|| {
            Error::Missing(format!(
                "`{name}` was not found in $SIDECHAIN_BIN_DIR, ./.bin or PATH; install it with `make tools` (go install into .bin/) or point SIDECHAIN_BIN_DIR at its directory"
            ))
        })
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| executable(p))
}

/// `.bin/<name>` in the current directory or any parent (the project's tool dir).
fn in_project_bin(name: &str) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|d| d.join(".bin").join(name))
        .find(|p| executable(p))
}

impl Binaries {
    pub fn locate() -> Result<Self> {
        let own_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let ours = |name: &str| {
            let beside = own_dir.join(name);
            if executable(&beside) {
                return Ok(beside);
            }
            on_path(name).ok_or_else(|| {
                Error::Missing(format!(
                    "`{name}` is neither next to testnet ({}) nor on PATH; build it with `make build`",
                    own_dir.display()
                ))
            })
        };
        Ok(Binaries {
            sidechaind: ours("sidechaind")?,
            sidechain: ours("sidechain")?,
            bridge_relayer: ours("bridge-relayer")?,
            cometbft: tool("cometbft")?,
        })
    }

    /// geth, the local L1 (only networks with an L1 need it).
    pub fn geth(&self) -> Result<PathBuf> {
        tool("geth")
    }
}
