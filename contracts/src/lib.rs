//! The L1 side of the bridge: the `Bridge` contract's ABI bindings (from the committed solc
//! artifacts in `contracts/out/`), key-based signing, and deployment to any JSON-RPC endpoint.
//!
//! The protocol rules themselves (EIP-712 domain and digests, signer-set normalization, the
//! threshold, signature recovery) live in the pure crate `bridge-protocol`, which the sidechain's
//! state machine links too; this crate re-exports it as [`protocol`] and under the old paths
//! ([`SignerSet`], [`signing::Domain`], [`POWER_THRESHOLD`], ...). The binding's structs
//! (`Bridge::Batch`, `Bridge::SignerSet`, `Bridge::Signature`) convert to and from the protocol's
//! [`protocol::abi`] structs with `From`, so every digest is computed in one place.
//!
//! A relayer needs [`Bridge`] (calls, events, errors), [`SignerSet`] and the functions in
//! [`signing`]; a launcher needs [`deploy::deploy_all`]. The test contracts (`TestToken`,
//! `FeeOnTransferToken`, `ReentrantToken`, `RejectingReceiver`, `GasBurningReceiver`,
//! `GasBurningToken`) are bound only with the `test-tokens` feature, which deploying test tokens
//! to a local network also needs. The Solidity sources live in `contracts/solidity/`;
//! `make contracts` recompiles them, and this crate refuses to build when the committed artifacts
//! no longer match the sources.

mod convert;
pub mod deploy;
mod error;
pub mod rpc;
pub mod signing;
pub mod user;

pub use bridge_protocol as protocol;
pub use bridge_protocol::{SignerSet, MAX_SIGNERS, POWER_BASE, POWER_THRESHOLD};
pub use error::{Error, Result};

/// The signer set (moved to [`protocol`]; re-exported here under its old path).
pub mod signer_set {
    pub use bridge_protocol::{Member, SignerSet, MAX_SIGNERS, POWER_BASE, POWER_THRESHOLD};
}

alloy::sol!(
    #[sol(rpc, all_derives)]
    Bridge,
    "out/Bridge.json"
);

#[cfg(feature = "test-tokens")]
alloy::sol!(
    #[sol(rpc, all_derives)]
    TestToken,
    "out/TestToken.json"
);

#[cfg(feature = "test-tokens")]
alloy::sol!(
    #[sol(rpc, all_derives)]
    FeeOnTransferToken,
    "out/FeeOnTransferToken.json"
);

#[cfg(feature = "test-tokens")]
alloy::sol!(
    #[sol(rpc, all_derives)]
    ReentrantToken,
    "out/ReentrantToken.json"
);

#[cfg(feature = "test-tokens")]
alloy::sol!(
    #[sol(rpc, all_derives)]
    RejectingReceiver,
    "out/RejectingReceiver.json"
);

#[cfg(feature = "test-tokens")]
alloy::sol!(
    #[sol(rpc, all_derives)]
    GasBurningReceiver,
    "out/GasBurningReceiver.json"
);

#[cfg(feature = "test-tokens")]
alloy::sol!(
    #[sol(rpc, all_derives)]
    GasBurningToken,
    "out/GasBurningToken.json"
);

/// The address the contract uses for ether in `tokenConfig`, batches and events.
pub const ETH: alloy::primitives::Address = alloy::primitives::Address::ZERO;
