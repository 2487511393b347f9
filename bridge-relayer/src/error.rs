//! What can go wrong in the relayer, each with what to do about it, and whether waiting and
//! trying again can help ([`Error::is_retryable`]).

use std::path::{Path, PathBuf};

/// Relayer errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {field}: {reason}")]
    Config {
        path: PathBuf,
        field: String,
        reason: String,
    },
    #[error("key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    /// The L1 endpoint does not answer (or answers with a transport error).
    #[error("cannot reach the L1 node at {url}: {reason}; is it running and is l1.rpc right?")]
    L1Unreachable { url: String, reason: String },
    /// The L1 endpoint answered, but not what the configuration says it should be.
    #[error("the L1 at {url} does not match the configuration: {reason}")]
    L1Mismatch { url: String, reason: String },
    /// The sidechain does not match the configuration or the operator key.
    #[error("the sidechain at {url} does not match the configuration: {reason}")]
    SidechainMismatch { url: String, reason: String },
    /// The operator key's account is not (or no longer, or not yet) a validator's operator.
    #[error("the operator key's account {operator} is not a current validator's operator; only validators' relayers may claim deposits (a joining validator's relayer waits until the set includes it)")]
    NotValidator { operator: sidechain_types::Address },
    #[error(transparent)]
    Sidechain(#[from] sidechain_client::Error),
    /// A claim transaction was committed but failed.
    #[error("claim transaction {hash} failed with code {code} ({name}): {log}")]
    ClaimFailed {
        hash: String,
        code: u32,
        name: String,
        log: String,
    },
    /// A withdrawal-side transaction (confirmation, attestation) was committed but failed.
    #[error("{what} transaction {hash} failed with code {code} ({name}): {log}")]
    TxFailed {
        what: String,
        hash: String,
        code: u32,
        name: String,
        log: String,
    },
    /// The relayer cannot do its withdrawal work as configured (its bridge key is not the
    /// validator's registered Ethereum address, say).
    #[error("{0}")]
    Bridge(String),
    #[error("{0}")]
    Decode(String),
    /// The signing log (`bridge/signed.jsonl`) cannot be read or written: nothing is signed.
    #[error("signing log {path}: {reason}")]
    SignLog { path: PathBuf, reason: String },
    /// The bridge key refused to sign a second, different digest for a nonce it signed.
    #[error("signature refused: {0}")]
    SignRefused(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the same call may succeed later without anyone changing anything: an endpoint
    /// that did not answer, any answer of the sidechain that is not about the relayer's own
    /// files (a node still starting answers queries with an error until its first block; a
    /// rejected claim is retried after resynchronizing from the chain's record), a failed
    /// claim. A configuration or key that does not match either chain is permanent until the
    /// operator fixes it.
    pub fn is_retryable(&self) -> bool {
        use sidechain_client::Error as C;
        match self {
            Error::L1Unreachable { .. }
            | Error::SignRefused(_)
            | Error::ClaimFailed { .. }
            | Error::TxFailed { .. }
            | Error::Bridge(_)
            | Error::Decode(_)
            | Error::NotValidator { .. } => true,
            Error::Sidechain(e) => !matches!(
                e,
                C::Io { .. }
                    | C::KeyExists(_)
                    | C::NoSuchKey { .. }
                    | C::BadKeyName(_)
                    | C::BadKeyFile { .. }
                    | C::Config { .. }
                    | C::BadUrl { .. }
            ),
            Error::Io { .. }
            | Error::Config { .. }
            | Error::Key { .. }
            | Error::SignLog { .. }
            | Error::L1Mismatch { .. }
            | Error::SidechainMismatch { .. } => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
