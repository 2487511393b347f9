//! Generates a sidechain network for CometBFT: every validator's keys (CometBFT node and
//! validator keys, the relayer's sidechain operator account, an Ethereum bridge key), the
//! genesis document whose `app_state` is the application's [`sidechain_types::GenesisState`],
//! and one CometBFT `config.toml` per node with its own block of local ports.
//!
//! The `genesis` binary is a thin command line over [`generate()`]; the `testnet` launcher
//! calls the same functions.

pub mod cometbft;
pub mod generate;
pub mod keys;
pub mod layout;
pub mod ports;
pub mod spec;

use std::path::{Path, PathBuf};

pub use generate::{add_node, generate, JoiningNode};
pub use layout::{AbciEndpoint, Layout, Manifest, NodeEntry, NodePaths};
pub use ports::NodePorts;
pub use spec::NetworkSpec;

/// Everything that stops a network from being generated, each saying what to change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid network spec: {0}")]
    Spec(String),
    #[error("invalid network spec: {field}: {reason}")]
    Field { field: String, reason: String },
    #[error("{0}")]
    Input(String),
    #[error("invalid genesis: {0}")]
    Genesis(String),
    #[error("key store: {0}")]
    Keystore(String),
    #[error("port {port} ({purpose} of {node}) is already in use by another program; stop that program (`ss -ltnp 'sport = :{port}'` shows it) or choose other ports with --base-port")]
    PortInUse {
        port: u16,
        node: String,
        purpose: &'static str,
    },
    #[error("{0} already exists and is not empty; remove it (for a testnet: `testnet reset`) or choose another directory")]
    Exists(PathBuf),
    #[error(
        "{0} holds no network (no network.json); create one with `testnet up` or `genesis new`"
    )]
    NoNetwork(PathBuf),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
