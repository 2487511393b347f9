//! The validator registry and its changes: a validator's operator proposes adding, re-weighting
//! or removing a validator; the change applies once approvals carry more than 2/3 of the
//! current voting power, and is handed to CometBFT as a validator update.
//!
//! A proposal never changes who signs for a validator already in the set: its operator account
//! and bridge key address stay as they are (code `identity_change_needs_rotation`), checked when
//! the proposal opens and again, against the registry as it is then, when it applies. Only the
//! validator itself hands them over, with `RotateValidatorKeys` signed by its current operator;
//! that takes effect at once and leaves the power (and so CometBFT's set) unchanged.

pub mod state;

use sidechain_types::{
    events::kinds, genesis::CheckedGenesis, genesis::MAX_TOTAL_VOTING_POWER, query::Route, Address,
    Code, EthAddress, Event, GenesisState, Proposal, ValidatorChange, ValidatorInfo, ValidatorsMsg,
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
            ValidatorsMsg::RotateValidatorKeys {
                new_operator,
                new_eth_address,
                ..
            } => check_rotation(new_operator, new_eth_address),
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
            ValidatorsMsg::RotateValidatorKeys {
                consensus_key,
                new_operator,
                new_eth_address,
            } => rotate(
                view,
                &signer.address,
                consensus_key,
                new_operator,
                new_eth_address,
            ),
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
    if let Some(v) = existing {
        check_same_identity(v, change)?;
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

/// Refuses a change of an existing validator's operator or bridge address: voting "yes" on
/// what reads as a re-weight must never hand the validator's relayer account or its L1 bridge
/// key (which signs withdrawals) to someone else.
fn check_same_identity(v: &ValidatorInfo, change: &ValidatorChange) -> Result<(), Fail> {
    let mut differs = Vec::new();
    if v.operator != change.operator {
        differs.push(format!("operator {} -> {}", v.operator, change.operator));
    }
    if v.eth_address != change.eth_address {
        differs.push(format!(
            "eth address {} -> {}",
            v.eth_address, change.eth_address
        ));
    }
    if differs.is_empty() {
        return Ok(());
    }
    fail(
        Code::IdentityChangeNeedsRotation,
        format!(
            "validator {} is in the set: a proposal may re-weight or remove it but not change who signs for it, and this one changes {}; propose with its current operator and eth address (`sidechain query validators`); to change them, the validator's own operator sends `rotate_validator_keys` (`sidechain tx rotate-validator-keys`)",
            v.name,
            differs.join(" and ")
        ),
    )
}

/// The old and new operator and bridge address of a change as event attributes: the old ones
/// from `old` (the registry's record, `-` for a key not in the set), the new ones from the
/// change (`-` for a removal).
fn identity_attrs(event: Event, old: Option<&ValidatorInfo>, change: &ValidatorChange) -> Event {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let new = (change.power > 0).then_some(change);
    event
        .attr("old_operator", or_dash(old.map(|v| v.operator.to_string())))
        .attr("new_operator", or_dash(new.map(|c| c.operator.to_string())))
        .attr(
            "old_eth_address",
            or_dash(old.map(|v| v.eth_address.to_string())),
        )
        .attr(
            "new_eth_address",
            or_dash(new.map(|c| c.eth_address.to_string())),
        )
}

/// The checks of a key rotation that read no state.
fn check_rotation(new_operator: &Address, new_eth_address: &EthAddress) -> Result<(), Fail> {
    if new_eth_address.is_zero() {
        return fail(
            Code::ZeroEthAddress,
            "new_eth_address is the zero address: the L1 contract refuses it in a signer set, which would block every later signer-set update; give the validator's new bridge key address",
        );
    }
    if new_operator.is_module() {
        return fail(
            Code::ModuleOperator,
            format!(
                "new_operator {new_operator} is a module account, which no key controls; give the validator's own operator account"
            ),
        );
    }
    Ok(())
}

/// Hands the validator with `consensus_key` to a new operator and bridge key, if `signer` is its
/// current operator. Takes effect at once: the power does not change, so CometBFT sees nothing.
fn rotate(
    view: &mut Overlay<'_>,
    signer: &Address,
    consensus_key: &[u8; 32],
    new_operator: &Address,
    new_eth_address: &EthAddress,
) -> Result<Vec<Event>, Fail> {
    let mut validators = state::set(view)?;
    let Some(current) = validators
        .iter()
        .find(|v| &v.consensus_key == consensus_key)
    else {
        return fail(
            Code::UnknownValidator,
            format!("no validator has consensus key {}", hex_key(consensus_key)),
        );
    };
    if &current.operator != signer {
        return fail(
            Code::NotValidatorOperator,
            format!(
                "{signer} is not the operator of validator {} (its operator is {}); only that account can rotate its keys",
                current.name, current.operator
            ),
        );
    }
    if &current.operator == new_operator && &current.eth_address == new_eth_address {
        return fail(
            Code::InvalidMessage,
            format!(
                "validator {} already has operator {new_operator} and eth address {new_eth_address}: the rotation changes nothing",
                current.name
            ),
        );
    }
    for v in validators
        .iter()
        .filter(|v| &v.consensus_key != consensus_key)
    {
        if &v.operator == new_operator {
            return fail(
                Code::OperatorTaken,
                format!("operator {} already runs validator {}", v.operator, v.name),
            );
        }
        if &v.eth_address == new_eth_address {
            return fail(
                Code::EthAddressTaken,
                format!(
                    "eth address {new_eth_address} already belongs to validator {}",
                    v.name
                ),
            );
        }
    }
    let event = Event::new(kinds::VALIDATOR_KEYS_ROTATED)
        .attr("name", &current.name)
        .attr("consensus_key", hex_key(consensus_key))
        .attr("old_operator", current.operator)
        .attr("new_operator", new_operator)
        .attr("old_eth_address", current.eth_address)
        .attr("new_eth_address", new_eth_address);
    for v in validators
        .iter_mut()
        .filter(|v| &v.consensus_key == consensus_key)
    {
        v.operator = *new_operator;
        v.eth_address = *new_eth_address;
    }
    state::put_set(view, &validators);
    Ok(vec![event])
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
    let old = validators
        .iter()
        .find(|v| v.consensus_key == change.consensus_key);
    let proposal = Proposal {
        id,
        change: change.clone(),
        proposer: *signer,
        approvals: [approver].into_iter().collect(),
        expires_at: ctx.height.saturating_add(ctx.params.proposal_ttl_blocks),
        old_operator: old.map(|v| v.operator),
        old_eth_address: old.map(|v| v.eth_address),
    };
    let event = Event::new(kinds::VALIDATOR_PROPOSAL)
        .attr("id", id)
        .attr("proposer", signer)
        .attr("name", &change.name)
        .attr("consensus_key", hex_key(&change.consensus_key))
        .attr("power", change.power);
    let mut events = vec![identity_attrs(event, old, change)];
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
    let old = validators
        .iter()
        .find(|v| v.consensus_key == change.consensus_key)
        .cloned();
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
    let event = Event::new(kinds::VALIDATOR_UPDATE)
        .attr("proposal", id)
        .attr("name", &change.name)
        .attr("consensus_key", hex_key(&change.consensus_key))
        .attr("power", change.power);
    Ok(vec![identity_attrs(event, old.as_ref(), &change)])
}

fn hex_key(k: &[u8; 32]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}
