//! Deposits, L1 -> sidechain: validators' claims, their tally, and minting.
//!
//! Each validator's relayer claims the L1 `Deposit` events it saw ([`claim_deposits`]); the
//! chain tallies the operators behind each content ([`DepositClaim::content_hash`]) of each
//! nonce in the nonce's [`DepositRecord`]. At the end of every block ([`apply_deposits`]) the
//! deposits apply strictly in nonce order, from the last applied one on, while one content of
//! the next nonce carries more than 2/3 of the power of the validator set as it is then
//! (validators removed since they claimed no longer count; re-weighted ones count at their new
//! power). Applying mints the amount in the token's wrapped denom, or, when that cannot be
//! minted (beyond 128 bits, or the supply would overflow), records a refund owed to the L1
//! sender instead. Nothing halts.
//!
//! A validator that claims a second, different content for a nonce is recorded as misbehaving
//! (once per nonce) and only its first claim counts. Claims for applied nonces change nothing;
//! claims more than [`MAX_PENDING_DEPOSITS_AHEAD`] past the last applied nonce are refused.

use sidechain_types::{
    bridge::{wrapped_denom, MAX_PENDING_DEPOSITS_AHEAD},
    events::kinds,
    Address, Code, DepositClaim, DepositRecord, DepositState, Event, Misbehaviour, Refund,
    RefundState, Tally, ValidatorInfo, WrappedToken,
};

use super::{hex0x, state};
use crate::{
    bank,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    quorum, validators, Overlay, Result,
};

/// Records `signer`'s claims (already through [`sidechain_types::bridge::check_claims`]).
///
/// Errors: `Code::BridgeNotConfigured` when genesis configured no bridge;
/// `Code::NotValidator` when the signer is no current validator's operator;
/// `Code::ClaimTooFarAhead` when a claim's nonce is above `last_applied +
/// MAX_PENDING_DEPOSITS_AHEAD`. A duplicate or conflicting claim is not an error: it changes
/// nothing, or records the misbehaviour.
pub fn claim_deposits(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    claims: &[DepositClaim],
) -> Result<Vec<Event>, Fail> {
    if state::params(view)?.is_none() {
        return fail(
            Code::BridgeNotConfigured,
            "this chain's genesis configures no bridge, so it takes no deposit claims",
        );
    }
    let validators = validators::state::set(view)?;
    if !validators.iter().any(|v| v.operator == signer.address) {
        return fail(
            Code::NotValidator,
            format!(
                "{} is not the operator account of any current validator, so it cannot claim deposits; run the relayer with the operator key of a validator listed by `sidechain query validators`",
                signer.text
            ),
        );
    }
    let last_applied = state::last_applied(view)?;
    let limit = last_applied.saturating_add(MAX_PENDING_DEPOSITS_AHEAD);
    // The nonces rise strictly (checked), so the last claim has the highest.
    if let Some(c) = claims.last().filter(|c| c.nonce > limit) {
        return fail(
            Code::ClaimTooFarAhead,
            format!(
                "deposit {} is more than {MAX_PENDING_DEPOSITS_AHEAD} nonces past the last applied deposit {last_applied}; claim deposits up to {limit} first",
                c.nonce
            ),
        );
    }
    let total = quorum::total_power(&validators, |v| v.power);
    let mut events = Vec::new();
    let mut highest = None;
    for claim in claims.iter().filter(|c| c.nonce > last_applied) {
        events.append(&mut vote(
            view,
            ctx,
            &validators,
            total,
            &signer.address,
            claim,
        )?);
        highest = Some(claim.nonce);
    }
    if let Some(nonce) = highest {
        if nonce > state::last_claimed(view, &signer.address)? {
            state::put_last_claimed(view, &signer.address, nonce);
        }
    }
    Ok(events)
}

/// The current power behind `tally`: its voters that are still validators, at their power now.
fn tally_power(validators: &[ValidatorInfo], tally: &Tally) -> u128 {
    quorum::voted_power(
        validators,
        |v| v.power,
        |v| tally.validators.binary_search(&v.operator).is_ok(),
    )
}

