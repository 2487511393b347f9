//! Withdrawals, sidechain -> L1: burning into per-token queues, cancelling, cutting batches at
//! the end of a block and collecting the validators' signatures over a batch (ADR 17).
//!
//! A withdrawal burns `amount + fee` of a wrapped denom and joins its token's queue (one keyed
//! record per token, at most [`MAX_QUEUED_PER_TOKEN`] entries, in id order). At the end of a
//! block, while no batch is outstanding, the token whose queue is full (`batch_max_size`) or
//! whose oldest entry has waited `batch_max_wait_blocks` (the oldest first, when several are)
//! gets a batch: highest fee first, ties to the lower id, at most `batch_max_size`, with the next
//! batch nonce and the L1 timeout `block time + batch_timeout_seconds`. Validators' operators
//! then confirm it with their bridge key's signature over the contract's EIP-712 batch digest
//! ([`batch_digest`], from `bridge-protocol`); once the signers carry more than the contract's
//! threshold of the L1 signer set, the batch is ready.

use sidechain_types::{
    bridge::{check_withdraw, L1Amount, WithdrawRule, MAX_QUEUED_PER_TOKEN},
    events::kinds,
    BatchEntry, Code, Denom, EthAddress, Event, OutgoingBatch, QueuedWithdrawal, Refund,
    RefundState, Withdrawal, WithdrawalState,
};

use super::{attest, l1::batch_digest, state};
use crate::{
    bank,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    Overlay, Result,
};

/// The stateless checks of a withdrawal, as a failure with its code.
pub fn check(amount: u128, fee: u128, to: &EthAddress) -> Result<(), Fail> {
    match check_withdraw(amount, fee, to) {
        Ok(()) => Ok(()),
        Err((rule, reason)) => {
            let code = match rule {
                WithdrawRule::ZeroAddress => Code::WithdrawToZeroAddress,
                WithdrawRule::ZeroAmount => Code::ZeroWithdrawal,
                WithdrawRule::Overflow => Code::AmountOverflow,
            };
            fail(code, reason)
        }
    }
}

/// Burns `amount + fee` of `denom` from the signer and queues the withdrawal.
///
/// Errors: the stateless ones of [`check`]; `Code::BridgeNotConfigured`;
/// `Code::NotBridgedDenom` when no deposit registered `denom` (the native token included);
/// `Code::WithdrawalQueueFull`; `Code::InsufficientFunds` when the signer holds less than
/// `amount + fee`.
pub fn withdraw(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    denom: &Denom,
    amount: u128,
    fee: u128,
    to: &EthAddress,
) -> Result<Vec<Event>, Fail> {
    check(amount, fee, to)?;
    attest::params(view)?;
    let Some(token) = state::denom_token(view, denom)? else {
        return fail(
            Code::NotBridgedDenom,
            format!("{denom} stands for no L1 token: only wrapped denoms registered by a deposit (l1/...) can be withdrawn"),
        );
    };
    let mut queue = state::queue(view, &token)?;
    if queue.len() >= MAX_QUEUED_PER_TOKEN {
        return fail(
            Code::WithdrawalQueueFull,
            format!(
                "the withdrawal queue of {denom} holds {MAX_QUEUED_PER_TOKEN} withdrawals already"
            ),
        );
    }
    let Some(total) = amount.checked_add(fee) else {
        return fail(Code::AmountOverflow, "amount plus fee exceeds 2^128 - 1");
    };
    if state::change_in_flight(view, &token, total, true)?.is_none() {
        return fail(
            Code::AmountOverflow,
            format!("the withdrawals of {denom} in flight would exceed 2^128 - 1 base units"),
        );
    }
    bank::burn(view, &signer.address, denom, total)?;
    let Some(id) = state::next_withdrawal_id(view)? else {
        return fail(Code::AmountOverflow, "withdrawal ids are exhausted");
    };
    let record = Withdrawal {
        id,
        owner: signer.address,
        token,
        denom: denom.clone(),
        to: *to,
        amount,
        fee,
        height: ctx.height,
        state: WithdrawalState::Queued,
    };
    state::put_withdrawal(view, &record);
    queue.push(QueuedWithdrawal {
        id,
        fee,
        height: ctx.height,
    });
    state::put_queue(view, &token, &queue)?;
    Ok(vec![Event::new(kinds::WITHDRAWAL_QUEUED)
        .attr("id", id)
        .attr("owner", signer.address)
        .attr("token", token)
        .attr("denom", denom)
        .attr("to", to)
        .attr("amount", amount)
        .attr("fee", fee)])
}

