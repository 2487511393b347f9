//! Wire types of the sidechain, shared by the node, the CLI, the testnet launcher and relayers.
//!
//! Everything here is plain data plus the rules that make it canonical: borsh encodings for
//! transactions and state records, serde (JSON) for genesis and output, the domain-separated
//! signing hash, the numeric result codes, and verification of state proofs. It depends on no
//! storage, network or runtime crate, so a client can use it on its own.
//!
//! Each component of the state machine has its module here: [`bank`], [`validators`],
//! [`bridge`] (messages and records); [`state_key`] holds the whole state layout and [`query`]
//! the query routes.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod address;
pub mod amount;
pub mod bank;
pub mod bridge;
pub mod codes;
pub mod denom;
pub mod ed25519;
pub mod eth;
pub mod events;
pub mod genesis;
pub mod proof;
pub mod query;
pub mod state;
pub mod state_key;
pub mod tx;
pub mod validators;

pub use address::{Address, AddressError};
pub use amount::Amount;
pub use bank::{Account, BankMsg};
pub use bridge::{
    wrapped_denom, BatchEntry, BatchOutcome, BatchSettlement, BatchSignature, BridgeMsg,
    BridgeParams, DepositClaim, DepositRecord, DepositState, ExecutedBatch, L1Amount, L1SignerSet,
    Misbehaviour, OutcomeVote, OutgoingBatch, QueuedWithdrawal, Refund, RefundState, Release,
    SignerSetOutcome, SignerSetStatus, SignerSetUpdate, Tally, Withdrawal, WithdrawalState,
    WrappedToken,
};
pub use codes::Code;
pub use denom::{Denom, DenomError};
pub use eth::{EthAddress, EthAddressError};
pub use events::Event;
pub use genesis::{GenesisAccount, GenesisState, GenesisValidator, Params};
pub use tx::{Fee, Msg, SignedTx, TxBody};
pub use validators::{Proposal, ValidatorChange, ValidatorInfo, ValidatorsMsg};

/// Hex of a 32-byte hash, upper case as CometBFT prints transaction hashes.
pub fn hash_hex(hash: &[u8; 32]) -> String {
    hex::encode_upper(hash)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).into()
}
