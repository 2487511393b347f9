//! `<home>/client.toml`: defaults for the CLI (the node to talk to). Flags override it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

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
