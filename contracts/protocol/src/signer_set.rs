//! The signer set as the contract stores it: members sorted by address, powers normalized so that
//! they add up to at most 2^32 and to more than [`POWER_THRESHOLD`].

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, U256};

use crate::{abi, Error, Result};

/// Normalized powers add up to at most this: 2^32 (`Bridge.POWER_BASE`).
pub const POWER_BASE: u64 = 1 << 32;
/// floor(2/3 · 2^32) = 2,863,311,530 (`Bridge.POWER_THRESHOLD`): signatures must carry strictly
/// more normalized power than this.
pub const POWER_THRESHOLD: u64 = 2_863_311_530;
/// The largest signer set the contract accepts (`Bridge.MAX_SIGNERS`).
pub const MAX_SIGNERS: usize = 256;

/// Whether signatures carrying `powers` (normalized, one entry per distinct signer) pass the
/// contract's rule: their sum is strictly greater than [`POWER_THRESHOLD`], so exactly 2/3 fails.
/// The sum is taken in 128 bits and cannot overflow.
pub fn passes_threshold(powers: impl IntoIterator<Item = u64>) -> bool {
    let signed = powers
        .into_iter()
        .fold(0u128, |sum, p| sum.saturating_add(u128::from(p)));
    signed > u128::from(POWER_THRESHOLD)
}

/// One member: a bridge key's Ethereum address and its normalized power (out of 2^32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Member {
    /// The address the member's secp256k1 bridge key recovers to.
    pub address: Address,
    /// Normalized power, out of [`POWER_BASE`].
    pub power: u64,
}

/// A signer set that satisfies every rule the contract applies to a new set: 1 to
/// [`MAX_SIGNERS`] members in strictly ascending address order, no zero address, no zero power,
/// total power in (`POWER_THRESHOLD`, `POWER_BASE`].
///
/// With the `serde` feature it (de)serializes as `{"nonce": N, "members": [{"address", "power"}]}`
/// and deserialization checks the same rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "RawSignerSet")
)]
pub struct SignerSet {
    /// The set's nonce: the contract accepts set `n + 1` after set `n`.
    pub nonce: u64,
    members: Vec<Member>,
}

/// What a serialized signer set holds before it is checked.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct RawSignerSet {
    nonce: u64,
    members: Vec<Member>,
}

#[cfg(feature = "serde")]
impl TryFrom<RawSignerSet> for SignerSet {
    type Error = Error;

    fn try_from(raw: RawSignerSet) -> Result<Self> {
        Self::from_normalized(raw.nonce, raw.members)
    }
}

impl SignerSet {
    /// Builds a set from raw voting powers of any scale: sorts by address and scales each power
    /// to `floor(power · 2^32 / total)` (so the total lands in (2^32 − n, 2^32]).
    ///
    /// Errors: [`Error::ZeroSigner`], [`Error::ZeroPower`], [`Error::DuplicateSigner`],
    /// [`Error::PowerRoundsToZero`] for a power below `total / 2^32`, and whatever
    /// [`SignerSet::from_normalized`] refuses ([`Error::EmptySignerSet`],
    /// [`Error::TooManySigners`]).
    pub fn normalized(nonce: u64, raw: impl IntoIterator<Item = (Address, u64)>) -> Result<Self> {
        let mut by_address = BTreeMap::new();
        for (address, power) in raw {
            if address == Address::ZERO {
                return Err(Error::ZeroSigner(address));
            }
            if power == 0 {
                return Err(Error::ZeroPower(address));
            }
            if by_address.insert(address, power).is_some() {
                return Err(Error::DuplicateSigner(address));
            }
        }
        if by_address.len() > MAX_SIGNERS {
            return Err(Error::TooManySigners(by_address.len()));
        }
        // At most 256 powers below 2^64: the sum stays below 2^72.
        let total = by_address
            .values()
            .try_fold(0u128, |sum, &p| sum.checked_add(u128::from(p)))
            .ok_or(Error::BadTotalPower(u128::MAX))?;
        let mut members = Vec::with_capacity(by_address.len());
        for (address, power) in by_address {
            // power < 2^64 and POWER_BASE = 2^32: the product stays below 2^96.
            let scaled = u128::from(power)
                .checked_mul(u128::from(POWER_BASE))
                .and_then(|p| p.checked_div(total))
                .ok_or(Error::BadTotalPower(total))?;
            let scaled = u64::try_from(scaled).map_err(|_| Error::BadTotalPower(total))?;
            if scaled == 0 {
                return Err(Error::PowerRoundsToZero {
                    signer: address,
                    power,
                    total,
                });
            }
            members.push(Member {
                address,
                power: scaled,
            });
        }
        Self::from_normalized(nonce, members)
    }

