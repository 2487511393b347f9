//! Typed access to the validators' records (keys in `state_key::validators`).

use std::collections::BTreeMap;

use sidechain_types::{state_key, Proposal, ValidatorInfo};

use crate::{Overlay, Result, StateRead};

/// The registry, sorted by consensus key (genesis always writes it).
pub fn set(view: &Overlay<'_>) -> Result<Vec<ValidatorInfo>> {
    view.require(state_key::validators::SET)
}

pub fn put_set(view: &mut Overlay<'_>, set: &[ValidatorInfo]) {
    view.put(state_key::validators::SET.to_vec(), &set);
}

/// The open proposal `id`, if it is open.
pub fn proposal(view: &Overlay<'_>, id: u64) -> Result<Option<Proposal>> {
    view.read(&state_key::validators::proposal(id))
}

pub fn put_proposal(view: &mut Overlay<'_>, proposal: &Proposal) {
    view.put(state_key::validators::proposal(proposal.id), proposal);
}

pub fn delete_proposal(view: &mut Overlay<'_>, id: u64) {
    view.delete(state_key::validators::proposal(id));
}

/// The proposal queue's head (lowest id that may be open) and tail (next id).
pub fn proposal_queue(view: &Overlay<'_>) -> Result<(u64, u64)> {
    Ok((
        view.read(state_key::validators::PROPOSALS_HEAD)?
            .unwrap_or(0),
        view.read(state_key::validators::NEXT_PROPOSAL_ID)?
            .unwrap_or(0),
    ))
}

pub fn put_proposals_head(view: &mut Overlay<'_>, head: u64) {
    view.put(state_key::validators::PROPOSALS_HEAD.to_vec(), &head);
}

pub fn put_next_proposal_id(view: &mut Overlay<'_>, next: u64) {
    view.put(state_key::validators::NEXT_PROPOSAL_ID.to_vec(), &next);
}

/// Every open proposal, by id: the present keys between the queue's head and tail.
pub fn open_proposals(state: &dyn StateRead) -> Result<Vec<Proposal>> {
    let view = Overlay::new(state);
    let (head, tail) = proposal_queue(&view)?;
    let mut open = Vec::new();
    for id in head..tail {
        if let Some(p) = proposal(&view, id)? {
            open.push(p);
        }
    }
    Ok(open)
}

/// The validator updates the block hands CometBFT: the net change from the set at the start
/// of the block (the overlay's base) to the set now, by consensus key in ascending order. A key
/// added and removed within the block, or re-weighted back to its power, yields nothing; a
/// removal names only a key CometBFT holds; several re-weights yield one update. So the updates
/// are always a valid change of the set CometBFT has (CometBFT spec, "EndBlock / FinalizeBlock:
/// validator updates").
pub fn block_updates(view: &Overlay<'_>) -> Result<Vec<([u8; 32], u64)>> {
    Ok(net_change(&block_start_set(view)?, &set(view)?))
}

/// The registry as it was at the start of the block (the overlay's base).
pub fn block_start_set(view: &Overlay<'_>) -> Result<Vec<ValidatorInfo>> {
    Overlay::new(view.base()).require(state_key::validators::SET)
}

/// The updates that turn `start` into `end`: (key, new power; 0 removes), by key.
pub fn net_change(start: &[ValidatorInfo], end: &[ValidatorInfo]) -> Vec<([u8; 32], u64)> {
    let before: BTreeMap<[u8; 32], u64> =
        start.iter().map(|v| (v.consensus_key, v.power)).collect();
    let after: BTreeMap<[u8; 32], u64> = end.iter().map(|v| (v.consensus_key, v.power)).collect();
    let mut updates: BTreeMap<[u8; 32], u64> = BTreeMap::new();
    for (key, power) in &after {
        if before.get(key) != Some(power) {
            updates.insert(*key, *power);
        }
    }
    for key in before.keys() {
        if !after.contains_key(key) {
            updates.insert(*key, 0);
        }
    }
    updates.into_iter().collect()
}

/// The voting power `updates` move away from `start`: the sum over the changed keys of
/// |new power - old power| (128 bits: cannot overflow).
pub fn power_moved(start: &[ValidatorInfo], updates: &[([u8; 32], u64)]) -> u128 {
    updates.iter().fold(0u128, |acc, (key, new)| {
        let old = start
            .iter()
            .find(|v| v.consensus_key == *key)
            .map_or(0, |v| v.power);
        acc.saturating_add(u128::from(new.abs_diff(old)))
    })
}
