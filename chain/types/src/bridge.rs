//! The bridge component's wire types: its parameters (fixed at genesis), its messages, the
//! deposit records the state machine keeps, and the one rule that names a wrapped denom.
//!
//! Deposits (L1 -> sidechain): the L1 `Bridge` contract emits `Deposit(nonce, token, sender,
//! recipient, amount)` with nonces 1, 2, 3, ...; each validator's relayer sends a
//! [`BridgeMsg::ClaimDeposits`] with what it saw; the chain mints a deposit once one content
//! ([`DepositClaim::content_hash`]) of its nonce carries more than 2/3 of the current voting
//! power, strictly in nonce order.

use std::{fmt, str::FromStr};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{address::Address, denom::Denom, eth::EthAddress};

/// Most withdrawals one batch may carry: the L1 contract executes at most 256 per batch.
pub const MAX_BATCH_SIZE: u32 = 256;
/// Deepest confirmation depth accepted, in L1 blocks (about 14 hours at 12 s a block).
pub const MAX_CONFIRMATIONS: u64 = 4_096;

/// Validated bridge parameters: which L1 deployment the sidechain is joined to and how batches
/// are cut. Built from genesis by [`crate::genesis::GenesisBridge::validate`], whose errors
/// name the field.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct BridgeParams {
    /// EIP-155 chain id of the L1 the bridge contract lives on (non-zero).
    pub l1_chain_id: u64,
    /// Address of the L1 `Bridge` contract (non-zero).
    pub contract: EthAddress,
    /// The contract's bridge id: the EIP-712 domain salt that binds signatures to this
    /// deployment (32 bytes, non-zero).
    #[serde(serialize_with = "ser_hex32")]
    pub bridge_id: [u8; 32],
    /// L1 block that holds the contract's creation: relayers read events from here on.
    pub deploy_block: u64,
    /// L1 blocks a deposit must be buried under before relayers claim it (1 to
    /// [`MAX_CONFIRMATIONS`]).
    pub confirmations: u64,
    /// Most withdrawals per batch (1 to [`MAX_BATCH_SIZE`]).
    pub batch_max_size: u32,
    /// Sidechain blocks the oldest queued withdrawal of a token may wait before a batch is cut
    /// even though it is not full (at least 1).
    pub batch_max_wait_blocks: u64,
    /// Seconds after the batch's creation (sidechain block time) at which L1 refuses to
    /// execute it (at least 60).
    pub batch_timeout_seconds: u64,
}

fn ser_hex32<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v)))
}

/// Serde of a 32-byte hash as `0x` and 64 hex digits.
mod hex32 {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        super::ser_hex32(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| de::Error::custom(format!("`{s}` must start with 0x")))?;
        let bytes =
            hex::decode(digits).map_err(|_| de::Error::custom(format!("`{s}` is not hex")))?;
        bytes
            .try_into()
            .map_err(|_| de::Error::custom(format!("`{s}` is not 32 bytes (64 hex digits)")))
    }
}

/// Most claims one [`BridgeMsg::ClaimDeposits`] may carry.
pub const MAX_CLAIMS_PER_MSG: usize = 100;

/// How far past the last applied deposit a claim may reach: a claim for a nonce above
/// `last_applied + MAX_PENDING_DEPOSITS_AHEAD` is refused (`Code::ClaimTooFarAhead`), which
/// bounds the records a faulty relayer can make the chain keep.
pub const MAX_PENDING_DEPOSITS_AHEAD: u64 = 1_000;

/// The L1 token address of ether in `Deposit` events (the zero address).
pub const ETHER: EthAddress = EthAddress::ZERO;

/// Denom of wrapped ether.
pub const ETHER_DENOM: &str = "l1/eth";

/// The sidechain denom that wraps L1 token `token`: `l1/eth` for ether ([`ETHER`], the zero
/// address), `l1/0x<40 lower-case hex digits of the address>` for an ERC-20. The one rule
/// for wrapped denoms: no name or symbol read from L1 enters it, so two tokens can never share
/// a denom and the denom alone tells which L1 contract backs it.
pub fn wrapped_denom(token: &EthAddress) -> Denom {
    if *token == ETHER {
        Denom::trusted(ETHER_DENOM.to_string())
    } else {
        Denom::trusted(format!("l1/0x{}", hex::encode(token.as_bytes())))
    }
}

/// An L1 `uint256` (a token amount as the contract measured it), 32 bytes big-endian.
///
/// Borsh encodes the 32 bytes; serde, [`fmt::Display`] and [`FromStr`] use the decimal form
/// (`"1000000000000000000"`), which is what L1 tools print. The sidechain mints base units as
/// `u128` ([`L1Amount::to_u128`]); a larger deposit is owed back on L1 instead of minted.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct L1Amount(pub [u8; 32]);

/// Why a string is not an [`L1Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L1AmountError {
    #[error("`{0}` is not a whole decimal number (digits 0-9 only)")]
    NotDecimal(String),
    #[error("`{0}` exceeds 2^256 - 1, the largest L1 uint256")]
    Overflow(String),
}

impl L1Amount {
    /// Zero.
    pub const ZERO: L1Amount = L1Amount([0; 32]);
    /// 2^256 - 1.
    pub const MAX: L1Amount = L1Amount([0xff; 32]);

