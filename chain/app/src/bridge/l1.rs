//! The chain's bridge records in the L1 contract's terms: the EIP-712 domain of the deployment
//! genesis names, batches and signer sets as the contract's ABI structs, and the digests
//! validators sign (`bridge_protocol`'s code, the one `bridge-contracts` and the contract's
//! tests use, not a copy). The state machine checks signatures with these; relayers sign and
//! submit with them.

use alloy_primitives::{Address as L1Address, B256, U256};
use bridge_protocol::{abi, Batch, Domain, SignerSet};
use sidechain_types::{BatchSignature, BridgeParams, EthAddress, L1SignerSet, OutgoingBatch};

/// The EIP-712 domain of the deployment `params` name (L1 chain id, contract, bridge id).
pub fn domain(params: &BridgeParams) -> Domain {
    Domain::new(
        params.l1_chain_id,
        L1Address::from(params.contract.0),
        B256::from(params.bridge_id),
    )
}

/// `batch` as the contract's `Batch` struct (entries in the batch's order).
pub fn batch_to_abi(batch: &OutgoingBatch) -> Batch {
    Batch {
        token: L1Address::from(batch.token.0),
        nonce: U256::from(batch.nonce),
        timeout: U256::from(batch.timeout),
        fee: U256::from(batch.fee),
        recipients: batch
            .withdrawals
            .iter()
            .map(|w| L1Address::from(w.to.0))
            .collect(),
        amounts: batch
            .withdrawals
            .iter()
            .map(|w| U256::from_be_bytes(w.amount.0))
            .collect(),
    }
}

/// The digest validators sign for `batch`: the contract's `batchDigest`.
pub fn batch_digest(params: &BridgeParams, batch: &OutgoingBatch) -> [u8; 32] {
    domain(params).batch_digest(&batch_to_abi(batch)).0
}

/// `set` as the contract's `SignerSet` struct.
pub fn signer_set_to_abi(set: &L1SignerSet) -> abi::SignerSet {
    abi::SignerSet {
        nonce: U256::from(set.nonce),
        signers: set.signers.iter().map(|a| L1Address::from(a.0)).collect(),
        powers: set.powers.iter().map(|p| U256::from(*p)).collect(),
    }
}

/// The digest the set L1 holds signs to move to `next`: the contract's `signerSetDigest`.
pub fn signer_set_digest(params: &BridgeParams, next: &L1SignerSet) -> [u8; 32] {
    let hash = bridge_protocol::abi_signer_set_hash(&signer_set_to_abi(next));
    domain(params).typed_digest(hash).0
}

/// Signatures as the contract takes them (`Signature{signerIndex, v, r, s}`), in the order
/// given (the chain keeps them in ascending signer index).
pub fn signatures_to_abi(signatures: &[BatchSignature]) -> Vec<abi::Signature> {
    signatures
        .iter()
        .map(|s| {
            let mut r = [0u8; 32];
            let mut sv = [0u8; 32];
            r.copy_from_slice(s.signature.get(..32).unwrap_or(&[0; 32]));
            sv.copy_from_slice(s.signature.get(32..64).unwrap_or(&[0; 32]));
            abi::Signature {
                signerIndex: U256::from(s.signer_index),
                v: s.signature.get(64).copied().unwrap_or(0),
                r: B256::from(r),
                s: B256::from(sv),
            }
        })
        .collect()
}

/// The L1 signer set of the given members (Ethereum address, sidechain power), normalized to
/// 2^32 as the contract expects (`SignerSet::normalized`), with nonce `nonce`.
///
/// Errors: the set breaks a rule of the contract (no member, more than 256, a zero address).
pub fn normalized_set(
    nonce: u64,
    members: impl IntoIterator<Item = (EthAddress, u64)>,
) -> Result<L1SignerSet, bridge_protocol::Error> {
    let set = SignerSet::normalized(
        nonce,
        members.into_iter().map(|(a, p)| (L1Address::from(a.0), p)),
    )?;
    Ok(from_protocol(&set))
}

/// A validated protocol set as the chain stores it.
pub fn from_protocol(set: &SignerSet) -> L1SignerSet {
    L1SignerSet {
        nonce: set.nonce,
        signers: set
            .members()
            .iter()
            .map(|m| EthAddress(m.address.0 .0))
            .collect(),
        powers: set.members().iter().map(|m| m.power).collect(),
    }
}

/// The power moved between two sets as the contract counts it (`_powerMoved`): the larger of
/// the power gained and the power lost, members matched by address. Out of 2^32.
pub fn power_moved(a: &L1SignerSet, b: &L1SignerSet) -> u64 {
    let power = |set: &L1SignerSet, addr: &EthAddress| -> u64 {
        set.signers
            .iter()
            .position(|s| s == addr)
            .and_then(|i| set.powers.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut gained = 0u64;
    let mut lost = 0u64;
    for (addr, p) in b.signers.iter().zip(&b.powers) {
        gained = gained.saturating_add(p.saturating_sub(power(a, addr)));
    }
    for (addr, p) in a.signers.iter().zip(&a.powers) {
        lost = lost.saturating_add(p.saturating_sub(power(b, addr)));
    }
    gained.max(lost)
}
