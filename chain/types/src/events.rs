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
/// identifiers a wallet, relayer or explorer looks transactions up by. Bridge deposits are
/// followed by their L1 `nonce` and `l1_tx_hash` (together the transfer id a user follows
/// across both chains); indexing is by attribute name, so the `tx` event's account nonce is
/// indexed too. A validator's old and new operator are indexed, so an operator can find every
/// proposal and key rotation that names its account. Amounts and denoms are in every event but not indexed, which keeps each node's
/// index small.
pub const INDEXED_ATTRIBUTES: &[&str] = &[
    "signer",
    "to",
    "address",
    "id",
    "proposal",
    "proposer",
    "voter",
    "consensus_key",
    "old_operator",
    "new_operator",
    "nonce",
    "l1_tx_hash",
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
    /// A validator-set proposal opened: `id`, `proposer`, `name`, `consensus_key` (hex),
    /// `power`, `old_operator`, `new_operator`, `old_eth_address`, `new_eth_address` (the old
    /// ones as the registry holds them, `-` for a key not in the set; the new ones `-` for a
    /// removal). Or one lapsed: `id`, `status` = `expired`.
    pub const VALIDATOR_PROPOSAL: &str = "validator_proposal";
    /// An approval: `id`, `voter` (operator address).
    pub const VALIDATOR_VOTE: &str = "validator_vote";
    /// An approved proposal applied: `proposal`, `name`, `consensus_key`, `power`, and the same
    /// `old_operator`, `new_operator`, `old_eth_address`, `new_eth_address` as its proposal.
    pub const VALIDATOR_UPDATE: &str = "validator_update";
    /// A validator's operator and bridge key handed to new ones by its own operator:
    /// `name`, `consensus_key` (hex), `old_operator`, `new_operator`, `old_eth_address`,
    /// `new_eth_address`.
    pub const VALIDATOR_KEYS_ROTATED: &str = "validator_keys_rotated";
    /// A validator's deposit claim counted: `nonce`, `validator` (operator address),
    /// `content_hash` (`0x` hex), `power` (current power behind that content so far) and
    /// `total_power`.
    pub const DEPOSIT_CLAIM: &str = "deposit_claim";
    /// A deposit minted (end of block): `nonce`, `token` (L1 address), `denom`, `recipient`,
    /// `amount` (base units), `l1_tx_hash` (`0x` hex), `height`.
    pub const DEPOSIT_APPLIED: &str = "deposit_applied";
    /// A deposit attested but not mintable, owed back on L1 (end of block): `nonce`, `token`,
    /// `sender` (the L1 account owed), `amount`, `l1_tx_hash`, `refund` (queue id), `reason`,
    /// `height`.
    pub const DEPOSIT_REFUND_OWED: &str = "deposit_refund_owed";
    /// A validator claimed two contents for one deposit nonce: `validator`, `nonce`, `first`
    /// and `conflicting` (content hashes, `0x` hex), `height`.
    pub const BRIDGE_MISBEHAVIOUR: &str = "bridge_misbehaviour";
    /// A withdrawal queued: `id`, `owner`, `token`, `denom`, `to`, `amount`, `fee`.
    pub const WITHDRAWAL_QUEUED: &str = "withdrawal_queued";
    /// A queued withdrawal cancelled by its owner: `id`, `owner`, `denom`, `refunded`
    /// (amount + fee minted back).
    pub const WITHDRAWAL_CANCELLED: &str = "withdrawal_cancelled";
    /// A batch cut (end of block): `nonce`, `token`, `count`, `fee`, `timeout`, `ids`
    /// (comma-separated).
    pub const BATCH_CUT: &str = "batch_cut";
    /// A validator's signature over a batch counted: `nonce`, `validator` (operator),
    /// `signer` (Ethereum address), `signer_index`.
    pub const BATCH_CONFIRMATION: &str = "batch_confirmation";
    /// A batch's signatures passed the contract's threshold: `nonce`, `token`, `signatures`.
    pub const BATCH_READY: &str = "batch_ready";
    /// A validator's attestation of a batch's L1 outcome counted: `nonce`, `validator`,
    /// `outcome` (`executed` or `timed_out`), `content_hash`.
    pub const BATCH_ATTESTATION: &str = "batch_attestation";
    /// A batch executed on L1, attested by more than 2/3 of the power (end of block): `nonce`,
    /// `token`, `count`, `released`, `deferred`, `delayed`, `l1_block`, `l1_tx_hash`,
    /// `submitter`.
    pub const BATCH_EXECUTED: &str = "batch_executed";
    /// A batch timed out on L1 unexecuted, attested by more than 2/3 of the power (end of
    /// block): `nonce`, `token`, `requeued` (withdrawals back in the queue), `refunds`.
    pub const BATCH_TIMED_OUT: &str = "batch_timed_out";
    /// The chain produced the next L1 signer set (end of block): `nonce`, `signers`,
    /// `signed_by` (nonce of the set that must sign it).
    pub const SIGNER_SET_CREATED: &str = "signer_set_created";
    /// A signature over a signer-set update counted: `nonce`, `validator`, `signer`,
    /// `signer_index`.
    pub const SIGNER_SET_CONFIRMATION: &str = "signer_set_confirmation";
    /// A signer-set update signed by more than the contract's threshold: `nonce`.
    pub const SIGNER_SET_READY: &str = "signer_set_ready";
    /// A validator's attestation of a signer-set update's L1 outcome counted: `nonce`,
    /// `validator`, `outcome`.
    pub const SIGNER_SET_ATTESTATION: &str = "signer_set_attestation";
    /// A signer-set update's L1 outcome settled by more than 2/3 of the power (end of block):
    /// `nonce`, `status` (`active`, `pending`, `cancelled`), `activates_at` (pending only).
    pub const SIGNER_SET_SETTLED: &str = "signer_set_settled";
}
