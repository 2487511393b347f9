//! The bridge to L1.

/// Prefix of every key below.
pub const PREFIX: &[u8] = b"bridge/";
/// borsh `BridgeParams`: written at genesis when genesis configures a bridge, absent otherwise.
pub const PARAMS: &[u8] = b"bridge/params";
