//! The L1 signer set follows the validator set (issue 12 item 7).
//!
//! At the end of a block ([`produce`]), while no update is open, the chain compares the set
//! its validators make (Ethereum addresses and powers, normalized to 2^32 as the contract
//! expects) with the set L1 holds; when a member joined, left or changed its address, or the
//! power moved (the contract's measure) reaches [`POWER_CHANGE_THRESHOLD`], it produces the
//! next set, nonce one above the last produced. The members of the set L1 holds sign it
//! ([`confirm`]); once their signatures pass the contract's threshold it is ready and one
//! relayer submits `updateSignerSet`. Relayers attest what L1 did ([`attest`]): active at
//! once, pending behind the contract's delay (then a relayer calls `activateSignerSet`), or
//! cancelled by the guardian. When more than 2/3 of the validators' power attests that it is
//! active ([`settle_open`]), the chain's record of the L1 set moves to it and the outstanding
//! batch, if signed for the old set, is signed again by the new one: batches are always signed
//! for the set L1 holds.

use sidechain_types::{
    events::kinds, Code, Event, L1SignerSet, SignerSetOutcome, SignerSetStatus, SignerSetUpdate,
};

use super::{attest, l1, state};
use crate::{
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    validators, Overlay, Result,
};

/// Power moved (out of 2^32, the contract's `_powerMoved` measure) from which a re-weight
/// alone produces a new signer set: 1/20 of the total. Smaller drifts wait until they add up
/// or a member changes.
pub const POWER_CHANGE_THRESHOLD: u64 = (1u64 << 32) / 20;

/// End of block: produces the next L1 signer set when the validators' set differs enough
/// from the one L1 holds and no update is open.
pub fn produce(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
    if state::params(view)?.is_none() || state::open_signer_set(view)?.is_some() {
        return Ok(Vec::new());
    }
    let Some(current) = state::l1_signer_set(view)? else {
        return Ok(Vec::new());
    };
    let Some(nonce) = state::last_signer_set_nonce(view)?
        .max(current.nonce)
        .checked_add(1)
    else {
        return Ok(Vec::new());
    };
    let members = validators::state::set(view)?
        .into_iter()
        .filter(|v| v.power > 0)
        .map(|v| (v.eth_address, v.power));
    // A validator set the contract would refuse (none left, more than 256) produces nothing:
    // L1 keeps the set it holds.
    let Ok(next) = l1::normalized_set(nonce, members) else {
        return Ok(Vec::new());
    };
    if next.signers == current.signers && l1::power_moved(&current, &next) < POWER_CHANGE_THRESHOLD
    {
        return Ok(Vec::new());
    }
    let update = SignerSetUpdate {
        set: next,
        height: ctx.height,
        signed_by: current.nonce,
        signatures: Vec::new(),
        status: SignerSetStatus::Signing,
        attestations: Vec::new(),
    };
    state::put_new_signer_set(view, &update);
    Ok(vec![Event::new(kinds::SIGNER_SET_CREATED)
        .attr("nonce", nonce)
        .attr("signers", update.set.signers.len())
        .attr("signed_by", current.nonce)])
}

/// The open update `nonce`, or the error saying why it cannot be confirmed or attested.
fn open_update(view: &Overlay<'_>, nonce: u64) -> Result<SignerSetUpdate, Fail> {
    let Some(update) = state::signer_set(view, nonce)? else {
        return fail(
            Code::UnknownSignerSet,
            format!("the chain made no signer-set update with nonce {nonce}"),
        );
    };
    if state::open_signer_set(view)? != Some(nonce) {
        return fail(
            Code::InvalidAttestation,
            format!(
                "signer-set update {nonce} is {} on L1 already; nothing to sign or attest",
                update.status.name()
            ),
        );
    }
    Ok(update)
}

/// Records a validator's signature over signer-set update `nonce`.
///
/// Errors: `Code::BridgeNotConfigured`; `Code::NotValidator`; `Code::UnknownSignerSet`;
/// `Code::InvalidAttestation` when the update is active or cancelled already; those of
/// [`attest::record_signature`] (`BadBatchSignature`, `NotL1Signer` when the validator's
/// address is not in the set L1 holds, `DuplicateConfirmation`).
pub fn confirm(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    nonce: u64,
    signature: &[u8; 65],
) -> Result<Vec<Event>, Fail> {
    let params = attest::params(view)?;
    let validator = attest::validator_of(view, signer, "confirm signer-set updates")?;
    let mut update = open_update(view, nonce)?;
    let Some(signing) = state::l1_signer_set(view)? else {
        return fail(Code::NotL1Signer, "the chain holds no L1 signer set");
    };
    let digest = l1::signer_set_digest(&params, &update.set);
    let (signer_index, ready) = attest::record_signature(
        &validator,
        digest,
        signature,
        &signing,
        &mut update.signatures,
        &format!("signer-set update {nonce}"),
    )?;
    let mut events = vec![Event::new(kinds::SIGNER_SET_CONFIRMATION)
        .attr("nonce", nonce)
        .attr("validator", validator.operator)
        .attr("signer", validator.eth_address)
        .attr("signer_index", signer_index)];
    if ready && update.status == SignerSetStatus::Signing {
        update.status = SignerSetStatus::Ready { height: ctx.height };
        events.push(Event::new(kinds::SIGNER_SET_READY).attr("nonce", nonce));
    }
    state::put_signer_set(view, &update);
    Ok(events)
}

