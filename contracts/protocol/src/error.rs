use alloy_primitives::{Address, U256};

use crate::MAX_SIGNERS;

/// Every rule of this crate that an input can break.
///
/// The variants are plain data (no I/O sources), so the state machine can compare them and turn
/// them into deterministic result codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A signer set must have at least one member.
    #[error("signer set is empty")]
    EmptySignerSet,
    /// A signer set has more than [`MAX_SIGNERS`] members.
    #[error("signer set has {0} members; the contract accepts at most {MAX_SIGNERS}")]
    TooManySigners(usize),
    /// An address appears twice in a signer set (or twice among the signers of one message).
    #[error("signer {0} appears twice")]
    DuplicateSigner(Address),
    /// A signer set member is the zero address (`ecrecover` returns it for invalid signatures).
    #[error("signer {0} is the zero address")]
    ZeroSigner(Address),
    /// A signer set member has zero power.
    #[error("signer {0} has zero power")]
    ZeroPower(Address),
    /// A raw power is so small relative to the total that it scales to zero out of 2^32.
    #[error(
        "signer {signer}'s power {power} is too small to survive normalization to 2^32 (total {total})"
    )]
    PowerRoundsToZero {
        /// The member whose power vanished.
        signer: Address,
        /// Its raw power.
        power: u64,
        /// The sum of all raw powers.
        total: u128,
    },
    /// The normalized powers add up to more than 2^32, or to no more than the threshold (no
    /// quorum could ever be reached).
    #[error(
        "signer set total power {0} is outside (2/3 * 2^32, 2^32]: no quorum possible or not normalized"
    )]
    BadTotalPower(u128),
    /// Members of an ABI signer set are not in strictly ascending address order; carries the
    /// position of the first member out of order.
    #[error("signer set member {0} is not above its predecessor (members must ascend by address)")]
    SignersNotSorted(usize),
    /// An ABI signer set has a different number of addresses and powers.
    #[error("signer set has {signers} addresses but {powers} powers")]
    LengthMismatch {
        /// Number of addresses.
        signers: usize,
        /// Number of powers.
        powers: usize,
    },
    /// A 256-bit ABI value does not fit the 64-bit field this crate keeps it in.
    #[error("{field} {value} does not fit in 64 bits")]
    ValueTooLarge {
        /// Which value (`"nonce"`, `"power"`).
        field: &'static str,
        /// The value as given.
        value: U256,
    },
    /// An address that signed is not a member of the signer set.
    #[error("signer {0} is not a member of the signer set")]
    NotAMember(Address),
    /// A signature's `v` is neither 27 nor 28 (the only values `ecrecover` accepts).
    #[error("signature v is {0}; it must be 27 or 28")]
    InvalidV(u8),
    /// A signature's `s` is above secp256k1n/2 (EIP-2): a malleable copy the contract rejects.
    #[error("signature s {0:#x} is above secp256k1n/2 (EIP-2 low-s rule)")]
    HighS(U256),
    /// `r` or `s` is zero or not below the curve order, or no public key recovers from it.
    #[error("invalid signature: {0}")]
    InvalidSignature(&'static str),
}

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
