//! Result codes of CheckTx and FinalizeBlock. The numbers are part of the public interface:
//! scripts match on them, so a code is never renumbered or reused.

use serde::Serialize;

/// Every result code the application returns, with its stable number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[repr(u32)]
pub enum Code {
    Ok = 0,
    Decode = 1,
    BadSignature = 2,
    WrongChainId = 3,
    BadNonce = 4,
    InsufficientFunds = 5,
    FeeTooLow = 6,
    UnknownDenom = 7,
    AmountOverflow = 8,
    InvalidMessage = 9,
    Unauthorized = 10,
    InvalidProposal = 11,
    GasLimitTooLow = 12,
    TxTooLarge = 13,
    MempoolFull = 14,
    WeakKey = 15,
    /// A bridge attestation from an account that is not a current validator's operator.
    NotValidator = 16,
    /// A bridge message on a chain whose genesis configured no bridge.
    BridgeNotConfigured = 17,
    /// A `claim_deposits` message that breaks a stateless rule (count, order, nonce, amount,
    /// recipient).
    InvalidClaim = 18,
    /// A deposit claim more than `MAX_PENDING_DEPOSITS_AHEAD` nonces past the last applied
    /// deposit.
    ClaimTooFarAhead = 19,
    /// A proposal for a validator already in the set that changes its operator or bridge
    /// address: only `rotate_validator_keys`, signed by the validator's own operator, may.
    IdentityChangeNeedsRotation = 20,
    /// A key rotation signed by an account that is not the named validator's current operator.
    NotValidatorOperator = 21,
    /// A key rotation naming a consensus key that is not in the validator set.
    UnknownValidator = 22,
    /// A key rotation to the zero Ethereum address.
    ZeroEthAddress = 23,
    /// A key rotation to an Ethereum address another validator's bridge key has.
    EthAddressTaken = 24,
    /// A key rotation to an account that is another validator's operator.
    OperatorTaken = 25,
    /// A key rotation to a module account (which no key controls).
    ModuleOperator = 26,
    /// A withdrawal to the zero L1 address.
    WithdrawToZeroAddress = 27,
    /// A withdrawal of a denom that stands for no L1 token (the native token, or a denom no
    /// deposit registered).
    NotBridgedDenom = 28,
    /// A withdrawal of amount 0.
    ZeroWithdrawal = 29,
    /// A token's withdrawal queue holds `MAX_QUEUED_PER_TOKEN` withdrawals already.
    WithdrawalQueueFull = 30,
    /// A cancellation of a withdrawal id that does not exist.
    UnknownWithdrawal = 31,
    /// A cancellation of a withdrawal another account made.
    NotWithdrawalOwner = 32,
    /// A cancellation of a withdrawal that a batch holds or that was cancelled already.
    WithdrawalNotQueued = 33,
    /// A batch confirmation for a nonce no batch was cut with.
    UnknownBatch = 34,
    /// A batch confirmation whose signature the contract would refuse (high s, bad v) or that
    /// does not recover to the validator's registered Ethereum address.
    BadBatchSignature = 35,
    /// A second confirmation of the same batch by the same signer.
    DuplicateConfirmation = 36,
    /// A batch confirmation from a validator whose Ethereum address is not in the L1 signer set.
    NotL1Signer = 37,
    /// A signer-set confirmation or attestation naming no signer-set update the chain made.
    UnknownSignerSet = 38,
    /// An attestation the chain cannot take: the batch or signer-set update is not awaiting
    /// that outcome (settled already, not submitted yet), or it does not fit the batch (the
    /// number of releases).
    InvalidAttestation = 39,
    /// The same validator attested the same outcome before.
    DuplicateAttestation = 40,
}

impl Code {
    /// Every code, in numeric order (used to render the documented table).
    pub const ALL: [Code; 41] = [
        Code::Ok,
        Code::Decode,
        Code::BadSignature,
        Code::WrongChainId,
        Code::BadNonce,
        Code::InsufficientFunds,
        Code::FeeTooLow,
        Code::UnknownDenom,
        Code::AmountOverflow,
        Code::InvalidMessage,
        Code::Unauthorized,
        Code::InvalidProposal,
        Code::GasLimitTooLow,
        Code::TxTooLarge,
        Code::MempoolFull,
        Code::WeakKey,
        Code::NotValidator,
        Code::BridgeNotConfigured,
        Code::InvalidClaim,
        Code::ClaimTooFarAhead,
        Code::IdentityChangeNeedsRotation,
        Code::NotValidatorOperator,
        Code::UnknownValidator,
        Code::ZeroEthAddress,
        Code::EthAddressTaken,
        Code::OperatorTaken,
        Code::ModuleOperator,
        Code::WithdrawToZeroAddress,
        Code::NotBridgedDenom,
        Code::ZeroWithdrawal,
        Code::WithdrawalQueueFull,
        Code::UnknownWithdrawal,
        Code::NotWithdrawalOwner,
        Code::WithdrawalNotQueued,
        Code::UnknownBatch,
        Code::BadBatchSignature,
        Code::DuplicateConfirmation,
        Code::NotL1Signer,
        Code::UnknownSignerSet,
        Code::InvalidAttestation,
        Code::DuplicateAttestation,
    ];

