//! Balances and supplies.

use crate::{Address, Denom};

/// Prefix of every key below.
pub const PREFIX: &[u8] = b"bank/";

/// `bank/acct/<20 address bytes>` -> borsh `Account`.
pub fn account(address: &Address) -> Vec<u8> {
    super::key(b"bank/acct/", address.as_bytes())
}

/// `bank/supply/<denom>` -> borsh `u128`: total supply in base units; its presence makes the
/// denom known.
pub fn supply(denom: &Denom) -> Vec<u8> {
    super::key(b"bank/supply/", denom.as_str().as_bytes())
}
