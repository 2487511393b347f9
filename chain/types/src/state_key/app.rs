//! Chain-wide records written at genesis (and the last executed height).

/// Prefix of every key below.
pub const PREFIX: &[u8] = b"app/";
/// borsh `String`: the chain id set at genesis.
pub const CHAIN_ID: &[u8] = b"app/chain_id";
/// borsh `Params`.
pub const PARAMS: &[u8] = b"app/params";
/// borsh `Denom`: the native fee token.
pub const NATIVE_DENOM: &[u8] = b"app/native_denom";
/// borsh `u64`: the last height executed. Written every block, so every height has a tree
/// version to prove against.
pub const LAST_HEIGHT: &[u8] = b"app/last_height";