/// Cancels the signer's queued withdrawal `id`, minting `amount + fee` back.
///
/// Errors: `Code::UnknownWithdrawal`, `Code::NotWithdrawalOwner`, `Code::WithdrawalNotQueued`
/// (in a batch, or cancelled already), `Code::AmountOverflow` when the refund cannot be minted.
pub fn cancel(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    id: u64,
) -> Result<Vec<Event>, Fail> {
    let Some(mut record) = state::withdrawal(view, id)? else {
        return fail(
            Code::UnknownWithdrawal,
            format!("no withdrawal has id {id}"),
        );
    };
    if record.owner != signer.address {
        return fail(
            Code::NotWithdrawalOwner,
            format!(
                "withdrawal {id} belongs to {}, not {}",
                record.owner, signer.text
            ),
        );
    }
    if !record.state.is_queued() {
        return fail(
            Code::WithdrawalNotQueued,
            format!(
                "withdrawal {id} is {}, only a queued one can be cancelled",
                record.state.name()
            ),
        );
    }
    let Some(total) = record.amount.checked_add(record.fee) else {
        return fail(Code::AmountOverflow, "amount plus fee exceeds 2^128 - 1");
    };
    bank::mint(view, &record.owner, &record.denom, total)?;
    if state::change_in_flight(view, &record.token, total, false)?.is_none() {
        return fail(
            Code::AmountOverflow,
            format!("withdrawal {id} is not counted in flight; the chain's record is inconsistent"),
        );
    }
    let mut queue = state::queue(view, &record.token)?;
    queue.retain(|q| q.id != id);
    state::put_queue(view, &record.token, &queue)?;
    record.state = WithdrawalState::Cancelled { height: ctx.height };
    state::put_withdrawal(view, &record);
    Ok(vec![Event::new(kinds::WITHDRAWAL_CANCELLED)
        .attr("id", id)
        .attr("owner", record.owner)
        .attr("denom", &record.denom)
        .attr("refunded", total)])
}

/// Most refund records one batch cut looks at, from the refund queue's head.
const REFUND_SCAN: u64 = 256;

/// End of block: cuts at most one batch, and only while no batch is outstanding (ADR 17).
///
/// Refunds owed (deposits the chain could not mint) come first: while one is owed, the batch
/// is for the token of the oldest owed refund and carries that token's owed refunds (up to
/// `batch_max_size`, from the queue's first [`REFUND_SCAN`] records) before its
/// withdrawals. Otherwise the token whose queue is full or whose oldest withdrawal has waited
/// `batch_max_wait_blocks` gets the batch (the oldest withdrawal first when several are due),
/// highest fee first, ties to the lower id.
pub fn cut_batches(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
    let Some(params) = state::params(view)? else {
        return Ok(Vec::new());
    };
    if state::outstanding_batch(view)?.is_some() {
        return Ok(Vec::new());
    }
    let max = usize::try_from(params.batch_max_size)
        .unwrap_or(usize::MAX)
        .max(1);
    let owed = owed_refunds(view)?;
    let token = match owed.first() {
        Some(r) => Some(r.token),
        None => {
            // The due token whose oldest withdrawal is the oldest (lowest id).
            let mut chosen: Option<(u64, EthAddress)> = None;
            for token in state::queued_tokens(view)? {
                let queue = state::queue(view, &token)?;
                let Some(first) = queue.first() else {
                    continue;
                };
                let waited = ctx.height.saturating_sub(first.height);
                let due = queue.len() >= max || waited >= params.batch_max_wait_blocks;
                if due && chosen.is_none_or(|(id, _)| first.id < id) {
                    chosen = Some((first.id, token));
                }
            }
            chosen.map(|(_, t)| t)
        }
    };
    let Some(token) = token else {
        return Ok(Vec::new());
    };
    let Some(nonce) = state::last_batch_nonce(view)?.checked_add(1) else {
        return Ok(Vec::new());
    };
    let mut entries = Vec::new();
    let mut refunds = Vec::new();
    for mut refund in owed.into_iter().filter(|r| r.token == token).take(max) {
        refund.state = RefundState::InBatch { nonce };
        state::put_refund(view, &refund);
        entries.push(BatchEntry {
            id: refund.id,
            refund: true,
            to: refund.to,
            amount: refund.amount,
        });
        refunds.push(refund.id);
    }
    let mut queue = state::queue(view, &token)?;
    let mut order = queue.clone();
    order.sort_by(|a, b| b.fee.cmp(&a.fee).then(a.id.cmp(&b.id)));
    let mut taken = Vec::new();
    let mut fee: u128 = 0;
    for q in order.iter().take(max.saturating_sub(entries.len())) {
        // A fee sum beyond 128 bits stops the batch here; the rest waits for the next one.
        let Some(sum) = fee.checked_add(q.fee) else {
            break;
        };
        let Some(mut record) = state::withdrawal(view, q.id)? else {
            continue;
        };
        fee = sum;
        record.state = WithdrawalState::InBatch { nonce };
        state::put_withdrawal(view, &record);
        entries.push(BatchEntry {
            id: q.id,
            refund: false,
            to: record.to,
            amount: L1Amount::from_u128(record.amount),
        });
        taken.push(q.id);
    }
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    queue.retain(|q| !taken.contains(&q.id));
    state::put_queue(view, &token, &queue)?;
    let batch = OutgoingBatch {
        nonce,
        token,
        timeout: ctx.time_secs.saturating_add(params.batch_timeout_seconds),
        fee,
        withdrawals: entries,
        height: ctx.height,
        signer_set_nonce: state::l1_signer_set(view)?.map(|s| s.nonce).unwrap_or(0),
        signatures: Vec::new(),
        ready: false,
        ready_height: 0,
        settled: None,
        attestations: Vec::new(),
    };
    state::put_new_batch(view, &batch);
    Ok(vec![Event::new(kinds::BATCH_CUT)
        .attr("nonce", nonce)
        .attr("token", token)
        .attr("count", batch.withdrawals.len())
        .attr("fee", fee)
        .attr("timeout", batch.timeout)
        .attr("ids", join(&taken))
        .attr("refunds", join(&refunds))])
}