    /// `v` as a uint256.
    pub fn from_u128(v: u128) -> Self {
        let mut out = [0u8; 32];
        for (o, b) in out.iter_mut().skip(16).zip(v.to_be_bytes()) {
            *o = b;
        }
        L1Amount(out)
    }

    /// The amount as `u128`, `None` when it is 2^128 or more.
    pub fn to_u128(&self) -> Option<u128> {
        if self.0.iter().take(16).any(|b| *b != 0) {
            return None;
        }
        let mut low = [0u8; 16];
        for (o, b) in low.iter_mut().zip(self.0.iter().skip(16)) {
            *o = *b;
        }
        Some(u128::from_be_bytes(low))
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    /// Divides in place by 10 and returns the remainder (long division, most significant
    /// byte first).
    fn div_rem_10(&mut self) -> u8 {
        let mut rem = 0u8;
        for b in self.0.iter_mut() {
            // rem < 10, so the two bytes are below 10 * 256 and the quotient fits a byte.
            let cur = u16::from_be_bytes([rem, *b]);
            let [_, q] = (cur / 10).to_be_bytes();
            let [_, r] = (cur % 10).to_be_bytes();
            *b = q;
            rem = r;
        }
        rem
    }

    /// `self * 10 + digit`, `None` on overflow of 256 bits.
    fn mul10_add(&self, digit: u8) -> Option<Self> {
        let mut out = self.0;
        let mut carry = u16::from(digit);
        for b in out.iter_mut().rev() {
            // At most 255 * 10 + 255: no overflow of u16.
            let v = u16::from(*b).wrapping_mul(10).wrapping_add(carry);
            let [hi, lo] = v.to_be_bytes();
            *b = lo;
            carry = u16::from(hi);
        }
        (carry == 0).then_some(L1Amount(out))
    }
}

impl fmt::Display for L1Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut n = *self;
        let mut digits = Vec::with_capacity(78);
        while !n.is_zero() {
            digits.push(char::from(b'0'.wrapping_add(n.div_rem_10())));
        }
        let s: String = digits.into_iter().rev().collect();
        f.write_str(&s)
    }
}

impl fmt::Debug for L1Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L1Amount({self})")
    }
}

impl FromStr for L1Amount {
    type Err = L1AmountError;

    /// Parses a decimal number of 1 to 78 digits (no sign, no separators).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(L1AmountError::NotDecimal(s.to_string()));
        }
        s.bytes().try_fold(L1Amount::ZERO, |acc, b| {
            acc.mul10_add(b.wrapping_sub(b'0'))
                .ok_or_else(|| L1AmountError::Overflow(s.to_string()))
        })
    }
}

impl From<u128> for L1Amount {
    fn from(v: u128) -> Self {
        L1Amount::from_u128(v)
    }
}

impl Serialize for L1Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for L1Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What one validator's relayer saw of one L1 `Deposit` event: the event's fields plus where
/// it was found. Validators vote for the whole content ([`DepositClaim::content_hash`]), so
/// claims that differ in any field (a reorged transaction hash included) count apart.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DepositClaim {
    /// The event's deposit nonce (1, 2, 3, ... on L1).
    pub nonce: u64,
    /// L1 token address; [`ETHER`] (zero) for ether.
    pub token: EthAddress,
    /// L1 account that deposited (owed the refund if the deposit cannot be minted).
    pub sender: EthAddress,
    /// Sidechain account credited (the event's `bytes20 recipient`).
    pub recipient: Address,
    /// Amount in the token's L1 base units (the contract's measured balance change).
    pub amount: L1Amount,
    /// L1 block number holding the event.
    pub l1_block: u64,
    /// Hash of the L1 transaction that emitted the event (`0x` hex in JSON).
    #[serde(with = "hex32")]
    pub l1_tx_hash: [u8; 32],
    /// The event's log index within its L1 block.
    pub log_index: u64,
}

const CLAIM_DOMAIN: &[u8] = b"sidechain/deposit_claim/v1";

impl DepositClaim {
    /// SHA-256 over a domain tag and the claim's borsh encoding: the key votes are tallied by.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut bytes = CLAIM_DOMAIN.to_vec();
        // Writing into a Vec cannot fail.
        let _ = BorshSerialize::serialize(self, &mut bytes);
        crate::sha256(&bytes)
    }

    /// The stateless checks of one claim: nonce at least 1, non-zero amount, non-zero
    /// recipient. The error says which.
    pub fn check(&self) -> Result<(), String> {
        if self.nonce == 0 {
            return Err("deposit nonces start at 1, a claim has nonce 0".into());
        }
        if self.amount.is_zero() {
            return Err(format!("claim for deposit {} has amount 0", self.nonce));
        }
        if self.recipient.0 == [0; 20] {
            return Err(format!(
                "claim for deposit {} has the zero recipient",
                self.nonce
            ));
        }
        Ok(())
    }
}

