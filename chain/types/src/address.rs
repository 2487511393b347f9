//! Account addresses: the first 20 bytes of a domain-separated SHA-256 of the ed25519 public
//! key, shown as bech32 with the `side` prefix (`side1...`).

use std::{fmt, str::FromStr};

use bech32::{Bech32, Hrp};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Name of the module account that collects fees.
pub const FEE_POOL: &str = "fee_pool";
/// Every module account's name: accounts no key controls, which can never be a validator's
/// operator.
pub const MODULE_ACCOUNTS: [&str; 1] = [FEE_POOL];

/// Human-readable prefix of every sidechain address.
pub const ADDRESS_HRP: &str = "side";
const ADDRESS_DOMAIN: &[u8] = b"sidechain/account/v1";

/// A sidechain account address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Address(pub [u8; 20]);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{input}` is not a bech32 address ({reason}); addresses look like side1... as printed by `sidechain keys show`")]
    Bech32 { input: String, reason: String },
    #[error("`{input}` has prefix `{prefix}`, expected `{ADDRESS_HRP}`")]
    Prefix { input: String, prefix: String },
    #[error("`{input}` holds {len} bytes, an address holds 20")]
    Length { input: String, len: usize },
}

impl Address {
    /// The address of an ed25519 public key.
    pub fn from_pubkey(public_key: &[u8; 32]) -> Self {
        let mut preimage = Vec::with_capacity(ADDRESS_DOMAIN.len().saturating_add(32));
        preimage.extend_from_slice(ADDRESS_DOMAIN);
        preimage.extend_from_slice(public_key);
        let digest = crate::sha256(&preimage);
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        Address(out)
    }

    /// Address of a module account (no key controls it), e.g. the fee pool.
    pub fn module(name: &str) -> Self {
        let digest = crate::sha256(format!("sidechain/module/{name}").as_bytes());
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        Address(out)
    }

    /// Whether this is one of the [`MODULE_ACCOUNTS`].
    pub fn is_module(&self) -> bool {
        MODULE_ACCOUNTS
            .iter()
            .any(|name| Address::module(name) == *self)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        match bech32::encode::<Bech32>(hrp, &self.0) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "0x{}", hex::encode(self.0)),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hrp, data) = bech32::decode(s).map_err(|e| AddressError::Bech32 {
            input: s.to_string(),
            reason: e.to_string(),
        })?;
        if hrp.as_str() != ADDRESS_HRP {
            return Err(AddressError::Prefix {
                input: s.to_string(),
                prefix: hrp.to_string(),
            });
        }
        let bytes: [u8; 20] = data
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::Length {
                input: s.to_string(),
                len: data.len(),
            })?;
        Ok(Address(bytes))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_then_parse_is_identity() {
        let a = Address::from_pubkey(&[7u8; 32]);
        let s = a.to_string();
        assert!(s.starts_with("side1"), "{s}");
        assert_eq!(s.parse::<Address>().unwrap(), a);
    }

    #[test]
    fn rejects_wrong_prefix_checksum_and_length() {
        let a = Address::from_pubkey(&[1u8; 32]).to_string();
        let mut broken = a.clone();
        broken.pop();
        broken.push(if a.ends_with('q') { 'p' } else { 'q' });
        assert!(matches!(
            broken.parse::<Address>(),
            Err(AddressError::Bech32 { .. })
        ));
        let other = bech32::encode::<Bech32>(Hrp::parse("cosmos").unwrap(), &[0u8; 20]).unwrap();
        assert!(matches!(
            other.parse::<Address>(),
            Err(AddressError::Prefix { .. })
        ));
        let short = bech32::encode::<Bech32>(Hrp::parse("side").unwrap(), &[0u8; 19]).unwrap();
        assert!(matches!(
            short.parse::<Address>(),
            Err(AddressError::Length { len: 19, .. })
        ));
    }
}
