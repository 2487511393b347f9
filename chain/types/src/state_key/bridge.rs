//! The bridge to L1.
//!
//! Deposits are keyed by nonce: `deposit/<nonce>` holds a nonce's tallies while it is pending
//! and the applied claim afterwards; `LAST_APPLIED` is the highest nonce applied (deposits
//! apply strictly in order, so every nonce up to it is applied). Misbehaviour records, wrapped
//! tokens and owed refunds are keyed records with counters (ADR 12), never one list rewritten
//! on every change.
//!
//! Withdrawals (ADR 17): `withdrawal/<id>` records, one bounded queue record per token
//! (`withdrawal_queue/<token>`, at most `MAX_QUEUED_PER_TOKEN` entries) with `QUEUED_TOKENS`
//! listing the tokens whose queue is not empty, batches by nonce (`batch/<nonce>`),
//! `LAST_BATCH_NONCE`, `OUTSTANDING_BATCH` (at most one unexecuted batch) and the L1 signer
//! set the contract holds (`L1_SIGNER_SET`).

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

/// borsh `L1SignerSet`: the signer set the L1 contract holds (written at genesis from the
/// genesis validators' Ethereum addresses and powers, normalized as the deployment does).
pub const L1_SIGNER_SET: &[u8] = b"bridge/l1_signer_set";
/// borsh `u64`: the id of the last withdrawal created (0 before the first; ids start at 1).
pub const WITHDRAWAL_COUNT: &[u8] = b"bridge/withdrawal_count";
/// borsh `Vec<EthAddress>`, sorted: the tokens whose withdrawal queue is not empty.
pub const QUEUED_TOKENS: &[u8] = b"bridge/queued_tokens";
/// borsh `u64`: the nonce of the last batch cut (0 before the first; nonces start at 1).
pub const LAST_BATCH_NONCE: &[u8] = b"bridge/last_batch_nonce";
/// borsh `u64`: the nonce of the batch L1 has not executed yet, while there is one (ADR 17:
/// at most one outstanding batch for the whole bridge); absent otherwise.
pub const OUTSTANDING_BATCH: &[u8] = b"bridge/outstanding_batch";
/// borsh `u64`: the nonce of the last signer-set update the chain produced (0 before the
/// first; the genesis set has nonce 0). Cancelled updates keep their nonce used.
pub const LAST_SIGNER_SET_NONCE: &[u8] = b"bridge/last_signer_set_nonce";
/// borsh `u64`: the nonce of the signer-set update not yet active or cancelled on L1, while
/// there is one (at most one at a time, as the contract accepts); absent otherwise.
pub const OPEN_SIGNER_SET: &[u8] = b"bridge/open_signer_set";

/// `bridge/signer_set/<nonce, 8 bytes big-endian>` -> borsh `SignerSetUpdate`.
pub fn signer_set(nonce: u64) -> Vec<u8> {
    super::index(b"bridge/signer_set/", nonce)
}

/// `bridge/in_flight/<20 L1 token address bytes>` -> borsh `u128`: base units of the token's
/// wrapped denom burned by withdrawals that L1 has not executed yet (amount + fee of every
/// queued, requeued or batched withdrawal); absent when zero. The conservation invariant per
/// token: the L1 bridge's balance >= wrapped supply + this.
pub fn in_flight(token: &EthAddress) -> Vec<u8> {
    super::key(b"bridge/in_flight/", token.as_bytes())
}

/// `bridge/timed_out_batch/<nonce, 8 bytes big-endian>` -> borsh `OutgoingBatch`: the last
/// batch with that nonce that timed out on L1 (its nonce was then given to the next batch).
pub fn timed_out_batch(nonce: u64) -> Vec<u8> {
    super::index(b"bridge/timed_out_batch/", nonce)
}

/// `bridge/withdrawal/<id, 8 bytes big-endian>` -> borsh `Withdrawal`.
pub fn withdrawal(id: u64) -> Vec<u8> {
    super::index(b"bridge/withdrawal/", id)
}

/// `bridge/withdrawal_queue/<20 L1 token address bytes>` -> borsh `Vec<QueuedWithdrawal>` in id
/// order (at most `MAX_QUEUED_PER_TOKEN`); absent when empty.
pub fn withdrawal_queue(token: &EthAddress) -> Vec<u8> {
    super::key(b"bridge/withdrawal_queue/", token.as_bytes())
}

/// `bridge/batch/<nonce, 8 bytes big-endian>` -> borsh `OutgoingBatch`.
pub fn batch(nonce: u64) -> Vec<u8> {
    super::index(b"bridge/batch/", nonce)
}

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

/// `bridge/refund/<id, 8 bytes big-endian>` -> borsh `Refund` (owed, in a batch, or paid).
pub fn refund(id: u64) -> Vec<u8> {
    super::index(b"bridge/refund/", id)
}