/// The stateless checks of a [`BridgeMsg::ClaimDeposits`]: 1 to [`MAX_CLAIMS_PER_MSG`]
/// claims, nonces strictly increasing, each claim passing [`DepositClaim::check`]. The error
/// says which rule failed (the state machine returns it with `Code::InvalidClaim`).
pub fn check_claims(claims: &[DepositClaim]) -> Result<(), String> {
    if claims.is_empty() || claims.len() > MAX_CLAIMS_PER_MSG {
        return Err(format!(
            "a claim_deposits message carries 1 to {MAX_CLAIMS_PER_MSG} claims, this one {}",
            claims.len()
        ));
    }
    let mut previous: Option<u64> = None;
    for c in claims {
        c.check()?;
        if let Some(p) = previous {
            if c.nonce <= p {
                return Err(format!(
                    "claims must be in strictly increasing nonce order: {} follows {p}",
                    c.nonce
                ));
            }
        }
        previous = Some(c.nonce);
    }
    Ok(())
}

/// Where a deposit stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DepositState {
    /// Claimed, no content has more than 2/3 of the power yet (or an earlier nonce waits).
    #[serde(rename = "awaiting_quorum")]
    Pending,
    /// Minted at sidechain height `height`.
    Minted { height: u64 },
    /// Attested at `height` but not mintable (`reason`): owed back to the L1 sender through a
    /// withdrawal batch.
    RefundOwed { height: u64, reason: String },
}

impl DepositState {
    /// The state's name as `sidechain bridge status` prints it: `awaiting_quorum`, `minted`
    /// or `refund_owed`.
    pub fn name(&self) -> &'static str {
        match self {
            DepositState::Pending => "awaiting_quorum",
            DepositState::Minted { .. } => "minted",
            DepositState::RefundOwed { .. } => "refund_owed",
        }
    }
}

/// The validators that vouched for one content of one deposit nonce.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Tally {
    /// [`DepositClaim::content_hash`] of `claim` (`0x` hex in JSON).
    #[serde(with = "hex32")]
    pub content_hash: [u8; 32],
    pub claim: DepositClaim,
    /// Operator addresses of the validators that claimed it, sorted. Their power is counted as
    /// it is when the tally is evaluated: a validator removed since no longer counts.
    pub validators: Vec<Address>,
}

/// One deposit nonce as the chain knows it (`/bridge/deposit`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DepositRecord {
    pub nonce: u64,
    pub state: DepositState,
    /// The content applied, once the deposit is minted or owed back; `None` while pending.
    pub claim: Option<DepositClaim>,
    /// The contents claimed so far, while pending (emptied once applied); each validator is in
    /// at most one tally (its first claim).
    pub tallies: Vec<Tally>,
}

/// A validator that claimed two different contents for one deposit nonce (`/bridge/misbehaviour`).
/// Only its first claim counts; one record per (validator, nonce).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Misbehaviour {
    /// The validator's operator address.
    pub validator: Address,
    pub nonce: u64,
    /// Content hash of the claim that counts (`0x` hex in JSON).
    #[serde(with = "hex32")]
    pub first: [u8; 32],
    /// Content hash of the conflicting claim (`0x` hex in JSON).
    #[serde(with = "hex32")]
    pub conflicting: [u8; 32],
    /// Sidechain height at which the conflict was seen.
    pub height: u64,
}

/// An L1 token with a wrapped denom on the sidechain (`/bridge/tokens`, `/bridge/token`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WrappedToken {
    /// [`wrapped_denom`] of `token`.
    pub denom: Denom,
    /// L1 token address ([`ETHER`] for ether).
    pub token: EthAddress,
    /// Nonce of the first deposit of the token that was minted (which registered it).
    pub first_deposit_nonce: u64,
}

/// A deposit the chain attested but could not mint, owed back to its L1 sender. Kept in a
/// queue (keyed records between head and tail counters) that withdrawal batches pay from.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Refund {
    /// Position in the refund queue.
    pub id: u64,
    /// The deposit's nonce.
    pub nonce: u64,
    /// L1 token to return ([`ETHER`] for ether).
    pub token: EthAddress,
    /// L1 account owed the amount.
    pub to: EthAddress,
    /// Amount in the token's L1 base units.
    pub amount: L1Amount,
    /// Sidechain height at which the deposit was attested.
    pub height: u64,
    /// Why it was not minted.
    pub reason: String,
    /// Whether it is still owed, carried by a batch, or paid.
    pub state: RefundState,
}

/// Where a refund owed stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RefundState {
    /// Waiting for a batch of its token.
    Owed,
    /// Carried by batch `nonce` (back to `Owed` if that batch times out).
    InBatch { nonce: u64 },
    /// Paid on L1 by batch `nonce` in L1 block `l1_block`.
    Paid { nonce: u64, l1_block: u64 },
}

