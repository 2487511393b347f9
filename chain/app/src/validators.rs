//! The validator registry and its changes: a validator's operator proposes adding, re-weighting
//! or removing a validator; the change applies once approvals carry more than 2/3 of the
//! current voting power, and is handed to CometBFT as a validator update.

use sidechain_types::{
    events::kinds, genesis::MAX_TOTAL_VOTING_POWER, state::Proposal, state_key, Address, Code,
    Event, ValidatorChange, ValidatorInfo,
};

use crate::{
    exec::{fail, BlockCtx, Fail},
    Overlay, Result,
};

fn operator_key(validators: &[ValidatorInfo], signer: &Address) -> Result<[u8; 32], Fail> {
    match validators.iter().find(|v| &v.operator == signer) {
        Some(v) => Ok(v.consensus_key),
        None => fail(
            Code::Unauthorized,
            format!("{signer} is not the operator of any current validator"),
        ),
    }
}

fn proposals(view: &Overlay<'_>) -> Result<Vec<Proposal>> {
    Ok(view.read(state_key::PROPOSALS)?.unwrap_or_default())
}

fn validate_change(validators: &[ValidatorInfo], change: &ValidatorChange) -> Result<(), Fail> {
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
pub(crate) fn propose(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Address,
    change: &ValidatorChange,
    updates: &mut Vec<([u8; 32], u64)>,
) -> Result<Vec<Event>, Fail> {
    let validators = view.validators()?;
    let approver = operator_key(&validators, signer)?;
    validate_change(&validators, change)?;
    let id: u64 = view.read(state_key::NEXT_PROPOSAL_ID)?.unwrap_or(0);
    let Some(next_id) = id.checked_add(1) else {
        return fail(Code::InvalidProposal, "proposal ids are exhausted");
    };
    view.put(state_key::NEXT_PROPOSAL_ID.to_vec(), &next_id);
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
    let mut open = proposals(view)?;
    open.push(proposal);
    events.append(&mut settle(view, validators, open, id, updates)?);
    Ok(events)
}

/// Adds the signer's approval to an open proposal and applies it once approved.
pub(crate) fn vote(
    view: &mut Overlay<'_>,
    _ctx: &BlockCtx,
    signer: &Address,
    proposal_id: u64,
    updates: &mut Vec<([u8; 32], u64)>,
) -> Result<Vec<Event>, Fail> {
    let validators = view.validators()?;
    let approver = operator_key(&validators, signer)?;
    let mut open = proposals(view)?;
    let Some(proposal) = open.iter_mut().find(|p| p.id == proposal_id) else {
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
    events.append(&mut settle(view, validators, open, proposal_id, updates)?);
    Ok(events)
}

/// Stores the open proposals after applying proposal `id` if its approvals now carry more than
/// 2/3 of the current power.
fn settle(
    view: &mut Overlay<'_>,
    mut validators: Vec<ValidatorInfo>,
    mut open: Vec<Proposal>,
    id: u64,
    updates: &mut Vec<([u8; 32], u64)>,
) -> Result<Vec<Event>, Fail> {
    let total: u128 = validators.iter().map(|v| u128::from(v.power)).sum();
    let mut events = Vec::new();
    if let Some(pos) = open.iter().position(|p| p.id == id) {
        let approved: u128 = open
            .get(pos)
            .map(|p| {
                validators
                    .iter()
                    .filter(|v| p.approvals.contains(&v.consensus_key))
                    .map(|v| u128::from(v.power))
                    .sum()
            })
            .unwrap_or(0);
        // approved / total > 2/3, in integers.
        if approved.saturating_mul(3) > total.saturating_mul(2) {
            let proposal = open.remove(pos);
            // The set may have changed since the proposal opened.
            validate_change(&validators, &proposal.change)?;
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
            view.put(state_key::VALIDATORS.to_vec(), &validators);
            updates.push((change.consensus_key, change.power));
            events.push(
                Event::new(kinds::VALIDATOR_UPDATE)
                    .attr("proposal", id)
                    .attr("name", &change.name)
                    .attr("consensus_key", hex_key(&change.consensus_key))
                    .attr("power", change.power),
            );
        }
    }
    view.put(state_key::PROPOSALS.to_vec(), &open);
    Ok(events)
}

/// Drops proposals whose time ran out; called at the end of every block.
pub(crate) fn expire(view: &mut Overlay<'_>, height: u64) -> Result<Vec<Event>> {
    let open = proposals(view)?;
    if !open.iter().any(|p| p.expires_at < height) {
        return Ok(Vec::new());
    }
    let (expired, kept): (Vec<_>, Vec<_>) = open.into_iter().partition(|p| p.expires_at < height);
    view.put(state_key::PROPOSALS.to_vec(), &kept);
    Ok(expired
        .iter()
        .map(|p| {
            Event::new(kinds::VALIDATOR_PROPOSAL)
                .attr("id", p.id)
                .attr("status", "expired")
        })
        .collect())
}

fn hex_key(k: &[u8; 32]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}
