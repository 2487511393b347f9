//! Transactions: a borsh `SignedTx { body, public_key, signature }` whose signature covers a
//! domain-separated hash of the body, and the body carries the chain id, so a signature is
//! worthless on any other chain.

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_consensus::SigningKey;
use serde::Serialize;

pub use crate::validators::ValidatorChange;
use crate::{
    address::Address,
    amount::Amount,
    bank::BankMsg,
    bridge::{BridgeMsg, DepositClaim},
    denom::Denom,
    eth::EthAddress,
    validators::ValidatorsMsg,
};

/// Largest transaction, in bytes, that the application accepts.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Gas every transaction pays, whatever it carries.
pub const GAS_BASE: u64 = 5_000;
/// Gas per byte of the encoded transaction.
pub const GAS_PER_BYTE: u64 = 10;
/// Gas per message.
pub const GAS_PER_MSG: u64 = 5_000;

const SIGN_DOMAIN: &[u8] = b"sidechain/tx/v1";

/// The fee offered: `amount` of the native denom for at most `gas_limit` gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Fee {
    #[serde(with = "crate::amount::dec_str")]
    pub amount: Amount,
    pub gas_limit: u64,
}

/// The messages a transaction can carry: one sub-enum per component of the state machine, so
/// a component's messages live with it ([`crate::bank`], [`crate::validators`],
/// [`crate::bridge`]). Variants are only ever appended (here and in each sub-enum): the borsh
/// tag is the variant's position.
///
/// JSON shows the inner message only (`{"type": "transfer", ...}`): message type names are
/// unique across components.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(untagged)]
pub enum Msg {
    Bank(BankMsg),
    Validators(ValidatorsMsg),
    Bridge(BridgeMsg),
}

impl Msg {
    /// A bank transfer of `amount` base units of `denom` from the signer to `to`.
    pub fn transfer(to: Address, denom: Denom, amount: Amount) -> Self {
        Msg::Bank(BankMsg::Transfer { to, denom, amount })
    }

    /// A validator-set change proposal.
    pub fn propose_validator_change(change: ValidatorChange) -> Self {
        Msg::Validators(ValidatorsMsg::ProposeValidatorChange { change })
    }

    /// An approval of open proposal `proposal_id`.
    pub fn vote_validator_change(proposal_id: u64) -> Self {
        Msg::Validators(ValidatorsMsg::VoteValidatorChange { proposal_id })
    }

    /// A rotation of the validator with `consensus_key` to a new operator account and bridge
    /// key; valid only when signed by that validator's current operator.
    pub fn rotate_validator_keys(
        consensus_key: [u8; 32],
        new_operator: Address,
        new_eth_address: EthAddress,
    ) -> Self {
        Msg::Validators(ValidatorsMsg::RotateValidatorKeys {
            consensus_key,
            new_operator,
            new_eth_address,
        })
    }

    /// A validator relayer's claims of L1 deposits (1 to
    /// [`crate::bridge::MAX_CLAIMS_PER_MSG`], strictly increasing nonces).
    pub fn claim_deposits(claims: Vec<DepositClaim>) -> Self {
        Msg::Bridge(BridgeMsg::ClaimDeposits { claims })
    }

    /// A withdrawal of `amount` (plus `fee` for the L1 submitter) of wrapped `denom` to L1
    /// account `to`.
    pub fn withdraw(denom: crate::Denom, amount: u128, fee: u128, to: crate::EthAddress) -> Self {
        Msg::Bridge(BridgeMsg::Withdraw {
            denom,
            amount,
            fee,
            to,
        })
    }

    /// Cancels the signer's queued withdrawal `id`.
    pub fn cancel_withdrawal(id: u64) -> Self {
        Msg::Bridge(BridgeMsg::CancelWithdrawal { id })
    }

    /// A validator's signature over batch `nonce`'s EIP-712 digest.
    pub fn confirm_batch(nonce: u64, signature: [u8; 65]) -> Self {
        Msg::Bridge(BridgeMsg::ConfirmBatch { nonce, signature })
    }

    /// A validator's attestation of batch `nonce`'s L1 outcome.
    pub fn attest_batch(nonce: u64, outcome: crate::BatchOutcome) -> Self {
        Msg::Bridge(BridgeMsg::AttestBatch { nonce, outcome })
    }

    /// A validator's signature over signer-set update `nonce`'s EIP-712 digest.
    pub fn confirm_signer_set(nonce: u64, signature: [u8; 65]) -> Self {
        Msg::Bridge(BridgeMsg::ConfirmSignerSet { nonce, signature })
    }

    /// A validator's attestation of signer-set update `nonce`'s L1 outcome.
    pub fn attest_signer_set(nonce: u64, outcome: crate::SignerSetOutcome) -> Self {
        Msg::Bridge(BridgeMsg::AttestSignerSet { nonce, outcome })
    }
}