/// Messages of the bridge component. Variants are only ever appended: the borsh tag is the
/// variant's position.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeMsg {
    /// A validator's relayer attests L1 `Deposit` events: 1 to [`MAX_CLAIMS_PER_MSG`] claims in
    /// strictly increasing nonce order (see [`check_claims`]). Only a current validator's
    /// operator account may send it.
    ClaimDeposits { claims: Vec<DepositClaim> },
    /// Burns `amount + fee` of the wrapped `denom` from the signer and queues a withdrawal of
    /// `amount` to L1 account `to`; `fee` goes to whoever submits the batch on L1. Checked
    /// statelessly by [`check_withdraw`].
    Withdraw {
        denom: Denom,
        amount: u128,
        fee: u128,
        to: EthAddress,
    },
    /// Cancels the signer's queued withdrawal `id` (one no batch holds yet): `amount + fee`
    /// is minted back to the owner.
    CancelWithdrawal { id: u64 },
    /// A validator's operator confirms batch `nonce`: `signature` is the validator's bridge key's
    /// secp256k1 signature `r ‖ s ‖ v` (v = 27 or 28, low s) over the batch's EIP-712 digest.
    ConfirmBatch {
        nonce: u64,
        #[serde(serialize_with = "ser_hex_bytes")]
        signature: [u8; 65],
    },
    /// A validator's operator attests what final L1 blocks show of outstanding batch `nonce`:
    /// executed (with how each entry was paid), or timed out unexecuted. More than 2/3 of the
    /// sidechain's voting power behind one outcome settles the batch (ADR 17).
    AttestBatch { nonce: u64, outcome: BatchOutcome },
    /// A validator's operator confirms signer-set update `nonce`: `signature` is its bridge
    /// key's signature `r ‖ s ‖ v` (v = 27 or 28, low s) over the update's EIP-712
    /// `SignerSet` digest. Only members of the set L1 holds count.
    ConfirmSignerSet {
        nonce: u64,
        #[serde(serialize_with = "ser_hex_bytes")]
        signature: [u8; 65],
    },
    /// A validator's operator attests what final L1 blocks show of signer-set update `nonce`
    /// (`SignerSetUpdated`, `SignerSetActivated`, `PendingSignerSetCancelled`).
    AttestSignerSet {
        nonce: u64,
        outcome: SignerSetOutcome,
    },
}

/// Most entries an [`ExecutedBatch::releases`] may list (the contract's batch limit).
pub const MAX_RELEASES: usize = MAX_BATCH_SIZE as usize;

/// How L1 paid one entry of an executed batch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Release {
    /// Transferred to the recipient.
    Paid,
    /// The transfer failed; the amount is credited to `claimable[token][recipient]` on L1 and
    /// the recipient takes it with `claim(token, to)` (`TransferDeferred`).
    Deferred,
    /// Above the token's large-release threshold: queued on L1 as release `release_id`,
    /// payable by anyone calling `executeRelease` from L1 time `executable_at` (seconds)
    /// (`ReleaseQueued`).
    Delayed { release_id: u64, executable_at: u64 },
}

/// A batch's `BatchExecuted` event and what the same L1 transaction did with each entry.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ExecutedBatch {
    /// L1 block holding the transaction.
    pub l1_block: u64,
    /// The L1 transaction (`0x` hex in JSON).
    #[serde(with = "hex32")]
    pub l1_tx_hash: [u8; 32],
    /// Who submitted it (and was paid the fee).
    pub submitter: EthAddress,
    /// One per batch entry, in the batch's order (at most [`MAX_RELEASES`]).
    pub releases: Vec<Release>,
}

/// What final L1 blocks show of an outstanding batch.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BatchOutcome {
    /// The contract executed it (`BatchExecuted(nonce)`).
    Executed(ExecutedBatch),
    /// A final L1 block with a timestamp at or past the batch's timeout whose state has
    /// `lastBatchNonce` below the batch's nonce: it can never execute.
    TimedOut {
        /// That block's number and timestamp (seconds); not part of what is tallied, so
        /// validators that read different final blocks still agree.
        l1_block: u64,
        l1_time: u64,
    },
}

impl BatchOutcome {
    /// SHA-256 over a domain tag, the nonce and what validators must agree on: the whole
    /// execution, or only the fact of the timeout.
    pub fn content_hash(&self, nonce: u64) -> [u8; 32] {
        let mut bytes = b"sidechain/batch_outcome/v1".to_vec();
        bytes.extend_from_slice(&nonce.to_be_bytes());
        match self {
            BatchOutcome::Executed(e) => {
                bytes.push(0);
                // Writing into a Vec cannot fail.
                let _ = BorshSerialize::serialize(e, &mut bytes);
            }
            BatchOutcome::TimedOut { .. } => bytes.push(1),
        }
        crate::sha256(&bytes)
    }

    /// The stateless checks: at most [`MAX_RELEASES`] releases.
    pub fn check(&self) -> Result<(), String> {
        match self {
            BatchOutcome::Executed(e) if e.releases.len() > MAX_RELEASES => Err(format!(
                "an executed batch lists {} releases; a batch holds at most {MAX_RELEASES}",
                e.releases.len()
            )),
            _ => Ok(()),
        }
    }
}

/// What final L1 blocks show of a signer-set update.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SignerSetOutcome {
    /// Accepted and active (`SignerSetActivated(nonce)`): L1 now checks signatures against it.
    Active,
    /// Accepted but waiting out the contract's delay (`SignerSetUpdated` with `activatesAt`
    /// in the future, seconds): anyone may call `activateSignerSet` from then on.
    Pending { activates_at: u64 },
    /// Cancelled by the guardian while pending (`PendingSignerSetCancelled(nonce)`): the nonce
    /// stays used on L1; the chain produces the next set with nonce + 1.
    Cancelled,
}

