//! The validator registry and its changes: a validator's operator proposes adding, re-weighting
//! or removing a validator; the change applies once approvals carry more than 2/3 of the
//! current voting power, and is handed to CometBFT as a validator update.

pub mod state;

use sidechain_types::{
    events::kinds, genesis::CheckedGenesis, genesis::MAX_TOTAL_VOTING_POWER, query::Route, Address,
    Code, Event, GenesisState, Proposal, ValidatorChange, ValidatorInfo, ValidatorsMsg,
};

use crate::{
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    genesis::InitError,
    quorum, Overlay, Result, StateRead,
};

/// The validators component.
#[derive(Debug)]
pub struct Validators;

impl Component for Validators {
    type Msg = ValidatorsMsg;

    fn check(msg: &ValidatorsMsg) -> Result<(), Fail> {
        match msg {
            ValidatorsMsg::ProposeValidatorChange { change } => check_change(change),
            ValidatorsMsg::VoteValidatorChange { .. } => Ok(()),
        }
    }

    fn deliver(
        view: &mut Overlay<'_>,
        ctx: &BlockCtx,
        signer: &Signer,
        msg: &ValidatorsMsg,
    ) -> Result<Vec<Event>, Fail> {
        match msg {
            ValidatorsMsg::ProposeValidatorChange { change } => {
                propose(view, ctx, &signer.address, change)
            }
            ValidatorsMsg::VoteValidatorChange { proposal_id } => {
                vote(view, ctx, &signer.address, *proposal_id)
            }
        }
    }

    /// Drops the proposals whose time ran out: they lapse in id order (one TTL for all), so
    /// only the queue's head is looked at.
    fn end_block(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
        let (mut head, tail) = state::proposal_queue(view)?;
        let start = head;
        let mut events = Vec::new();
        while head < tail {
            match state::proposal(view, head)? {
                Some(p) if p.expires_at >= ctx.height => break,
                Some(p) => {
                    state::delete_proposal(view, p.id);
                    events.push(
                        Event::new(kinds::VALIDATOR_PROPOSAL)
                            .attr("id", p.id)
                            .attr("status", "expired"),
                    );
                }
                // Approved already.
                None => {}
            }
            head = head.saturating_add(1);
        }
        if head != start {
            state::put_proposals_head(view, head);
        }
        Ok(events)
    }

    /// The registry (checked by `GenesisState::validate`) and an empty proposal queue.
    fn init_genesis(
        view: &mut Overlay<'_>,
        _genesis: &GenesisState,
        checked: &CheckedGenesis,
    ) -> Result<Vec<Event>, InitError> {
        state::put_set(view, &checked.registry);
        state::put_next_proposal_id(view, 0);
        state::put_proposals_head(view, 0);
        Ok(Vec::new())
    }

    fn query(state: &dyn StateRead, route: &Route) -> Option<Result<Vec<u8>>> {
        match route {
            Route::Proposals => Some(
                state::open_proposals(state).map(|open| borsh::to_vec(&open).unwrap_or_default()),
            ),
            _ => None,
        }
    }
}

fn operator_key(validators: &[ValidatorInfo], signer: &Address) -> Result<[u8; 32], Fail> {
    match validators.iter().find(|v| &v.operator == signer) {
        Some(v) => Ok(v.consensus_key),
        None => fail(
            Code::Unauthorized,
            format!("{signer} is not the operator of any current validator"),
        ),
    }
}

/// The checks of a change that read no state.
fn check_change(change: &ValidatorChange) -> Result<(), Fail> {
    if change.name.is_empty() || change.name.len() > 64 {
        return fail(
            Code::InvalidProposal,
            "validator name must be 1 to 64 characters",
        );
    }
    if ed25519_consensus::VerificationKey::try_from(change.consensus_key).is_err() {
        return fail(
            Code::InvalidProposal,
            "consensus_key is not a valid ed25519 public key",
        );
    }
    if change.power > 0 && change.eth_address.is_zero() {
        return fail(
            Code::InvalidProposal,
            "eth_address is the zero address: the L1 contract refuses it in a signer set, which would block every later signer-set update; give the validator's bridge key address",
        );
    }
    if change.power > 0 && change.operator.is_module() {
        return fail(
            Code::InvalidProposal,
            format!(
                "operator {} is a module account, which no key controls; give the validator's own operator account",
                change.operator
            ),
        );
    }
    if sidechain_types::ed25519::is_small_order(&change.consensus_key) {
        return fail(
            Code::WeakKey,
            "consensus_key has small order: anyone could forge that validator's votes; use the key `cometbft init` generated",
        );
    }
    Ok(())
}

