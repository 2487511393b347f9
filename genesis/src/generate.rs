//! Generating a network home, all or nothing: everything is written into a hidden sibling
//! directory that is renamed into place only once complete, and removed on any error.

use std::{
    fs,
    path::{Path, PathBuf},
};

use sidechain_client::{ClientConfig, Keystore};
use sidechain_types::{
    genesis::{Coin, GenesisAccount},
    Address, Denom, GenesisState, GenesisValidator,
};

use crate::{
    cometbft::{GenesisDoc, NodeConfig},
    keys::{write_private, NodeKeys},
    layout::{Layout, Manifest, NodeEntry, NodePaths, FAUCET_KEY},
    ports::{self, NodePorts},
    spec::NetworkSpec,
    Error, Result,
};

/// A directory that is deleted when dropped unless it was committed (renamed into place).
struct Staging {
    path: PathBuf,
    committed: bool,
}

impl Staging {
    fn new(target: &Path) -> Result<Self> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("network");
        let path = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Staging {
            path,
            committed: false,
        })
    }

    fn commit(mut self, target: &Path) -> Result<()> {
        fs::rename(&self.path, target).map_err(|e| Error::io(target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Refuses a target that exists and is not an empty directory.
fn ensure_vacant(target: &Path) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(Error::Exists(target.to_path_buf()))
            } else {
                fs::remove_dir(target).map_err(|e| Error::io(target, e))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(Error::Exists(target.to_path_buf()))
        }
        Err(e) => Err(Error::io(target, e)),
    }
}

/// The current time as CometBFT wants it in `genesis_time`.
fn now_rfc3339() -> String {
    tendermint::Time::now().to_rfc3339()
}