impl SignerSetOutcome {
    /// SHA-256 over a domain tag, the nonce and the outcome.
    pub fn content_hash(&self, nonce: u64) -> [u8; 32] {
        let mut bytes = b"sidechain/signer_set_outcome/v1".to_vec();
        bytes.extend_from_slice(&nonce.to_be_bytes());
        // Writing into a Vec cannot fail.
        let _ = BorshSerialize::serialize(self, &mut bytes);
        crate::sha256(&bytes)
    }
}

/// The validators that attest one outcome (of a batch or signer-set update).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct OutcomeVote<T> {
    /// The outcome's content hash (`0x` hex in JSON).
    #[serde(with = "hex32")]
    pub content_hash: [u8; 32],
    pub outcome: T,
    /// Operator addresses of the validators behind it, sorted. Their power is counted when the
    /// tally is evaluated (end of block), against the validator set as it is then.
    pub validators: Vec<Address>,
}

fn ser_hex_bytes<S: serde::Serializer>(v: &[u8; 65], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v)))
}

/// Most queued withdrawals one token's queue holds; a withdrawal beyond it is refused
/// (`Code::WithdrawalQueueFull`) until a batch drains the queue. Bounds the queue record the
/// chain rewrites on every withdrawal and sorts when it cuts a batch.
pub const MAX_QUEUED_PER_TOKEN: usize = 1_024;

/// The stateless checks of a [`BridgeMsg::Withdraw`]: non-zero L1 address, non-zero amount,
/// `amount + fee` within 128 bits. The error names the rule and the code that reports it.
pub fn check_withdraw(
    amount: u128,
    fee: u128,
    to: &EthAddress,
) -> Result<(), (WithdrawRule, String)> {
    if to.is_zero() {
        return Err((
            WithdrawRule::ZeroAddress,
            "a withdrawal to the zero L1 address would be lost; name the L1 account to pay".into(),
        ));
    }
    if amount == 0 {
        return Err((
            WithdrawRule::ZeroAmount,
            "a withdrawal of 0 moves nothing".into(),
        ));
    }
    if amount.checked_add(fee).is_none() {
        return Err((
            WithdrawRule::Overflow,
            format!("amount {amount} plus fee {fee} exceeds 2^128 - 1"),
        ));
    }
    Ok(())
}

/// Which stateless rule a withdrawal broke (see [`check_withdraw`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawRule {
    /// The L1 recipient is the zero address.
    ZeroAddress,
    /// The amount is zero.
    ZeroAmount,
    /// `amount + fee` does not fit in 128 bits.
    Overflow,
}

/// Where a withdrawal stands (`/bridge/withdrawal`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WithdrawalState {
    /// In its token's queue, waiting for a batch; the owner may still cancel it.
    Queued,
    /// Carried by batch `nonce`.
    InBatch { nonce: u64 },
    /// Cancelled by its owner at `height`; `amount + fee` was minted back.
    Cancelled { height: u64 },
    /// Back in its token's queue because batch `nonce` timed out on L1 unexecuted; it goes
    /// into a later batch (the owner may still cancel it).
    Requeued { nonce: u64 },
    /// Paid to the L1 recipient by batch `nonce`, L1 transaction `l1_tx_hash` in block
    /// `l1_block`.
    Released {
        nonce: u64,
        l1_block: u64,
        #[serde(with = "hex32")]
        l1_tx_hash: [u8; 32],
    },
    /// Batch `nonce` executed but the transfer to the recipient failed: the amount waits in
    /// the contract's `claimable`; the recipient calls `claim(token, to)` on L1.
    Deferred {
        nonce: u64,
        l1_block: u64,
        #[serde(with = "hex32")]
        l1_tx_hash: [u8; 32],
    },
    /// Batch `nonce` executed but the amount is above the token's large-release threshold:
    /// L1 release `release_id` is payable from L1 time `executable_at` (seconds) by anyone
    /// calling `executeRelease`.
    Delayed {
        nonce: u64,
        l1_block: u64,
        #[serde(with = "hex32")]
        l1_tx_hash: [u8; 32],
        release_id: u64,
        executable_at: u64,
    },
}

impl WithdrawalState {
    /// `queued`, `in_batch`, `cancelled`, `requeued`, `released`, `deferred` or `delayed`.
    pub fn name(&self) -> &'static str {
        match self {
            WithdrawalState::Queued => "queued",
            WithdrawalState::InBatch { .. } => "in_batch",
            WithdrawalState::Cancelled { .. } => "cancelled",
            WithdrawalState::Requeued { .. } => "requeued",
            WithdrawalState::Released { .. } => "released",
            WithdrawalState::Deferred { .. } => "deferred",
            WithdrawalState::Delayed { .. } => "delayed",
        }
    }

    /// Whether it waits in its token's queue (queued or requeued): the owner may cancel it.
    pub fn is_queued(&self) -> bool {
        matches!(
            self,
            WithdrawalState::Queued | WithdrawalState::Requeued { .. }
        )
    }

    /// Whether L1 has executed the batch that carries it (released, deferred or delayed).
    pub fn is_executed(&self) -> bool {
        matches!(
            self,
            WithdrawalState::Released { .. }
                | WithdrawalState::Deferred { .. }
                | WithdrawalState::Delayed { .. }
        )
    }
}