/// Counts `operator`'s claim of a pending nonce.
fn vote(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    validators: &[ValidatorInfo],
    total: u128,
    operator: &Address,
    claim: &DepositClaim,
) -> Result<Vec<Event>, Fail> {
    let hash = claim.content_hash();
    let mut record = state::deposit(view, claim.nonce)?.unwrap_or_else(|| DepositRecord {
        nonce: claim.nonce,
        state: DepositState::Pending,
        claim: None,
        tallies: Vec::new(),
    });
    if record.state != DepositState::Pending {
        // Only nonces above the last applied one reach here, and those are pending.
        return Ok(Vec::new());
    }
    let first = record
        .tallies
        .iter()
        .find(|t| t.validators.binary_search(operator).is_ok())
        .map(|t| t.content_hash);
    match first {
        // The same claim again.
        Some(first) if first == hash => Ok(Vec::new()),
        Some(first) => {
            if state::misbehaved(view, claim.nonce, operator)?.is_some() {
                return Ok(Vec::new());
            }
            let m = Misbehaviour {
                validator: *operator,
                nonce: claim.nonce,
                first,
                conflicting: hash,
                height: ctx.height,
            };
            state::push_misbehaviour(view, &m)?;
            Ok(vec![Event::new(kinds::BRIDGE_MISBEHAVIOUR)
                .attr("validator", operator)
                .attr("nonce", claim.nonce)
                .attr("first", hex0x(&first))
                .attr("conflicting", hex0x(&hash))
                .attr("height", ctx.height)])
        }
        None => {
            let power = match record.tallies.iter_mut().find(|t| t.content_hash == hash) {
                Some(tally) => {
                    if let Err(at) = tally.validators.binary_search(operator) {
                        tally.validators.insert(at, *operator);
                    }
                    tally_power(validators, tally)
                }
                None => {
                    let tally = Tally {
                        content_hash: hash,
                        claim: claim.clone(),
                        validators: vec![*operator],
                    };
                    let power = tally_power(validators, &tally);
                    record.tallies.push(tally);
                    power
                }
            };
            state::put_deposit(view, &record);
            Ok(vec![Event::new(kinds::DEPOSIT_CLAIM)
                .attr("nonce", claim.nonce)
                .attr("validator", operator)
                .attr("content_hash", hex0x(&hash))
                .attr("power", power)
                .attr("total_power", total)])
        }
    }
}

/// End of block: applies the deposits after the last applied one, in nonce order, while the
/// next one has a content with more than 2/3 of the current power. Stops at the first nonce
/// without such a content. Nothing a claim carries makes it fail: only storage can.
pub fn apply_deposits(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
    if state::params(view)?.is_none() {
        return Ok(Vec::new());
    }
    let validators = validators::state::set(view)?;
    let total = quorum::total_power(&validators, |v| v.power);
    let start = state::last_applied(view)?;
    let mut last = start;
    let mut events = Vec::new();
    while let Some(nonce) = last.checked_add(1) {
        let Some(record) = state::deposit(view, nonce)? else {
            break;
        };
        let Some(claim) = record
            .tallies
            .iter()
            .find(|t| quorum::exceeds_two_thirds(tally_power(&validators, t), total))
            .map(|t| t.claim.clone())
        else {
            break;
        };
        events.push(apply(view, ctx, record, claim)?);
        last = nonce;
    }
    if last != start {
        state::put_last_applied(view, last);
    }
    Ok(events)
}

/// Mints `claim` (the content that won `record`'s tally), or records the refund owed when it
/// cannot be minted; keeps the claim in the record and drops its tallies.
fn apply(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    mut record: DepositRecord,
    claim: DepositClaim,
) -> Result<Event> {
    let denom = wrapped_denom(&claim.token);
    let minted = match claim.amount.to_u128() {
        None => Err(format!(
            "amount {} does not fit in 128 bits, the largest sidechain balance",
            claim.amount
        )),
        Some(amount) => match bank::mint(view, &claim.recipient, &denom, amount) {
            Ok(()) => Ok(amount),
            Err(Fail::Tx(_, reason)) => Err(reason),
            Err(Fail::App(e)) => return Err(e),
        },
    };
    // The misbehaviour marks of this nonce are no longer needed (the records stay).
    for voter in record.tallies.iter().flat_map(|t| t.validators.iter()) {
        if state::misbehaved(view, record.nonce, voter)?.is_some() {
            state::delete_misbehaved(view, record.nonce, voter);
        }
    }
    let tx_hash = hex0x(&claim.l1_tx_hash);
    let event = match minted {
        Ok(amount) => {
            if state::token(view, &claim.token)?.is_none() {
                state::register_token(
                    view,
                    &WrappedToken {
                        denom: denom.clone(),
                        token: claim.token,
                        first_deposit_nonce: claim.nonce,
                    },
                )?;
            }
            record.state = DepositState::Minted { height: ctx.height };
            Event::new(kinds::DEPOSIT_APPLIED)
                .attr("nonce", claim.nonce)
                .attr("token", claim.token)
                .attr("denom", &denom)
                .attr("recipient", claim.recipient)
                .attr("amount", amount)
                .attr("l1_tx_hash", tx_hash)
                .attr("height", ctx.height)
        }
        Err(reason) => {
            let id = state::push_refund(
                view,
                Refund {
                    id: 0,
                    nonce: claim.nonce,
                    token: claim.token,
                    to: claim.sender,
                    amount: claim.amount,
                    height: ctx.height,
                    reason: reason.clone(),
                    state: RefundState::Owed,
                },
            )?;
            let event = Event::new(kinds::DEPOSIT_REFUND_OWED)
                .attr("nonce", claim.nonce)
                .attr("token", claim.token)
                .attr("sender", claim.sender)
                .attr("amount", claim.amount)
                .attr("l1_tx_hash", tx_hash)
                .attr("refund", id)
                .attr("reason", &reason)
                .attr("height", ctx.height);
            record.state = DepositState::RefundOwed {
                height: ctx.height,
                reason,
            };
            event
        }
    };
    record.tallies.clear();
    record.claim = Some(claim);
    state::put_deposit(view, &record);
    Ok(event)
}