/// Writes one node's directories: keys, config.toml, the shared genesis.
fn write_node(
    paths: &NodePaths,
    final_paths: &NodePaths,
    entry: &NodeEntry,
    keys: &NodeKeys,
    peers: Vec<String>,
    block_time_ms: u64,
    genesis_json: &[u8],
) -> Result<()> {
    let cometbft = paths.cometbft();
    let relayer = paths.relayer();
    keys.write(&cometbft, &relayer)?;
    let config = NodeConfig {
        moniker: &entry.name,
        ports: entry.ports,
        persistent_peers: peers,
        block_time_ms,
        // The socket path is where the node will live, not the staging directory.
        abci: final_paths.abci_endpoint(entry.ports.abci),
    };
    let config_path = cometbft.join("config/config.toml");
    fs::write(&config_path, config.render()).map_err(|e| Error::io(&config_path, e))?;
    let genesis_path = cometbft.join("config/genesis.json");
    fs::write(&genesis_path, genesis_json).map_err(|e| Error::io(&genesis_path, e))?;
    for dir in [paths.app(), paths.logs(), paths.run()] {
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(())
}

fn entry_for(
    name: &str,
    index: usize,
    ports: NodePorts,
    keys: &NodeKeys,
    genesis_power: u64,
) -> NodeEntry {
    NodeEntry {
        name: name.to_string(),
        index,
        ports,
        node_id: keys.node_key.node_id(),
        consensus_pub_key: keys.validator_key.pub_key_base64(),
        validator_address: keys.validator_key.validator_address(),
        operator: keys.operator_address(),
        eth_address: keys.eth_key.address_hex(),
        genesis_power,
    }
}

/// Generates the whole network described by `spec` into `home`, which must not exist yet (or
/// be empty). Nothing is left behind on error.
pub fn generate(spec: &NetworkSpec, home: &Path) -> Result<Manifest> {
    let extra_accounts = spec.validate()?;
    ensure_vacant(home)?;
    let native = Denom::new(spec.native_denom.clone()).map_err(|e| Error::Input(e.to_string()))?;

    let mut entries = Vec::with_capacity(spec.validators.len());
    let mut all_keys = Vec::with_capacity(spec.validators.len());
    for (index, v) in spec.validators.iter().enumerate() {
        let keys = NodeKeys::generate();
        entries.push(entry_for(
            &v.name,
            index,
            NodePorts::for_node(spec.base_port, index)?,
            &keys,
            v.power,
        ));
        all_keys.push(keys);
    }
    ports::ensure_free(entries.iter().map(|e| (e.name.as_str(), &e.ports)))?;

    let faucet_key = ed25519_consensus::SigningKey::new(rand_core::OsRng);
    let faucet_address = Address::from_pubkey(&faucet_key.verification_key().to_bytes());
    let coin = |amount| {
        vec![Coin {
            denom: native.clone(),
            amount,
        }]
    };
    let mut accounts = vec![GenesisAccount {
        address: faucet_address,
        balances: coin(spec.faucet_amount),
    }];
    accounts.extend(entries.iter().map(|e| GenesisAccount {
        address: e.operator,
        balances: coin(spec.operator_amount),
    }));
    accounts.extend(
        extra_accounts
            .into_iter()
            .map(|(address, balances)| GenesisAccount { address, balances }),
    );
    accounts.retain(|a| a.balances.iter().any(|c| c.amount > 0));
    let app_state = GenesisState {
        native_denom: native.clone(),
        params: spec.params.clone(),
        accounts,
        validators: entries
            .iter()
            .map(|e| GenesisValidator {
                name: e.name.clone(),
                pub_key: e.consensus_pub_key.clone(),
                power: e.genesis_power,
                operator: e.operator,
                eth_address: e.eth_address.clone(),
            })
            .collect(),
        denoms: Vec::new(),
        bridge: spec.bridge.clone(),
    };
    let doc = GenesisDoc::new(&spec.chain_id, now_rfc3339(), &app_state)?;
    doc.check()?;
    let genesis_json = doc.to_json()?;

    let staging = Staging::new(home)?;
    let layout = Layout::new(&staging.path);
    fs::write(layout.genesis(), &genesis_json).map_err(|e| Error::io(&layout.genesis(), e))?;
    for (i, (entry, keys)) in entries.iter().zip(&all_keys).enumerate() {
        let peers = entries
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, e)| e.peer_address())
            .collect();
        write_node(
            &layout.node(&entry.name),
            &Layout::new(home).node(&entry.name),
            entry,
            keys,
            peers,
            spec.block_time_ms,
            &genesis_json,
        )?;
    }
    let client = layout.client_home();
    Keystore::open(&client)
        .import(FAUCET_KEY, &faucet_key)
        .map_err(|e| Error::Keystore(e.to_string()))?;
    let node0 = entries
        .first()
        .ok_or_else(|| Error::Input("no validators".into()))?;
    // Proven queries verify headers from this network's genesis validators; the path is where
    // the genesis lands once the staging directory is renamed into place, made absolute so
    // that the client home works from any directory.
    let final_genesis = Layout::new(home).genesis();
    let trusted_genesis =
        std::path::absolute(&final_genesis).map_err(|e| Error::io(&final_genesis, e))?;
    ClientConfig {
        node: node0.rpc_url(),
        trusted_genesis: Some(trusted_genesis),
        ..ClientConfig::default()
    }
    .save(&client)
    .map_err(|e| Error::Keystore(e.to_string()))?;
    let manifest = Manifest {
        chain_id: spec.chain_id.clone(),
        native_denom: native.to_string(),
        block_time_ms: spec.block_time_ms,
        base_port: spec.base_port,
        faucet_key: FAUCET_KEY.into(),
        faucet_address,
        nodes: entries,
    };
    manifest.save(&layout.home)?;
    // The spec that produced the network, for the record.
    let spec_toml = toml::to_string_pretty(spec).map_err(|e| Error::Spec(e.to_string()))?;
    write_private(&layout.home.join("spec.toml"), spec_toml.as_bytes())?;
    staging.commit(home)?;
    tracing::info!(home = %home.display(), validators = manifest.nodes.len(), chain_id = %manifest.chain_id, "network generated");
    Ok(manifest)
}

/// A node generated to join an existing network: its manifest entry and keys.
#[derive(Debug)]
pub struct JoiningNode {
    pub entry: NodeEntry,
    pub keys: NodeKeys,
}