/// One withdrawal as the chain keeps it (`bridge/withdrawal/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Withdrawal {
    /// Its id: 1, 2, 3, ... in order of creation.
    pub id: u64,
    /// The sidechain account that withdrew (the only one that may cancel).
    pub owner: Address,
    /// L1 token paid out ([`ETHER`] for ether).
    pub token: EthAddress,
    /// The wrapped denom burned.
    pub denom: Denom,
    /// L1 account paid.
    pub to: EthAddress,
    /// Base units paid to `to`.
    pub amount: u128,
    /// Base units paid to the batch's submitter.
    pub fee: u128,
    /// Sidechain height at which it was queued.
    pub height: u64,
    pub state: WithdrawalState,
}

/// One entry of a token's withdrawal queue: what cutting a batch needs without reading the
/// withdrawal records.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct QueuedWithdrawal {
    pub id: u64,
    pub fee: u128,
    /// Height at which it was queued (its age decides when a batch is cut).
    pub height: u64,
}

/// One entry of a batch: the contract's `recipients[i]` and `amounts[i]`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BatchEntry {
    /// The withdrawal's id, or the refund's id when `refund` is set.
    pub id: u64,
    /// Whether the entry pays back a deposit the chain could not mint ([`Refund`]).
    pub refund: bool,
    pub to: EthAddress,
    /// Base units of the batch's token.
    pub amount: L1Amount,
}

/// A validator's signature over a batch digest, kept at its signer's index in the L1 signer set.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct BatchSignature {
    /// Index of the signer in the L1 signer set (the contract's `signerIndex`).
    pub signer_index: u32,
    /// The signer's Ethereum address.
    pub signer: EthAddress,
    /// `r ‖ s ‖ v`, low s, v = 27 or 28 (`0x` hex in JSON).
    #[serde(serialize_with = "ser_hex_bytes")]
    pub signature: [u8; 65],
}

/// A withdrawal batch for one token (`/bridge/batch`): the contract's `Batch` struct plus the
/// ids it carries and the signatures collected.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct OutgoingBatch {
    /// The batch nonce (one sequence for every token, as the contract keeps it).
    pub nonce: u64,
    /// L1 token paid out.
    pub token: EthAddress,
    /// L1 timestamp (seconds) from which the contract refuses the batch.
    pub timeout: u64,
    /// Sum of the withdrawals' fees, paid to the submitter.
    pub fee: u128,
    /// The withdrawals, highest fee first (ties: lower id first).
    pub withdrawals: Vec<BatchEntry>,
    /// Sidechain height at which it was cut.
    pub height: u64,
    /// Nonce of the L1 signer set the signatures are for (the set L1 held when they were
    /// collected; they are dropped and collected again when L1 moves to a newer set).
    pub signer_set_nonce: u64,
    /// Signatures collected, in the signer set's order (ascending `signer_index`).
    pub signatures: Vec<BatchSignature>,
    /// Whether the signatures carry more than the contract's threshold of the L1 signer set.
    pub ready: bool,
    /// Sidechain height at which it became ready (0 while it is not): the submitter turn
    /// counts from here.
    pub ready_height: u64,
    /// The attested L1 outcome, once settled; `None` while outstanding.
    pub settled: Option<BatchSettlement>,
    /// Outcomes attested so far while outstanding (emptied once settled).
    pub attestations: Vec<OutcomeVote<BatchOutcome>>,
}

/// How an outstanding batch ended.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BatchSettlement {
    /// Sidechain height at which more than 2/3 of the power attested it.
    pub height: u64,
    pub outcome: BatchOutcome,
}

/// How many sidechain blocks one relayer has to submit a ready batch or signer-set update
/// before the next one in the turn takes over (see [`submitter_turn`]).
pub const SUBMIT_TURN_BLOCKS: u64 = 10;

/// Which L1 signer-set member's relayer should submit an item that became ready at
/// `ready_height`, at sidechain height `height`: member `(nonce + k) mod members` where
/// `k = (height - ready_height) / SUBMIT_TURN_BLOCKS`, so the first choice rotates with the
/// nonce and each later window hands the work to the next member. `None` for an empty set.
pub fn submitter_turn(nonce: u64, ready_height: u64, height: u64, members: usize) -> Option<usize> {
    let n = u64::try_from(members).ok().filter(|n| *n > 0)?;
    let k = height.saturating_sub(ready_height) / SUBMIT_TURN_BLOCKS;
    usize::try_from(nonce.wrapping_add(k).checked_rem(n)?).ok()
}

/// Whether an L1 block witnesses that batch `nonce`, valid while `block.timestamp < timeout`,
/// can never execute: the block's timestamp (seconds) is at or past `timeout` and the
/// contract's `lastBatchNonce` in that block's state is below `nonce`. L1 timestamps never
/// decrease and `lastBatchNonce` never falls, so once a final block witnesses it, no block
/// executes the batch; and a batch executed in a block before its timeout leaves every later
/// block with `lastBatchNonce >= nonce`, so no block witnesses its timeout (ADR 17). Relayers
/// attest `BatchOutcome::TimedOut` only from such a final block.
pub fn timeout_witnessed(block_time: u64, last_batch_nonce: u64, nonce: u64, timeout: u64) -> bool {
    block_time >= timeout && last_batch_nonce < nonce
}

