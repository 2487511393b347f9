//! What to generate: the network spec, read from a TOML file or assembled from flags.
//!
//! ```toml
//! chain_id = "sidechain-local"
//! native_denom = "side"
//! block_time_ms = 500
//! base_port = 26600
//! faucet_amount = "1000000000000000000000"
//!
//! [[validators]]
//! name = "node0"
//! power = 10
//!
//! [[accounts]]
//! address = "side1..."            # or pub_key = "<hex ed25519>"
//! balances = [{ denom = "side", amount = "5000" }]
//! ```

use std::{collections::BTreeSet, path::Path};

use serde::{Deserialize, Serialize};
use sidechain_types::{
    genesis::{Coin, GenesisBridge},
    Address, Denom, Params,
};

use crate::{ports::PORTS_PER_NODE, Error, Result};

pub const DEFAULT_CHAIN_ID: &str = "sidechain-local";
pub const DEFAULT_DENOM: &str = "side";
pub const DEFAULT_BLOCK_TIME_MS: u64 = 500;
pub const DEFAULT_BASE_PORT: u16 = 26600;
pub const DEFAULT_POWER: u64 = 10;
/// 10^24 base units: plenty for any local experiment.
pub const DEFAULT_FAUCET_AMOUNT: u128 = 1_000_000_000_000_000_000_000_000;
/// What each validator's operator (relayer) account starts with, to pay its fees.
pub const DEFAULT_OPERATOR_AMOUNT: u128 = 1_000_000_000_000_000_000;

/// One validator to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSpec {
    pub name: String,
    #[serde(default = "default_power")]
    pub power: u64,
}

/// An extra genesis account, named by address or by its ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    #[serde(default)]
    pub address: Option<String>,
    /// Hex of a 32-byte ed25519 public key, as `sidechain keys show --json` prints it.
    #[serde(default)]
    pub pub_key: Option<String>,
    pub balances: Vec<Coin>,
}

/// Everything the generator needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    #[serde(default = "default_chain_id")]
    pub chain_id: String,
    #[serde(default = "default_denom")]
    pub native_denom: String,
    /// CometBFT's `timeout_commit`: the pause between one block's commit and the next proposal.
    #[serde(default = "default_block_time")]
    pub block_time_ms: u64,
    /// First port of the network; node `i` uses the ten ports from `base_port + 10 * i`.
    #[serde(default = "default_base_port")]
    pub base_port: u16,
    /// Balance of the funded test account (`faucet` in the client home), in base units.
    #[serde(
        default = "default_faucet_amount",
        with = "sidechain_types::amount::dec_str"
    )]
    pub faucet_amount: u128,
    /// Balance each validator's operator account starts with.
    #[serde(
        default = "default_operator_amount",
        with = "sidechain_types::amount::dec_str"
    )]
    pub operator_amount: u128,
    pub validators: Vec<ValidatorSpec>,
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    #[serde(default)]
    pub params: Params,
    #[serde(default)]
    pub bridge: GenesisBridge,
}

fn default_chain_id() -> String {
    DEFAULT_CHAIN_ID.into()
}
fn default_denom() -> String {
    DEFAULT_DENOM.into()
}
fn default_block_time() -> u64 {
    DEFAULT_BLOCK_TIME_MS
}
fn default_base_port() -> u16 {
    DEFAULT_BASE_PORT
}
fn default_power() -> u64 {
    DEFAULT_POWER
}
fn default_faucet_amount() -> u128 {
    DEFAULT_FAUCET_AMOUNT
}
fn default_operator_amount() -> u128 {
    DEFAULT_OPERATOR_AMOUNT
}

