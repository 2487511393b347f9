//! The L1 side of the bridge: the `Bridge` contract's ABI bindings (from the committed solc
//! artifacts in `contracts/out/`), the EIP-712 digests its signer set signs, signer-set
//! normalization, and deployment to any JSON-RPC endpoint.
//!
//! A relayer needs [`Bridge`] (calls, events, errors), [`SignerSet`] and the functions in
//! [`signing`]; a launcher needs [`deploy::deploy_all`]. The Solidity sources live in
//! `contracts/solidity/`; `make contracts` recompiles them, and this crate refuses to build when
//! the committed artifacts no longer match the sources.

pub mod deploy;
mod error;
pub mod signer_set;
pub mod signing;

pub use error::{Error, Result};
pub use signer_set::{SignerSet, POWER_BASE, POWER_THRESHOLD};

alloy::sol!(
    #[sol(rpc, all_derives)]
    Bridge,
    "out/Bridge.json"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    TestToken,
    "out/TestToken.json"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    FeeOnTransferToken,
    "out/FeeOnTransferToken.json"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    ReentrantToken,
    "out/ReentrantToken.json"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    RejectingReceiver,
    "out/RejectingReceiver.json"
);

/// The address the contract uses for ether in `tokenConfig`, batches and events.
pub const ETH: alloy::primitives::Address = alloy::primitives::Address::ZERO;
