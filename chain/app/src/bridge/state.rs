//! Typed access to the bridge's records (keys in `state_key::bridge`).

use sidechain_types::{
    state_key::{self, bridge as key},
    Address, BridgeParams, Denom, DepositRecord, EthAddress, L1SignerSet, Misbehaviour,
    OutgoingBatch, QueuedWithdrawal, Refund, RefundState, SignerSetUpdate, Withdrawal,
    WrappedToken,
};

use crate::{Overlay, Result, StateRead};

/// The bridge parameters; `None` when genesis configured no bridge.
pub fn params(view: &Overlay<'_>) -> Result<Option<BridgeParams>> {
    view.read(state_key::bridge::PARAMS)
}

pub fn put_params(view: &mut Overlay<'_>, params: &BridgeParams) {
    view.put(state_key::bridge::PARAMS.to_vec(), params);
}

/// The highest deposit nonce applied (0 before the first).
pub fn last_applied(view: &Overlay<'_>) -> Result<u64> {
    Ok(view.read(key::LAST_APPLIED)?.unwrap_or(0))
}

pub fn put_last_applied(view: &mut Overlay<'_>, nonce: u64) {
    view.put(key::LAST_APPLIED.to_vec(), &nonce);
}

/// The record of deposit `nonce`; `None` before its first claim.
pub fn deposit(view: &Overlay<'_>, nonce: u64) -> Result<Option<DepositRecord>> {
    view.read(&key::deposit(nonce))
}

pub fn put_deposit(view: &mut Overlay<'_>, record: &DepositRecord) {
    view.put(key::deposit(record.nonce), record);
}

/// The highest nonce the validator with operator `operator` claimed (0 when none).
pub fn last_claimed(view: &Overlay<'_>, operator: &Address) -> Result<u64> {
    Ok(view.read(&key::last_claimed(operator))?.unwrap_or(0))
}

pub fn put_last_claimed(view: &mut Overlay<'_>, operator: &Address, nonce: u64) {
    view.put(key::last_claimed(operator), &nonce);
}

/// The id of the misbehaviour record of `operator` for pending deposit `nonce`, if any.
pub fn misbehaved(view: &Overlay<'_>, nonce: u64, operator: &Address) -> Result<Option<u64>> {
    view.read(&key::misbehaved(nonce, operator))
}

pub fn delete_misbehaved(view: &mut Overlay<'_>, nonce: u64, operator: &Address) {
    view.delete(key::misbehaved(nonce, operator));
}

/// Appends a misbehaviour record and marks (validator, nonce) as recorded; returns its id.
pub fn push_misbehaviour(view: &mut Overlay<'_>, record: &Misbehaviour) -> Result<u64> {
    let id: u64 = view.read(key::MISBEHAVIOUR_COUNT)?.unwrap_or(0);
    view.put(key::misbehaviour(id), record);
    view.put(key::misbehaved(record.nonce, &record.validator), &id);
    view.put(key::MISBEHAVIOUR_COUNT.to_vec(), &id.saturating_add(1));
    Ok(id)
}

/// Every misbehaviour record, oldest first.
pub fn all_misbehaviour(state: &dyn StateRead) -> Result<Vec<Misbehaviour>> {
    let view = Overlay::new(state);
    let count: u64 = view.read(key::MISBEHAVIOUR_COUNT)?.unwrap_or(0);
    let mut out = Vec::new();
    for id in 0..count {
        if let Some(m) = view.read(&key::misbehaviour(id))? {
            out.push(m);
        }
    }
    Ok(out)
}

/// The wrapped token of L1 address `token`, once a deposit of it was minted.
pub fn token(view: &Overlay<'_>, token: &EthAddress) -> Result<Option<WrappedToken>> {
    view.read(&key::token(token))
}

