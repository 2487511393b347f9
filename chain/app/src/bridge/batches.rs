//! The L1 outcome of the outstanding batch, attested back by the validators' relayers (ADR 17).
//!
//! A relayer reports what final L1 blocks show ([`attest_batch`]): `BatchExecuted(nonce)`, with
//! how each entry was paid (transferred, deferred to the contract's `claimable`, or queued for
//! the large-release delay), or a final block at or past the batch's timeout whose state has
//! `lastBatchNonce` below the nonce. At the end of every block ([`settle_outstanding`]) an
//! outcome behind more than 2/3 of the current validators' power settles the batch: executed
//! withdrawals become released, deferred or delayed and paid refunds leave the refund queue;
//! a timed-out batch returns its withdrawals to their queue (`requeued`) and its refunds to
//! `owed`, and frees its nonce for the next batch. The two outcomes exclude each other on L1
//! (ADR 17 argues why), so a batch executed on L1 is never re-queued.

use sidechain_types::{
    events::kinds, BatchOutcome, BatchSettlement, Code, Event, OutgoingBatch, QueuedWithdrawal,
    RefundState, Release, WithdrawalState,
};

use super::{attest, state};
use crate::{
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    validators, Overlay, Result,
};

/// Records `signer`'s attestation of batch `nonce`'s L1 outcome.
///
/// Errors: `Code::BridgeNotConfigured`; `Code::NotValidator`; `Code::UnknownBatch`;
/// `Code::InvalidAttestation` when the batch is not the outstanding one, when an execution
/// lists a release count other than the batch's entries, when a timeout names an L1 time
/// before the batch's timeout, or when the validator attested another outcome before;
/// `Code::DuplicateAttestation` when it attested this one before.
pub fn attest_batch(
    view: &mut Overlay<'_>,
    signer: &Signer,
    nonce: u64,
    outcome: &BatchOutcome,
) -> Result<Vec<Event>, Fail> {
    attest::params(view)?;
    let validator = attest::validator_of(view, signer, "attest batches")?;
    if let Err(reason) = outcome.check() {
        return fail(Code::InvalidAttestation, reason);
    }
    let Some(mut batch) = state::batch(view, nonce)? else {
        return fail(Code::UnknownBatch, format!("no batch has nonce {nonce}"));
    };
    if batch.settled.is_some() || state::outstanding_batch(view)? != Some(nonce) {
        return fail(
            Code::InvalidAttestation,
            format!("batch {nonce} is not outstanding: its L1 outcome is settled already"),
        );
    }
    let kind = match outcome {
        BatchOutcome::Executed(e) => {
            if e.releases.len() != batch.withdrawals.len() {
                return fail(
                    Code::InvalidAttestation,
                    format!(
                        "batch {nonce} has {} entries but the attestation lists {} releases",
                        batch.withdrawals.len(),
                        e.releases.len()
                    ),
                );
            }
            "executed"
        }
        BatchOutcome::TimedOut { l1_time, .. } => {
            if *l1_time < batch.timeout {
                return fail(
                    Code::InvalidAttestation,
                    format!(
                        "batch {nonce} times out at L1 time {}, after the attested {l1_time}",
                        batch.timeout
                    ),
                );
            }
            "timed_out"
        }
    };
    let hash = outcome.content_hash(nonce);
    attest::add_vote(
        &mut batch.attestations,
        hash,
        outcome,
        validator.operator,
        &format!("batch {nonce}"),
    )?;
    state::put_batch(view, &batch);
    Ok(vec![Event::new(kinds::BATCH_ATTESTATION)
        .attr("nonce", nonce)
        .attr("validator", validator.operator)
        .attr("outcome", kind)
        .attr("content_hash", super::hex0x(&hash))])
}

/// End of block: settles the outstanding batch when more than 2/3 of the current validators'
/// power attests one outcome.
pub fn settle_outstanding(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
    let Some(nonce) = state::outstanding_batch(view)? else {
        return Ok(Vec::new());
    };
    let Some(mut batch) = state::batch(view, nonce)? else {
        return Ok(Vec::new());
    };
    let validators = validators::state::set(view)?;
    let Some(outcome) =
        attest::decided(&batch.attestations, &validators).map(|v| v.outcome.clone())
    else {
        return Ok(Vec::new());
    };
    batch.attestations.clear();
    let event = match &outcome {
        BatchOutcome::Executed(e) => executed(view, &batch, e)?,
        BatchOutcome::TimedOut { .. } => timed_out(view, &batch)?,
    };
    let timed_out = matches!(outcome, BatchOutcome::TimedOut { .. });
    batch.settled = Some(BatchSettlement {
        height: ctx.height,
        outcome,
    });
    state::settle_batch(view, &batch, timed_out);
    Ok(vec![event])
}

