//! The bridge to L1: the parameters genesis fixes (which L1 deployment the chain is joined to
//! and how batches are cut) and deposits from L1 ([`claims`]: validators' claims, their
//! tally, minting in nonce order). Withdrawals, batches and signer sets join as submodules
//! with their keys under `state_key::bridge`.

pub mod claims;
pub mod state;

use sidechain_types::{
    bridge::check_claims, genesis::CheckedGenesis, query::Route, BridgeMsg, Code, Event,
    GenesisState,
};

use crate::{
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    genesis::InitError,
    Overlay, Result, StateRead,
};

/// The bridge component.
#[derive(Debug)]
pub struct Bridge;

impl Component for Bridge {
    type Msg = BridgeMsg;

    fn check(msg: &BridgeMsg) -> Result<(), Fail> {
        match msg {
            BridgeMsg::ClaimDeposits { claims } => match check_claims(claims) {
                Ok(()) => Ok(()),
                Err(reason) => fail(Code::InvalidClaim, reason),
            },
        }
    }

    fn deliver(
        view: &mut Overlay<'_>,
        ctx: &BlockCtx,
        signer: &Signer,
        msg: &BridgeMsg,
    ) -> Result<Vec<Event>, Fail> {
        match msg {
            BridgeMsg::ClaimDeposits { claims } => {
                claims::claim_deposits(view, ctx, signer, claims)
            }
        }
    }

    /// Applies the attested deposits, in nonce order (see [`claims::apply_deposits`]).
    fn end_block(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
        claims::apply_deposits(view, ctx)
    }

    /// Stores the validated bridge parameters when genesis configures a bridge, with no deposit
    /// applied yet.
    fn init_genesis(
        view: &mut Overlay<'_>,
        _genesis: &GenesisState,
        checked: &CheckedGenesis,
    ) -> Result<Vec<Event>, InitError> {
        if let Some(params) = &checked.bridge {
            state::put_params(view, params);
            state::put_last_applied(view, 0);
        }
        Ok(Vec::new())
    }

    /// `/bridge/tokens` and `/bridge/misbehaviour` (the other bridge routes are single keys,
    /// read and proven by the node).
    fn query(state: &dyn StateRead, route: &Route) -> Option<Result<Vec<u8>>> {
        match route {
            Route::BridgeTokens => Some(
                state::all_tokens(state).map(|tokens| borsh::to_vec(&tokens).unwrap_or_default()),
            ),
            Route::BridgeMisbehaviour => Some(
                state::all_misbehaviour(state).map(|all| borsh::to_vec(&all).unwrap_or_default()),
            ),
            _ => None,
        }
    }
}