/// Registers a wrapped token: its record, its denom's L1 address and its place in the index.
pub fn register_token(view: &mut Overlay<'_>, wrapped: &WrappedToken) -> Result<()> {
    let i: u64 = view.read(key::TOKEN_COUNT)?.unwrap_or(0);
    view.put(key::token(&wrapped.token), wrapped);
    view.put(key::denom(&wrapped.denom), &wrapped.token);
    view.put(key::token_index(i), &wrapped.token);
    view.put(key::TOKEN_COUNT.to_vec(), &i.saturating_add(1));
    Ok(())
}

/// Every wrapped token, in order of registration.
pub fn all_tokens(state: &dyn StateRead) -> Result<Vec<WrappedToken>> {
    let view = Overlay::new(state);
    let count: u64 = view.read(key::TOKEN_COUNT)?.unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..count {
        let address: Option<EthAddress> = view.read(&key::token_index(i))?;
        if let Some(t) = address.map(|a| token(&view, &a)).transpose()?.flatten() {
            out.push(t);
        }
    }
    Ok(out)
}

/// Appends a refund owed to the queue, giving it the next id; returns the id.
pub fn push_refund(view: &mut Overlay<'_>, mut refund: Refund) -> Result<u64> {
    let tail: u64 = view.read(key::REFUNDS_TAIL)?.unwrap_or(0);
    refund.id = tail;
    view.put(key::refund(tail), &refund);
    view.put(key::REFUNDS_TAIL.to_vec(), &tail.saturating_add(1));
    Ok(tail)
}

/// The refund queue's head (lowest id that may still be owed) and tail (next id).
pub fn refund_queue(view: &Overlay<'_>) -> Result<(u64, u64)> {
    Ok((
        view.read(key::REFUNDS_HEAD)?.unwrap_or(0),
        view.read(key::REFUNDS_TAIL)?.unwrap_or(0),
    ))
}

/// Refund `id` (owed, in a batch, or paid).
pub fn refund(view: &Overlay<'_>, id: u64) -> Result<Option<Refund>> {
    view.read(&key::refund(id))
}

/// Stores a refund record.
pub fn put_refund(view: &mut Overlay<'_>, refund: &Refund) {
    view.put(key::refund(refund.id), refund);
}

/// Moves the refund queue's head past the refunds paid (they are never owed again).
pub fn advance_refund_head(view: &mut Overlay<'_>) -> Result<()> {
    let (mut head, tail) = refund_queue(view)?;
    let start = head;
    while head < tail {
        match refund(view, head)? {
            Some(r) if matches!(r.state, RefundState::Paid { .. }) => head = head.saturating_add(1),
            _ => break,
        }
    }
    if head != start {
        view.put(key::REFUNDS_HEAD.to_vec(), &head);
    }
    Ok(())
}

/// The L1 token a wrapped denom stands for; `None` for any other denom (the native one too).
pub fn denom_token(view: &Overlay<'_>, denom: &Denom) -> Result<Option<EthAddress>> {
    view.read(&key::denom(denom))
}

/// The signer set the L1 contract holds.
pub fn l1_signer_set(view: &Overlay<'_>) -> Result<Option<L1SignerSet>> {
    view.read(key::L1_SIGNER_SET)
}

/// Stores the signer set the L1 contract holds.
pub fn put_l1_signer_set(view: &mut Overlay<'_>, set: &L1SignerSet) {
    view.put(key::L1_SIGNER_SET.to_vec(), set);
}

/// Takes the next withdrawal id (1, 2, 3, ...); `None` when the counter is exhausted.
pub fn next_withdrawal_id(view: &mut Overlay<'_>) -> Result<Option<u64>> {
    let last: u64 = view.read(key::WITHDRAWAL_COUNT)?.unwrap_or(0);
    let Some(id) = last.checked_add(1) else {
        return Ok(None);
    };
    view.put(key::WITHDRAWAL_COUNT.to_vec(), &id);
    Ok(Some(id))
}

/// Withdrawal `id`.
pub fn withdrawal(view: &Overlay<'_>, id: u64) -> Result<Option<Withdrawal>> {
    view.read(&key::withdrawal(id))
}

