//! The validators component's wire types: its messages, the registry record and proposals.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::{address::Address, eth::EthAddress};

/// Messages of the validators component. Variants are only ever appended: the borsh tag is the
/// variant's position.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ValidatorsMsg {
    /// Open a validator-set change proposal (the proposer's vote counts at once).
    ProposeValidatorChange { change: ValidatorChange },
    /// Approve an open proposal.
    VoteValidatorChange { proposal_id: u64 },
}

/// A proposed change to the validator set: add a validator, re-weight it, or remove it
/// (`power == 0`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct ValidatorChange {
    /// Human-readable name (for status output), 1 to 64 characters.
    pub name: String,
    /// CometBFT ed25519 consensus public key (32 bytes).
    #[serde(with = "hex_32")]
    pub consensus_key: [u8; 32],
    /// New voting power; 0 removes the validator.
    pub power: u64,
    /// Sidechain account the validator's relayer and governance votes sign with.
    pub operator: Address,
    /// Ethereum address of the validator's bridge key.
    pub eth_address: EthAddress,
}

/// A member of the validator registry.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct ValidatorInfo {
    pub name: String,
    /// CometBFT ed25519 consensus public key (32 bytes, hex in JSON).
    #[serde(with = "hex_32")]
    pub consensus_key: [u8; 32],
    pub power: u64,
    pub operator: Address,
    pub eth_address: EthAddress,
}

/// An open validator-set change proposal.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Proposal {
    pub id: u64,
    pub change: ValidatorChange,
    pub proposer: Address,
    /// Consensus keys (hex) of the validators that approved it.
    #[serde(serialize_with = "ser_hex_set")]
    pub approvals: BTreeSet<[u8; 32]>,
    /// Height after which the proposal lapses if not approved.
    pub expires_at: u64,
}

mod hex_32 {
    use serde::Serializer;
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

fn ser_hex_set<S: serde::Serializer>(v: &BTreeSet<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(hex::encode))
}
