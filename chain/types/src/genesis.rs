//! The application's genesis state: the JSON object in the CometBFT genesis file's `app_state`.
//!
//! ```json
//! {
//!   "native_denom": "side",
//!   "params": { "min_gas_price": "1", "max_msgs_per_tx": 64, "proposal_ttl_blocks": 1000 },
//!   "accounts": [ { "address": "side1...", "balances": [ { "denom": "side", "amount": "1000" } ] } ],
//!   "validators": [ { "name": "node0", "pub_key": "<base64 ed25519>", "power": 10,
//!                     "operator": "side1...", "eth_address": "0x..." } ],
//!   "denoms": [],
//!   "bridge": { "l1_chain_id": 1337, "contract": "0x...", "bridge_id": "0x<64 hex>",
//!               "deploy_block": 12, "confirmations": 2, "batch_max_size": 100,
//!               "batch_max_wait_blocks": 20, "batch_timeout_seconds": 3600 }
//! }
//! ```

use std::collections::BTreeSet;

use base64::Engine;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::{
    address::Address,
    amount::Amount,
    bridge::{BridgeParams, MAX_BATCH_SIZE, MAX_CONFIRMATIONS},
    denom::Denom,
    eth::EthAddress,
    state::ValidatorInfo,
};

/// CometBFT refuses a total voting power above `i64::MAX / 8`.
pub const MAX_TOTAL_VOTING_POWER: u64 = (i64::MAX as u64) / 8;

/// Consensus parameters of the application, fixed at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Minimum fee per unit of gas, in base units of the native denom.
    #[serde(with = "crate::amount::dec_str", default = "default_min_gas_price")]
    pub min_gas_price: Amount,
    /// Most messages one transaction may carry.
    #[serde(default = "default_max_msgs")]
    pub max_msgs_per_tx: u32,
    /// Blocks after which an unapproved validator-set proposal lapses.
    #[serde(default = "default_proposal_ttl")]
    pub proposal_ttl_blocks: u64,
    /// Most voting power one block's validator changes may move, in basis points of the total
    /// power at the block's start (sum of |new - old| over the keys that change). Below 1/3
    /// (at most 3333), so that the set before and after a block always share more than 2/3 of
    /// the power, which CometBFT's light clients and the L1 signer set rely on. Default 3000.
    #[serde(default = "default_max_power_change")]
    pub max_power_change_per_block_bps: u32,
}

/// Upper bound of [`Params::max_power_change_per_block_bps`]: just below 1/3.
pub const MAX_POWER_CHANGE_BPS: u32 = 3_333;

fn default_min_gas_price() -> Amount {
    1
}
fn default_max_msgs() -> u32 {
    64
}
fn default_proposal_ttl() -> u64 {
    1_000
}
fn default_max_power_change() -> u32 {
    3_000
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_gas_price: default_min_gas_price(),
            max_msgs_per_tx: default_max_msgs(),
            proposal_ttl_blocks: default_proposal_ttl(),
            max_power_change_per_block_bps: default_max_power_change(),
        }
    }
}

/// One balance line of a genesis account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coin {
    pub denom: Denom,
    #[serde(with = "crate::amount::dec_str")]
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: Address,
    pub balances: Vec<Coin>,
}

/// A genesis validator: consensus key, power, and the bridge identities of its operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    pub name: String,
    /// Base64 of the 32-byte ed25519 consensus public key (as in CometBFT's genesis).
    pub pub_key: String,
    pub power: u64,
    /// The validator's relayer/operator account on the sidechain.
    pub operator: Address,
    /// `0x`-prefixed Ethereum address of the validator's bridge key.
    pub eth_address: String,
}

/// Bridge parameters as written in genesis JSON. Absent (every field at its default) means the
/// chain starts without a bridge; once `contract` is given every field is checked by
/// [`GenesisBridge::validate`], whose errors name the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBridge {
    /// EIP-155 chain id of the L1 the bridge contract lives on.
    #[serde(default)]
    pub l1_chain_id: u64,
    /// `0x`-prefixed address of the L1 Bridge contract, once deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// `0x` and 64 hex digits: the contract's bridge id (EIP-712 domain salt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_id: Option<String>,
    /// L1 block of the contract's creation.
    #[serde(default)]
    pub deploy_block: u64,
    /// L1 blocks a deposit must be buried under before relayers claim it.
    #[serde(default)]
    pub confirmations: u64,
    /// Most withdrawals per batch (default 100, at most 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_max_size: Option<u32>,
    /// Blocks the oldest queued withdrawal waits before a partial batch is cut (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_max_wait_blocks: Option<u64>,
    /// Seconds until L1 refuses to execute a batch (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_timeout_seconds: Option<u64>,
}

