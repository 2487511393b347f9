//! InitChain: the first state, from the genesis `app_state`.

use sidechain_types::{genesis::GenesisError, state_key, Event, GenesisState, ValidatorInfo};

use crate::{
    bank::Bank, bridge::Bridge, component::Component, validators::Validators, view::Writes,
    Overlay, StateRead,
};

/// Why genesis cannot start the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error("chain id must be 1 to 50 characters, got `{0}`")]
    ChainId(String),
    #[error("the CometBFT genesis `validators` differ from app_state.validators: {0}; list the same keys with the same powers in both")]
    ValidatorMismatch(String),
    #[error(transparent)]
    App(#[from] crate::AppError),
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
    let checked = genesis.check()?;
    let mut ours: Vec<([u8; 32], u64)> = checked
        .registry
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
    view.put(state_key::app::CHAIN_ID.to_vec(), &chain_id.to_string());
    view.put(state_key::app::PARAMS.to_vec(), &genesis.params);
    view.put(state_key::app::NATIVE_DENOM.to_vec(), &genesis.native_denom);
    view.put(state_key::app::LAST_HEIGHT.to_vec(), &0u64);
    // Each component's genesis, in the end-of-block order.
    let mut events = Bank::init_genesis(&mut view, &genesis, &checked)?;
    events.append(&mut Validators::init_genesis(
        &mut view, &genesis, &checked,
    )?);
    events.append(&mut Bridge::init_genesis(&mut view, &genesis, &checked)?);
    Ok(GenesisOutput {
        writes: view.into_writes(),
        events,
        validators: checked.registry,
    })
}