fn join(ids: &[u64]) -> String {
    ids.iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The refunds still owed among the first [`REFUND_SCAN`] records from the queue's head, in id
/// order.
fn owed_refunds(view: &Overlay<'_>) -> Result<Vec<Refund>> {
    let (head, tail) = state::refund_queue(view)?;
    let mut out = Vec::new();
    for id in head..tail.min(head.saturating_add(REFUND_SCAN)) {
        if let Some(r) = state::refund(view, id)? {
            if r.state == RefundState::Owed {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Records a validator's signature over batch `nonce`.
///
/// Errors: `Code::BridgeNotConfigured`; `Code::NotValidator` when the signer operates no
/// current validator; `Code::UnknownBatch`; `Code::InvalidAttestation` when the batch is
/// settled already; and those of [`attest::record_signature`] (`BadBatchSignature`,
/// `NotL1Signer`, `DuplicateConfirmation`).
pub fn confirm(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    nonce: u64,
    signature: &[u8; 65],
) -> Result<Vec<Event>, Fail> {
    let params = attest::params(view)?;
    let validator = attest::validator_of(view, signer, "confirm batches")?;
    let Some(mut batch) = state::batch(view, nonce)? else {
        return fail(Code::UnknownBatch, format!("no batch has nonce {nonce}"));
    };
    if batch.settled.is_some() {
        return fail(
            Code::InvalidAttestation,
            format!("batch {nonce} is settled on L1 already; nothing to sign"),
        );
    }
    let Some(set) = state::l1_signer_set(view)? else {
        return fail(Code::NotL1Signer, "the chain holds no L1 signer set");
    };
    let digest = batch_digest(&params, &batch);
    let (signer_index, ready) = attest::record_signature(
        &validator,
        digest,
        signature,
        &set,
        &mut batch.signatures,
        &format!("batch {nonce}"),
    )?;
    let mut events = vec![Event::new(kinds::BATCH_CONFIRMATION)
        .attr("nonce", nonce)
        .attr("validator", signer.address)
        .attr("signer", validator.eth_address)
        .attr("signer_index", signer_index)];
    if ready && !batch.ready {
        batch.ready = true;
        batch.ready_height = ctx.height;
        events.push(
            Event::new(kinds::BATCH_READY)
                .attr("nonce", nonce)
                .attr("token", batch.token)
                .attr("signatures", batch.signatures.len()),
        );
    }
    state::put_batch(view, &batch);
    Ok(events)
}
