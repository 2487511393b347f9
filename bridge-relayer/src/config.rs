//! `relayer.toml`: where the relayer finds both chains, how it decides that an L1 event is
//! final, and how it batches its claims. Unknown fields are refused; [`Config::validate`]
//! checks every value and names the field and the fix.
//!
//! ```toml
//! [sidechain]
//! rpc = "http://127.0.0.1:26657"      # CometBFT RPC of the validator's own node
//! chain_id = "sidechain-local"
//! operator_key = "operator"           # key name in <home>/keys/ (a 0600 file)
//!
//! [l1]
//! rpc = "http://127.0.0.1:8545"
//! chain_id = 1337
//! bridge = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
//! bridge_id = "0x…32 bytes…"
//! start_block = 1                     # the contract's deploy block
//! finality = "depth"                  # or "finalized" (the L1 `finalized` tag)
//! confirmations = 2                   # L1 blocks on top of the event's block ("depth")
//! bridge_key = "bridge/eth_key.json"  # the validator's Ethereum bridge key (relative: to home)
//!
//! [relayer]
//! metrics = "127.0.0.1:26665"
//!
//! [mesh]                              # optional: the relayer mesh (crate::mesh::config)
//! listen = "/ip4/127.0.0.1/tcp/26676"
//! peers = ["/ip4/127.0.0.1/tcp/26686/p2p/12D3KooW..."]
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sidechain_types::{
    bridge::{MAX_CLAIMS_PER_MSG, MAX_CONFIRMATIONS},
    EthAddress,
};

use crate::{signer::BridgeKey, Error, Result};

/// The config file's name inside a relayer home.
pub const FILE_NAME: &str = "relayer.toml";
/// Widest L1 block range asked for in one `eth_getLogs` call, by default.
pub const DEFAULT_MAX_BLOCK_RANGE: u64 = 1_000;
/// Widest range accepted (public endpoints refuse far less; 10,000 is a common cap).
pub const MAX_BLOCK_RANGE: u64 = 10_000;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sidechain: SidechainConfig,
    pub l1: L1Config,
    #[serde(default)]
    pub relayer: RelayerConfig,
    /// The relayer mesh; absent: no mesh, L1 transactions are sent in the chain's turn order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<crate::mesh::config::MeshConfig>,
}

/// The sidechain side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidechainConfig {
    /// CometBFT RPC URL (http) of a node of the sidechain, normally the validator's own.
    pub rpc: String,
    /// The sidechain's chain id; the relayer refuses a node of another chain.
    pub chain_id: String,
    /// Name of the operator key in `<home>/keys/` (`<name>.json`, mode 0600): the validator's
    /// registered operator account, which signs and pays for the claim transactions.
    #[serde(default = "default_operator_key")]
    pub operator_key: String,
}

fn default_operator_key() -> String {
    "operator".into()
}

/// How an L1 block becomes final enough to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finality {
    /// `confirmations` blocks on top of the event's block (dev chains, whose `finalized` tag
    /// lags by 32 to 64 blocks).
    Depth,
    /// The L1 node's `finalized` block (proof-of-stake Ethereum).
    Finalized,
}

/// The L1 side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Config {
    /// JSON-RPC URL (http) of an L1 node.
    pub rpc: String,
    /// EIP-155 chain id the node must report (`eth_chainId`).
    pub chain_id: u64,
    /// Address of the `Bridge` contract; the relayer reads events from this address only.
    pub bridge: String,
    /// The contract's bridge id (0x + 64 hex digits); must equal the contract's `bridgeId()`.
    pub bridge_id: String,
    /// First L1 block to read events from (the contract's deploy block).
    pub start_block: u64,
    pub finality: Finality,
    /// With `finality = "depth"`: L1 blocks that must follow an event's block before it is
    /// claimed (1 to 4,096). Ignored with `"finalized"`.
    #[serde(default)]
    pub confirmations: u64,
    /// Widest block range per `eth_getLogs` call (1 to 10,000).
    #[serde(default = "default_max_block_range")]
    pub max_block_range: u64,
    /// Milliseconds between polls of the L1 head (at least 50).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// The validator's Ethereum bridge key file (`{"address", "private_key"}`, mode 0600, as
    /// genesis writes it), relative to the relayer home unless absolute. It signs batch and
    /// signer-set digests and pays the gas of the L1 transactions the relayer sends, so its
    /// address needs ether on L1.
    #[serde(default = "default_bridge_key")]
    pub bridge_key: PathBuf,
}

