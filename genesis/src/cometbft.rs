//! CometBFT's files: the genesis document (with our `app_state`) and each node's
//! `config.toml`.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::{Deserialize, Serialize};
use sidechain_types::GenesisState;

use crate::{
    keys::{cometbft_address, TypedKey, PUBKEY_TYPE},
    ports::NodePorts,
    Error, Result,
};

/// CometBFT v0.38's genesis document. Integers CometBFT encodes as strings stay strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenesisDoc {
    pub genesis_time: String,
    pub chain_id: String,
    #[serde(default = "one")]
    pub initial_height: String,
    pub consensus_params: serde_json::Value,
    #[serde(default)]
    pub validators: Vec<DocValidator>,
    #[serde(default)]
    pub app_hash: String,
    pub app_state: serde_json::Value,
}

fn one() -> String {
    "1".into()
}

/// A validator entry of the genesis document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocValidator {
    pub address: String,
    pub pub_key: TypedKey,
    pub power: String,
    pub name: String,
}

/// Consensus parameters for a local network: CometBFT's defaults, ed25519 validators, vote
/// extensions off.
pub fn consensus_params() -> serde_json::Value {
    serde_json::json!({
        "block": { "max_bytes": "22020096", "max_gas": "-1" },
        "evidence": {
            "max_age_num_blocks": "100000",
            "max_age_duration": "172800000000000",
            "max_bytes": "1048576"
        },
        "validator": { "pub_key_types": ["ed25519"] },
        "version": { "app": "0" },
        "abci": { "vote_extensions_enable_height": "0" }
    })
}

