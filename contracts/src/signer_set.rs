//! The signer set as the contract stores it: members sorted by address, powers normalized so
//! that they add up to (at most) 2^32.

use std::collections::BTreeMap;

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Powers are normalized to add up to (at most) this.
pub const POWER_BASE: u64 = 1 << 32;
/// floor(2/3 * 2^32): the contract needs strictly more signed power than this.
pub const POWER_THRESHOLD: u64 = POWER_BASE * 2 / 3;
/// Largest signer set the contract accepts.
pub const MAX_SIGNERS: usize = 256;

/// One member: an Ethereum bridge key's address and its normalized power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub address: Address,
    pub power: u64,
}

/// A validated signer set, in the order the contract hashes it (ascending address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerSet {
    pub nonce: u64,
    members: Vec<Member>,
}

impl SignerSet {
    /// Builds a set from raw voting powers (any scale): sorts by address and scales each power
    /// to `floor(power * 2^32 / total)`. Fails on duplicates, zero addresses or powers, and on a
    /// power so small that it rounds to zero.
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
        let total: u128 = by_address.values().map(|&p| u128::from(p)).sum();
        let mut members = Vec::with_capacity(by_address.len());
        for (address, power) in by_address {
            let scaled = u128::from(power) * u128::from(POWER_BASE) / total.max(1);
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

    /// Takes members whose powers are already normalized and checks every rule the contract
    /// applies to a new set.
    pub fn from_normalized(nonce: u64, mut members: Vec<Member>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::EmptySignerSet);
        }
        if members.len() > MAX_SIGNERS {
            return Err(Error::TooManySigners(members.len()));
        }
        members.sort_by_key(|m| m.address);
        for pair in members.windows(2) {
            if pair[0].address == pair[1].address {
                return Err(Error::DuplicateSigner(pair[0].address));
            }
        }
        for m in &members {
            if m.address == Address::ZERO {
                return Err(Error::ZeroSigner(m.address));
            }
            if m.power == 0 {
                return Err(Error::ZeroPower(m.address));
            }
        }
        let total: u128 = members.iter().map(|m| u128::from(m.power)).sum();
        if total > u128::from(POWER_BASE) || total <= u128::from(POWER_THRESHOLD) {
            return Err(Error::BadTotalPower(total));
        }
        Ok(Self { nonce, members })
    }

    /// Members in ascending address order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn total_power(&self) -> u64 {
        self.members.iter().map(|m| m.power).sum()
    }

    /// Position of `address` in the set (the `signerIndex` a signature carries).
    pub fn index_of(&self, address: Address) -> Option<usize> {
        self.members
            .binary_search_by_key(&address, |m| m.address)
            .ok()
    }

    /// The set as the contract's ABI struct.
    pub fn to_abi(&self) -> crate::Bridge::SignerSet {
        crate::Bridge::SignerSet {
            nonce: U256::from(self.nonce),
            signers: self.members.iter().map(|m| m.address).collect(),
            powers: self.members.iter().map(|m| U256::from(m.power)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn normalization_sorts_and_scales_to_2_pow_32() {
        let set = SignerSet::normalized(7, [(addr(3), 1), (addr(1), 1), (addr(2), 2)]).unwrap();
        let addrs: Vec<_> = set.members().iter().map(|m| m.address).collect();
        assert_eq!(addrs, vec![addr(1), addr(2), addr(3)]);
        assert_eq!(set.members()[1].power, POWER_BASE / 2);
        assert_eq!(set.total_power(), POWER_BASE);
        assert_eq!(set.index_of(addr(3)), Some(2));
        assert_eq!(set.nonce, 7);
    }

    #[test]
    fn rejects_duplicates_zero_power_and_empty() {
        assert!(matches!(
            SignerSet::normalized(0, [(addr(1), 1), (addr(1), 2)]),
            Err(Error::DuplicateSigner(_))
        ));
        assert!(matches!(
            SignerSet::normalized(0, [(addr(1), 0)]),
            Err(Error::ZeroPower(_))
        ));
        assert!(matches!(
            SignerSet::normalized(0, []),
            Err(Error::EmptySignerSet)
        ));
        assert!(matches!(
            SignerSet::normalized(0, [(Address::ZERO, 1)]),
            Err(Error::ZeroSigner(_))
        ));
    }

    #[test]
    fn rejects_power_that_rounds_to_zero() {
        let err = SignerSet::normalized(0, [(addr(1), u64::MAX), (addr(2), 1)]).unwrap_err();
        assert!(matches!(err, Error::PowerRoundsToZero { .. }));
    }

    #[test]
    fn rejects_unreachable_total() {
        let members = vec![Member {
            address: addr(1),
            power: POWER_THRESHOLD,
        }];
        assert!(matches!(
            SignerSet::from_normalized(0, members),
            Err(Error::BadTotalPower(_))
        ));
        let members = vec![Member {
            address: addr(1),
            power: POWER_BASE + 1,
        }];
        assert!(matches!(
            SignerSet::from_normalized(0, members),
            Err(Error::BadTotalPower(_))
        ));
    }
}