    pub fn value(self) -> u32 {
        self as u32
    }

    pub fn from_value(v: u32) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.value() == v)
    }

    /// Short stable name, also used as the ABCI codespace-free log prefix.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::Decode => "decode",
            Code::BadSignature => "bad_signature",
            Code::WrongChainId => "wrong_chain_id",
            Code::BadNonce => "bad_nonce",
            Code::InsufficientFunds => "insufficient_funds",
            Code::FeeTooLow => "fee_too_low",
            Code::UnknownDenom => "unknown_denom",
            Code::AmountOverflow => "amount_overflow",
            Code::InvalidMessage => "invalid_message",
            Code::Unauthorized => "unauthorized",
            Code::InvalidProposal => "invalid_proposal",
            Code::GasLimitTooLow => "gas_limit_too_low",
            Code::TxTooLarge => "tx_too_large",
            Code::MempoolFull => "mempool_full",
            Code::WeakKey => "weak_key",
            Code::NotValidator => "not_validator",
            Code::BridgeNotConfigured => "bridge_not_configured",
            Code::InvalidClaim => "invalid_claim",
            Code::ClaimTooFarAhead => "claim_too_far_ahead",
            Code::IdentityChangeNeedsRotation => "identity_change_needs_rotation",
            Code::NotValidatorOperator => "not_validator_operator",
            Code::UnknownValidator => "unknown_validator",
            Code::ZeroEthAddress => "zero_eth_address",
            Code::EthAddressTaken => "eth_address_taken",
            Code::OperatorTaken => "operator_taken",
            Code::ModuleOperator => "module_operator",
            Code::WithdrawToZeroAddress => "withdraw_to_zero_address",
            Code::NotBridgedDenom => "not_bridged_denom",
            Code::ZeroWithdrawal => "zero_withdrawal",
            Code::WithdrawalQueueFull => "withdrawal_queue_full",
            Code::UnknownWithdrawal => "unknown_withdrawal",
            Code::NotWithdrawalOwner => "not_withdrawal_owner",
            Code::WithdrawalNotQueued => "withdrawal_not_queued",
            Code::UnknownBatch => "unknown_batch",
            Code::BadBatchSignature => "bad_batch_signature",
            Code::DuplicateConfirmation => "duplicate_confirmation",
            Code::NotL1Signer => "not_l1_signer",
            Code::UnknownSignerSet => "unknown_signer_set",
            Code::InvalidAttestation => "invalid_attestation",
            Code::DuplicateAttestation => "duplicate_attestation",
        }
    }

    /// What a person should do about it.
    pub fn remedy(self) -> &'static str {
        match self {
            Code::Ok => "nothing: the transaction succeeded",
            Code::Decode => "the bytes are not a borsh SignedTx; build transactions with the `sidechain` CLI or the sidechain-types crate",
            Code::BadSignature => "sign the transaction body with the key whose public key is attached (the CLI does this)",
            Code::WrongChainId => "set the chain id of the network you send to (`sidechain status` shows it)",
            Code::BadNonce => "use the account's next nonce (`sidechain query account ADDR` shows it); transactions from one account must use consecutive nonces",
            Code::InsufficientFunds => "fund the account or lower the amount plus fee",
            Code::FeeTooLow => "raise the fee to at least gas limit x minimum gas price (`sidechain query params`)",
            Code::UnknownDenom => "use a denom that exists on the chain (the native token or a bridged token)",
            Code::AmountOverflow => "use a smaller amount: the result would not fit in 128 bits",
            Code::InvalidMessage => "fix the message: amounts must be positive, a transaction holds 1 to the maximum number of messages",
            Code::Unauthorized => "send this message from a validator's registered operator account",
            Code::InvalidProposal => "check the proposal id and its state (`sidechain query proposals`)",
            Code::GasLimitTooLow => "raise the gas limit to what the error says the transaction needs",
            Code::TxTooLarge => "split the work into smaller transactions",
            Code::MempoolFull => "send again after the next block: the node's mempool holds as many transactions as it admits",
            Code::WeakKey => "use a key made by `sidechain keys add`: this ed25519 public key has small order, so signatures by it verify for any message and anyone could sign for it",
            Code::NotValidator => "send bridge attestations from the operator account of a current validator (`sidechain query validators` lists them): the relayer must sign with its validator's operator key",
            Code::BridgeNotConfigured => "this chain's genesis configures no bridge (`/bridge/params` is empty), so it takes no bridge messages; point the relayer at the network the bridge belongs to",
            Code::InvalidClaim => "fix the claims: 1 to 100 per message, nonces from 1 in strictly increasing order, non-zero amount and recipient",
            Code::ClaimTooFarAhead => "claim deposits in nonce order: the chain holds claims at most 1000 nonces past the last applied deposit (`/bridge/last_applied`); send later ones once earlier ones have applied",
            Code::IdentityChangeNeedsRotation => "propose a re-weight with the validator's current operator and eth address (`sidechain query validators`); to change them, the validator's own operator sends `sidechain tx rotate-validator-keys`",
            Code::NotValidatorOperator => "send the key rotation from the current operator account of the validator it names (`sidechain query validators` lists them)",
            Code::UnknownValidator => "name the consensus key of a current validator (`sidechain query validators` lists them)",
            Code::ZeroEthAddress => "give the address of the validator's bridge key: the L1 contract refuses the zero address in a signer set, which would block every later signer-set update",
            Code::EthAddressTaken => "give a bridge key of the validator's own: another validator's bridge key has this Ethereum address",
            Code::OperatorTaken => "give an operator account of the validator's own: another validator's operator is this account",
            Code::ModuleOperator => "give an account a key controls: a module account (such as the fee pool) cannot sign",
            Code::WithdrawToZeroAddress => "name the L1 account to pay: the zero address would lose the funds",
            Code::NotBridgedDenom => "withdraw a wrapped denom (`l1/...`) that a deposit registered (query `/bridge/tokens`); the native token cannot leave the sidechain",
            Code::ZeroWithdrawal => "withdraw a positive amount",
            Code::WithdrawalQueueFull => "wait for the next batch of this token to drain its queue, which holds at most 1024 withdrawals, and send again",
            Code::UnknownWithdrawal => "check the withdrawal id (query `/bridge/withdrawal`); ids start at 1",
            Code::NotWithdrawalOwner => "send the cancellation from the account that made the withdrawal",
            Code::WithdrawalNotQueued => "nothing to cancel: the withdrawal is in a batch (it will be paid on L1) or was cancelled already",
            Code::UnknownBatch => "confirm a batch the chain has cut (query `/bridge/batch`)",
            Code::BadBatchSignature => "sign the batch's (or signer-set update's) EIP-712 digest with the validator's registered bridge key, low s, v = 27 or 28 (the relayer does this)",
            Code::DuplicateConfirmation => "nothing to do: this signer's confirmation is already counted",
            Code::NotL1Signer => "only members of the L1 signer set confirm batches and signer-set updates; wait until the contract's signer set includes this validator's Ethereum address",
            Code::UnknownSignerSet => "confirm or attest a signer-set update the chain has made (query `/bridge/signer_set`)",
            Code::InvalidAttestation => "attest only an outstanding batch (query `/bridge/batch`) or a signer-set update L1 can have seen (ready or pending), with one release per batch entry",
            Code::DuplicateAttestation => "nothing to do: this validator's attestation of that outcome is already counted",
        }
    }
}

/// Renders the code table as Markdown (the README embeds this; a test keeps them in sync).
pub fn markdown_table() -> String {
    let mut out = String::from("| code | name | what to do |\n|---:|---|---|\n");
    for c in Code::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            c.value(),
            c.name(),
            c.remedy()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for (i, c) in Code::ALL.iter().enumerate() {
            assert_eq!(c.value() as usize, i);
            assert_eq!(Code::from_value(c.value()), Some(*c));
        }
        assert_eq!(Code::from_value(999), None);
    }

    #[test]
    fn remedies_quote_the_bridge_limits() {
        let limit = crate::bridge::MAX_CLAIMS_PER_MSG.to_string();
        assert!(Code::InvalidClaim
            .remedy()
            .contains(&format!("1 to {limit}")));
        let ahead = crate::bridge::MAX_PENDING_DEPOSITS_AHEAD.to_string();
        assert!(Code::ClaimTooFarAhead.remedy().contains(&ahead));
        let queued = crate::bridge::MAX_QUEUED_PER_TOKEN.to_string();
        assert!(Code::WithdrawalQueueFull.remedy().contains(&queued));
    }
}
