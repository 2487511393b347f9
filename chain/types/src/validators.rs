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
    /// Hand a validator's operator account and bridge key to new ones. Only the validator's
    /// current operator may sign it; it takes effect at once and leaves the power (so
    /// CometBFT's set) unchanged. A proposal cannot change these two: a change of who signs
    /// is the validator's own act, never a vote of the others.
    RotateValidatorKeys {
        /// The validator's CometBFT consensus key (which identifies it in the set).
        #[serde(with = "hex_32")]
        consensus_key: [u8; 32],
        /// The account that will sign the validator's votes and relayer messages.
        new_operator: Address,
        /// The Ethereum address of the validator's new bridge key (it signs L1 withdrawals).
        new_eth_address: EthAddress,
    },
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
///
/// The validator's operator and bridge address as the registry held them when the proposal
/// opened are stored with it (`old_operator`, `old_eth_address`; `None` for a key not in the set
/// then), so the proposal list shows them next to the new ones without reading the registry.
/// A proposal never changes them for a validator in the set (that is
/// [`ValidatorsMsg::RotateValidatorKeys`]), and approval re-checks the change against the
/// registry as it is at that moment, which is what counts.
///
/// JSON adds `new_operator` and `new_eth_address`: the change's for an addition or re-weight,
/// `null` for a removal (it hands nothing to anyone).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(into = "ProposalJson")]
pub struct Proposal {
    pub id: u64,
    pub change: ValidatorChange,
    pub proposer: Address,
    /// Consensus keys (hex) of the validators that approved it.
    pub approvals: BTreeSet<[u8; 32]>,
    /// Height after which the proposal lapses if not approved.
    pub expires_at: u64,
    /// The validator's operator when the proposal opened (`None`: not in the set then).
    pub old_operator: Option<Address>,
    /// The validator's bridge key address when the proposal opened (`None`: not in the set).
    pub old_eth_address: Option<EthAddress>,
}

impl Proposal {
    /// The operator the change leaves the validator with (`None` for a removal).
    pub fn new_operator(&self) -> Option<Address> {
        (self.change.power > 0).then_some(self.change.operator)
    }

    /// The bridge key address the change leaves the validator with (`None` for a removal).
    pub fn new_eth_address(&self) -> Option<EthAddress> {
        (self.change.power > 0).then_some(self.change.eth_address)
    }
}

/// [`Proposal`] as JSON: its fields and the new operator and bridge address beside the old.
#[derive(Serialize)]
struct ProposalJson {
    id: u64,
    change: ValidatorChange,
    proposer: Address,
    #[serde(serialize_with = "ser_hex_set")]
    approvals: BTreeSet<[u8; 32]>,
    expires_at: u64,
    old_operator: Option<Address>,
    new_operator: Option<Address>,
    old_eth_address: Option<EthAddress>,
    new_eth_address: Option<EthAddress>,
}

impl From<Proposal> for ProposalJson {
    fn from(p: Proposal) -> Self {
        ProposalJson {
            new_operator: p.new_operator(),
            new_eth_address: p.new_eth_address(),
            id: p.id,
            change: p.change,
            proposer: p.proposer,
            approvals: p.approvals,
            expires_at: p.expires_at,
            old_operator: p.old_operator,
            old_eth_address: p.old_eth_address,
        }
    }
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
