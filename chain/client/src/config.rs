//! `<home>/client.toml`: defaults for the CLI (the node to talk to, what proven queries trust).
//! Flags override it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{light::TrustAnchor, Error, Result};

pub const FILE_NAME: &str = "client.toml";
pub const DEFAULT_NODE: &str = "http://127.0.0.1:26657";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// CometBFT RPC URL of the node to use.
    #[serde(default = "default_node")]
    pub node: String,
    /// Default L1 JSON-RPC URL of the bridge commands (`testnet up` writes its local L1's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_rpc: Option<String>,
    /// Default file holding the hex secp256k1 key the bridge commands sign L1 transactions
    /// with (mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_key_file: Option<std::path::PathBuf>,
    /// Default address of the L1 `Bridge` contract (otherwise read from the chain's bridge
    /// parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// The chain's CometBFT `genesis.json`, whose validators proven queries verify headers
    /// from (relative paths are relative to the client home). `genesis` writes the network's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_genesis: Option<PathBuf>,
    /// Height of a header trusted instead of the genesis (with `trust_hash`); it wins over
    /// `trusted_genesis` when both are set, being the more recent anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_height: Option<u64>,
    /// Hex hash of the header at `trust_height`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_hash: Option<String>,
}

fn default_node() -> String {
    DEFAULT_NODE.to_string()
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            node: default_node(),
            l1_rpc: None,
            l1_key_file: None,
            bridge: None,
            trusted_genesis: None,
            trust_height: None,
            trust_hash: None,
        }
    }
}

impl ClientConfig {
    /// Reads `<home>/client.toml`, or the defaults when there is none.
    pub fn load(home: &Path) -> Result<Self> {
        let path = home.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(s) => toml::from_str(&s).map_err(|e| Error::Config {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// What proven queries trust by this configuration at `home`: the header of
    /// `trust_height`/`trust_hash`, else `trusted_genesis`, else nothing. Giving only one of
    /// `trust_height` and `trust_hash` is an error naming the other.
    pub fn trust_anchor(&self, home: &Path) -> Result<Option<TrustAnchor>> {
        let bad = |reason: &str| Error::Config {
            path: home.join(FILE_NAME),
            reason: reason.to_string(),
        };
        match (self.trust_height, &self.trust_hash) {
            (Some(height), Some(hash)) => TrustAnchor::header(height, hash)
                .map(Some)
                .map_err(|e| bad(&e.to_string())),
            (Some(_), None) => Err(bad("trust_height is set without trust_hash; set both")),
            (None, Some(_)) => Err(bad("trust_hash is set without trust_height; set both")),
            (None, None) => Ok(self
                .trusted_genesis
                .as_ref()
                .map(|p| TrustAnchor::Genesis { path: home.join(p) })),
        }
    }

    pub fn save(&self, home: &Path) -> Result<()> {
        std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
        let path = home.join(FILE_NAME);
        let text = toml::to_string(self).map_err(|e| Error::Config {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_anchor_prefers_a_trusted_header_and_resolves_the_genesis_from_home() {
        let home = Path::new("/home/u/.sidechain");
        let mut c = ClientConfig::default();
        assert_eq!(c.trust_anchor(home).unwrap(), None);
        c.trusted_genesis = Some("net/genesis.json".into());
        assert_eq!(
            c.trust_anchor(home).unwrap(),
            Some(TrustAnchor::Genesis {
                path: home.join("net/genesis.json")
            })
        );
        c.trusted_genesis = Some("/abs/genesis.json".into());
        assert_eq!(
            c.trust_anchor(home).unwrap(),
            Some(TrustAnchor::Genesis {
                path: "/abs/genesis.json".into()
            })
        );
        c.trust_height = Some(5);
        let e = c.trust_anchor(home).unwrap_err();
        assert!(e.to_string().contains("without trust_hash"), "{e}");
        c.trust_hash = Some("AB".repeat(32));
        assert_eq!(
            c.trust_anchor(home).unwrap(),
            Some(TrustAnchor::header(5, &"ab".repeat(32)).unwrap())
        );
        c.trust_hash = Some("xyz".into());
        let e = c.trust_anchor(home).unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
    }

    #[test]
    fn the_trust_fields_round_trip_through_client_toml() {
        let dir = tempfile::tempdir().unwrap();
        let c = ClientConfig {
            trusted_genesis: Some("/net/genesis.json".into()),
            ..ClientConfig::default()
        };
        c.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(
            text.contains("trusted_genesis = \"/net/genesis.json\""),
            "{text}"
        );
        assert!(!text.contains("trust_height"), "{text}");
        assert_eq!(ClientConfig::load(dir.path()).unwrap(), c);
    }
}
