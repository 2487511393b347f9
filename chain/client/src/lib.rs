//! Client side of the sidechain: key files, building and signing transactions, broadcasting
//! them through CometBFT's RPC and waiting for inclusion, and queries whose Merkle proofs are
//! checked against the app hash of a committed block.

pub mod config;
pub mod keystore;
pub mod rpc;

use std::path::{Path, PathBuf};

pub use config::ClientConfig;
pub use keystore::{KeyInfo, Keystore};
pub use rpc::Client;

/// Everything that can go wrong on the client side, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a key named `{0}` already exists; pick another name or remove the old file")]
    KeyExists(String),
    #[error("no key named `{name}` in {dir}; create one with `sidechain keys add {name}`")]
    NoSuchKey { name: String, dir: PathBuf },
    #[error("`{0}` is not a valid key name: use 1 to 64 letters, digits, '-' or '_'")]
    BadKeyName(String),
    #[error("key file {path} is damaged: {reason}")]
    BadKeyFile { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("cannot reach the node at {url}: {reason}; is it running? (`testnet status` shows the RPC URLs)")]
    Unreachable { url: String, reason: String },
    #[error("the node answered with an error: {0}")]
    Rpc(String),
    #[error("query {path} failed with code {code}: {log}")]
    Query {
        path: String,
        code: u32,
        log: String,
    },
    #[error("transaction rejected with code {code} ({name}): {log}")]
    Rejected {
        code: u32,
        name: String,
        log: String,
        hash: String,
    },
    #[error("transaction {hash} was accepted into the mempool but not committed within {secs} s; check it later with `sidechain query tx {hash}`")]
    NotCommitted { hash: String, secs: u64 },
    #[error("proof verification failed: {0}")]
    Proof(String),
    #[error("{0}")]
    Decode(String),
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