/// Stores a withdrawal record.
pub fn put_withdrawal(view: &mut Overlay<'_>, w: &Withdrawal) {
    view.put(key::withdrawal(w.id), w);
}

/// `token`'s withdrawal queue, in id order (empty when absent).
pub fn queue(view: &Overlay<'_>, token: &EthAddress) -> Result<Vec<QueuedWithdrawal>> {
    Ok(view
        .read(&key::withdrawal_queue(token))?
        .unwrap_or_default())
}

/// Stores `token`'s queue (deleting it when empty) and keeps the queued-tokens index in step.
pub fn put_queue(
    view: &mut Overlay<'_>,
    token: &EthAddress,
    queue: &[QueuedWithdrawal],
) -> Result<()> {
    let mut tokens = queued_tokens(view)?;
    let at = tokens.binary_search(token);
    if queue.is_empty() {
        view.delete(key::withdrawal_queue(token));
        if let Ok(i) = at {
            tokens.remove(i);
            view.put(key::QUEUED_TOKENS.to_vec(), &tokens);
        }
    } else {
        view.put(key::withdrawal_queue(token), &queue.to_vec());
        if let Err(i) = at {
            tokens.insert(i, *token);
            view.put(key::QUEUED_TOKENS.to_vec(), &tokens);
        }
    }
    Ok(())
}

/// The tokens whose queue is not empty, sorted.
pub fn queued_tokens(view: &Overlay<'_>) -> Result<Vec<EthAddress>> {
    Ok(view.read(key::QUEUED_TOKENS)?.unwrap_or_default())
}

/// The nonce of the last batch cut (0 before the first).
pub fn last_batch_nonce(view: &Overlay<'_>) -> Result<u64> {
    Ok(view.read(key::LAST_BATCH_NONCE)?.unwrap_or(0))
}

/// The nonce of the batch L1 has not executed yet, if any.
pub fn outstanding_batch(view: &Overlay<'_>) -> Result<Option<u64>> {
    view.read(key::OUTSTANDING_BATCH)
}

/// Batch `nonce`.
pub fn batch(view: &Overlay<'_>, nonce: u64) -> Result<Option<OutgoingBatch>> {
    view.read(&key::batch(nonce))
}

/// Stores a batch record.
pub fn put_batch(view: &mut Overlay<'_>, batch: &OutgoingBatch) {
    view.put(key::batch(batch.nonce), batch);
}

/// Records a newly cut batch: its record, the last nonce and the outstanding marker.
pub fn put_new_batch(view: &mut Overlay<'_>, batch: &OutgoingBatch) {
    put_batch(view, batch);
    view.put(key::LAST_BATCH_NONCE.to_vec(), &batch.nonce);
    view.put(key::OUTSTANDING_BATCH.to_vec(), &batch.nonce);
}

/// Marks the outstanding batch settled: no batch is outstanding any more. When it timed out,
/// its nonce is free again (the last nonce steps back) and the record is also kept at
/// `timed_out_batch/<nonce>`, since the next batch takes over `batch/<nonce>`.
pub fn settle_batch(view: &mut Overlay<'_>, batch: &OutgoingBatch, timed_out: bool) {
    put_batch(view, batch);
    view.delete(key::OUTSTANDING_BATCH.to_vec());
    if timed_out {
        view.put(key::timed_out_batch(batch.nonce), batch);
        view.put(
            key::LAST_BATCH_NONCE.to_vec(),
            &batch.nonce.saturating_sub(1),
        );
    }
}

