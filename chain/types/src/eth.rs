//! Ethereum addresses as the sidechain stores and shows them: 20 bytes, written as `0x` and 40
//! hex digits with the EIP-55 mixed-case checksum.

use std::{fmt, str::FromStr};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An Ethereum account or contract address (20 bytes: the last 20 bytes of the keccak-256 of
/// an uncompressed secp256k1 public key, or a contract's creation address).
///
/// Displayed with the EIP-55 checksum (`0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed`). Parsing
/// accepts all-lower or all-upper hex digits, and mixed case only when the checksum matches,
/// so a mistyped address is caught. Borsh encodes the 20 raw bytes; serde writes the checksummed
/// string.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct EthAddress(pub [u8; 20]);

/// Why a string is not an Ethereum address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EthAddressError {
    #[error("`{0}` must start with 0x (an Ethereum address is 0x and 40 hex digits)")]
    Prefix(String),
    #[error("`{input}` holds {digits} hex digits, an Ethereum address holds 40")]
    Length { input: String, digits: usize },
    #[error("`{0}` is not hexadecimal")]
    Hex(String),
    #[error("`{input}` fails its EIP-55 checksum (expected {expected}); copy the address again, or write it all in lower case to skip the check")]
    Checksum { input: String, expected: String },
}

impl EthAddress {
    /// The zero address (`0x000…0`), which the bridge contract uses for ether and refuses as a
    /// recipient or signer.
    pub const ZERO: EthAddress = EthAddress([0; 20]);

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 20]
    }

    /// The address of an uncompressed secp256k1 public key given as its 64 coordinate bytes
    /// (x ‖ y, without the 0x04 tag): the last 20 bytes of their keccak-256 (Ethereum yellow
    /// paper, appendix F).
    pub fn from_public_key_xy(xy: &[u8; 64]) -> Self {
        let digest = keccak256(xy);
        let mut out = [0u8; 20];
        for (o, d) in out.iter_mut().zip(digest.iter().skip(12)) {
            *o = *d;
        }
        EthAddress(out)
    }

    /// The EIP-55 checksummed form, `0x` and 40 hex digits.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            // Nibble i of the hash decides the case of hex digit i (EIP-55).
            let byte = hash.get(i / 2).copied().unwrap_or(0);
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            if c.is_ascii_alphabetic() && nibble >= 8 {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

fn keccak256(data: &[u8]) -> [u8; 32] {
    use sha3::{Digest, Keccak256};
    Keccak256::digest(data).into()
}

impl From<[u8; 20]> for EthAddress {
    fn from(bytes: [u8; 20]) -> Self {
        EthAddress(bytes)
    }
}

impl From<EthAddress> for [u8; 20] {
    fn from(a: EthAddress) -> Self {
        a.0
    }
}

impl fmt::Display for EthAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for EthAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EthAddress({self})")
    }
}

impl FromStr for EthAddress {
    type Err = EthAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(|| EthAddressError::Prefix(s.to_string()))?;
        if digits.len() != 40 {
            return Err(EthAddressError::Length {
                input: s.to_string(),
                digits: digits.len(),
            });
        }
        let bytes = hex::decode(digits).map_err(|_| EthAddressError::Hex(s.to_string()))?;
        let mut out = [0u8; 20];
        out.copy_from_slice(&bytes);
        let address = EthAddress(out);
        let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper {
            let expected = address.to_checksum();
            if expected.get(2..) != Some(digits) {
                return Err(EthAddressError::Checksum {
                    input: s.to_string(),
                    expected,
                });
            }
        }
        Ok(address)
    }
}

impl Serialize for EthAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EthAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of EIP-55 itself.
    const EIP55: [&str; 4] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn displays_and_parses_the_eip55_examples() {
        for s in EIP55 {
            let a: EthAddress = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
            assert_eq!(s.to_lowercase().parse::<EthAddress>().unwrap(), a);
            let upper = format!("0x{}", s[2..].to_uppercase());
            assert_eq!(upper.parse::<EthAddress>().unwrap(), a);
        }
    }

    #[test]
    fn a_wrong_checksum_length_prefix_or_digit_is_refused() {
        let mut flipped: Vec<char> = EIP55[0].chars().collect();
        // 'a' at position 2 becomes 'A': mixed case with a wrong checksum.
        flipped[2] = 'A';
        let flipped: String = flipped.into_iter().collect();
        assert!(matches!(
            flipped.parse::<EthAddress>(),
            Err(EthAddressError::Checksum { .. })
        ));
        assert!(matches!(
            "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".parse::<EthAddress>(),
            Err(EthAddressError::Prefix(_))
        ));
        assert!(matches!(
            "0x1234".parse::<EthAddress>(),
            Err(EthAddressError::Length { digits: 4, .. })
        ));
        assert!(matches!(
            "0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed".parse::<EthAddress>(),
            Err(EthAddressError::Hex(_))
        ));
    }

    #[test]
    fn borsh_is_the_raw_bytes_and_serde_the_checksummed_string() {
        let a: EthAddress = EIP55[1].parse().unwrap();
        assert_eq!(borsh::to_vec(&a).unwrap(), a.0.to_vec());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{}\"", EIP55[1]));
        assert_eq!(serde_json::from_str::<EthAddress>(&json).unwrap(), a);
    }
}
