//! Token amounts: `u128` base units, written as decimal strings in JSON so that no reader
//! loses precision.

/// An amount of base units of one denom.
pub type Amount = u128;

/// Serde helpers writing a `u128` as a decimal string (and accepting a string or a number).
pub mod dec_str {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum StrOrNum {
            Str(String),
            Num(u64),
        }
        match StrOrNum::deserialize(deserializer)? {
            StrOrNum::Str(s) => parse_amount(&s).map_err(de::Error::custom),
            StrOrNum::Num(n) => Ok(u128::from(n)),
        }
    }

    /// Parses a decimal amount, with an error that names the problem.
    pub fn parse_amount(s: &str) -> Result<u128, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{s}` is not a whole number of base units (digits only)"
            ));
        }
        s.parse::<u128>()
            .map_err(|_| format!("`{s}` does not fit in 128 bits (max {})", u128::MAX))
    }
}

pub use dec_str::parse_amount;
