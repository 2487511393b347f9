//! Query answers the node cannot read from one key: each component answers its own routes.

use sidechain_types::query::Route;

use crate::{
    bank::Bank, bridge::Bridge, component::Component, validators::Validators, Result, StateRead,
};

/// The answer to a route read from several keys (`Route::state_key` is `None`), or `None` when
/// no component assembles `route` (then it is a single-key route).
pub fn assemble(state: &dyn StateRead, route: &Route) -> Option<Result<Vec<u8>>> {
    Bank::query(state, route)
        .or_else(|| Validators::query(state, route))
        .or_else(|| Bridge::query(state, route))
}
