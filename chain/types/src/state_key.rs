//! The whole state layout in one place. Every key the application writes is built here.

use crate::{address::Address, denom::Denom};

/// `acct/<20 address bytes>` -> borsh `Account`.
pub fn account(address: &Address) -> Vec<u8> {
    [b"acct/".as_slice(), address.as_bytes()].concat()
}

/// `supply/<denom>` -> borsh `u128`: total supply; its presence makes the denom known.
pub fn supply(denom: &Denom) -> Vec<u8> {
    [b"supply/".as_slice(), denom.as_str().as_bytes()].concat()
}

/// borsh `Params`.
pub const PARAMS: &[u8] = b"params";
/// borsh `String`: the chain id set at genesis.
pub const CHAIN_ID: &[u8] = b"chain_id";
/// borsh `Denom`: the native fee token.
pub const NATIVE_DENOM: &[u8] = b"native_denom";
/// borsh `Vec<ValidatorInfo>`, sorted by consensus key.
pub const VALIDATORS: &[u8] = b"validators";
/// borsh `Vec<Proposal>`, open proposals sorted by id.
pub const PROPOSALS: &[u8] = b"proposals";
/// borsh `u64`: id of the next proposal.
pub const NEXT_PROPOSAL_ID: &[u8] = b"next_proposal_id";
/// borsh `u64`: the last height executed. Written every block, so every height has a tree
/// version to prove against.
pub const LAST_HEIGHT: &[u8] = b"last_height";
/// borsh `GenesisBridge`: bridge parameters from genesis.
pub const BRIDGE_PARAMS: &[u8] = b"bridge_params";