/// Where genesis writes the bridge key inside a relayer home.
pub const DEFAULT_BRIDGE_KEY: &str = "bridge/eth_key.json";

fn default_bridge_key() -> PathBuf {
    PathBuf::from(DEFAULT_BRIDGE_KEY)
}

fn default_max_block_range() -> u64 {
    DEFAULT_MAX_BLOCK_RANGE
}

fn default_poll_ms() -> u64 {
    1_000
}

/// The relayer's own behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// Where `GET /metrics` and `GET /health` listen (none: no endpoint).
    #[serde(default)]
    pub metrics: Option<SocketAddr>,
    /// Most deposit claims per sidechain transaction (1 to the chain's limit, 100).
    #[serde(default = "default_max_claims")]
    pub max_claims_per_tx: usize,
    /// First wait after a failed call to either chain, in milliseconds; doubles per failure.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest wait between retries, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// Seconds to wait for a claim transaction to be committed before asking the chain again.
    #[serde(default = "default_tx_timeout_secs")]
    pub tx_timeout_secs: u64,
}

fn default_max_claims() -> usize {
    MAX_CLAIMS_PER_MSG
}
fn default_retry_initial_ms() -> u64 {
    500
}
fn default_retry_max_ms() -> u64 {
    30_000
}
fn default_tx_timeout_secs() -> u64 {
    30
}

impl Default for RelayerConfig {
    fn default() -> Self {
        RelayerConfig {
            metrics: None,
            max_claims_per_tx: default_max_claims(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_ms: default_retry_max_ms(),
            tx_timeout_secs: default_tx_timeout_secs(),
        }
    }
}

/// The checked values the relayer runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub bridge: EthAddress,
    pub bridge_id: [u8; 32],
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<(Config, Checked)> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            field: "-".into(),
            reason: format!(
                "cannot read it ({e}); write one (see the fields in bridge-relayer/README.md; `testnet up` writes one per validator) or give --config"
            ),
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            field: "-".into(),
            reason: e.to_string(),
        })?;
        let checked = config.validate(path)?;
        Ok((config, checked))
    }

    /// Writes the file (refusing to overwrite one).
    pub fn save_new(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            field: "-".into(),
            reason: e.to_string(),
        })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        f.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
    }

    /// Checks every value; the error names the field and what to put there.
    pub fn validate(&self, path: &Path) -> Result<Checked> {
        let bad = |field: &str, reason: String| Error::Config {
            path: path.to_path_buf(),
            field: field.into(),
            reason,
        };
        check_url(&self.sidechain.rpc).map_err(|r| bad("sidechain.rpc", r))?;
        if self.sidechain.chain_id.trim().is_empty() {
            return Err(bad(
                "sidechain.chain_id",
                "is empty; give the sidechain's chain id (`sidechain status` shows it)".into(),
            ));
        }
        if self.sidechain.operator_key.is_empty() {
            return Err(bad(
                "sidechain.operator_key",
                "is empty; name the key file in <home>/keys/ (default `operator`)".into(),
            ));
        }
        check_url(&self.l1.rpc).map_err(|r| bad("l1.rpc", r))?;
        if self.l1.chain_id == 0 {
            return Err(bad(
                "l1.chain_id",
                "is 0; give the L1's EIP-155 chain id (1337 for geth --dev)".into(),
            ));
        }
        let bridge = EthAddress::from_str(&self.l1.bridge).map_err(|e| {
            bad(
                "l1.bridge",
                format!("{e}; give the Bridge contract's address"),
            )
        })?;
        if bridge.is_zero() {
            return Err(bad(
                "l1.bridge",
                "is the zero address; give the Bridge contract's address".into(),
            ));
        }
        let bridge_id = parse_hex32(&self.l1.bridge_id).map_err(|r| bad("l1.bridge_id", r))?;
        if bridge_id == [0; 32] {
            return Err(bad(
                "l1.bridge_id",
                "is zero; give the contract's bridgeId() (the sidechain's genesis bridge.bridge_id)"
                    .into(),
            ));
        }
        if self.l1.finality == Finality::Depth
            && !(1..=MAX_CONFIRMATIONS).contains(&self.l1.confirmations)
        {
            return Err(bad(
                "l1.confirmations",
                format!(
                    "is {}; with finality = \"depth\" give 1 to {MAX_CONFIRMATIONS} blocks (the sidechain's bridge.confirmations)",
                    self.l1.confirmations
                ),
            ));
        }
        if !(1..=MAX_BLOCK_RANGE).contains(&self.l1.max_block_range) {
            return Err(bad(
                "l1.max_block_range",
                format!(
                    "is {}; give 1 to {MAX_BLOCK_RANGE} blocks",
                    self.l1.max_block_range
                ),
            ));
        }
        if self.l1.poll_interval_ms < 50 {
            return Err(bad(
                "l1.poll_interval_ms",
                format!("is {}; give at least 50", self.l1.poll_interval_ms),
            ));
        }
        if self.l1.bridge_key.as_os_str().is_empty() {
            return Err(bad(
                "l1.bridge_key",
                format!("is empty; give the validator's Ethereum bridge key file (default {DEFAULT_BRIDGE_KEY})"),
            ));
        }
        if !(1..=MAX_CLAIMS_PER_MSG).contains(&self.relayer.max_claims_per_tx) {
            return Err(bad(
                "relayer.max_claims_per_tx",
                format!(
                    "is {}; give 1 to {MAX_CLAIMS_PER_MSG}",
                    self.relayer.max_claims_per_tx
                ),
            ));
        }
        if self.relayer.retry_initial_ms == 0
            || self.relayer.retry_max_ms < self.relayer.retry_initial_ms
        {
            return Err(bad(
                "relayer.retry_initial_ms",
                "must be at least 1 and at most relayer.retry_max_ms".into(),
            ));
        }
        if self.relayer.tx_timeout_secs == 0 {
            return Err(bad(
                "relayer.tx_timeout_secs",
                "is 0; give the seconds to wait for a claim to commit (for example 30)".into(),
            ));
        }
        if let Some(mesh) = &self.mesh {
            mesh.parse()
                .map_err(|(field, reason)| bad(&field, reason))?;
        }
        Ok(Checked { bridge, bridge_id })
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.l1.poll_interval_ms)
    }

    /// The bridge key file: `l1.bridge_key`, resolved against the relayer `home` when
    /// relative.
    pub fn bridge_key_path(&self, home: &Path) -> PathBuf {
        if self.l1.bridge_key.is_absolute() {
            self.l1.bridge_key.clone()
        } else {
            home.join(&self.l1.bridge_key)
        }
    }

    /// Reads and checks the bridge key (see [`BridgeKey::load`]); `path` is the config file,
    /// named in errors with the field `l1.bridge_key`.
    pub fn load_bridge_key(&self, home: &Path, path: &Path) -> Result<BridgeKey> {
        BridgeKey::load(&self.bridge_key_path(home), path)
    }
}