/// Where a signer-set update stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignerSetStatus {
    /// Collecting signatures of the set L1 holds.
    Signing,
    /// Signed by more than 2/3 of the L1 set's power since `height`: a relayer submits
    /// `updateSignerSet`.
    Ready { height: u64 },
    /// Accepted by L1 but waiting out the contract's delay until L1 time `activates_at`
    /// (attested at sidechain `height`); then a relayer calls `activateSignerSet`.
    Pending { activates_at: u64, height: u64 },
    /// Active on L1 (attested at sidechain `height`): the set batches are signed for.
    Active { height: u64 },
    /// Cancelled on L1 by the guardian (attested at sidechain `height`).
    Cancelled { height: u64 },
}

impl SignerSetStatus {
    /// `signing`, `ready`, `pending`, `active` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            SignerSetStatus::Signing => "signing",
            SignerSetStatus::Ready { .. } => "ready",
            SignerSetStatus::Pending { .. } => "pending",
            SignerSetStatus::Active { .. } => "active",
            SignerSetStatus::Cancelled { .. } => "cancelled",
        }
    }

    /// Still work for the relayers: being signed, waiting for `updateSignerSet`, or for
    /// `activateSignerSet` (not yet active or cancelled).
    pub fn is_open(&self) -> bool {
        !matches!(
            self,
            SignerSetStatus::Active { .. } | SignerSetStatus::Cancelled { .. }
        )
    }
}

/// A next L1 signer set the chain produced from its validator set
/// (`/bridge/signer_set`), signed by the set L1 holds.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct SignerSetUpdate {
    /// The set: nonce (one above the last nonce L1 accepted or cancelled), members sorted by
    /// address, powers normalized to 2^32.
    pub set: L1SignerSet,
    /// Sidechain height at which it was produced.
    pub height: u64,
    /// Nonce of the L1 set that signs it.
    pub signed_by: u64,
    /// Signatures of the signing set's members, ascending `signer_index` in that set.
    pub signatures: Vec<BatchSignature>,
    pub status: SignerSetStatus,
    /// Outcomes attested so far (emptied once active or cancelled).
    pub attestations: Vec<OutcomeVote<SignerSetOutcome>>,
}

