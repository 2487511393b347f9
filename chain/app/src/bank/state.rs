//! Typed access to the bank's records (keys in `state_key::bank`).

use sidechain_types::{state_key, Account, Address, Denom};

use crate::{Overlay, Result};

/// The account at `address` (an empty account when none is stored).
pub fn account(view: &Overlay<'_>, address: &Address) -> Result<Account> {
    Ok(view
        .read(&state_key::bank::account(address))?
        .unwrap_or_default())
}

pub fn put_account(view: &mut Overlay<'_>, address: &Address, account: &Account) {
    view.put(state_key::bank::account(address), account);
}

/// Total supply of `denom` in base units; `None` when the denom is unknown.
pub fn supply(view: &Overlay<'_>, denom: &Denom) -> Result<Option<u128>> {
    view.read(&state_key::bank::supply(denom))
}

pub fn put_supply(view: &mut Overlay<'_>, denom: &Denom, supply: u128) {
    view.put(state_key::bank::supply(denom), &supply);
}

/// Fees in base units of the native denom taken by the block's transactions so far.
pub fn block_fees(view: &Overlay<'_>) -> Result<u128> {
    view.scratch(state_key::block::FEES)
}

pub fn put_block_fees(view: &mut Overlay<'_>, fees: u128) {
    view.put_scratch(state_key::block::FEES, &fees);
}
