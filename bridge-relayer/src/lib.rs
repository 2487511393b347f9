//! The bridge relayer each validator runs next to its node: it reads final `Deposit` events of
//! the L1 `Bridge` contract and claims them on the sidechain with the validator's operator key;
//! and for withdrawals it signs the chain's batches and signer-set updates with the validator's
//! Ethereum bridge key, submits them to L1 in its turn, and attests their final L1 outcome.
//!
//! A pure core ([`core`]: which deposits still need claiming, how claims are grouped) sits
//! between two edges: [`l1`] (alloy, reads the configured contract only, up to the confirmation
//! depth or the `finalized` block) and [`sidechain`] (the chain's record, claim transactions).
//! [`mesh`] (libp2p) connects the validators' relayers so that one of them pays for each L1
//! transaction. The chain's record is the source of truth: a relayer that restarts, or lost its files,
//! resumes from it without skipping or repeating a claim.

pub mod config;
pub mod core;
pub mod error;
pub mod invariant;
pub mod l1;
pub mod mesh;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod run;
pub mod sidechain;
pub mod signer;
pub mod signlog;
pub mod submit;
pub mod withdrawals;

pub use error::{Error, Result};
