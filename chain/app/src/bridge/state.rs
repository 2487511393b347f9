//! Typed access to the bridge's records (keys in `state_key::bridge`).

use sidechain_types::{state_key, BridgeParams};

use crate::{Overlay, Result};

/// The bridge parameters; `None` when genesis configured no bridge.
pub fn params(view: &Overlay<'_>) -> Result<Option<BridgeParams>> {
    view.read(state_key::bridge::PARAMS)
}

pub fn put_params(view: &mut Overlay<'_>, params: &BridgeParams) {
    view.put(state_key::bridge::PARAMS.to_vec(), params);
}
