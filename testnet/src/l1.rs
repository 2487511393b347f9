//! The local L1 of a network: a geth `--dev` node, the `Bridge` contract and the test tokens
//! deployed with the project's deploy code, a funded test key, and the genesis bridge section
//! and relayer configs that point at them.
//!
//! ```text
//! <home>/l1/l1.json        this module's L1Manifest (what `testnet status --json` shows as `l1`)
//! <home>/l1/geth/          geth's data directory
//! <home>/l1/geth.log       geth's log; <home>/l1/geth.pid its pid
//! <home>/l1/faucet.key     a funded L1 test key (ether and test tokens), mode 0600
//! <home>/l1/guardian.key   the bridge's guardian key (can pause), mode 0600
//! ```
//!
//! geth listens on two ports of node0's block (offsets 6 and 7: HTTP JSON-RPC and the engine
//! API) and its p2p port on offset 8 with discovery off, so an L1 never clashes with another
//! network's nodes.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use bridge_contracts::{
    deploy::{self, DeployParams, TokenLimits},
    SignerSet,
};
use bridge_relayer::config::{
    Config as RelayerConfig, Finality, L1Config, RelayerConfig as RelayerSection, SidechainConfig,
};
use serde::{Deserialize, Serialize};
use sidechain_genesis::{cometbft::GenesisDoc, keys::write_private, Layout, Manifest};
use sidechain_types::{genesis::GenesisBridge, EthAddress};

use crate::{
    bins::Binaries,
    process::{proc_state, read_pid, tail, ProcState},
    Error, Result,
};

/// The key geth `--dev` funds in its genesis (public knowledge; dev chains only). It deploys
/// the contracts and funds the faucet.
pub const GETH_DEV_KEY: &str = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
/// Default seconds between L1 blocks.
pub const DEFAULT_BLOCK_PERIOD_SECS: u64 = 1;
/// Default confirmation depth of a local network, in L1 blocks.
pub const DEFAULT_CONFIRMATIONS: u64 = 2;
/// Default sidechain blocks a local network's oldest queued withdrawal waits for a batch: 2,
/// so a withdrawal on a quiet local network goes out within about two blocks.
pub const DEFAULT_BATCH_MAX_WAIT_BLOCKS: u64 = 2;
/// Default L1 seconds a local network's batch stays valid: 10 minutes.
pub const DEFAULT_BATCH_TIMEOUT_SECS: u64 = 600;
/// Ether the faucet key receives: 1,000 ETH.
const FAUCET_ETHER: u128 = 1_000 * 10u128.pow(18);
/// Test tokens the faucet key receives, per token: 10^6 whole tokens of 18 decimals.
const FAUCET_TOKENS: u128 = 1_000_000 * 10u128.pow(18);
/// Ether each validator's bridge key receives, to pay the gas of the L1 transactions its
/// relayer sends (batches, signer-set updates): 100 ETH.
pub const BRIDGE_KEY_ETHER: u128 = 100 * 10u128.pow(18);
/// Test tokens each validator's bridge key receives, per token: one whole token of 18
/// decimals (see [`fund_bridge_key`] for why it needs any).
pub const BRIDGE_KEY_TOKENS: u128 = 10u128.pow(18);

/// `<home>/l1/l1.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Manifest {
    /// JSON-RPC URL.
    pub rpc: String,
    pub http_port: u16,
    pub authrpc_port: u16,
    pub p2p_port: u16,
    pub chain_id: u64,
    /// Seconds between blocks (`--dev.period`).
    pub block_period_secs: u64,
    /// The Bridge contract.
    pub bridge: EthAddress,
    /// `0x` + 64 hex digits.
    pub bridge_id: String,
    pub deploy_block: u64,
    /// L1 blocks relayers wait on top of a deposit's block.
    pub confirmations: u64,
    /// Test tokens by symbol (ether is `eth` in every command).
    pub tokens: BTreeMap<String, EthAddress>,
    pub faucet_key_file: PathBuf,
    pub faucet_address: EthAddress,
    pub deployer: EthAddress,
    pub guardian: EthAddress,
}