impl GenesisDoc {
    /// The document for `app_state`; its validators are the app_state's registry, so the two
    /// agree by construction (the node refuses InitChain otherwise).
    pub fn new(chain_id: &str, genesis_time: String, app_state: &GenesisState) -> Result<Self> {
        app_state
            .validate()
            .map_err(|e| Error::Genesis(e.to_string()))?;
        let validators = app_state
            .validators
            .iter()
            .map(|v| {
                let key =
                    sidechain_types::genesis::decode_pubkey(&v.pub_key).map_err(Error::Genesis)?;
                Ok(DocValidator {
                    address: hex::encode_upper(cometbft_address(&key)),
                    pub_key: TypedKey {
                        kind: PUBKEY_TYPE.into(),
                        value: v.pub_key.clone(),
                    },
                    power: v.power.to_string(),
                    name: v.name.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let app_state =
            serde_json::to_value(app_state).map_err(|e| Error::Genesis(e.to_string()))?;
        Ok(GenesisDoc {
            genesis_time,
            chain_id: chain_id.to_string(),
            initial_height: one(),
            consensus_params: consensus_params(),
            validators,
            app_hash: String::new(),
            app_state,
        })
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Genesis(format!("not a CometBFT genesis document: {e}")))
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self).map_err(|e| Error::Genesis(e.to_string()))?;
        out.push(b'\n');
        Ok(out)
    }

    /// The app_state, parsed and validated, and checked against the document's validators.
    pub fn check(&self) -> Result<GenesisState> {
        if self.chain_id.is_empty() || self.chain_id.len() > 50 {
            return Err(Error::Genesis("chain_id must be 1 to 50 characters".into()));
        }
        let bytes =
            serde_json::to_vec(&self.app_state).map_err(|e| Error::Genesis(e.to_string()))?;
        let state = GenesisState::from_json(&bytes).map_err(|e| Error::Genesis(e.to_string()))?;
        state
            .validate()
            .map_err(|e| Error::Genesis(format!("app_state.{e}")))?;
        let mut doc_set = BTreeMap::new();
        for (i, v) in self.validators.iter().enumerate() {
            if v.pub_key.kind != PUBKEY_TYPE {
                return Err(Error::Genesis(format!(
                    "validators[{i}] ({}): key type `{}`; only {PUBKEY_TYPE} is allowed",
                    v.name, v.pub_key.kind
                )));
            }
            let key = sidechain_types::genesis::decode_pubkey(&v.pub_key.value)
                .map_err(|e| Error::Genesis(format!("validators[{i}] ({}): {e}", v.name)))?;
            if !v.address.is_empty()
                && !v
                    .address
                    .eq_ignore_ascii_case(&hex::encode(cometbft_address(&key)))
            {
                return Err(Error::Genesis(format!(
                    "validators[{i}] ({}): address {} does not belong to its pub_key",
                    v.name, v.address
                )));
            }
            let power: u64 = v.power.parse().map_err(|_| {
                Error::Genesis(format!(
                    "validators[{i}] ({}): power `{}` is not a number",
                    v.name, v.power
                ))
            })?;
            if doc_set.insert(B64.encode(key), power).is_some() {
                return Err(Error::Genesis(format!(
                    "validators[{i}] ({}): duplicate consensus key",
                    v.name
                )));
            }
        }
        let app_set: BTreeMap<String, u64> = state
            .validators
            .iter()
            .map(|v| (v.pub_key.clone(), v.power))
            .collect();
        if doc_set != app_set {
            return Err(Error::Genesis(
                "the document's validators differ from app_state.validators (keys or powers); the node refuses to start with such a genesis".into(),
            ));
        }
        Ok(state)
    }
}

/// CometBFT's `[mempool] size` in the networks this crate writes; each node's `sidechaind` is
/// started with the same `--mempool-size`.
pub const MEMPOOL_SIZE: usize = 10_000;

/// What a node's `config.toml` needs to know.
#[derive(Debug, Clone)]
pub struct NodeConfig<'a> {
    pub moniker: &'a str,
    pub ports: NodePorts,
    /// `id@127.0.0.1:port` of every other node.
    pub persistent_peers: Vec<String>,
    pub block_time_ms: u64,
    /// Where the application serves ABCI.
    pub abci: crate::AbciEndpoint,
}

impl NodeConfig<'_> {
    /// A complete enough `config.toml`: CometBFT fills every key not written here with its
    /// default.
    pub fn render(&self) -> String {
        let NodePorts {
            p2p,
            rpc,
            cometbft_metrics,
            ..
        } = self.ports;
        let peers = self.persistent_peers.join(",");
        let commit = self.block_time_ms;
        let proxy_app = self.abci.proxy_app();
        let mempool_size = MEMPOOL_SIZE;
        let moniker = &self.moniker;
        format!(
            r#"# CometBFT configuration of {moniker}, written by sidechain-genesis for a local network.
# Keys left out take CometBFT's defaults.

proxy_app = "{proxy_app}"
moniker = "{moniker}"
abci = "socket"
db_backend = "goleveldb"
db_dir = "data"
log_level = "info"
log_format = "plain"
genesis_file = "config/genesis.json"
priv_validator_key_file = "config/priv_validator_key.json"
priv_validator_state_file = "data/priv_validator_state.json"
node_key_file = "config/node_key.json"
filter_peers = false

[rpc]
laddr = "tcp://127.0.0.1:{rpc}"
cors_allowed_origins = ["*"]
max_open_connections = 900
max_subscription_clients = 100
timeout_broadcast_tx_commit = "10s"
pprof_laddr = ""

[p2p]
laddr = "tcp://127.0.0.1:{p2p}"
external_address = ""
seeds = ""
persistent_peers = "{peers}"
addr_book_strict = false
allow_duplicate_ip = true
pex = true
max_num_inbound_peers = 40
max_num_outbound_peers = 10
flush_throttle_timeout = "10ms"
send_rate = 20971520
recv_rate = 20971520
handshake_timeout = "10s"
dial_timeout = "2s"

[mempool]
# sidechaind replays waiting transactions against each new state itself and is started with
# --mempool-size equal to `size`. Recheck stays on so CometBFT drops what no longer passes (a
# nonce another transaction used); sidechaind answers the rest from its replay by hash (ADR 7).
type = "flood"
recheck = true
broadcast = true
size = {mempool_size}
max_txs_bytes = 1073741824
cache_size = 20000

[consensus]
timeout_propose = "1s"
timeout_propose_delta = "200ms"
timeout_prevote = "500ms"
timeout_prevote_delta = "200ms"
timeout_precommit = "500ms"
timeout_precommit_delta = "200ms"
timeout_commit = "{commit}ms"
skip_timeout_commit = false
create_empty_blocks = true
create_empty_blocks_interval = "0s"
peer_gossip_sleep_duration = "50ms"
peer_query_maj23_sleep_duration = "1s"

[tx_index]
indexer = "kv"

[instrumentation]
prometheus = true
prometheus_listen_addr = "127.0.0.1:{cometbft_metrics}"
namespace = "cometbft"
"#
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidechain_types::{genesis::GenesisBridge, Address, Denom, GenesisValidator, Params};

    fn state() -> GenesisState {
        let key = crate::keys::ConsensusKey::from_seed([3; 32]);
        GenesisState {
            native_denom: Denom::new("side").unwrap(),
            params: Params::default(),
            accounts: vec![],
            validators: vec![GenesisValidator {
                name: "node0".into(),
                pub_key: key.pub_key_base64(),
                power: 10,
                operator: Address::from_pubkey(&[1; 32]),
                eth_address: format!("0x{}", hex::encode([2u8; 20])),
            }],
            denoms: vec![],
            bridge: GenesisBridge::default(),
        }
    }

    #[test]
    fn document_round_trips_and_checks() {
        let doc = GenesisDoc::new("c-1", "2026-01-01T00:00:00Z".into(), &state()).unwrap();
        let back = GenesisDoc::from_json(&doc.to_json().unwrap()).unwrap();
        assert_eq!(back.check().unwrap(), state());
        assert_eq!(back.validators[0].power, "10");
    }

    #[test]
    fn mismatched_validators_are_refused() {
        let mut doc = GenesisDoc::new("c-1", "2026-01-01T00:00:00Z".into(), &state()).unwrap();
        doc.validators[0].power = "11".into();
        assert!(doc.check().unwrap_err().to_string().contains("differ"));
        let mut doc = GenesisDoc::new("c-1", "2026-01-01T00:00:00Z".into(), &state()).unwrap();
        doc.validators[0].pub_key.value = "???".into();
        assert!(doc.check().unwrap_err().to_string().contains("not base64"));
    }

    #[test]
    fn config_is_valid_toml_with_the_ports() {
        let ports = NodePorts::for_node(30_000, 1).unwrap();
        let cfg = NodeConfig {
            moniker: "node1",
            ports,
            persistent_peers: vec!["ab@127.0.0.1:30000".into()],
            block_time_ms: 700,
            abci: crate::AbciEndpoint::Tcp(ports.abci),
        };
        let parsed: toml::Value = toml::from_str(&cfg.render()).unwrap();
        assert_eq!(parsed["proxy_app"].as_str(), Some("tcp://127.0.0.1:30012"));
        let socket = NodeConfig {
            abci: crate::NodePaths::new("/srv/net/nodes/node1").abci_endpoint(ports.abci),
            ..cfg
        };
        let parsed: toml::Value = toml::from_str(&socket.render()).unwrap();
        assert_eq!(
            parsed["proxy_app"].as_str(),
            Some("unix:///srv/net/nodes/node1/run/abci.sock")
        );
        let deep = crate::NodePaths::new(format!("/{}", "d".repeat(120)));
        assert_eq!(
            deep.abci_endpoint(30_012),
            crate::AbciEndpoint::Tcp(30_012),
            "a socket path the kernel cannot take falls back to TCP"
        );
        assert_eq!(
            parsed["rpc"]["laddr"].as_str(),
            Some("tcp://127.0.0.1:30011")
        );
        assert_eq!(
            parsed["p2p"]["persistent_peers"].as_str(),
            Some("ab@127.0.0.1:30000")
        );
        assert_eq!(
            parsed["consensus"]["timeout_commit"].as_str(),
            Some("700ms")
        );
        assert_eq!(parsed["p2p"]["addr_book_strict"].as_bool(), Some(false));
    }
}