    /// Takes members whose powers are already normalized (in any order; they are sorted here)
    /// and checks every rule the contract applies to a new set.
    ///
    /// Errors: [`Error::EmptySignerSet`], [`Error::TooManySigners`],
    /// [`Error::DuplicateSigner`], [`Error::ZeroSigner`], [`Error::ZeroPower`] and
    /// [`Error::BadTotalPower`] when the total is above 2^32 or not above the threshold.
    pub fn from_normalized(nonce: u64, mut members: Vec<Member>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::EmptySignerSet);
        }
        if members.len() > MAX_SIGNERS {
            return Err(Error::TooManySigners(members.len()));
        }
        members.sort_by_key(|m| m.address);
        let mut previous: Option<Address> = None;
        let mut total = 0u128;
        for m in &members {
            if previous == Some(m.address) {
                return Err(Error::DuplicateSigner(m.address));
            }
            if m.address == Address::ZERO {
                return Err(Error::ZeroSigner(m.address));
            }
            if m.power == 0 {
                return Err(Error::ZeroPower(m.address));
            }
            // At most 256 powers below 2^64: cannot overflow 128 bits.
            total = total.saturating_add(u128::from(m.power));
            previous = Some(m.address);
        }
        if total > u128::from(POWER_BASE) || total <= u128::from(POWER_THRESHOLD) {
            return Err(Error::BadTotalPower(total));
        }
        Ok(Self { nonce, members })
    }

    /// Members in ascending address order (the contract's `signers`/`powers` order).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Number of members (1 to [`MAX_SIGNERS`]).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a valid set has at least one member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Sum of the normalized powers, in (`POWER_THRESHOLD`, `POWER_BASE`].
    pub fn total_power(&self) -> u64 {
        self.members
            .iter()
            .fold(0u64, |sum, m| sum.saturating_add(m.power))
    }

    /// Position of `address` in the set: the `signerIndex` its signatures carry.
    pub fn index_of(&self, address: Address) -> Option<usize> {
        self.members
            .binary_search_by_key(&address, |m| m.address)
            .ok()
    }

    /// The normalized power of `address`, if it is a member.
    pub fn power_of(&self, address: Address) -> Option<u64> {
        self.index_of(address)
            .and_then(|i| self.members.get(i))
            .map(|m| m.power)
    }

    /// The power carried by signatures from `signers`.
    ///
    /// Errors: [`Error::NotAMember`] for an address outside the set, [`Error::DuplicateSigner`]
    /// for an address given twice (the contract counts each member once).
    pub fn signed_power(&self, signers: impl IntoIterator<Item = Address>) -> Result<u64> {
        let mut seen = BTreeSet::new();
        let mut signed = 0u64;
        for address in signers {
            let power = self.power_of(address).ok_or(Error::NotAMember(address))?;
            if !seen.insert(address) {
                return Err(Error::DuplicateSigner(address));
            }
            // Distinct members' powers add up to at most 2^32.
            signed = signed.saturating_add(power);
        }
        Ok(signed)
    }

    /// Whether signatures from `signers` pass the threshold (see [`passes_threshold`]).
    ///
    /// Errors: as [`SignerSet::signed_power`].
    pub fn is_quorum(&self, signers: impl IntoIterator<Item = Address>) -> Result<bool> {
        Ok(passes_threshold([self.signed_power(signers)?]))
    }

    /// The set as the contract's struct: [`abi::SignerSet`], or any other binding of the same
    /// Solidity struct that converts from it (such as `bridge_contracts::Bridge::SignerSet`).
    pub fn to_abi<T: From<abi::SignerSet>>(&self) -> T {
        T::from(abi::SignerSet {
            nonce: U256::from(self.nonce),
            signers: self.members.iter().map(|m| m.address).collect(),
            powers: self.members.iter().map(|m| U256::from(m.power)).collect(),
        })
    }
}

/// Reads a set back from the contract's struct (for example from a `SignerSetUpdated` event).
/// Unlike [`SignerSet::from_normalized`] it does not sort: members must already ascend strictly
/// by address, as the contract requires.
///
/// Errors: [`Error::LengthMismatch`], [`Error::ValueTooLarge`] for a nonce or power beyond 64
/// bits, [`Error::SignersNotSorted`], and everything [`SignerSet::from_normalized`] refuses.
impl TryFrom<&abi::SignerSet> for SignerSet {
    type Error = Error;

