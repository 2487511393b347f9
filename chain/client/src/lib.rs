//! Client side of the sidechain: key files, building and signing transactions, broadcasting
//! them through CometBFT's RPC and waiting for inclusion, and queries whose Merkle proofs are
//! checked against the app hash of a committed block whose header was verified, light-client
//! style, from a [`TrustAnchor`] the user gave (the genesis validators or a trusted header).
//!
//! It is also the workspace's one way to CometBFT's RPC: every RPC client is made by
//! [`http_client`], every transaction a tool sends goes through [`Client::sign_and_send`] (or
//! [`Client::broadcast_and_wait`] for one already signed), and every failure is an [`Error`]
//! that says whether trying again can help ([`Error::is_retryable`]).

pub mod config;
pub mod error;
pub mod keystore;
pub mod light;
pub mod rpc;

pub use config::ClientConfig;
pub use error::Error;
pub use keystore::{KeyInfo, Keystore};
pub use light::{TrustAnchor, TrustedGenesis};
pub use rpc::{
    http_client, Client, Proven, SendOptions, Sent, TxEvent, TxOutcome, DEFAULT_TIMEOUT,
};

pub type Result<T, E = Error> = std::result::Result<T, E>;
