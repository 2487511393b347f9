//! FinalizeBlock, in the phases the benchmark measures: decode, signature verification (one
//! batch for the whole block), execution; then every component's end-of-block work in one
//! fixed order:
//!
//! 1. bank: credit the fees the block's transactions paid to the fee pool;
//! 2. validators: drop lapsed proposals; the net change of the set over the block becomes
//!    CometBFT's validator updates;
//! 3. bridge: apply attested deposits in nonce order, counting the power of the validator set
//!    as step 2 left it (its later work joins here: time out batches, cut new batches, emit
//!    a new signer set when power moved);
//!
//! then the height is recorded.

use sidechain_types::{state_key, tx::DecodeError, Code, Event, SignedTx};

use crate::{
    bank::Bank,
    bridge::Bridge,
    component::Component,
    ctx::{BlockCtx, BlockInfo},
    exec::{execute_tx, Mode, TxOutcome},
    validators::{self, Validators},
    view::Writes,
    Overlay, Result, StateRead,
};

/// A transaction of the block after decoding.
#[derive(Debug, Clone)]
pub struct DecodedTx {
    pub len: usize,
    pub tx: Result<SignedTx, (Code, String)>,
}

/// Everything a block changed and produced.
#[derive(Debug, Clone, Default)]
pub struct BlockOutput {
    pub tx_results: Vec<TxOutcome>,
    /// Block-level events (end of block).
    pub events: Vec<Event>,
    pub writes: Writes,
    /// (ed25519 consensus key, new power; 0 removes), sorted by key: the net change of the
    /// validator set over the block, so always a valid change of the set CometBFT holds.
    pub validator_updates: Vec<([u8; 32], u64)>,
}

/// Phase 1: decode every transaction; undecodable ones keep their error.
pub fn decode_txs<T: AsRef<[u8]>>(txs: &[T]) -> Vec<DecodedTx> {
    txs.iter()
        .map(|raw| {
            let raw = raw.as_ref();
            let tx = SignedTx::decode(raw).map_err(|e| match e {
                DecodeError::TooLarge { .. } => (Code::TxTooLarge, e.to_string()),
                DecodeError::Malformed(_) => (Code::Decode, e.to_string()),
            });
            DecodedTx { len: raw.len(), tx }
        })
        .collect()
}

/// Phase 2: verify every signature in one batch; if the batch fails, find the bad ones one by
/// one. The random batch coefficients only affect how unlikely a forged batch is to pass, never
/// which transactions are valid, so every node reaches the same verdicts.
pub fn verify_signatures(decoded: &[DecodedTx]) -> Vec<bool> {
    verify_signatures_except(decoded, &[])
}

/// [`verify_signatures`], taking `already_verified[i] == true` as the verdict for transaction
/// `i` without checking it again (the node passes the transactions whose exact bytes passed
/// its own CheckTx). Verification is a pure function of the bytes, so the verdicts are the
/// same as checking everything.
pub fn verify_signatures_except(decoded: &[DecodedTx], already_verified: &[bool]) -> Vec<bool> {
    let known = |i: usize| already_verified.get(i).copied().unwrap_or(false);
    let items: Vec<crate::sigverify::Item> = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match (&d.tx, known(i)) {
            (Ok(tx), false) => Some((tx.public_key, tx.signature, tx.body.sign_hash())),
            _ => None,
        })
        .collect();
    // One verdict per queued item, in the order they were queued.
    let mut verdicts = crate::sigverify::verify_batch(&items).into_iter();
    decoded
        .iter()
        .enumerate()
        .map(|(i, d)| d.tx.is_ok() && (known(i) || verdicts.next().unwrap_or(false)))
        .collect()
}

/// Phase 3: execute `block` over `base`, then the end-of-block work (see the module doc).
pub fn execute_block(
    base: &dyn StateRead,
    block: BlockInfo,
    decoded: &[DecodedTx],
    sig_ok: &[bool],
) -> Result<BlockOutput> {
    let mut view = Overlay::new(base);
    let ctx = BlockCtx::load(&view, block)?;
    let mut tx_results = Vec::with_capacity(decoded.len());
    for (d, ok) in decoded.iter().zip(sig_ok.iter().copied()) {
        let outcome = match &d.tx {
            Ok(tx) => execute_tx(&mut view, &ctx, tx, d.len, ok, Mode::Deliver)?,
            Err((code, log)) => TxOutcome::rejected(*code, log.clone()),
        };
        tx_results.push(outcome);
    }
    let mut events = Bank::end_block(&mut view, &ctx)?;
    events.append(&mut Validators::end_block(&mut view, &ctx)?);
    let validator_updates = validators::state::block_updates(&view)?;
    events.append(&mut Bridge::end_block(&mut view, &ctx)?);
    view.put(state_key::app::LAST_HEIGHT.to_vec(), &block.height);
    Ok(BlockOutput {
        tx_results,
        events,
        writes: view.into_writes(),
        validator_updates,
    })
}

/// Decode, verify and execute a block.
pub fn finalize_block<T: AsRef<[u8]>>(
    base: &dyn StateRead,
    block: BlockInfo,
    txs: &[T],
) -> Result<BlockOutput> {
    finalize_block_except(base, block, txs, &[])
}

/// [`finalize_block`] with signatures already verified by this node's CheckTx skipped (see
/// [`verify_signatures_except`]).
pub fn finalize_block_except<T: AsRef<[u8]>>(
    base: &dyn StateRead,
    block: BlockInfo,
    txs: &[T],
    already_verified: &[bool],
) -> Result<BlockOutput> {
    let decoded = decode_txs(txs);
    let sig_ok = verify_signatures_except(&decoded, already_verified);
    execute_block(base, block, &decoded, &sig_ok)
}