/// The signer set the L1 contract holds: Ethereum addresses and powers normalized to 2^32
/// (`bridge_protocol::SignerSet`), in the contract's order (`/bridge/l1_signer_set`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct L1SignerSet {
    /// The set's nonce on L1 (0 for the set the contract was deployed with).
    pub nonce: u64,
    pub signers: Vec<EthAddress>,
    /// Normalized powers, one per signer.
    pub powers: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(nonce: u64) -> DepositClaim {
        DepositClaim {
            nonce,
            token: EthAddress([0x11; 20]),
            sender: EthAddress([0x22; 20]),
            recipient: Address([0x33; 20]),
            amount: L1Amount::from_u128(1_000),
            l1_block: 77,
            l1_tx_hash: [0xab; 32],
            log_index: 3,
        }
    }

    #[test]
    fn l1_amount_decimal_round_trips_including_the_extremes() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        for s in [
            "0",
            "1",
            "10",
            "255",
            "256",
            "340282366920938463463374607431768211455",
            "340282366920938463463374607431768211456",
            max,
        ] {
            let a: L1Amount = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<L1Amount>(&json).unwrap(), a);
            assert_eq!(
                borsh::from_slice::<L1Amount>(&borsh::to_vec(&a).unwrap()).unwrap(),
                a
            );
        }
        assert_eq!(max.parse::<L1Amount>().unwrap(), L1Amount::MAX);
        assert_eq!(L1Amount::MAX.to_u128(), None);
        assert_eq!(
            "0000123".parse::<L1Amount>().unwrap(),
            L1Amount::from_u128(123)
        );
    }

    #[test]
    fn l1_amount_refuses_overflow_and_garbage() {
        let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(matches!(
            over.parse::<L1Amount>(),
            Err(L1AmountError::Overflow(_))
        ));
        assert!(matches!(
            format!("{over}0").parse::<L1Amount>(),
            Err(L1AmountError::Overflow(_))
        ));
        for bad in ["", "-1", "+1", "1.5", "0x10", " 1", "1e3", "١"] {
            assert!(
                matches!(bad.parse::<L1Amount>(), Err(L1AmountError::NotDecimal(_))),
                "{bad}"
            );
        }
        assert!(
            serde_json::from_str::<L1Amount>("12").is_err(),
            "numbers must be strings"
        );
    }

    #[test]
    fn l1_amount_u128_conversions() {
        for v in [0u128, 1, 255, 256, u128::from(u64::MAX), u128::MAX] {
            let a = L1Amount::from_u128(v);
            assert_eq!(a.to_u128(), Some(v));
            assert_eq!(a.to_string(), v.to_string());
            assert_eq!(a.is_zero(), v == 0);
        }
        let mut just_over = L1Amount::ZERO;
        just_over.0[15] = 1;
        assert_eq!(just_over.to_u128(), None);
        assert_eq!(
            just_over.to_string(),
            "340282366920938463463374607431768211456"
        );
    }

    #[test]
    fn deposit_claim_borsh_and_json_round_trip_and_hash_sees_every_field() {
        let c = claim(5);
        let bytes = borsh::to_vec(&c).unwrap();
        assert_eq!(borsh::from_slice::<DepositClaim>(&bytes).unwrap(), c);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["l1_tx_hash"], format!("0x{}", "ab".repeat(32)));
        assert_eq!(json["amount"], "1000");
        assert_eq!(serde_json::from_value::<DepositClaim>(json).unwrap(), c);
        let mut other = c.clone();
        other.log_index = 4;
        assert_ne!(other.content_hash(), c.content_hash());
        assert_eq!(claim(5).content_hash(), c.content_hash());
        let msg = BridgeMsg::ClaimDeposits {
            claims: vec![c.clone(), claim(6)],
        };
        let bytes = borsh::to_vec(&msg).unwrap();
        assert_eq!(bytes[0], 0, "ClaimDeposits is the first variant");
        assert_eq!(borsh::from_slice::<BridgeMsg>(&bytes).unwrap(), msg);
        assert!(borsh::from_slice::<BridgeMsg>(&[9]).is_err());
    }

    #[test]
    fn records_round_trip() {
        let r = DepositRecord {
            nonce: 5,
            state: DepositState::RefundOwed {
                height: 9,
                reason: "too big".into(),
            },
            claim: Some(claim(5)),
            tallies: vec![Tally {
                content_hash: claim(5).content_hash(),
                claim: claim(5),
                validators: vec![Address([1; 20])],
            }],
        };
        assert_eq!(
            borsh::from_slice::<DepositRecord>(&borsh::to_vec(&r).unwrap()).unwrap(),
            r
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["state"]["status"], "refund_owed");
        assert_eq!(
            serde_json::to_value(DepositState::Pending).unwrap()["status"],
            "awaiting_quorum"
        );
        assert_eq!(DepositState::Minted { height: 1 }.name(), "minted");
    }

    #[test]
    fn the_denom_rule() {
        assert_eq!(wrapped_denom(&ETHER).as_str(), "l1/eth");
        let token: EthAddress = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
            .parse()
            .unwrap();
        let d = wrapped_denom(&token);
        assert_eq!(d.as_str(), "l1/0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
        assert_eq!(
            Denom::new(d.as_str()).unwrap(),
            d,
            "the rule yields valid denoms"
        );
        assert_eq!(
            Denom::new(wrapped_denom(&EthAddress([0xff; 20])).as_str())
                .unwrap()
                .as_str()
                .len(),
            45
        );
        assert_ne!(
            wrapped_denom(&EthAddress([1; 20])),
            wrapped_denom(&EthAddress([2; 20]))
        );
    }

    #[test]
    fn withdrawal_messages_are_appended_and_checked() {
        let msgs = [
            BridgeMsg::Withdraw {
                denom: wrapped_denom(&ETHER),
                amount: 5,
                fee: 1,
                to: EthAddress([4; 20]),
            },
            BridgeMsg::CancelWithdrawal { id: 3 },
            BridgeMsg::ConfirmBatch {
                nonce: 2,
                signature: [7; 65],
            },
        ];
        for (tag, msg) in msgs.iter().enumerate() {
            let bytes = borsh::to_vec(msg).unwrap();
            assert_eq!(
                usize::from(bytes[0]),
                tag + 1,
                "appended after ClaimDeposits"
            );
            assert_eq!(&borsh::from_slice::<BridgeMsg>(&bytes).unwrap(), msg);
        }
        let json = serde_json::to_value(&msgs[2]).unwrap();
        assert_eq!(json["signature"], format!("0x{}", "07".repeat(65)));
        assert!(check_withdraw(1, 0, &EthAddress([1; 20])).is_ok());
        assert_eq!(
            check_withdraw(1, 0, &EthAddress::ZERO).unwrap_err().0,
            WithdrawRule::ZeroAddress
        );
        assert_eq!(
            check_withdraw(0, 1, &EthAddress([1; 20])).unwrap_err().0,
            WithdrawRule::ZeroAmount
        );
        assert_eq!(
            check_withdraw(u128::MAX, 1, &EthAddress([1; 20]))
                .unwrap_err()
                .0,
            WithdrawRule::Overflow
        );
        assert_eq!(WithdrawalState::InBatch { nonce: 1 }.name(), "in_batch");
        assert_eq!(
            serde_json::to_value(WithdrawalState::Queued).unwrap()["status"],
            "queued"
        );
    }

    #[test]
    fn claim_lists_are_checked() {
        assert!(check_claims(&[claim(1), claim(2), claim(7)]).is_ok());
        assert!(check_claims(&[]).unwrap_err().contains("1 to 100"));
        let many: Vec<_> = (1..=101).map(claim).collect();
        assert!(check_claims(&many).is_err());
        assert!(check_claims(&many[..100]).is_ok());
        assert!(check_claims(&[claim(2), claim(2)])
            .unwrap_err()
            .contains("increasing"));
        assert!(check_claims(&[claim(3), claim(2)]).is_err());
        assert!(check_claims(&[claim(0)]).unwrap_err().contains("nonce 0"));
        let mut zero = claim(1);
        zero.amount = L1Amount::ZERO;
        assert!(check_claims(&[zero]).unwrap_err().contains("amount 0"));
        let mut nobody = claim(1);
        nobody.recipient = Address([0; 20]);
        assert!(check_claims(&[nobody])
            .unwrap_err()
            .contains("zero recipient"));
    }
}