/// Adds a non-validator node called `name` to the network at `home`: keys, config peering
/// with every existing node, the network's genesis; records it in the manifest. The node
/// becomes a validator only through an on-chain validator-set change.
pub fn add_node(home: &Path, name: Option<&str>) -> Result<JoiningNode> {
    let layout = Layout::new(home);
    let mut manifest = Manifest::load(home)?;
    let index = manifest
        .nodes
        .iter()
        .map(|n| n.index + 1)
        .max()
        .unwrap_or(0);
    let name = name
        .map(str::to_string)
        .unwrap_or_else(|| format!("node{index}"));
    if manifest.nodes.iter().any(|n| n.name == name) {
        return Err(Error::Field {
            field: "name".into(),
            reason: format!("a node named `{name}` already exists"),
        });
    }
    let ok_name = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok_name {
        return Err(Error::Field {
            field: "name".into(),
            reason: format!("`{name}` must be 1 to 32 letters, digits, '-' or '_'"),
        });
    }
    let ports = NodePorts::for_node(manifest.base_port, index)?;
    ports::ensure_free([(name.as_str(), &ports)])?;
    let keys = NodeKeys::generate();
    let entry = entry_for(&name, index, ports, &keys, 0);
    let genesis_json = fs::read(layout.genesis()).map_err(|e| Error::io(&layout.genesis(), e))?;
    let target = layout.node_dir(&name);
    ensure_vacant(&target)?;
    let staging = Staging::new(&target)?;
    let peers = manifest.nodes.iter().map(NodeEntry::peer_address).collect();
    write_node(
        &NodePaths::new(&staging.path),
        &NodePaths::new(&target),
        &entry,
        &keys,
        peers,
        manifest.block_time_ms,
        &genesis_json,
    )?;
    staging.commit(&target)?;
    manifest.nodes.push(entry.clone());
    manifest.save(home)?;
    Ok(JoiningNode { entry, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: usize, base: u16) -> NetworkSpec {
        let mut s = NetworkSpec::with_validators(n);
        s.base_port = base;
        s
    }

    #[test]
    fn generates_a_consistent_network() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("net");
        let m = generate(&spec(3, 27_000), &home).unwrap();
        assert_eq!(m.nodes.len(), 3);
        let layout = Layout::new(&home);
        let doc = GenesisDoc::from_json(&fs::read(layout.genesis()).unwrap()).unwrap();
        let state = doc.check().unwrap();
        assert_eq!(state.validators.len(), 3);
        assert!(state.accounts.iter().any(|a| a.address == m.faucet_address));
        for n in &m.nodes {
            let cfg = fs::read_to_string(layout.cometbft_home(&n.name).join("config/config.toml"))
                .unwrap();
            for other in m.nodes.iter().filter(|o| o.name != n.name) {
                assert!(
                    cfg.contains(&other.peer_address()),
                    "{} lacks {}",
                    n.name,
                    other.name
                );
            }
            assert!(state.accounts.iter().any(|a| a.address == n.operator));
        }
        assert_eq!(Manifest::load(&home).unwrap(), m);
        let client = ClientConfig::load(&layout.client_home()).unwrap();
        let trusted = client.trusted_genesis.clone().unwrap();
        assert!(trusted.is_absolute(), "{}", trusted.display());
        assert_eq!(trusted, std::path::absolute(layout.genesis()).unwrap());
        let genesis = sidechain_client::TrustedGenesis::load(&trusted).unwrap();
        assert_eq!(genesis.chain_id.as_str(), m.chain_id);
        assert_eq!(genesis.validators.validators().len(), m.nodes.len());
        let faucet = Keystore::open(&layout.client_home())
            .show(FAUCET_KEY)
            .unwrap();
        assert_eq!(faucet.address, m.faucet_address);
        // Nothing staged is left beside the home.
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(leftovers.len(), 1);
        // A second run refuses to overwrite.
        assert!(matches!(
            generate(&spec(3, 27_000), &home),
            Err(Error::Exists(_))
        ));
    }

    #[test]
    fn bad_input_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("net");
        let mut s = spec(2, 27_100);
        s.validators[1].name = "node0".into();
        assert!(generate(&s, &home).is_err());
        // A port the system picked is certainly taken; the network's base port is set so that
        // node0's RPC port is that one. (Another program may hold a neighbouring port of this
        // ephemeral range too: any port in use must give the same error.)
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let taken = held.local_addr().unwrap().port();
        let e = generate(&spec(2, taken - 1), &home).unwrap_err();
        assert!(matches!(e, Error::PortInUse { .. }), "{e}");
        assert!(e.to_string().contains("--base-port"), "{e}");
        drop(held);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn joining_node_peers_with_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("net");
        let m = generate(&spec(2, 27_300), &home).unwrap();
        let joined = add_node(&home, None).unwrap();
        assert_eq!(joined.entry.name, "node2");
        assert_eq!(joined.entry.genesis_power, 0);
        let layout = Layout::new(&home);
        let cfg =
            fs::read_to_string(layout.cometbft_home("node2").join("config/config.toml")).unwrap();
        for n in &m.nodes {
            assert!(cfg.contains(&n.peer_address()));
        }
        assert_eq!(Manifest::load(&home).unwrap().nodes.len(), 3);
        assert!(add_node(&home, Some("node2")).is_err());
        assert!(!layout.home.join("nodes/.node2.partial").exists());
    }
}
