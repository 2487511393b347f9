//! Where everything of a generated network lives, and `network.json`, the manifest that
//! describes it to the launcher and to scripts.
//!
//! ```text
//! <home>/network.json                 the manifest (this module's Manifest)
//! <home>/genesis.json                 the CometBFT genesis every node shares
//! <home>/client/                      sidechain CLI home: keys/faucet.json, client.toml
//! <home>/nodes/<name>/cometbft/       CometBFT home (config/, data/)
//! <home>/nodes/<name>/app/            sidechaind home (RocksDB)
//! <home>/nodes/<name>/relayer/        relayer home: keys/operator.json, bridge/eth_key.json
//! <home>/nodes/<name>/logs/           one log file per process
//! <home>/nodes/<name>/run/            one pid file per running process
//! ```

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use sidechain_types::Address;

use crate::{ports::NodePorts, Error, Result};

pub const MANIFEST_FILE: &str = "network.json";
pub const GENESIS_FILE: &str = "genesis.json";
pub const CLIENT_DIR: &str = "client";
pub const FAUCET_KEY: &str = "faucet";

/// One node of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub name: String,
    /// Position in the port layout.
    pub index: usize,
    pub ports: NodePorts,
    /// CometBFT p2p node id.
    pub node_id: String,
    /// Base64 ed25519 consensus public key.
    pub consensus_pub_key: String,
    /// CometBFT validator address (upper-case hex), as in commits.
    pub validator_address: String,
    /// The node's operator (relayer) account.
    pub operator: Address,
    /// The node's Ethereum bridge address.
    pub eth_address: String,
    /// Voting power at genesis; 0 for a node that joined later.
    pub genesis_power: u64,
}

impl NodeEntry {
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.rpc)
    }

    pub fn peer_address(&self) -> String {
        format!("{}@127.0.0.1:{}", self.node_id, self.ports.p2p)
    }
}

/// `network.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub chain_id: String,
    pub native_denom: String,
    pub block_time_ms: u64,
    pub base_port: u16,
    pub faucet_key: String,
    pub faucet_address: Address,
    pub nodes: Vec<NodeEntry>,
}

impl Manifest {
    pub fn load(home: &Path) -> Result<Self> {
        let path = home.join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoNetwork(home.to_path_buf())
            } else {
                Error::io(&path, e)
            }
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Input(format!("{} is damaged: {e}", path.display())))
    }

    /// Replaces `network.json` atomically (write a sibling, then rename over it).
    pub fn save(&self, home: &Path) -> Result<()> {
        let path = home.join(MANIFEST_FILE);
        let tmp = home.join(format!(".{MANIFEST_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::io(&path, e.into()))?;
        fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    pub fn node(&self, name: &str) -> Result<&NodeEntry> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
            Error::Input(format!(
                "no node named `{name}`; the network has {}",
                names.join(", ")
            ))
        })
    }
}

/// Paths inside a network home.
#[derive(Debug, Clone)]
pub struct Layout {
    pub home: PathBuf,
}

impl Layout {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Layout { home: home.into() }
    }
    pub fn manifest(&self) -> PathBuf {
        self.home.join(MANIFEST_FILE)
    }
    pub fn genesis(&self) -> PathBuf {
        self.home.join(GENESIS_FILE)
    }
    pub fn client_home(&self) -> PathBuf {
        self.home.join(CLIENT_DIR)
    }
    pub fn node_dir(&self, name: &str) -> PathBuf {
        self.home.join("nodes").join(name)
    }
    pub fn node(&self, name: &str) -> NodePaths {
        NodePaths::new(self.node_dir(name))
    }
    pub fn cometbft_home(&self, name: &str) -> PathBuf {
        self.node(name).cometbft()
    }
    pub fn app_home(&self, name: &str) -> PathBuf {
        self.node(name).app()
    }
    pub fn relayer_home(&self, name: &str) -> PathBuf {
        self.node(name).relayer()
    }
    pub fn logs_dir(&self, name: &str) -> PathBuf {
        self.node(name).logs()
    }
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.node(name).run()
    }
}

/// Paths inside one node's directory.
#[derive(Debug, Clone)]
pub struct NodePaths {
    pub dir: PathBuf,
}

impl NodePaths {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        NodePaths { dir: dir.into() }
    }
    pub fn cometbft(&self) -> PathBuf {
        self.dir.join("cometbft")
    }
    pub fn app(&self) -> PathBuf {
        self.dir.join("app")
    }
    pub fn relayer(&self) -> PathBuf {
        self.dir.join("relayer")
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn run(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// Where the node's `sidechaind` serves ABCI when it uses a Unix socket.
    pub fn abci_socket(&self) -> PathBuf {
        self.run().join("abci.sock")
    }

    /// How CometBFT reaches this node's application: a Unix socket in the run directory (the
    /// many small ABCI messages cost less CPU than over loopback TCP), or the node's ABCI port
    /// when the socket's absolute path is too long for the kernel.
    pub fn abci_endpoint(&self, port: u16) -> AbciEndpoint {
        let socket = self.abci_socket();
        let socket = std::path::absolute(&socket).unwrap_or(socket);
        if socket.as_os_str().len() <= MAX_SOCKET_PATH {
            AbciEndpoint::Unix(socket)
        } else {
            AbciEndpoint::Tcp(port)
        }
    }
}

/// Longest Unix socket path used (the kernel's limit is 107 bytes).
const MAX_SOCKET_PATH: usize = 100;

/// Where `sidechaind` serves ABCI and CometBFT connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbciEndpoint {
    Unix(PathBuf),
    Tcp(u16),
}

impl AbciEndpoint {
    /// CometBFT's `proxy_app`.
    pub fn proxy_app(&self) -> String {
        match self {
            AbciEndpoint::Unix(path) => format!("unix://{}", path.display()),
            AbciEndpoint::Tcp(port) => format!("tcp://127.0.0.1:{port}"),
        }
    }

    /// `sidechaind start --abci`.
    pub fn listen_arg(&self) -> String {
        match self {
            AbciEndpoint::Unix(path) => format!("unix:{}", path.display()),
            AbciEndpoint::Tcp(port) => format!("127.0.0.1:{port}"),
        }
    }
}