fn check_url(url: &str) -> std::result::Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("`{url}` is not an http(s) URL; give one like http://127.0.0.1:8545")
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!(
            "`{url}` names no host; give one like http://127.0.0.1:8545"
        ));
    }
    Ok(())
}

/// Parses `0x` + 64 hex digits.
pub fn parse_hex32(s: &str) -> std::result::Result<[u8; 32], String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(digits).map_err(|_| format!("`{s}` is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| format!("`{s}` is not 32 bytes (0x + 64 hex digits)"))
}

/// The default config path inside a relayer home.
pub fn default_path(home: &Path) -> PathBuf {
    home.join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Config {
        Config {
            sidechain: SidechainConfig {
                rpc: "http://127.0.0.1:26657".into(),
                chain_id: "sidechain-local".into(),
                operator_key: "operator".into(),
            },
            l1: L1Config {
                rpc: "http://127.0.0.1:8545".into(),
                chain_id: 1337,
                bridge: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
                bridge_id: format!("0x{}", "11".repeat(32)),
                start_block: 1,
                finality: Finality::Depth,
                confirmations: 2,
                max_block_range: 1000,
                poll_interval_ms: 1000,
                bridge_key: default_bridge_key(),
            },
            relayer: RelayerConfig::default(),
            mesh: None,
        }
    }

    fn field_of(c: &Config) -> String {
        match c.validate(Path::new("relayer.toml")) {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn sample_is_valid_and_round_trips() {
        let c = sample();
        let checked = c.validate(Path::new("x")).expect("valid");
        assert_eq!(checked.bridge_id, [0x11; 32]);
        let text = toml::to_string_pretty(&c).expect("toml");
        let back: Config = toml::from_str(&text).expect("parse");
        assert_eq!(back, c);
    }

    type Edit = Box<dyn Fn(&mut Config)>;

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, Edit)> = vec![
            (
                "sidechain.rpc",
                Box::new(|c| c.sidechain.rpc = "localhost:1".into()),
            ),
            (
                "sidechain.chain_id",
                Box::new(|c| c.sidechain.chain_id = " ".into()),
            ),
            ("l1.rpc", Box::new(|c| c.l1.rpc = "http://".into())),
            ("l1.chain_id", Box::new(|c| c.l1.chain_id = 0)),
            ("l1.bridge", Box::new(|c| c.l1.bridge = "0x1234".into())),
            (
                "l1.bridge",
                Box::new(|c| c.l1.bridge = format!("0x{}", "00".repeat(20))),
            ),
            ("l1.bridge_id", Box::new(|c| c.l1.bridge_id = "0x12".into())),
            (
                "l1.bridge_id",
                Box::new(|c| c.l1.bridge_id = format!("0x{}", "00".repeat(32))),
            ),
            ("l1.confirmations", Box::new(|c| c.l1.confirmations = 0)),
            ("l1.confirmations", Box::new(|c| c.l1.confirmations = 5000)),
            ("l1.max_block_range", Box::new(|c| c.l1.max_block_range = 0)),
            (
                "l1.poll_interval_ms",
                Box::new(|c| c.l1.poll_interval_ms = 1),
            ),
            (
                "l1.bridge_key",
                Box::new(|c| c.l1.bridge_key = PathBuf::new()),
            ),
            (
                "relayer.max_claims_per_tx",
                Box::new(|c| c.relayer.max_claims_per_tx = 1000),
            ),
            (
                "relayer.retry_initial_ms",
                Box::new(|c| c.relayer.retry_initial_ms = 0),
            ),
        ];
        for (field, mutate) in cases {
            let mut c = sample();
            mutate(&mut c);
            assert_eq!(field_of(&c), field);
        }
    }

    #[test]
    fn the_bridge_key_defaults_into_the_home_and_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = toml::to_string_pretty(&sample()).expect("toml");
        text = text.replace("bridge_key = \"bridge/eth_key.json\"\n", "");
        let c: Config = toml::from_str(&text).expect("parse without bridge_key");
        assert_eq!(
            c.bridge_key_path(dir.path()),
            dir.path().join("bridge/eth_key.json")
        );
        let mut abs = c.clone();
        abs.l1.bridge_key = PathBuf::from("/keys/k.json");
        assert_eq!(
            abs.bridge_key_path(dir.path()),
            PathBuf::from("/keys/k.json")
        );
        match c.load_bridge_key(dir.path(), Path::new("relayer.toml")) {
            Err(Error::Config { field, reason, .. }) => {
                assert_eq!(field, "l1.bridge_key");
                assert!(reason.contains("cannot read"), "{reason}");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn the_mesh_section_is_optional_checked_and_round_trips() {
        let mut c = sample();
        let text = toml::to_string_pretty(&c).expect("toml");
        assert!(!text.contains("[mesh]"));
        c.mesh = Some(crate::mesh::config::MeshConfig::new(
            "/ip4/127.0.0.1/tcp/26676".into(),
            Vec::new(),
        ));
        assert!(c.validate(Path::new("x")).is_ok());
        let text = toml::to_string_pretty(&c).expect("toml");
        let back: Config = toml::from_str(&text).expect("parse");
        assert_eq!(back, c);
        if let Some(m) = c.mesh.as_mut() {
            m.listen = "tcp://127.0.0.1:1".into();
        }
        assert_eq!(field_of(&c), "mesh.listen");
        let bad = text.replace("[mesh]", "[mesh]\nlisten_on = 1");
        assert!(toml::from_str::<Config>(&bad).is_err());
    }

    #[test]
    fn finalized_mode_ignores_confirmations() {
        let mut c = sample();
        c.l1.finality = Finality::Finalized;
        c.l1.confirmations = 0;
        assert!(c.validate(Path::new("x")).is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut text = toml::to_string_pretty(&sample()).expect("toml");
        text = text.replace("[l1]", "[l1]\nconfirmation = 3");
        assert!(toml::from_str::<Config>(&text).is_err());
    }
}
