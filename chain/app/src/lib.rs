//! The sidechain state machine, pure: no I/O, no clock, no randomness in consensus paths, no
//! `HashMap` iteration, checked arithmetic throughout (the crate's lints and `clippy.toml`
//! enforce it).
//!
//! It reads state through [`StateRead`] and returns the writes, events, per-transaction results
//! and validator updates of a block. The node (`sidechaind`) wraps it with RocksDB storage, the
//! Jellyfish Merkle Tree that yields the app hash, and the ABCI server.
//!
//! Components ([`bank`], [`validators`], [`bridge`]) share one face, [`component::Component`]:
//! stateless checks, message delivery, end-of-block work, genesis and query routes.
//!
//! * [`genesis::init_chain`] turns the genesis `app_state` into the first state.
//! * [`mempool::Mempool`] mirrors CometBFT's mempool: [`check_tx`] admits transactions against
//!   a running overlay, so one account may have several consecutive-nonce transactions pending;
//!   it holds a transaction whose nonce is a bounded gap ahead until the gap fills, and builds
//!   proposals from what it admitted ([`Mempool::proposal`]).
//! * [`block::finalize_block`] executes a block in three phases (decode, batch signature
//!   verification, execution) that the benchmark times separately, then the components'
//!   end-of-block work in a fixed order.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod ante;
pub mod bank;
pub mod block;
pub mod bridge;
pub mod component;
pub mod ctx;
pub mod exec;
pub mod fail;
pub mod genesis;
pub mod mempool;
pub mod query;
pub mod quorum;
pub mod sigverify;
pub mod validators;
pub mod view;

pub use block::{finalize_block, BlockOutput, DecodedTx};
pub use ctx::BlockInfo;
pub use exec::TxOutcome;
pub use mempool::{check_tx, CheckKind, Mempool, MempoolChecker};
pub use view::{Overlay, PendingWrites, StateRead, Writes};

/// A storage failure under the state machine. It is never caused by transaction content; the
/// node stops rather than risk diverging from its peers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StorageError(pub String);

/// State that must exist after genesis is missing or undecodable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("state record `{key}` is missing or corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