/// What the signer signs.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct TxBody {
    pub chain_id: String,
    /// Must equal the signer account's current nonce; the account's nonce then rises by one.
    pub nonce: u64,
    pub fee: Fee,
    pub msgs: Vec<Msg>,
}

/// A signed transaction as it travels through CometBFT.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTx {
    pub body: TxBody,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// Why bytes are not a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("transaction is {len} bytes, the limit is {MAX_TX_BYTES}")]
    TooLarge { len: usize },
    #[error("transaction bytes are not a borsh SignedTx: {0}")]
    Malformed(String),
}

impl TxBody {
    /// The hash the signature covers: SHA-256 over a domain tag and the borsh body.
    pub fn sign_hash(&self) -> [u8; 32] {
        let mut bytes = SIGN_DOMAIN.to_vec();
        // Writing into a Vec cannot fail.
        let _ = BorshSerialize::serialize(self, &mut bytes);
        crate::sha256(&bytes)
    }

    /// Signs the body with `key`.
    pub fn sign(self, key: &SigningKey) -> SignedTx {
        let signature = key.sign(&self.sign_hash());
        SignedTx {
            public_key: key.verification_key().to_bytes(),
            signature: signature.to_bytes(),
            body: self,
        }
    }
}

impl SignedTx {
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes transaction bytes; never panics, whatever the input.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(DecodeError::TooLarge { len: bytes.len() });
        }
        borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
    }

    /// The signer's address.
    pub fn signer(&self) -> Address {
        Address::from_pubkey(&self.public_key)
    }

    /// Verifies the signature on its own, by the chain's rule ([`crate::ed25519::verify`]; the
    /// node batches this instead).
    pub fn verify_signature(&self) -> bool {
        crate::ed25519::verify(&self.public_key, &self.signature, &self.body.sign_hash())
    }
}

/// The gas a transaction of `tx_len` encoded bytes carrying `msg_count` messages uses. Gas
/// depends only on size and message count, so a client computes it exactly before sending.
pub fn gas_required(tx_len: usize, msg_count: usize) -> u64 {
    let bytes = u64::try_from(tx_len).unwrap_or(u64::MAX);
    let msgs = u64::try_from(msg_count).unwrap_or(u64::MAX);
    GAS_BASE
        .saturating_add(bytes.saturating_mul(GAS_PER_BYTE))
        .saturating_add(msgs.saturating_mul(GAS_PER_MSG))
}

/// Builds and signs a transaction whose gas limit is exactly what it needs and whose fee is
/// that gas at `gas_price`. Returns `None` only if the fee would overflow.
pub fn build_signed(
    key: &SigningKey,
    chain_id: &str,
    nonce: u64,
    gas_price: Amount,
    msgs: Vec<Msg>,
) -> Option<SignedTx> {
    // The gas limit and fee are fixed-size fields, so their values do not change the length.
    let draft = TxBody {
        chain_id: chain_id.to_string(),
        nonce,
        fee: Fee {
            amount: 0,
            gas_limit: 0,
        },
        msgs,
    };
    let len = draft.clone().sign(key).encode().len();
    let gas = gas_required(len, draft.msgs.len());
    let fee = u128::from(gas).checked_mul(gas_price)?;
    Some(
        TxBody {
            fee: Fee {
                amount: fee,
                gas_limit: gas,
            },
            ..draft
        }
        .sign(key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from([seed; 32])
    }

    #[test]
    fn signature_covers_chain_id() {
        let tx = build_signed(&key(1), "chain-a", 0, 1, vec![]).unwrap();
        assert!(tx.verify_signature());
        let mut other = tx.clone();
        other.body.chain_id = "chain-b".into();
        assert!(!other.verify_signature());
    }

    #[test]
    fn built_fee_matches_gas_of_encoded_length() {
        let to = Address::from_pubkey(&[9; 32]);
        let msg = Msg::transfer(to, Denom::new("side").unwrap(), 5);
        let tx = build_signed(&key(2), "c", 3, 7, vec![msg]).unwrap();
        let gas = gas_required(tx.encode().len(), 1);
        assert_eq!(tx.body.fee.gas_limit, gas);
        assert_eq!(tx.body.fee.amount, u128::from(gas) * 7);
    }

    #[test]
    fn oversize_and_trailing_bytes_are_rejected() {
        assert!(matches!(
            SignedTx::decode(&vec![0u8; MAX_TX_BYTES + 1]),
            Err(DecodeError::TooLarge { .. })
        ));
        let mut bytes = build_signed(&key(3), "c", 0, 1, vec![]).unwrap().encode();
        bytes.push(0);
        assert!(matches!(
            SignedTx::decode(&bytes),
            Err(DecodeError::Malformed(_))
        ));
    }
}