/// Records `signer`'s attestation of what L1 did with signer-set update `nonce`.
///
/// Errors: `Code::BridgeNotConfigured`; `Code::NotValidator`; `Code::UnknownSignerSet`;
/// `Code::InvalidAttestation` when the update is closed, still collecting signatures (L1
/// cannot have it), pending already and attested pending again, or the validator attested
/// another outcome; `Code::DuplicateAttestation`.
pub fn attest(
    view: &mut Overlay<'_>,
    signer: &Signer,
    nonce: u64,
    outcome: &SignerSetOutcome,
) -> Result<Vec<Event>, Fail> {
    attest::params(view)?;
    let validator = attest::validator_of(view, signer, "attest signer-set updates")?;
    let mut update = open_update(view, nonce)?;
    match (update.status, outcome) {
        (SignerSetStatus::Signing, _) => {
            return fail(
                Code::InvalidAttestation,
                format!("signer-set update {nonce} is not signed by enough power yet, so L1 cannot have taken it"),
            )
        }
        (SignerSetStatus::Pending { .. }, SignerSetOutcome::Pending { .. }) => {
            return fail(
                Code::InvalidAttestation,
                format!("signer-set update {nonce} is known to be pending already"),
            )
        }
        _ => {}
    }
    let hash = outcome.content_hash(nonce);
    attest::add_vote(
        &mut update.attestations,
        hash,
        outcome,
        validator.operator,
        &format!("signer-set update {nonce}"),
    )?;
    state::put_signer_set(view, &update);
    let name = match outcome {
        SignerSetOutcome::Active => "active",
        SignerSetOutcome::Pending { .. } => "pending",
        SignerSetOutcome::Cancelled => "cancelled",
    };
    Ok(vec![Event::new(kinds::SIGNER_SET_ATTESTATION)
        .attr("nonce", nonce)
        .attr("validator", validator.operator)
        .attr("outcome", name)])
}

/// End of block: settles the open update when more than 2/3 of the current validators' power
/// attests one outcome. Active: the chain's L1 set becomes it, and an outstanding batch signed
/// for the old set starts collecting signatures of the new one. Pending: it waits for the
/// activation attestation. Cancelled: closed; the next update takes the next nonce.
pub fn settle_open(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
    let Some(nonce) = state::open_signer_set(view)? else {
        return Ok(Vec::new());
    };
    let Some(mut update) = state::signer_set(view, nonce)? else {
        return Ok(Vec::new());
    };
    let validators = validators::state::set(view)?;
    let Some(outcome) = attest::decided(&update.attestations, &validators).map(|v| v.outcome)
    else {
        return Ok(Vec::new());
    };
    let mut event = Event::new(kinds::SIGNER_SET_SETTLED).attr("nonce", nonce);
    match outcome {
        SignerSetOutcome::Active => {
            update.status = SignerSetStatus::Active { height: ctx.height };
            update.attestations.clear();
            state::close_signer_set(view, &update);
            adopt(view, &update.set)?;
            event = event.attr("status", "active");
        }
        SignerSetOutcome::Pending { activates_at } => {
            update.status = SignerSetStatus::Pending {
                activates_at,
                height: ctx.height,
            };
            update
                .attestations
                .retain(|v| !matches!(v.outcome, SignerSetOutcome::Pending { .. }));
            state::put_signer_set(view, &update);
            event = event
                .attr("status", "pending")
                .attr("activates_at", activates_at);
        }
        SignerSetOutcome::Cancelled => {
            update.status = SignerSetStatus::Cancelled { height: ctx.height };
            update.attestations.clear();
            state::close_signer_set(view, &update);
            event = event.attr("status", "cancelled");
        }
    }
    Ok(vec![event])
}

/// Makes `set` the set L1 holds; the outstanding batch, if its signatures are for an older
/// set, drops them and is signed again.
fn adopt(view: &mut Overlay<'_>, set: &L1SignerSet) -> Result<()> {
    state::put_l1_signer_set(view, set);
    if let Some(nonce) = state::outstanding_batch(view)? {
        if let Some(mut batch) = state::batch(view, nonce)? {
            if batch.signer_set_nonce != set.nonce {
                batch.signer_set_nonce = set.nonce;
                batch.signatures.clear();
                batch.ready = false;
                batch.ready_height = 0;
                state::put_batch(view, &batch);
            }
        }
    }
    Ok(())
}