fn executed(
    view: &mut Overlay<'_>,
    batch: &OutgoingBatch,
    e: &sidechain_types::ExecutedBatch,
) -> Result<Event> {
    let (mut released, mut deferred, mut delayed) = (0u64, 0u64, 0u64);
    let mut paid = 0u128;
    for (entry, release) in batch.withdrawals.iter().zip(&e.releases) {
        match release {
            Release::Paid => released = released.saturating_add(1),
            Release::Deferred => deferred = deferred.saturating_add(1),
            Release::Delayed { .. } => delayed = delayed.saturating_add(1),
        }
        if entry.refund {
            if let Some(mut r) = state::refund(view, entry.id)? {
                r.state = RefundState::Paid {
                    nonce: batch.nonce,
                    l1_block: e.l1_block,
                };
                state::put_refund(view, &r);
            }
            continue;
        }
        let Some(mut w) = state::withdrawal(view, entry.id)? else {
            continue;
        };
        // Paid out of the L1 bridge now (a deferred or delayed amount stays locked there
        // until claimed or executed, which only adds to the margin).
        paid = paid.saturating_add(w.amount.saturating_add(w.fee));
        let (nonce, l1_block, l1_tx_hash) = (batch.nonce, e.l1_block, e.l1_tx_hash);
        w.state = match release {
            Release::Paid => WithdrawalState::Released {
                nonce,
                l1_block,
                l1_tx_hash,
            },
            Release::Deferred => WithdrawalState::Deferred {
                nonce,
                l1_block,
                l1_tx_hash,
            },
            Release::Delayed {
                release_id,
                executable_at,
            } => WithdrawalState::Delayed {
                nonce,
                l1_block,
                l1_tx_hash,
                release_id: *release_id,
                executable_at: *executable_at,
            },
        };
        state::put_withdrawal(view, &w);
    }
    state::reduce_in_flight(view, &batch.token, paid)?;
    state::advance_refund_head(view)?;
    Ok(Event::new(kinds::BATCH_EXECUTED)
        .attr("nonce", batch.nonce)
        .attr("token", batch.token)
        .attr("count", batch.withdrawals.len())
        .attr("released", released)
        .attr("deferred", deferred)
        .attr("delayed", delayed)
        .attr("l1_block", e.l1_block)
        .attr("l1_tx_hash", super::hex0x(&e.l1_tx_hash))
        .attr("submitter", e.submitter))
}

fn timed_out(view: &mut Overlay<'_>, batch: &OutgoingBatch) -> Result<Event> {
    let mut queue = state::queue(view, &batch.token)?;
    let (mut requeued, mut refunds) = (0u64, 0u64);
    for entry in &batch.withdrawals {
        if entry.refund {
            if let Some(mut r) = state::refund(view, entry.id)? {
                r.state = RefundState::Owed;
                state::put_refund(view, &r);
                refunds = refunds.saturating_add(1);
            }
            continue;
        }
        let Some(mut w) = state::withdrawal(view, entry.id)? else {
            continue;
        };
        w.state = WithdrawalState::Requeued { nonce: batch.nonce };
        state::put_withdrawal(view, &w);
        // Back in id order; the queue may pass its cap by one batch (ADR 17).
        let at = queue.partition_point(|q| q.id < w.id);
        queue.insert(
            at,
            QueuedWithdrawal {
                id: w.id,
                fee: w.fee,
                height: w.height,
            },
        );
        requeued = requeued.saturating_add(1);
    }
    state::put_queue(view, &batch.token, &queue)?;
    Ok(Event::new(kinds::BATCH_TIMED_OUT)
        .attr("nonce", batch.nonce)
        .attr("token", batch.token)
        .attr("requeued", requeued)
        .attr("refunds", refunds))
}