/// Default most withdrawals per batch.
pub const DEFAULT_BATCH_MAX_SIZE: u32 = 100;
/// Default blocks a partial batch waits.
pub const DEFAULT_BATCH_MAX_WAIT_BLOCKS: u64 = 20;
/// Default L1 timeout of a batch, in seconds.
pub const DEFAULT_BATCH_TIMEOUT_SECONDS: u64 = 3_600;

impl GenesisBridge {
    /// The validated parameters, `None` when genesis configures no bridge (no `contract` and
    /// every other field at its default).
    ///
    /// Errors: [`GenesisError::Bridge`] naming the field (`bridge.l1_chain_id`,
    /// `bridge.contract`, `bridge.bridge_id`, `bridge.confirmations`, `bridge.batch_max_size`,
    /// `bridge.batch_max_wait_blocks`, `bridge.batch_timeout_seconds`) and what to write instead.
    pub fn validate(&self) -> Result<Option<BridgeParams>, GenesisError> {
        let err = |field: &'static str, reason: String| GenesisError::Bridge { field, reason };
        let Some(contract) = &self.contract else {
            if *self != GenesisBridge::default() {
                return Err(err(
                    "contract",
                    "missing: the other bridge fields are set, so the L1 Bridge contract's address is needed too (or remove the bridge object)".into(),
                ));
            }
            return Ok(None);
        };
        if self.l1_chain_id == 0 {
            return Err(err(
                "l1_chain_id",
                "must be the L1's non-zero EIP-155 chain id (`eth_chainId`)".into(),
            ));
        }
        let contract: EthAddress = contract
            .parse()
            .map_err(|e: crate::eth::EthAddressError| err("contract", e.to_string()))?;
        if contract.is_zero() {
            return Err(err(
                "contract",
                "is the zero address; give the deployed Bridge contract's address".into(),
            ));
        }
        let bridge_id = parse_b256(self.bridge_id.as_deref().unwrap_or_default())
            .map_err(|reason| err("bridge_id", reason))?;
        if bridge_id == [0; 32] {
            return Err(err(
                "bridge_id",
                "is zero; give the deployed contract's bridgeId()".into(),
            ));
        }
        if self.confirmations == 0 || self.confirmations > MAX_CONFIRMATIONS {
            return Err(err(
                "confirmations",
                format!(
                    "{} is outside 1 to {MAX_CONFIRMATIONS} L1 blocks",
                    self.confirmations
                ),
            ));
        }
        let batch_max_size = self.batch_max_size.unwrap_or(DEFAULT_BATCH_MAX_SIZE);
        if batch_max_size == 0 || batch_max_size > MAX_BATCH_SIZE {
            return Err(err(
                "batch_max_size",
                format!(
                    "{batch_max_size} is outside 1 to {MAX_BATCH_SIZE} (the contract executes at most {MAX_BATCH_SIZE} withdrawals per batch)"
                ),
            ));
        }
        let batch_max_wait_blocks = self
            .batch_max_wait_blocks
            .unwrap_or(DEFAULT_BATCH_MAX_WAIT_BLOCKS);
        if batch_max_wait_blocks == 0 {
            return Err(err(
                "batch_max_wait_blocks",
                "must be at least 1 block".into(),
            ));
        }
        let batch_timeout_seconds = self
            .batch_timeout_seconds
            .unwrap_or(DEFAULT_BATCH_TIMEOUT_SECONDS);
        if batch_timeout_seconds < 60 {
            return Err(err(
                "batch_timeout_seconds",
                format!(
                    "{batch_timeout_seconds} s leaves relayers no time to collect signatures and submit; use at least 60"
                ),
            ));
        }
        Ok(Some(BridgeParams {
            l1_chain_id: self.l1_chain_id,
            contract,
            bridge_id,
            deploy_block: self.deploy_block,
            confirmations: self.confirmations,
            batch_max_size,
            batch_max_wait_blocks,
            batch_timeout_seconds,
        }))
    }
}

