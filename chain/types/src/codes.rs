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
}

impl Code {
    /// Every code, in numeric order (used to render the documented table).
    pub const ALL: [Code; 20] = [
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
    }
}