/// The latest batches, newest nonce first, at most `limit`: the outstanding one (if any) and
/// settled ones below it.
pub fn recent_batches(state: &dyn StateRead, limit: u64) -> Result<Vec<OutgoingBatch>> {
    let view = Overlay::new(state);
    let last = last_batch_nonce(&view)?;
    let mut out = Vec::new();
    // A timed-out nonce above the last one keeps its record until the nonce is reused.
    let top = match batch(&view, last.saturating_add(1))? {
        Some(_) => last.saturating_add(1),
        None => last,
    };
    let mut n = top;
    while n > 0 && (out.len() as u64) < limit {
        if let Some(b) = batch(&view, n)? {
            out.push(b);
        }
        n = n.saturating_sub(1);
    }
    Ok(out)
}

/// The nonce of the last signer-set update produced (0: none; the genesis set has nonce 0).
pub fn last_signer_set_nonce(view: &Overlay<'_>) -> Result<u64> {
    Ok(view.read(key::LAST_SIGNER_SET_NONCE)?.unwrap_or(0))
}

/// The signer-set update not yet active or cancelled on L1, if any.
pub fn open_signer_set(view: &Overlay<'_>) -> Result<Option<u64>> {
    view.read(key::OPEN_SIGNER_SET)
}

/// Signer-set update `nonce`.
pub fn signer_set(view: &Overlay<'_>, nonce: u64) -> Result<Option<SignerSetUpdate>> {
    view.read(&key::signer_set(nonce))
}

/// Stores a signer-set update.
pub fn put_signer_set(view: &mut Overlay<'_>, update: &SignerSetUpdate) {
    view.put(key::signer_set(update.set.nonce), update);
}

/// Records a newly produced update: its record, the last nonce and the open marker.
pub fn put_new_signer_set(view: &mut Overlay<'_>, update: &SignerSetUpdate) {
    put_signer_set(view, update);
    view.put(key::LAST_SIGNER_SET_NONCE.to_vec(), &update.set.nonce);
    view.put(key::OPEN_SIGNER_SET.to_vec(), &update.set.nonce);
}

/// Closes the open update (active or cancelled on L1).
pub fn close_signer_set(view: &mut Overlay<'_>, update: &SignerSetUpdate) {
    put_signer_set(view, update);
    view.delete(key::OPEN_SIGNER_SET.to_vec());
}

/// The latest signer-set updates, newest first, at most `limit`.
pub fn recent_signer_sets(state: &dyn StateRead, limit: u64) -> Result<Vec<SignerSetUpdate>> {
    let view = Overlay::new(state);
    let mut n = last_signer_set_nonce(&view)?;
    let mut out = Vec::new();
    while n > 0 && (out.len() as u64) < limit {
        if let Some(u) = signer_set(&view, n)? {
            out.push(u);
        }
        n = n.saturating_sub(1);
    }
    Ok(out)
}

/// Base units of `token`'s wrapped denom burned by withdrawals L1 has not executed (0 when
/// none).
pub fn in_flight(view: &Overlay<'_>, token: &EthAddress) -> Result<u128> {
    Ok(view.read(&key::in_flight(token))?.unwrap_or(0))
}

/// Takes `amount` from `token`'s in-flight total, stopping at zero (an executed batch).
pub fn reduce_in_flight(view: &mut Overlay<'_>, token: &EthAddress, amount: u128) -> Result<()> {
    let next = in_flight(view, token)?.saturating_sub(amount);
    if next == 0 {
        view.delete(key::in_flight(token));
    } else {
        view.put(key::in_flight(token), &next);
    }
    Ok(())
}

/// Adds `amount` to (or, with `add` false, takes it from) `token`'s in-flight total; `None`
/// when the total would leave 128 bits or go below zero.
pub fn change_in_flight(
    view: &mut Overlay<'_>,
    token: &EthAddress,
    amount: u128,
    add: bool,
) -> Result<Option<()>> {
    let now = in_flight(view, token)?;
    let next = if add {
        now.checked_add(amount)
    } else {
        now.checked_sub(amount)
    };
    let Some(next) = next else {
        return Ok(None);
    };
    if next == 0 {
        view.delete(key::in_flight(token));
    } else {
        view.put(key::in_flight(token), &next);
    }
    Ok(Some(()))
}
