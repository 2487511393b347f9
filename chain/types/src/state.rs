//! State records as stored (borsh) and returned by queries.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::{address::Address, amount::Amount, denom::Denom, tx::ValidatorChange};

/// An account: its next nonce and its balances by denom (zero balances are not stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    pub nonce: u64,
    pub balances: BTreeMap<Denom, Amount>,
}

impl Account {
    pub fn balance(&self, denom: &Denom) -> Amount {
        self.balances.get(denom).copied().unwrap_or(0)
    }

    /// Sets the balance of `denom`; a zero balance is removed, so equal states encode equally.
    pub fn set_balance(&mut self, denom: &Denom, amount: Amount) {
        if amount == 0 {
            self.balances.remove(denom);
        } else {
            self.balances.insert(denom.clone(), amount);
        }
    }
}

/// A member of the validator registry.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct ValidatorInfo {
    pub name: String,
    #[serde(serialize_with = "ser_hex")]
    pub consensus_key: [u8; 32],
    pub power: u64,
    pub operator: Address,
    #[serde(serialize_with = "ser_eth")]
    pub eth_address: [u8; 20],
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

fn ser_hex<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn ser_eth<S: serde::Serializer>(v: &[u8; 20], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v)))
}

fn ser_hex_set<S: serde::Serializer>(v: &BTreeSet<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(hex::encode))
}
