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

/// Attributes CometBFT's transaction indexer indexes, so `tx_search` can find transactions by
/// them (for example `transfer.to='side1...'` or `tx.signer='side1...'`): the accounts and
/// identifiers a wallet, relayer or explorer looks transactions up by. Amounts, denoms and
/// nonces are in every event but not indexed, which keeps each node's index small.
pub const INDEXED_ATTRIBUTES: &[&str] = &[
    "signer",
    "to",
    "address",
    "id",
    "proposal",
    "proposer",
    "voter",
    "consensus_key",
];

/// Whether CometBFT should index attribute `key` (see [`INDEXED_ATTRIBUTES`]).
pub fn is_indexed(key: &str) -> bool {
    INDEXED_ATTRIBUTES.contains(&key)
}

/// Event kinds the application emits.
pub mod kinds {
    /// Every transaction that paid its fee: `signer`, `nonce`, and `fee` as a coin
    /// (`<amount><denom>`) when non-zero.
    pub const TX: &str = "tx";
    /// A transfer by the transaction's signer: `to` and `amount` as a coin (`<amount><denom>`).
    pub const TRANSFER: &str = "transfer";
    pub const GENESIS_ACCOUNT: &str = "genesis_account";
    pub const VALIDATOR_PROPOSAL: &str = "validator_proposal";
    pub const VALIDATOR_VOTE: &str = "validator_vote";
    pub const VALIDATOR_UPDATE: &str = "validator_update";
}
