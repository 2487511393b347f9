//! Events: one per state change, turned into ABCI events by the node so relayers and explorers
//! can follow every change through CometBFT's RPC.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

/// An application event: a kind and ordered key/value attributes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Event {
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

impl Event {
    pub fn new(kind: &str) -> Self {
        Event {
            kind: kind.to_string(),
            attributes: Vec::new(),
        }
    }

    pub fn attr(mut self, key: &str, value: impl ToString) -> Self {
        self.attributes.push((key.to_string(), value.to_string()));
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Event kinds the application emits.
pub mod kinds {
    pub const TX: &str = "tx";
    pub const FEE: &str = "fee";
    pub const TRANSFER: &str = "transfer";
    pub const GENESIS_ACCOUNT: &str = "genesis_account";
    pub const VALIDATOR_PROPOSAL: &str = "validator_proposal";
    pub const VALIDATOR_VOTE: &str = "validator_vote";
    pub const VALIDATOR_UPDATE: &str = "validator_update";
}
