//! The bridge to L1. Today it holds the parameters genesis fixes (which L1 deployment the chain
//! is joined to and how batches are cut); deposits, withdrawals, batches and signer sets join
//! it as submodules with their keys under `state_key::bridge`.

pub mod state;

use sidechain_types::{genesis::CheckedGenesis, query::Route, BridgeMsg, Event, GenesisState};

use crate::{
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::Fail,
    genesis::InitError,
    Overlay, Result, StateRead,
};

/// The bridge component.
#[derive(Debug)]
pub struct Bridge;

impl Component for Bridge {
    type Msg = BridgeMsg;

    fn check(msg: &BridgeMsg) -> Result<(), Fail> {
        match *msg {}
    }

    fn deliver(
        _view: &mut Overlay<'_>,
        _ctx: &BlockCtx,
        _signer: &Signer,
        msg: &BridgeMsg,
    ) -> Result<Vec<Event>, Fail> {
        match *msg {}
    }

    fn end_block(_view: &mut Overlay<'_>, _ctx: &BlockCtx) -> Result<Vec<Event>> {
        Ok(Vec::new())
    }

    /// Stores the validated bridge parameters when genesis configures a bridge.
    fn init_genesis(
        view: &mut Overlay<'_>,
        _genesis: &GenesisState,
        checked: &CheckedGenesis,
    ) -> Result<Vec<Event>, InitError> {
        if let Some(params) = &checked.bridge {
            state::put_params(view, params);
        }
        Ok(Vec::new())
    }

    fn query(_state: &dyn StateRead, _route: &Route) -> Option<Result<Vec<u8>>> {
        // `/bridge/params` is a single key, read (and proven) by the node.
        None
    }
}