impl NetworkSpec {
    /// A network of `n` validators named `node0..` with equal power and default settings.
    pub fn with_validators(n: usize) -> Self {
        NetworkSpec {
            chain_id: default_chain_id(),
            native_denom: default_denom(),
            block_time_ms: default_block_time(),
            base_port: default_base_port(),
            faucet_amount: default_faucet_amount(),
            operator_amount: default_operator_amount(),
            validators: (0..n)
                .map(|i| ValidatorSpec {
                    name: format!("node{i}"),
                    power: default_power(),
                })
                .collect(),
            accounts: Vec::new(),
            params: Params::default(),
            bridge: GenesisBridge::default(),
        }
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Spec(e.to_string()))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text).map_err(|e| Error::Spec(format!("{}: {e}", path.display())))
    }

    /// Checks the parts the app_state validation cannot see (names, ports, block time) and
    /// resolves the extra accounts. Each error names the field and the fix.
    pub fn validate(&self) -> Result<Vec<(Address, Vec<Coin>)>> {
        let bad = |field: String, reason: String| Err(Error::Field { field, reason });
        if self.chain_id.is_empty()
            || self.chain_id.len() > 50
            || !self
                .chain_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return bad(
                "chain_id".into(),
                format!(
                    "`{}` must be 1 to 50 letters, digits, '-', '_' or '.'",
                    self.chain_id
                ),
            );
        }
        if let Err(e) = Denom::new(self.native_denom.clone()) {
            return bad("native_denom".into(), e.to_string());
        }
        if !(50..=60_000).contains(&self.block_time_ms) {
            return bad(
                "block_time_ms".into(),
                format!("{} is outside 50..=60000 milliseconds", self.block_time_ms),
            );
        }
        if self.validators.is_empty() {
            return bad(
                "validators".into(),
                "at least one validator is needed (e.g. --validators 4)".into(),
            );
        }
        let last_port = u32::from(self.base_port)
            + u32::from(PORTS_PER_NODE) * max_nodes(self.validators.len());
        if self.base_port < 1024 || last_port > 65_535 {
            return bad(
                "base_port".into(),
                format!(
                    "{} leaves no room for {} nodes of {PORTS_PER_NODE} ports (and joining ones) below 65535; pick a base port between 1024 and {}",
                    self.base_port,
                    self.validators.len(),
                    65_535u32.saturating_sub(u32::from(PORTS_PER_NODE) * max_nodes(self.validators.len()))
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (i, v) in self.validators.iter().enumerate() {
            let field = format!("validators[{i}]");
            let ok_name = !v.name.is_empty()
                && v.name.len() <= 32
                && v.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok_name {
                return bad(
                    format!("{field}.name"),
                    format!("`{}` must be 1 to 32 letters, digits, '-' or '_'", v.name),
                );
            }
            if !names.insert(v.name.as_str()) {
                return bad(
                    format!("{field}.name"),
                    format!(
                        "duplicate validator `{}`: every validator needs its own name",
                        v.name
                    ),
                );
            }
            if v.power == 0 {
                return bad(
                    format!("{field}.power"),
                    format!(
                        "validator `{}` has power 0; give it a positive power or leave it out",
                        v.name
                    ),
                );
            }
        }
        let mut accounts = Vec::with_capacity(self.accounts.len());
        for (i, a) in self.accounts.iter().enumerate() {
            let field = format!("accounts[{i}]");
            let address = match (&a.address, &a.pub_key) {
                (Some(addr), None) => match addr.parse::<Address>() {
                    Ok(a) => a,
                    Err(e) => return bad(format!("{field}.address"), e.to_string()),
                },
                (None, Some(pk)) => match parse_ed25519_hex(pk) {
                    Ok(key) => Address::from_pubkey(&key),
                    Err(reason) => return bad(format!("{field}.pub_key"), reason),
                },
                _ => return bad(field, "give exactly one of `address` or `pub_key`".into()),
            };
            accounts.push((address, a.balances.clone()));
        }
        Ok(accounts)
    }
}

/// Room reserved for nodes that join later through `add-validator`.
fn max_nodes(validators: usize) -> u32 {
    u32::try_from(validators)
        .unwrap_or(u32::MAX)
        .saturating_add(crate::ports::SPARE_NODES)
}

/// Parses the hex of an ed25519 public key and checks it is a curve point.
pub fn parse_ed25519_hex(s: &str) -> std::result::Result<[u8; 32], String> {
    let bytes =
        hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("`{s}` is not hex: {e}"))?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "`{s}` holds {} bytes, an ed25519 public key holds 32",
            bytes.len()
        )
    })?;
    ed25519_consensus::VerificationKey::try_from(key)
        .map_err(|_| format!("`{s}` is not a valid ed25519 public key"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_a_minimal_file() {
        let spec = NetworkSpec::from_toml("[[validators]]\nname = \"a\"\n").unwrap();
        assert_eq!(spec.chain_id, DEFAULT_CHAIN_ID);
        assert_eq!(spec.validators[0].power, DEFAULT_POWER);
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn unknown_fields_are_named() {
        let e =
            NetworkSpec::from_toml("chain = \"x\"\n[[validators]]\nname = \"a\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `chain`"), "{e}");
        let e = NetworkSpec::from_toml("[[validators]]\nname = \"a\"\npowr = 1\n").unwrap_err();
        assert!(e.to_string().contains("powr"), "{e}");
    }

    #[test]
    fn bad_validators_and_accounts_name_the_field() {
        let mut spec = NetworkSpec::with_validators(2);
        spec.validators[1].name = "node0".into();
        let e = spec.validate().unwrap_err().to_string();
        assert!(
            e.contains("validators[1].name") && e.contains("duplicate"),
            "{e}"
        );

        let mut spec = NetworkSpec::with_validators(2);
        spec.validators[0].power = 0;
        let e = spec.validate().unwrap_err().to_string();
        assert!(e.contains("validators[0].power"), "{e}");

        let mut spec = NetworkSpec::with_validators(1);
        spec.accounts.push(AccountSpec {
            address: Some("side1notanaddress".into()),
            pub_key: None,
            balances: vec![],
        });
        let e = spec.validate().unwrap_err().to_string();
        assert!(e.contains("accounts[0].address"), "{e}");

        let mut spec = NetworkSpec::with_validators(1);
        spec.accounts.push(AccountSpec {
            address: None,
            pub_key: Some("abcd".into()),
            balances: vec![],
        });
        let e = spec.validate().unwrap_err().to_string();
        assert!(
            e.contains("accounts[0].pub_key") && e.contains("2 bytes"),
            "{e}"
        );

        let mut spec = NetworkSpec::with_validators(1);
        spec.base_port = 65_500;
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("base_port"));
    }
}