fn parse_b256(s: &str) -> Result<[u8; 32], String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{s}` must be 0x and 64 hex digits"))?;
    let bytes = hex::decode(digits).map_err(|_| format!("`{s}` is not hexadecimal"))?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("`{s}` holds {} bytes, a bridge id holds 32", bytes.len()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisState {
    pub native_denom: Denom,
    #[serde(default)]
    pub params: Params,
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    pub validators: Vec<GenesisValidator>,
    /// Further denoms known from the start (the native denom always is).
    #[serde(default)]
    pub denoms: Vec<Denom>,
    #[serde(default)]
    pub bridge: GenesisBridge,
}

/// What is wrong with a genesis state; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("app_state is not valid genesis JSON: {0}")]
    Json(String),
    #[error("validators: at least one validator is needed")]
    NoValidators,
    #[error("validators[{index}] ({name}): {reason}")]
    Validator {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("validators: total power {0} exceeds CometBFT's limit {MAX_TOTAL_VOTING_POWER}")]
    TotalPower(u128),
    #[error("accounts[{index}] ({address}): {reason}")]
    Account {
        index: usize,
        address: String,
        reason: String,
    },
    #[error("params.{field}: {reason}")]
    Param { field: &'static str, reason: String },
    #[error("bridge.{field}: {reason}")]
    Bridge { field: &'static str, reason: String },
    #[error("supply of {denom} overflows 128 bits")]
    SupplyOverflow { denom: String },
}

impl GenesisState {
    pub fn from_json(value: &[u8]) -> Result<Self, GenesisError> {
        serde_json::from_slice(value).map_err(|e| GenesisError::Json(e.to_string()))
    }

    /// Checks every rule and returns the registry the state machine stores, sorted by
    /// consensus key.
    pub fn validate(&self) -> Result<Vec<ValidatorInfo>, GenesisError> {
        self.check().map(|checked| checked.registry)
    }

    /// Checks every rule once and returns what the checks derived: the registry and the bridge
    /// parameters. Errors as [`GenesisState::validate`].
    pub fn check(&self) -> Result<CheckedGenesis, GenesisError> {
        let bridge = self.bridge.validate()?;
        if self.params.min_gas_price == 0 {
            return Err(GenesisError::Param {
                field: "min_gas_price",
                reason: "must be at least 1 so that every transaction pays a fee".into(),
            });
        }
        if self.params.max_msgs_per_tx == 0 {
            return Err(GenesisError::Param {
                field: "max_msgs_per_tx",
                reason: "must be at least 1".into(),
            });
        }
        let bps = self.params.max_power_change_per_block_bps;
        if bps == 0 || bps > MAX_POWER_CHANGE_BPS {
            return Err(GenesisError::Param {
                field: "max_power_change_per_block_bps",
                reason: format!(
                    "{bps} is outside 1 to {MAX_POWER_CHANGE_BPS} (below 1/3 of the power, so consecutive sets overlap by more than 2/3)"
                ),
            });
        }
        if self.params.proposal_ttl_blocks == 0 {
            return Err(GenesisError::Param {
                field: "proposal_ttl_blocks",
                reason: "must be at least 1".into(),
            });
        }
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        let mut keys = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut operators = BTreeSet::new();
        let mut eths = BTreeSet::new();
        let mut total: u128 = 0;
        let mut registry = Vec::with_capacity(self.validators.len());
        for (index, v) in self.validators.iter().enumerate() {
            let err = |reason: String| GenesisError::Validator {
                index,
                name: v.name.clone(),
                reason,
            };
            if v.name.is_empty() || v.name.len() > 64 {
                return Err(err("name must be 1 to 64 characters".into()));
            }
            if v.power == 0 {
                return Err(err(
                    "power must be positive (a validator with zero power is no validator)".into(),
                ));
            }
            let consensus_key = decode_pubkey(&v.pub_key).map_err(err)?;
            let eth_address = parse_eth_address(&v.eth_address).map_err(err)?;
            if eth_address.is_zero() {
                return Err(err(
                    "eth_address is the zero address; give the validator's bridge key address"
                        .into(),
                ));
            }
            if !keys.insert(consensus_key) {
                return Err(err(
                    "duplicate consensus key: each validator needs its own".into()
                ));
            }
            if !names.insert(v.name.clone()) {
                return Err(err("duplicate name".into()));
            }
            if v.operator.is_module() {
                return Err(err(format!(
                    "operator {} is a module account, which no key controls",
                    v.operator
                )));
            }
            if !operators.insert(v.operator) {
                return Err(err(format!(
                    "operator {} is already another validator's",
                    v.operator
                )));
            }
            if !eths.insert(eth_address) {
                return Err(err(format!(
                    "eth_address {} is already another validator's",
                    v.eth_address
                )));
            }
            total = total.saturating_add(u128::from(v.power));
            registry.push(ValidatorInfo {
                name: v.name.clone(),
                consensus_key,
                power: v.power,
                operator: v.operator,
                eth_address,
            });
        }
        if total > u128::from(MAX_TOTAL_VOTING_POWER) {
            return Err(GenesisError::TotalPower(total));
        }
        let mut seen = BTreeSet::new();
        for (index, a) in self.accounts.iter().enumerate() {
            let err = |reason: String| GenesisError::Account {
                index,
                address: a.address.to_string(),
                reason,
            };
            if !seen.insert(a.address) {
                return Err(err("listed twice; merge its balances into one entry".into()));
            }
            let mut denoms = BTreeSet::new();
            for c in &a.balances {
                if !denoms.insert(c.denom.clone()) {
                    return Err(err(format!("denom {} listed twice", c.denom)));
                }
                if c.amount == 0 {
                    return Err(err(format!("zero balance of {}; leave it out", c.denom)));
                }
            }
        }
        // Supplies must fit.
        let mut supplies = std::collections::BTreeMap::<&Denom, u128>::new();
        for a in &self.accounts {
            for c in &a.balances {
                let s = supplies.entry(&c.denom).or_insert(0);
                *s = s
                    .checked_add(c.amount)
                    .ok_or_else(|| GenesisError::SupplyOverflow {
                        denom: c.denom.to_string(),
                    })?;
            }
        }
        registry.sort_by_key(|v| v.consensus_key);
        Ok(CheckedGenesis { registry, bridge })
    }
}

/// What [`GenesisState::check`] derives from a valid genesis state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedGenesis {
    /// The validator registry, sorted by consensus key.
    pub registry: Vec<ValidatorInfo>,
    /// The bridge parameters; `None` when genesis configures no bridge.
    pub bridge: Option<BridgeParams>,
}

/// Decodes a base64 ed25519 public key.
pub fn decode_pubkey(b64: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("pub_key `{b64}` is not base64: {e}"))?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "pub_key holds {} bytes, an ed25519 key holds 32",
            bytes.len()
        )
    })?;
    ed25519_consensus::VerificationKey::try_from(key)
        .map_err(|_| "pub_key is not a valid ed25519 point".to_string())?;
    if crate::ed25519::is_small_order(&key) {
        return Err(
            "pub_key has small order: anyone could forge this validator's votes; use the key `cometbft init` generated"
                .into(),
        );
    }
    Ok(key)
}

/// Parses an Ethereum address (see [`EthAddress`]'s rules), naming the field in the error.
pub fn parse_eth_address(s: &str) -> Result<EthAddress, String> {
    s.parse::<EthAddress>()
        .map_err(|e| format!("eth_address: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(seed: u8, power: u64) -> GenesisValidator {
        let key = ed25519_consensus::SigningKey::from([seed; 32]);
        GenesisValidator {
            name: format!("node{seed}"),
            pub_key: base64::engine::general_purpose::STANDARD
                .encode(key.verification_key().to_bytes()),
            power,
            operator: Address::from_pubkey(&[seed; 32]),
            eth_address: format!("0x{}", hex::encode([seed; 20])),
        }
    }

    fn state(validators: Vec<GenesisValidator>) -> GenesisState {
        GenesisState {
            native_denom: Denom::new("side").unwrap(),
            params: Params::default(),
            accounts: vec![],
            validators,
            denoms: vec![],
            bridge: GenesisBridge::default(),
        }
    }

    #[test]
    fn rejects_duplicate_validators_zero_power_and_bad_keys() {
        assert!(state(vec![validator(1, 1), validator(2, 1)])
            .validate()
            .is_ok());
        let mut dup = validator(1, 1);
        dup.name = "other".into();
        dup.operator = Address::from_pubkey(&[99; 32]);
        dup.eth_address = format!("0x{}", hex::encode([99u8; 20]));
        let e = state(vec![validator(1, 1), dup]).validate().unwrap_err();
        assert!(e.to_string().contains("duplicate consensus key"), "{e}");
        let e = state(vec![validator(1, 0)]).validate().unwrap_err();
        assert!(e.to_string().contains("power must be positive"), "{e}");
        let mut bad = validator(1, 1);
        bad.pub_key = "not base64!".into();
        assert!(state(vec![bad])
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not base64"));
        let mut bad = validator(1, 1);
        bad.eth_address = "0x1234".into();
        assert!(state(vec![bad])
            .validate()
            .unwrap_err()
            .to_string()
            .contains("holds 4 hex digits"));
        assert_eq!(
            state(vec![]).validate().unwrap_err(),
            GenesisError::NoValidators
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = br#"{"native_denom":"side","validators":[],"surprise":1}"#;
        assert!(GenesisState::from_json(json)
            .unwrap_err()
            .to_string()
            .contains("surprise"));
    }

    fn configured_bridge() -> GenesisBridge {
        GenesisBridge {
            l1_chain_id: 1337,
            contract: Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into()),
            bridge_id: Some(format!("0x{}", "ab".repeat(32))),
            deploy_block: 7,
            confirmations: 2,
            batch_max_size: None,
            batch_max_wait_blocks: None,
            batch_timeout_seconds: None,
        }
    }

    #[test]
    fn bridge_params_validate_with_defaults_and_absent_means_no_bridge() {
        assert_eq!(GenesisBridge::default().validate().unwrap(), None);
        let p = configured_bridge().validate().unwrap().unwrap();
        assert_eq!(p.l1_chain_id, 1337);
        assert_eq!(
            p.contract.to_string(),
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        );
        assert_eq!(p.bridge_id, [0xab; 32]);
        assert_eq!(p.deploy_block, 7);
        assert_eq!(p.batch_max_size, DEFAULT_BATCH_MAX_SIZE);
        assert_eq!(p.batch_max_wait_blocks, DEFAULT_BATCH_MAX_WAIT_BLOCKS);
        assert_eq!(p.batch_timeout_seconds, DEFAULT_BATCH_TIMEOUT_SECONDS);
    }

    #[test]
    fn each_invalid_bridge_field_gives_an_error_naming_it() {
        type Edit = fn(&mut GenesisBridge);
        let cases: [(&str, Edit); 13] = [
            ("l1_chain_id", |b| b.l1_chain_id = 0),
            ("contract", |b| b.contract = Some("0x1234".into())),
            ("contract", |b| {
                b.contract = Some(format!("0x{}", "0".repeat(40)))
            }),
            ("contract", |b| {
                b.contract = Some("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into())
            }),
            ("contract", |b| {
                b.contract = None;
            }),
            ("bridge_id", |b| b.bridge_id = None),
            ("bridge_id", |b| {
                b.bridge_id = Some(format!("0x{}", "00".repeat(32)))
            }),
            ("bridge_id", |b| b.bridge_id = Some("0xabcd".into())),
            ("confirmations", |b| b.confirmations = 0),
            ("confirmations", |b| b.confirmations = MAX_CONFIRMATIONS + 1),
            ("batch_max_size", |b| {
                b.batch_max_size = Some(MAX_BATCH_SIZE + 1)
            }),
            ("batch_max_wait_blocks", |b| {
                b.batch_max_wait_blocks = Some(0)
            }),
            ("batch_timeout_seconds", |b| {
                b.batch_timeout_seconds = Some(59)
            }),
        ];
        for (field, edit) in cases {
            let mut b = configured_bridge();
            edit(&mut b);
            let e = b.validate().unwrap_err();
            assert!(
                matches!(&e, GenesisError::Bridge { field: f, .. } if *f == field),
                "{field}: {e}"
            );
            assert!(
                e.to_string().starts_with(&format!("bridge.{field}: ")),
                "{e}"
            );
            // The whole genesis refuses it too.
            let mut g = state(vec![validator(1, 1)]);
            g.bridge = b;
            assert_eq!(g.validate().unwrap_err(), e);
        }
        let e = state(vec![validator(1, 1)]);
        let mut zero = e.clone();
        zero.validators[0].eth_address = format!("0x{}", "0".repeat(40));
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("zero address"));
    }
}
