//! The bridge to L1.
//!
//! Deposits are keyed by nonce: `deposit/<nonce>` holds a nonce's tallies while it is pending
//! and the applied claim afterwards; `LAST_APPLIED` is the highest nonce applied (deposits
//! apply strictly in order, so every nonce up to it is applied). Misbehaviour records, wrapped
//! tokens and owed refunds are keyed records with counters (ADR 12), never one list rewritten
//! on every change.

use crate::{Address, Denom, EthAddress};

/// Prefix of every key below.
pub const PREFIX: &[u8] = b"bridge/";
/// borsh `BridgeParams`: written at genesis when genesis configures a bridge, absent otherwise.
pub const PARAMS: &[u8] = b"bridge/params";
/// borsh `u64`: the highest deposit nonce applied (minted or owed back); 0 before the first.
pub const LAST_APPLIED: &[u8] = b"bridge/last_applied";
/// borsh `u64`: number of misbehaviour records (the next record's id).
pub const MISBEHAVIOUR_COUNT: &[u8] = b"bridge/misbehaviour_count";
/// borsh `u64`: number of wrapped tokens (the next index).
pub const TOKEN_COUNT: &[u8] = b"bridge/token_count";
/// borsh `u64`: lowest refund id that may still be owed (the refund queue's head).
pub const REFUNDS_HEAD: &[u8] = b"bridge/refunds_head";
/// borsh `u64`: id of the next refund (the refund queue's tail).
pub const REFUNDS_TAIL: &[u8] = b"bridge/refunds_tail";

/// `bridge/deposit/<nonce, 8 bytes big-endian>` -> borsh `DepositRecord`, from the first claim
/// of the nonce on.
pub fn deposit(nonce: u64) -> Vec<u8> {
    super::index(b"bridge/deposit/", nonce)
}

/// `bridge/last_claimed/<20 operator address bytes>` -> borsh `u64`: the highest deposit nonce
/// the validator with that operator has claimed above the last applied one.
pub fn last_claimed(operator: &Address) -> Vec<u8> {
    super::key(b"bridge/last_claimed/", operator.as_bytes())
}

/// `bridge/misbehaviour/<id, 8 bytes big-endian>` -> borsh `Misbehaviour`.
pub fn misbehaviour(id: u64) -> Vec<u8> {
    super::index(b"bridge/misbehaviour/", id)
}

/// `bridge/misbehaved/<nonce, 8 bytes big-endian><20 operator address bytes>` -> borsh `u64`,
/// the id of the misbehaviour record of that validator for that pending nonce (one per
/// validator and nonce; deleted when the nonce is applied).
pub fn misbehaved(nonce: u64, operator: &Address) -> Vec<u8> {
    let mut k = super::index(b"bridge/misbehaved/", nonce);
    k.extend_from_slice(operator.as_bytes());
    k
}

/// `bridge/token/<20 L1 address bytes>` -> borsh `WrappedToken`, once a deposit of it was
/// minted.
pub fn token(token: &EthAddress) -> Vec<u8> {
    super::key(b"bridge/token/", token.as_bytes())
}

/// `bridge/token_index/<i, 8 bytes big-endian>` -> borsh `EthAddress`: the i-th token wrapped
/// (0-based, below `TOKEN_COUNT`).
pub fn token_index(i: u64) -> Vec<u8> {
    super::index(b"bridge/token_index/", i)
}

/// `bridge/denom/<denom>` -> borsh `EthAddress`: the L1 token a wrapped denom stands for.
pub fn denom(denom: &Denom) -> Vec<u8> {
    super::key(b"bridge/denom/", denom.as_str().as_bytes())
}

/// `bridge/refund/<id, 8 bytes big-endian>` -> borsh `Refund`, while owed.
pub fn refund(id: u64) -> Vec<u8> {
    super::index(b"bridge/refund/", id)
}
