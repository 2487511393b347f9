//! The face every component of the state machine shows: stateless checks of its messages,
//! delivery of a message against the overlay, end-of-block work, genesis, and its query routes.
//!
//! A new message kind is a variant in the component's sub-enum of `Msg` (in `sidechain-types`),
//! its handler in the component's `deliver`, its keys under the component's prefix in
//! `state_key`, and, when clients read it, a `Route` answered by the component's `query`.
//! [`crate::exec`] dispatches one arm per component; [`crate::block`] runs the end-of-block
//! work in one documented order; [`crate::genesis`] calls each component's genesis.

use sidechain_types::{genesis::CheckedGenesis, query::Route, Event, GenesisState};

use crate::{
    ctx::{BlockCtx, Signer},
    fail::Fail,
    genesis::InitError,
    Overlay, Result, StateRead,
};

/// One component (bank, validators, bridge).
pub trait Component {
    /// The component's sub-enum of `Msg`.
    type Msg;

    /// Checks of a message that read no state (amounts positive, names well-formed). They run
    /// first, in the same place a failing delivery would fail.
    fn check(msg: &Self::Msg) -> Result<(), Fail>;

    /// Executes `msg`, signed by `signer`, against `view`. On failure the caller reverts every
    /// write the transaction's messages made (state and per-block accumulators alike).
    fn deliver(
        view: &mut Overlay<'_>,
        ctx: &BlockCtx,
        signer: &Signer,
        msg: &Self::Msg,
    ) -> Result<Vec<Event>, Fail>;

    /// Work at the end of every block, after its transactions.
    fn end_block(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>>;

    /// Writes the component's part of the genesis state, already checked once by
    /// `GenesisState::check` (`checked` holds what the checks derived).
    fn init_genesis(
        view: &mut Overlay<'_>,
        genesis: &GenesisState,
        checked: &CheckedGenesis,
    ) -> Result<Vec<Event>, InitError>;

    /// Answers `route` from `state` when the route is the component's and is read from several
    /// keys (single-key routes are read by the node directly, so that they can be proven);
    /// `None` when the route is not the component's.
    fn query(state: &dyn StateRead, route: &Route) -> Option<Result<Vec<u8>>>;
}
