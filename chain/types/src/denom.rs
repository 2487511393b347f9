//! Denominations: the native fee token and one wrapped denom per bridged L1 token.

use std::{fmt, str::FromStr};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest denom accepted.
pub const MAX_DENOM_LEN: usize = 64;

/// A validated denomination: 2 to 64 characters of `a-z 0-9 / - _ .`, starting with a letter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
pub struct Denom(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid denom: use 2 to 64 characters of a-z, 0-9, '/', '-', '_', '.', starting with a letter")]
pub struct DenomError(pub String);

impl Denom {
    pub fn new(s: impl Into<String>) -> Result<Self, DenomError> {
        let s = s.into();
        let ok_len = (2..=MAX_DENOM_LEN).contains(&s.len());
        let ok_first = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/-_.".contains(&b));
        if ok_len && ok_first && ok_chars {
            Ok(Denom(s))
        } else {
            Err(DenomError(s))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A denom built by a rule of this crate that always yields a valid one
    /// ([`crate::bridge::wrapped_denom`], whose tests check it against [`Denom::new`]).
    pub(crate) fn trusted(s: String) -> Self {
        Denom(s)
    }
}

impl BorshDeserialize for Denom {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let s = String::deserialize_reader(reader)?;
        Denom::new(s)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
    }
}

impl fmt::Display for Denom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Denom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Denom({})", self.0)
    }
}

impl FromStr for Denom {
    type Err = DenomError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Denom::new(s)
    }
}

impl Serialize for Denom {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Denom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Denom::new(<String as Deserialize>::deserialize(deserializer)?)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_and_rejects_odd_denoms() {
        for ok in ["side", "wrapped/0xabc", "eth.w", "u_1"] {
            assert!(Denom::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "Side", "1abc", "a b", "x".repeat(65).as_str()] {
            assert!(Denom::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn borsh_decoding_validates() {
        let bytes = borsh::to_vec(&"BAD DENOM".to_string()).unwrap();
        assert!(borsh::from_slice::<Denom>(&bytes).is_err());
    }
}
