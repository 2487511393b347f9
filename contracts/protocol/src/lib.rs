//! The bridge's Ethereum protocol rules, exactly as `contracts/solidity/Bridge.sol` applies them,
//! for both sides of the bridge: the sidechain's state machine (which cuts batches and signer sets
//! and checks the signatures relayers submit) and the L1 tooling in `bridge-contracts`.
//!
//! * [`abi`]: the contract's `Batch`, `SignerSet` and `Signature` structs (alloy `sol!`).
//! * [`Domain`]: the EIP-712 domain (chain id, contract, bridge id) and the digests signers
//!   sign, [`Domain::batch_digest`] and [`Domain::signer_set_digest`]; [`batch_hash`] and
//!   [`signer_set_hash`] (the checkpoint the contract stores).
//! * [`SignerSet`]: a validated set, normalized to 2^32 ([`POWER_BASE`]), and the quorum rule,
//!   strictly more than [`POWER_THRESHOLD`] ([`passes_threshold`]).
//! * [`recover_signer`]: secp256k1 recovery that refuses what the contract refuses (high s per
//!   EIP-2, `v` other than 27/28).
//!
//! The crate is pure and deterministic: no I/O, no clock, no randomness, no hash-ordered
//! collections (`clippy.toml` forbids them), checked arithmetic. It depends only on
//! `alloy-primitives` and `alloy-sol-types` (and `thiserror`). The property tests in
//! `contracts/tests/protocol.rs` check its digests against the deployed contract on revm.
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

pub mod abi;
mod digest;
mod error;
mod signature;
mod signer_set;

pub use abi::Batch;
pub use digest::{
    abi_signer_set_hash, batch_hash, signer_set_hash, AsBatch, Domain, BATCH_TYPE, DOMAIN_NAME,
    DOMAIN_TYPE, DOMAIN_VERSION, SIGNER_SET_TYPE,
};
pub use error::{Error, Result};
pub use signature::{
    recover_signer, recover_signer_rsv, to_contract_signature, SECP256K1_HALF_N, SECP256K1_N,
};
pub use signer_set::{
    passes_threshold, Member, SignerSet, MAX_SIGNERS, POWER_BASE, POWER_THRESHOLD,
};
