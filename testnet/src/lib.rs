//! The `testnet` launcher: generates a local multi-validator network with `sidechain-genesis`,
//! runs every node's processes (CometBFT and `sidechaind`), and controls them afterwards from
//! any later invocation through the pid files kept in the network's home.

pub mod bins;
pub mod commands;
pub mod l1;
pub mod load;
pub mod network;
pub mod process;
pub mod rpc;

use std::path::{Path, PathBuf};

/// Hidden subcommand through which the launcher starts each process in a new session.
pub const INTERNAL_EXEC: &str = "internal-exec";
/// Environment variable naming the default network home.
pub const HOME_ENV: &str = "SIDECHAIN_TESTNET_HOME";
/// Default network home, relative to the working directory.
pub const DEFAULT_HOME: &str = ".testnet";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Genesis(#[from] sidechain_genesis::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Process(String),
    #[error("{0}")]
    State(String),
    #[error("{0}")]
    Chain(String),
    #[error(transparent)]
    Client(#[from] sidechain_client::Error),
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
