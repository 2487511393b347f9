use alloy::primitives::Address;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("signer set is empty")]
    EmptySignerSet,
    #[error("signer set has {0} members; the contract accepts at most {max}", max = crate::signer_set::MAX_SIGNERS)]
    TooManySigners(usize),
    #[error("signer {0} appears twice in the signer set")]
    DuplicateSigner(Address),
    #[error("signer {0} is the zero address")]
    ZeroSigner(Address),
    #[error("signer {0} has zero power")]
    ZeroPower(Address),
    #[error("signer {signer}'s power {power} is too small to survive normalization to 2^32 (total {total})")]
    PowerRoundsToZero {
        signer: Address,
        power: u64,
        total: u128,
    },
    #[error("signer set total power {0} is outside (2/3 * 2^32, 2^32]: no quorum possible or not normalized")]
    BadTotalPower(u128),
    #[error("signer {0} is not a member of the signer set")]
    NotAMember(Address),
    #[error("invalid {field}: {reason}")]
    InvalidParam { field: &'static str, reason: String },
    #[error("RPC error while {action}: {source}")]
    Rpc {
        action: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("transaction {action} failed: {reason}")]
    TxFailed { action: String, reason: String },
}

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn rpc(
        action: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Rpc {
            action: action.into(),
            source: Box::new(source),
        }
    }
}