    fn try_from(set: &abi::SignerSet) -> Result<Self> {
        if set.signers.len() != set.powers.len() {
            return Err(Error::LengthMismatch {
                signers: set.signers.len(),
                powers: set.powers.len(),
            });
        }
        let nonce = u64::try_from(set.nonce).map_err(|_| Error::ValueTooLarge {
            field: "nonce",
            value: set.nonce,
        })?;
        let mut members = Vec::with_capacity(set.signers.len());
        let mut previous: Option<Address> = None;
        for (position, (&address, &power)) in set.signers.iter().zip(&set.powers).enumerate() {
            if previous.is_some_and(|p| address <= p) {
                return Err(Error::SignersNotSorted(position));
            }
            let power = u64::try_from(power).map_err(|_| Error::ValueTooLarge {
                field: "power",
                value: power,
            })?;
            members.push(Member { address, power });
            previous = Some(address);
        }
        Self::from_normalized(nonce, members)
    }
}

impl TryFrom<abi::SignerSet> for SignerSet {
    type Error = Error;

    fn try_from(set: abi::SignerSet) -> Result<Self> {
        Self::try_from(&set)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn member(n: u8, power: u64) -> Member {
        Member {
            address: addr(n),
            power,
        }
    }

    #[test]
    fn constants_are_the_contracts() {
        assert_eq!(POWER_BASE, 4_294_967_296);
        assert_eq!(POWER_THRESHOLD, POWER_BASE * 2 / 3);
    }

    #[test]
    fn normalization_sorts_and_scales_to_2_pow_32() {
        let set = SignerSet::normalized(7, [(addr(3), 1), (addr(1), 1), (addr(2), 2)]).unwrap();
        let addrs: Vec<_> = set.members().iter().map(|m| m.address).collect();
        assert_eq!(addrs, vec![addr(1), addr(2), addr(3)]);
        assert_eq!(set.members()[1].power, POWER_BASE / 2);
        assert_eq!(set.total_power(), POWER_BASE);
        assert_eq!(set.index_of(addr(3)), Some(2));
        assert_eq!(set.power_of(addr(1)), Some(POWER_BASE / 4));
        assert_eq!(set.index_of(addr(4)), None);
        assert_eq!(set.nonce, 7);
    }

    #[test]
    fn normalization_rounds_down() {
        // Thirds of 2^32 are not whole: each rounds down and the total falls short by one.
        let set = SignerSet::normalized(0, [(addr(1), 5), (addr(2), 5), (addr(3), 5)]).unwrap();
        assert!(set.members().iter().all(|m| m.power == POWER_BASE / 3));
        assert_eq!(set.total_power(), POWER_BASE - 1);
        // Raw powers at the top of the u64 range do not overflow.
        let set = SignerSet::normalized(0, [(addr(1), u64::MAX), (addr(2), u64::MAX)]).unwrap();
        assert_eq!(set.total_power(), POWER_BASE);
    }

    #[test]
    fn rejects_duplicates_zero_power_and_empty() {
        assert_eq!(
            SignerSet::normalized(0, [(addr(1), 1), (addr(1), 2)]),
            Err(Error::DuplicateSigner(addr(1)))
        );
        assert_eq!(
            SignerSet::normalized(0, [(addr(1), 0)]),
            Err(Error::ZeroPower(addr(1)))
        );
        assert_eq!(SignerSet::normalized(0, []), Err(Error::EmptySignerSet));
        assert_eq!(
            SignerSet::normalized(0, [(Address::ZERO, 1)]),
            Err(Error::ZeroSigner(Address::ZERO))
        );
        assert_eq!(
            SignerSet::from_normalized(0, vec![member(1, 1 << 31), member(1, 1 << 31)]),
            Err(Error::DuplicateSigner(addr(1)))
        );
        assert_eq!(
            SignerSet::from_normalized(0, vec![member(1, POWER_BASE), member(2, 0)]),
            Err(Error::ZeroPower(addr(2)))
        );
    }

    #[test]
    fn rejects_too_many_signers() {
        let raw =
            (1..=MAX_SIGNERS as u64 + 1).map(|i| (Address::left_padding_from(&i.to_be_bytes()), 1));
        assert_eq!(
            SignerSet::normalized(0, raw),
            Err(Error::TooManySigners(MAX_SIGNERS + 1))
        );
        let raw =
            (1..=MAX_SIGNERS as u64).map(|i| (Address::left_padding_from(&i.to_be_bytes()), 1));
        assert_eq!(SignerSet::normalized(0, raw).unwrap().len(), MAX_SIGNERS);
    }

    #[test]
    fn rejects_power_that_rounds_to_zero() {
        let err = SignerSet::normalized(0, [(addr(1), u64::MAX), (addr(2), 1)]).unwrap_err();
        assert!(
            matches!(err, Error::PowerRoundsToZero { signer, power: 1, .. } if signer == addr(2))
        );
    }

    #[test]
    fn total_power_edges() {
        // Exactly the threshold: no quorum could ever form.
        assert_eq!(
            SignerSet::from_normalized(0, vec![member(1, POWER_THRESHOLD)]),
            Err(Error::BadTotalPower(u128::from(POWER_THRESHOLD)))
        );
        // One above the threshold and exactly 2^32 are the bounds that pass.
        assert!(SignerSet::from_normalized(0, vec![member(1, POWER_THRESHOLD + 1)]).is_ok());
        assert!(SignerSet::from_normalized(0, vec![member(1, POWER_BASE)]).is_ok());
        assert_eq!(
            SignerSet::from_normalized(0, vec![member(1, POWER_BASE), member(2, 1)]),
            Err(Error::BadTotalPower(u128::from(POWER_BASE) + 1))
        );
    }

    #[test]
    fn threshold_is_strictly_more_than_two_thirds() {
        assert!(!passes_threshold([]));
        assert!(!passes_threshold([POWER_THRESHOLD]));
        assert!(!passes_threshold([POWER_THRESHOLD - 1, 1]));
        assert!(passes_threshold([POWER_THRESHOLD, 1]));
        assert!(passes_threshold([POWER_BASE]));
        assert!(passes_threshold([u64::MAX, u64::MAX]));
    }

    #[test]
    fn signed_power_counts_each_member_once() {
        // Three members; the two lightest hold exactly the threshold together.
        let third = POWER_THRESHOLD / 2;
        let set = SignerSet::from_normalized(
            1,
            vec![
                member(1, POWER_BASE - 2 * third),
                member(2, third),
                member(3, third),
            ],
        )
        .unwrap();
        assert_eq!(set.signed_power([addr(2), addr(3)]), Ok(POWER_THRESHOLD));
        assert_eq!(set.is_quorum([addr(2), addr(3)]), Ok(false));
        assert_eq!(set.is_quorum([addr(1), addr(3)]), Ok(true));
        assert_eq!(
            set.signed_power([addr(2), addr(2), addr(3)]),
            Err(Error::DuplicateSigner(addr(2)))
        );
        assert_eq!(set.signed_power([addr(4)]), Err(Error::NotAMember(addr(4))));
    }

    #[test]
    fn abi_round_trip_and_checks() {
        let set = SignerSet::normalized(9, [(addr(2), 1), (addr(1), 3)]).unwrap();
        let abi: abi::SignerSet = set.to_abi();
        assert_eq!(abi.signers, vec![addr(1), addr(2)]);
        assert_eq!(
            abi.powers,
            vec![U256::from(3 * (POWER_BASE / 4)), U256::from(POWER_BASE / 4)]
        );
        assert_eq!(SignerSet::try_from(&abi), Ok(set));

        let mut unsorted = abi.clone();
        unsorted.signers.reverse();
        assert_eq!(
            SignerSet::try_from(&unsorted),
            Err(Error::SignersNotSorted(1))
        );
        let mut short = abi.clone();
        short.powers.pop();
        assert_eq!(
            SignerSet::try_from(&short),
            Err(Error::LengthMismatch {
                signers: 2,
                powers: 1
            })
        );
        let mut huge = abi;
        huge.nonce = U256::MAX;
        assert!(matches!(
            SignerSet::try_from(huge),
            Err(Error::ValueTooLarge { field: "nonce", .. })
        ));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn deserialization_validates() {
        let set = SignerSet::normalized(2, [(addr(1), 1), (addr(2), 1)]).unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<SignerSet>(&json).unwrap(), set);
        let bad = json.replace(&(POWER_BASE / 2).to_string(), "1");
        assert!(serde_json::from_str::<SignerSet>(&bad).is_err());
    }

    proptest! {
        /// Any raw powers normalize to a set whose total is in (2^32 - n, 2^32], which is always
        /// above the threshold, unless one power rounds to zero.
        #[test]
        fn normalized_total_is_within_n_of_2_pow_32(
            powers in prop::collection::vec(1..=u64::MAX, 1..=64)
        ) {
            let raw = powers.iter().enumerate().map(|(i, &p)| {
                (Address::left_padding_from(&(i as u64 + 1).to_be_bytes()), p)
            });
            match SignerSet::normalized(0, raw) {
                Ok(set) => {
                    let total = set.total_power();
                    prop_assert!(total <= POWER_BASE);
                    prop_assert!(total > POWER_BASE - set.len() as u64);
                    prop_assert!(set.members().windows(2).all(|w| w[0].address < w[1].address));
                }
                Err(Error::PowerRoundsToZero { power, total, .. }) => {
                    prop_assert!(u128::from(power) * u128::from(POWER_BASE) < total);
                }
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