/// Where the L1's files live.
#[derive(Debug, Clone)]
pub struct L1Paths {
    pub dir: PathBuf,
}

impl L1Paths {
    pub fn new(home: &Path) -> Self {
        L1Paths {
            dir: home.join("l1"),
        }
    }
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("l1.json")
    }
    pub fn datadir(&self) -> PathBuf {
        self.dir.join("geth")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("geth.log")
    }
    pub fn pid(&self) -> PathBuf {
        self.dir.join("geth.pid")
    }
    pub fn faucet_key(&self) -> PathBuf {
        self.dir.join("faucet.key")
    }
    pub fn guardian_key(&self) -> PathBuf {
        self.dir.join("guardian.key")
    }
}

impl L1Manifest {
    /// The network's L1, `None` for a network generated without one.
    pub fn load(home: &Path) -> Result<Option<Self>> {
        let path = L1Paths::new(home).manifest();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::State(format!(
                    "{} is damaged ({e}); remove the network with `testnet reset`",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn save(&self, home: &Path) -> Result<()> {
        let path = L1Paths::new(home).manifest();
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::State(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }
}

/// The L1 ports of a network whose node0 block starts at `base`.
pub fn ports(base: u16) -> Result<(u16, u16, u16)> {
    let p = |off: u16| {
        base.checked_add(off)
            .ok_or_else(|| Error::State(format!("base port {base} leaves no room for the L1")))
    };
    Ok((p(6)?, p(7)?, p(8)?))
}

/// Whether geth runs, from its pid file.
pub fn state(paths: &L1Paths) -> ProcState {
    read_pid(&paths.pid())
        .map(|pid| proc_state(pid, &paths.datadir()))
        .unwrap_or(ProcState::Dead)
}

/// The recorded pid, when geth runs.
pub fn pid(paths: &L1Paths) -> Option<i32> {
    read_pid(&paths.pid()).filter(|p| proc_state(*p, &paths.datadir()) != ProcState::Dead)
}

/// Starts geth `--dev` in its own session and waits until it serves JSON-RPC.
pub async fn start(
    bins: &Binaries,
    paths: &L1Paths,
    (http, authrpc, p2p): (u16, u16, u16),
    block_period_secs: u64,
    timeout: Duration,
) -> Result<Child> {
    let geth = bins.geth()?;
    fs::create_dir_all(&paths.dir).map_err(|e| Error::io(&paths.dir, e))?;
    for (what, port) in [("http", http), ("engine API", authrpc), ("p2p", p2p)] {
        if !sidechain_genesis::ports::is_free(port) {
            return Err(Error::State(format!(
                "port {port} (the L1's {what} port) is in use by another program; stop it or pick other ports with --base-port"
            )));
        }
    }
    let args: Vec<String> = vec![
        "--dev".into(),
        "--dev.period".into(),
        block_period_secs.to_string(),
        "--datadir".into(),
        paths.datadir().display().to_string(),
        "--http".into(),
        "--http.addr".into(),
        "127.0.0.1".into(),
        "--http.port".into(),
        http.to_string(),
        "--http.api".into(),
        "eth,net,web3,debug".into(),
        "--ipcdisable".into(),
        "--nodiscover".into(),
        "--maxpeers".into(),
        "0".into(),
        "--port".into(),
        p2p.to_string(),
        "--authrpc.addr".into(),
        "127.0.0.1".into(),
        "--authrpc.port".into(),
        authrpc.to_string(),
        "--verbosity".into(),
        "3".into(),
    ];
    let log_path = paths.log();
    let mut child = crate::process::spawn_logged(&geth, &args, &log_path, &paths.pid())?;
    let url = format!("http://127.0.0.1:{http}");
    let provider = bridge_contracts::rpc::reader(&url)
        .map_err(|e| Error::State(format!("L1 URL {url}: {e}")))?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::Process(format!(
                "geth exited ({status}) while starting; its log {} ends with:\n{}",
                log_path.display(),
                tail(&log_path, 15)
            )));
        }
        if provider.get_block_number().await.is_ok() {
            return Ok(child);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Process(format!(
                "geth did not serve JSON-RPC on {url} within {} s; its log {} ends with:\n{}",
                timeout.as_secs(),
                log_path.display(),
                tail(&log_path, 15)
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops geth: SIGTERM (and SIGCONT), SIGKILL after `grace`; returns whether it ran.
pub fn stop(paths: &L1Paths, grace: Duration) -> Result<bool> {
    crate::process::stop_recorded("geth", &paths.pid(), &paths.datadir(), grace)
}

fn write_key(path: &Path, key: &PrivateKeySigner) -> Result<()> {
    let text = format!("0x{}\n", hex::encode(key.to_bytes()));
    write_private(path, text.as_bytes()).map_err(Error::from)
}

/// Reads a hex secp256k1 key file (`0x` optional, surrounding whitespace ignored).
pub fn read_key(path: &Path) -> Result<PrivateKeySigner> {
    bridge_contracts::user::read_key_file(path).map_err(|e| Error::State(e.to_string()))
}

/// A bridge id for a network: sha256 of a tag and the chain id, so it is non-zero and differs
/// between networks.
fn bridge_id_for(chain_id: &str) -> B256 {
    let mut data = b"sidechain-testnet/bridge-id/".to_vec();
    data.extend_from_slice(chain_id.as_bytes());
    B256::from(sidechain_types::sha256(&data))
}

/// What `deploy_and_configure` needs to know about the L1 it deploys to.
#[derive(Debug, Clone, Copy)]
pub struct L1Options {
    pub block_period_secs: u64,
    pub confirmations: u64,
    /// Genesis `bridge.batch_max_wait_blocks` (sidechain blocks).
    pub batch_max_wait_blocks: u64,
    /// Genesis `bridge.batch_timeout_seconds` (L1 seconds).
    pub batch_timeout_secs: u64,
}

/// Deploys the bridge and the test tokens to the running geth with the genesis validators'
/// bridge keys and powers as the initial signer set, funds a new faucet key, writes
/// `l1.json`, the genesis bridge section and every validator's `relayer.toml`. Runs once,
/// before any node has started.
pub async fn deploy_and_configure(
    home: &Path,
    manifest: &Manifest,
    (http, authrpc, p2p): (u16, u16, u16),
    options: L1Options,
    progress: &dyn Fn(&str),
) -> Result<L1Manifest> {
    let paths = L1Paths::new(home);
    let rpc = format!("http://127.0.0.1:{http}");
    let dev_key = read_dev_key()?;
    let members = manifest
        .nodes
        .iter()
        .filter(|n| n.genesis_power > 0)
        .map(|n| {
            let addr: EthAddress = n.eth_address.parse().map_err(|e| {
                Error::State(format!("{}'s bridge address in network.json: {e}", n.name))
            })?;
            Ok((Address::from(addr.0), n.genesis_power))
        })
        .collect::<Result<Vec<_>>>()?;
    let signer_set = SignerSet::normalized(0, members)
        .map_err(|e| Error::State(format!("the genesis signer set: {e}")))?;
    let guardian = PrivateKeySigner::random();
    write_key(&paths.guardian_key(), &guardian)?;
    let bridge_id = bridge_id_for(&manifest.chain_id);
    let limits = TokenLimits::default();
    progress("deploying the Bridge contract and the test tokens");
    let deployed = deploy::deploy_all(
        &rpc,
        dev_key.clone(),
        &DeployParams {
            bridge_id,
            signer_set,
            guardian: guardian.address(),
            admin: None,
            signer_set_delay: 0,
            release_delay: 0,
            eth: Some(limits),
            test_tokens: Some(limits),
        },
    )
    .await
    .map_err(|e| Error::Chain(format!("deploying the bridge to {rpc}: {e}")))?;
    let mut tokens = BTreeMap::new();
    let mut mint = Vec::new();
    for (symbol, token) in [
        ("TST", deployed.test_token),
        ("FEE", deployed.fee_on_transfer_token),
    ] {
        if let Some(t) = token {
            tokens.insert(symbol.to_string(), EthAddress(t.into_array()));
            mint.push((t, U256::from(FAUCET_TOKENS)));
        }
    }
    let faucet = PrivateKeySigner::random();
    write_key(&paths.faucet_key(), &faucet)?;
    progress("funding the L1 test key with ether and test tokens");
    deploy::fund(
        &rpc,
        dev_key.clone(),
        faucet.address(),
        U256::from(FAUCET_ETHER),
        &mint,
    )
    .await
    .map_err(|e| Error::Chain(format!("funding the L1 test key: {e}")))?;
    progress("funding the validators' bridge keys with ether for L1 gas and test tokens");
    let test_tokens: Vec<Address> = mint.iter().map(|(t, _)| *t).collect();
    for node in &manifest.nodes {
        fund_bridge_key(&rpc, dev_key.clone(), node, &test_tokens).await?;
    }

    let l1 = L1Manifest {
        rpc: rpc.clone(),
        http_port: http,
        authrpc_port: authrpc,
        p2p_port: p2p,
        chain_id: deployed.chain_id,
        block_period_secs: options.block_period_secs,
        bridge: EthAddress(deployed.bridge.into_array()),
        bridge_id: format!("0x{}", hex::encode(bridge_id)),
        deploy_block: deployed.deploy_block,
        confirmations: options.confirmations,
        tokens,
        faucet_key_file: paths.faucet_key(),
        faucet_address: EthAddress(faucet.address().into_array()),
        deployer: EthAddress(dev_key.address().into_array()),
        guardian: EthAddress(guardian.address().into_array()),
    };
    set_genesis_bridge(home, manifest, &l1, options)?;
    for node in &manifest.nodes {
        write_relayer_config(home, manifest, node, &l1)?;
    }
    write_client_defaults(home, &l1)?;
    l1.save(home)?;
    Ok(l1)
}

/// Sends [`BRIDGE_KEY_ETHER`] from `payer` to `node`'s bridge key, so its relayer can pay
/// for L1 transactions, and mints it [`BRIDGE_KEY_TOKENS`] of each test token in `tokens`.
///
/// Why the tokens: a batch pays its fee to the submitter inside the contract's fixed transfer
/// gas (`TRANSFER_GAS`, 100,000), and on this geth's dev chain (fork `Bogota`) a token transfer
/// that creates the receiver's balance slot costs about 124,000 gas, so a fee transfer to a
/// submitter holding none of the token fails and reverts the batch (`FeeTransferFailed`). A
/// submitter that already holds some is paid with about 27,000.
pub async fn fund_bridge_key(
    rpc: &str,
    payer: PrivateKeySigner,
    node: &sidechain_genesis::NodeEntry,
    tokens: &[Address],
) -> Result<()> {
    let to: EthAddress = node.eth_address.parse().map_err(|e| {
        Error::State(format!(
            "{}'s bridge address in network.json: {e}",
            node.name
        ))
    })?;
    let mint: Vec<(Address, U256)> = tokens
        .iter()
        .map(|t| (*t, U256::from(BRIDGE_KEY_TOKENS)))
        .collect();
    deploy::fund(
        rpc,
        payer,
        Address::from(to.0),
        U256::from(BRIDGE_KEY_ETHER),
        &mint,
    )
    .await
    .map_err(|e| Error::Chain(format!("funding {}'s bridge key {to}: {e}", node.name)))
}

fn read_dev_key() -> Result<PrivateKeySigner> {
    bridge_contracts::user::parse_key(GETH_DEV_KEY)
        .map_err(|e| Error::State(format!("the geth dev key: {e}")))
}

/// Writes the L1 deployment into the genesis document's bridge section: the network's copy
/// and every node's CometBFT copy.
fn set_genesis_bridge(
    home: &Path,
    manifest: &Manifest,
    l1: &L1Manifest,
    options: L1Options,
) -> Result<()> {
    let layout = Layout::new(home);
    let path = layout.genesis();
    let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let mut doc = GenesisDoc::from_json(&bytes)?;
    let bridge = GenesisBridge {
        l1_chain_id: l1.chain_id,
        contract: Some(l1.bridge.to_string()),
        bridge_id: Some(l1.bridge_id.clone()),
        deploy_block: l1.deploy_block,
        confirmations: l1.confirmations,
        batch_max_wait_blocks: Some(options.batch_max_wait_blocks),
        batch_timeout_seconds: Some(options.batch_timeout_secs),
        ..GenesisBridge::default()
    };
    let section = serde_json::to_value(&bridge).map_err(|e| Error::State(e.to_string()))?;
    match doc.app_state.as_object_mut() {
        Some(state) => {
            state.insert("bridge".into(), section);
        }
        None => {
            return Err(Error::State(format!(
                "{}: app_state is not an object",
                path.display()
            )))
        }
    }
    doc.check()?;
    let json = doc.to_json()?;
    let copies = manifest
        .nodes
        .iter()
        .map(|n| layout.cometbft_home(&n.name).join("config/genesis.json"));
    for target in std::iter::once(path.clone()).chain(copies) {
        let tmp = target.with_extension("json.tmp");
        fs::write(&tmp, &json).map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

/// The relayer config of one node: its own node's RPC, the L1, its metrics port, and its bridge
/// key (the one genesis wrote into `relayer_home`, by absolute path so that a copy of the
/// config elsewhere still names it).
pub fn relayer_config(
    manifest: &Manifest,
    node: &sidechain_genesis::NodeEntry,
    l1: &L1Manifest,
    relayer_home: &Path,
) -> RelayerConfig {
    RelayerConfig {
        sidechain: SidechainConfig {
            rpc: node.rpc_url(),
            chain_id: manifest.chain_id.clone(),
            operator_key: sidechain_genesis::keys::OPERATOR_KEY_NAME.to_string(),
        },
        l1: L1Config {
            rpc: l1.rpc.clone(),
            chain_id: l1.chain_id,
            bridge: l1.bridge.to_string(),
            bridge_id: l1.bridge_id.clone(),
            start_block: l1.deploy_block,
            finality: Finality::Depth,
            confirmations: l1.confirmations,
            max_block_range: bridge_relayer::config::DEFAULT_MAX_BLOCK_RANGE,
            poll_interval_ms: (l1.block_period_secs.max(1) * 1000 / 4).max(100),
            bridge_key: relayer_home.join(bridge_relayer::config::DEFAULT_BRIDGE_KEY),
        },
        relayer: RelayerSection {
            metrics: Some(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                node.ports.relayer,
            ))),
            ..RelayerSection::default()
        },
        mesh: None,
    }
}

/// Seconds a local network's relayers give the intent winner to land an L1 transaction before
/// the next takes over: an L1 block comes every second or so, and a winner that dies is passed
/// over sooner anyway (after three missed heartbeats).
pub const MESH_TAKEOVER_SECS: u64 = 20;

/// The `[mesh]` section of `node`'s relayer: it listens on the node's mesh port
/// (`NodePorts::mesh`, offset 9 of its port block) and dials the relayer of every other node
/// in the manifest (the genesis validators, and nodes that joined earlier), each named by the
/// peer id of its operator key, read from that node's relayer keystore. `None` for a node
/// whose manifest entry has no mesh port (written before the mesh existed).
pub fn mesh_section(
    home: &Path,
    manifest: &Manifest,
    node: &sidechain_genesis::NodeEntry,
) -> Result<Option<bridge_relayer::mesh::config::MeshConfig>> {
    if node.ports.mesh == 0 {
        return Ok(None);
    }
    let layout = Layout::new(home);
    let mut peers = Vec::new();
    for other in &manifest.nodes {
        if other.name == node.name || other.ports.mesh == 0 {
            continue;
        }
        let keys = sidechain_client::Keystore::open(&layout.relayer_home(&other.name));
        let (key, _) = keys
            .signing_key(sidechain_genesis::keys::OPERATOR_KEY_NAME)
            .map_err(|e| {
                Error::State(format!(
                    "cannot read {}'s operator key to name its relayer in the mesh: {e}",
                    other.name
                ))
            })?;
        let peer = bridge_relayer::mesh::admission::peer_id_of(&key.verification_key().to_bytes())
            .map_err(|e| Error::State(format!("{}'s operator key: {e}", other.name)))?;
        peers.push(format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{peer}",
            other.ports.mesh
        ));
    }
    let mut section = bridge_relayer::mesh::config::MeshConfig::new(
        format!("/ip4/127.0.0.1/tcp/{}", node.ports.mesh),
        peers,
    );
    section.takeover_secs = MESH_TAKEOVER_SECS;
    Ok(Some(section))
}

/// Writes `relayer.toml` into a node's relayer home (unless it has one).
pub fn write_relayer_config(
    home: &Path,
    manifest: &Manifest,
    node: &sidechain_genesis::NodeEntry,
    l1: &L1Manifest,
) -> Result<()> {
    let relayer_home = Layout::new(home).relayer_home(&node.name);
    let path = bridge_relayer::config::default_path(&relayer_home);
    if path.exists() {
        return Ok(());
    }
    let relayer_home =
        std::path::absolute(&relayer_home).map_err(|e| Error::io(&relayer_home, e))?;
    let mut config = relayer_config(manifest, node, l1, &relayer_home);
    config.mesh = mesh_section(home, manifest, node)?;
    config
        .save_new(&path)
        .map_err(|e| Error::State(e.to_string()))
}

/// Adds the L1 defaults (RPC, key file, bridge) to the client home's `client.toml`, so the
/// bridge commands need only token, amount and recipient.
fn write_client_defaults(home: &Path, l1: &L1Manifest) -> Result<()> {
    let client_home = Layout::new(home).client_home();
    let mut config = sidechain_client::ClientConfig::load(&client_home)?;
    config.l1_rpc = Some(l1.rpc.clone());
    config.l1_key_file = Some(l1.faucet_key_file.clone());
    config.bridge = Some(l1.bridge.to_string());
    config.save(&client_home)?;
    Ok(())
}

/// The `l1` object of `testnet status --json`.
pub fn status_json(home: &Path, l1: &L1Manifest) -> serde_json::Value {
    let paths = L1Paths::new(home);
    serde_json::json!({
        "rpc": l1.rpc,
        "chain_id": l1.chain_id,
        "bridge": l1.bridge.to_string(),
        "bridge_id": l1.bridge_id,
        "deploy_block": l1.deploy_block,
        "confirmations": l1.confirmations,
        "block_period_secs": l1.block_period_secs,
        "tokens": l1.tokens.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "faucet_key_file": l1.faucet_key_file,
        "faucet_address": l1.faucet_address.to_string(),
        "running": state(&paths) != ProcState::Dead,
        "pid": pid(&paths),
        "log": paths.log(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_relayer_listens_on_its_mesh_port_and_names_every_other_relayer_by_operator_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("net");
        let mut spec = sidechain_genesis::NetworkSpec::with_validators(3);
        spec.base_port = 27_500;
        let manifest = sidechain_genesis::generate(&spec, &home).expect("network");
        for node in &manifest.nodes {
            assert_eq!(node.ports.mesh, node.ports.p2p + 9);
            let section = mesh_section(&home, &manifest, node)
                .expect("mesh section")
                .expect("a mesh port");
            let parsed = section.parse().expect("a valid [mesh] section");
            assert_eq!(
                parsed.listen.to_string(),
                format!("/ip4/127.0.0.1/tcp/{}", node.ports.mesh)
            );
            let others: Vec<_> = manifest
                .nodes
                .iter()
                .filter(|n| n.name != node.name)
                .collect();
            assert_eq!(parsed.peers.len(), others.len());
            for ((peer, addr), other) in parsed.peers.iter().zip(&others) {
                // the peer id is the other validator's operator key: admission will find it
                assert_eq!(
                    bridge_relayer::mesh::admission::operator_of(peer),
                    Some(other.operator)
                );
                assert!(addr
                    .to_string()
                    .starts_with(&format!("/ip4/127.0.0.1/tcp/{}/p2p/", other.ports.mesh)));
            }
        }
        // a manifest from before the mesh (port 0) gets no section
        let mut old = manifest.nodes[0].clone();
        old.ports.mesh = 0;
        assert_eq!(
            mesh_section(&home, &manifest, &old).expect("no error"),
            None
        );
    }
}
