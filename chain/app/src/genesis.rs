//! InitChain: the first state, from the genesis `app_state`.

use std::collections::BTreeMap;

use sidechain_types::{
    events::kinds, genesis::GenesisError, state_key, Account, Denom, Event, GenesisState,
    ValidatorInfo,
};

use crate::{view::Writes, Overlay, StateRead};

/// Why genesis cannot start the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error("chain id must be 1 to 50 characters, got `{0}`")]
    ChainId(String),
    #[error("the CometBFT genesis `validators` differ from app_state.validators: {0}; list the same keys with the same powers in both")]
    ValidatorMismatch(String),
}

/// The state genesis creates.
#[derive(Debug, Clone)]
pub struct GenesisOutput {
    pub writes: Writes,
    pub events: Vec<Event>,
    pub validators: Vec<ValidatorInfo>,
}

/// Builds the genesis state. `consensus_validators` are the (ed25519 key, power) pairs CometBFT
/// passed in InitChain; they must match the registry in `app_state`.
pub fn init_chain(
    chain_id: &str,
    app_state: &[u8],
    consensus_validators: &[([u8; 32], u64)],
) -> Result<GenesisOutput, InitError> {
    if chain_id.is_empty() || chain_id.len() > 50 {
        return Err(InitError::ChainId(chain_id.to_string()));
    }
    let genesis = GenesisState::from_json(app_state)?;
    let registry = genesis.validate()?;
    let mut ours: Vec<([u8; 32], u64)> = registry
        .iter()
        .map(|v| (v.consensus_key, v.power))
        .collect();
    let mut theirs = consensus_validators.to_vec();
    ours.sort();
    theirs.sort();
    // CometBFT may leave the list empty when the app is to decide; then ours stands.
    if !theirs.is_empty() && ours != theirs {
        return Err(InitError::ValidatorMismatch(format!(
            "CometBFT has {} validator(s), app_state has {}",
            theirs.len(),
            ours.len()
        )));
    }

    let empty = Writes::new();
    let base: &dyn StateRead = &empty;
    let mut view = Overlay::new(base);
    view.put(state_key::CHAIN_ID.to_vec(), &chain_id.to_string());
    view.put(state_key::PARAMS.to_vec(), &genesis.params);
    view.put(state_key::NATIVE_DENOM.to_vec(), &genesis.native_denom);
    view.put(state_key::VALIDATORS.to_vec(), &registry);
    view.put(
        state_key::PROPOSALS.to_vec(),
        &Vec::<sidechain_types::state::Proposal>::new(),
    );
    view.put(state_key::NEXT_PROPOSAL_ID.to_vec(), &0u64);
    view.put(state_key::BRIDGE_PARAMS.to_vec(), &genesis.bridge);
    view.put(state_key::LAST_HEIGHT.to_vec(), &0u64);

    let mut supplies: BTreeMap<Denom, u128> = BTreeMap::new();
    supplies.insert(genesis.native_denom.clone(), 0);
    for d in &genesis.denoms {
        supplies.entry(d.clone()).or_insert(0);
    }
    let mut events = Vec::new();
    for a in &genesis.accounts {
        let mut account = Account::default();
        for c in &a.balances {
            account.balances.insert(c.denom.clone(), c.amount);
            let s = supplies.entry(c.denom.clone()).or_insert(0);
            // validate() proved that supplies fit.
            *s = s.saturating_add(c.amount);
            events.push(
                Event::new(kinds::GENESIS_ACCOUNT)
                    .attr("address", a.address)
                    .attr("denom", &c.denom)
                    .attr("amount", c.amount),
            );
        }
        view.put_account(&a.address, &account);
    }
    for (denom, supply) in &supplies {
        view.put(state_key::supply(denom), supply);
    }
    Ok(GenesisOutput {
        writes: view.into_writes(),
        events,
        validators: registry,
    })
}