/// The checks of a change against the current set.
fn validate_change(validators: &[ValidatorInfo], change: &ValidatorChange) -> Result<(), Fail> {
    check_change(change)?;
    let existing = validators
        .iter()
        .find(|v| v.consensus_key == change.consensus_key);
    if change.power == 0 {
        if existing.is_none() {
            return fail(
                Code::InvalidProposal,
                "cannot remove a validator that is not in the set",
            );
        }
        if validators.len() <= 1 {
            return fail(Code::InvalidProposal, "cannot remove the last validator");
        }
        return Ok(());
    }
    for v in validators
        .iter()
        .filter(|v| v.consensus_key != change.consensus_key)
    {
        if v.operator == change.operator {
            return fail(
                Code::InvalidProposal,
                format!("operator {} already runs validator {}", v.operator, v.name),
            );
        }
        if v.eth_address == change.eth_address {
            return fail(
                Code::InvalidProposal,
                format!("eth address already belongs to validator {}", v.name),
            );
        }
        if v.name == change.name {
            return fail(Code::InvalidProposal, format!("name {} is taken", v.name));
        }
    }
    let others: u128 = validators
        .iter()
        .filter(|v| v.consensus_key != change.consensus_key)
        .map(|v| u128::from(v.power))
        .sum();
    if others.saturating_add(u128::from(change.power)) > u128::from(MAX_TOTAL_VOTING_POWER) {
        return fail(
            Code::InvalidProposal,
            "total voting power would exceed CometBFT's limit",
        );
    }
    Ok(())
}

/// Opens a proposal (the proposer's approval counts at once) and applies it if that suffices.
fn propose(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Address,
    change: &ValidatorChange,
) -> Result<Vec<Event>, Fail> {
    let validators = state::set(view)?;
    let approver = operator_key(&validators, signer)?;
    validate_change(&validators, change)?;
    let (_, id) = state::proposal_queue(view)?;
    let Some(next_id) = id.checked_add(1) else {
        return fail(Code::InvalidProposal, "proposal ids are exhausted");
    };
    state::put_next_proposal_id(view, next_id);
    let proposal = Proposal {
        id,
        change: change.clone(),
        proposer: *signer,
        approvals: [approver].into_iter().collect(),
        expires_at: ctx.height.saturating_add(ctx.params.proposal_ttl_blocks),
    };
    let mut events = vec![Event::new(kinds::VALIDATOR_PROPOSAL)
        .attr("id", id)
        .attr("proposer", signer)
        .attr("name", &change.name)
        .attr("consensus_key", hex_key(&change.consensus_key))
        .attr("power", change.power)];
    events.append(&mut settle(view, ctx, validators, proposal)?);
    Ok(events)
}

/// Adds the signer's approval to an open proposal and applies it once approved.
fn vote(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Address,
    proposal_id: u64,
) -> Result<Vec<Event>, Fail> {
    let validators = state::set(view)?;
    let approver = operator_key(&validators, signer)?;
    let Some(mut proposal) = state::proposal(view, proposal_id)? else {
        return fail(
            Code::InvalidProposal,
            format!("no open proposal with id {proposal_id}"),
        );
    };
    if !proposal.approvals.insert(approver) {
        return fail(
            Code::InvalidProposal,
            format!("proposal {proposal_id} already has this validator's approval"),
        );
    }
    let mut events = vec![Event::new(kinds::VALIDATOR_VOTE)
        .attr("id", proposal_id)
        .attr("voter", signer)];
    events.append(&mut settle(view, ctx, validators, proposal)?);
    Ok(events)
}

/// Stores `proposal`, or applies it (and deletes it) if its approvals now carry more than 2/3
/// of the current power.
fn settle(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    mut validators: Vec<ValidatorInfo>,
    proposal: Proposal,
) -> Result<Vec<Event>, Fail> {
    let total = quorum::total_power(&validators, |v| v.power);
    let approved = quorum::voted_power(
        &validators,
        |v| v.power,
        |v| proposal.approvals.contains(&v.consensus_key),
    );
    if !quorum::exceeds_two_thirds(approved, total) {
        state::put_proposal(view, &proposal);
        return Ok(Vec::new());
    }
    // The set may have changed since the proposal opened.
    validate_change(&validators, &proposal.change)?;
    state::delete_proposal(view, proposal.id);
    let id = proposal.id;
    let change = proposal.change;
    validators.retain(|v| v.consensus_key != change.consensus_key);
    if change.power > 0 {
        validators.push(ValidatorInfo {
            name: change.name.clone(),
            consensus_key: change.consensus_key,
            power: change.power,
            operator: change.operator,
            eth_address: change.eth_address,
        });
        validators.sort_by_key(|v| v.consensus_key);
    }
    // The block's changes together may move only a bounded share of the power.
    let start = state::block_start_set(view)?;
    let moved = state::power_moved(&start, &state::net_change(&start, &validators));
    let total = quorum::total_power(&start, |v| v.power);
    let bps = u128::from(ctx.params.max_power_change_per_block_bps);
    if moved.saturating_mul(10_000) > total.saturating_mul(bps) {
        return fail(
            Code::InvalidProposal,
            format!(
                "applying proposal {id} would move {moved} of the {total} voting power in this block, more than {bps} basis points (params.max_power_change_per_block_bps); split the change into smaller proposals applied in different blocks"
            ),
        );
    }
    state::put_set(view, &validators);
    Ok(vec![Event::new(kinds::VALIDATOR_UPDATE)
        .attr("proposal", id)
        .attr("name", &change.name)
        .attr("consensus_key", hex_key(&change.consensus_key))
        .attr("power", change.power)])
}

fn hex_key(k: &[u8; 32]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}
