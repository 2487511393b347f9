//! `testnet add-validator` and `testnet remove-validator`: validator-set changes through
//! on-chain proposals, signed by the operator keys of the current validators until more than
//! 2/3 of the voting power has approved.

use std::time::{Duration, Instant};

use base64::Engine;
use ed25519_consensus::SigningKey;
use serde_json::json;
use sidechain_client::{rpc::TxOutcome, Client, Keystore, SendOptions};
use sidechain_genesis::{keys::OPERATOR_KEY_NAME, spec::DEFAULT_OPERATOR_AMOUNT, NodeEntry};
use sidechain_types::{Denom, Msg, ValidatorChange};

use crate::{bins::Binaries, network::Network, rpc, Error, Result};

const TX_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of the first node that answers and is not catching up.
async fn any_live_client(net: &Network, except: Option<&str>) -> Result<Client> {
    for n in net
        .manifest
        .nodes
        .iter()
        .filter(|n| Some(n.name.as_str()) != except)
    {
        if let Some(o) = rpc::observe(&n.rpc_url(), Duration::from_secs(2)).await {
            if !o.catching_up {
                return Ok(Client::new(&n.rpc_url())?);
            }
        }
    }
    Err(Error::Chain(
        "no node of the network answers on its RPC; is it running? (`testnet status`)".into(),
    ))
}

/// Signs and sends one message with `key`, waiting for it to be committed successfully.
async fn send(client: &Client, key: &SigningKey, msg: Msg) -> Result<TxOutcome> {
    let sent = client
        .sign_and_send(key, vec![msg], &SendOptions::timeout(TX_TIMEOUT))
        .await?;
    if !sent.succeeded() {
        let out = sent.outcome;
        return Err(Error::Chain(format!(
            "transaction {} from {} failed in block {} with code {} ({}): {}",
            out.hash, sent.signer, out.height, out.code, out.code_name, out.log
        )));
    }
    Ok(sent.outcome)
}

/// The change that gives `entry` the voting power `power` (0 removes it).
fn change_for(entry: &NodeEntry, power: u64) -> Result<ValidatorChange> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(&entry.consensus_pub_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            Error::State(format!(
                "{}: consensus key in network.json is damaged",
                entry.name
            ))
        })?;
    let eth =
        sidechain_types::genesis::parse_eth_address(&entry.eth_address).map_err(Error::State)?;
    Ok(ValidatorChange {
        name: entry.name.clone(),
        consensus_key: key,
        power,
        operator: entry.operator,
        eth_address: eth,
    })
}

/// Proposes `change` and collects approvals from the current validators' operators until it
/// applies. Returns the proposal id (None when the proposer's own vote sufficed) and the
/// operators that signed.
async fn pass_change(
    net: &Network,
    client: &Client,
    change: &ValidatorChange,
) -> Result<(Option<u64>, Vec<String>)> {
    let registry = client.validators().await?;
    let mut signers = Vec::new();
    for v in &registry {
        if let Some(node) = net.manifest.nodes.iter().find(|n| n.operator == v.operator) {
            let (key, _) = Keystore::open(&net.layout.relayer_home(&node.name))
                .signing_key(OPERATOR_KEY_NAME)?;
            signers.push((node.name.clone(), key));
        }
    }
    if signers.is_empty() {
        return Err(Error::State(
            "no operator key of a current validator is in this testnet home".into(),
        ));
    }
    let applied = |registry: &[sidechain_types::ValidatorInfo]| {
        let member = registry
            .iter()
            .find(|v| v.consensus_key == change.consensus_key);
        match member {
            Some(v) => v.power == change.power,
            None => change.power == 0,
        }
    };
    let mut signed = Vec::new();
    let mut iter = signers.iter();
    let Some((first, key)) = iter.next() else {
        return Err(Error::State("no signer".into()));
    };
    let out = send(client, key, Msg::propose_validator_change(change.clone())).await?;
    eprintln!(
        "  {first}'s operator proposed the change (tx {} in block {})",
        out.hash, out.height
    );
    signed.push(first.clone());
    let proposal = client
        .proposals()
        .await?
        .into_iter()
        .filter(|p| p.change.consensus_key == change.consensus_key)
        .map(|p| p.id)
        .max();
    if let Some(id) = proposal {
        for (name, key) in iter {
            let open = client.proposals().await?.iter().any(|p| p.id == id);
            if !open {
                break;
            }
            let out = send(client, key, Msg::vote_validator_change(id)).await?;
            eprintln!(
                "  {name}'s operator approved proposal {id} (block {})",
                out.height
            );
            signed.push(name.clone());
        }
    }
    if !applied(&client.validators().await?) {
        return Err(Error::Chain(format!(
            "the change did not apply after approvals from {}; `sidechain query proposals --json` shows its state",
            signed.join(", ")
        )));
    }
    Ok((proposal, signed))
}

/// Waits until CometBFT's validator set gives `address` the power `power` (0: absent).
async fn wait_for_set(net: &Network, address: &str, power: u64, timeout: Duration) -> Result<u64> {
    let start = Instant::now();
    loop {
        for n in &net.manifest.nodes {
            if let Some(set) = rpc::validator_set(&n.rpc_url(), Duration::from_secs(2)).await {
                let now = set
                    .iter()
                    .find(|(a, _)| a == address)
                    .map(|(_, p)| *p)
                    .unwrap_or(0);
                if now == power {
                    let h = rpc::observe(&n.rpc_url(), Duration::from_secs(2))
                        .await
                        .map(|o| o.height)
                        .unwrap_or(0);
                    return Ok(h);
                }
                break;
            }
        }
        if start.elapsed() > timeout {
            return Err(Error::Chain(format!(
                "CometBFT's validator set did not give {address} power {power} within {} s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `testnet add-validator`.
pub async fn add(
    home: &std::path::Path,
    name: Option<String>,
    power: u64,
    timeout: Duration,
    json_out: bool,
) -> Result<()> {
    if power == 0 {
        return Err(Error::State("--power must be positive".into()));
    }
    let bins = Binaries::locate()?;
    let net = Network::open(home)?;
    let client = any_live_client(&net, None).await?;
    let target_height = client.status().await?.latest_height;
    let joined = sidechain_genesis::add_node(home, name.as_deref())?;
    let net = Network::open(home)?;
    let entry = joined.entry;
    eprintln!(
        "{} joins: p2p 127.0.0.1:{}, rpc {}",
        entry.name,
        entry.ports.p2p,
        entry.rpc_url()
    );
    // On a network with an L1, the new validator gets its relayer too; it waits (healthy: no)
    // until the proposal makes its operator a validator.
    // Its bridge key gets ether from the L1 test key so the relayer can pay for L1
    // transactions once it is in the signer set.
    if let Some(l1) = crate::l1::L1Manifest::load(home)? {
        crate::l1::write_relayer_config(home, &net.manifest, &entry, &l1)?;
        let faucet = crate::l1::read_key(&l1.faucet_key_file)?;
        crate::l1::fund_bridge_key(&l1.rpc, faucet, &entry).await?;
        eprintln!(
            "  funded its bridge key {} with {} ETH on L1",
            entry.eth_address,
            crate::l1::BRIDGE_KEY_ETHER / 10u128.pow(18)
        );
    }
    let started = Instant::now();
    net.start_node(&bins, &entry)?;

    // Sync.
    let mut last = None;
    loop {
        let o = rpc::observe(&entry.rpc_url(), Duration::from_secs(2)).await;
        let h = o.as_ref().map(|o| o.height);
        if h != last {
            eprintln!(
                "  syncing: {} at height {} (network was at {target_height})",
                entry.name,
                h.unwrap_or(0)
            );
            last = h;
        }
        if o.is_some_and(|o| !o.catching_up && o.height >= target_height && o.peers > 0) {
            break;
        }
        if started.elapsed() > timeout {
            return Err(Error::Chain(format!(
                "{} did not catch up within {} s; see `testnet logs {}`",
                entry.name,
                timeout.as_secs(),
                entry.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Fund the new operator so its relayer can pay fees, then change the validator set.
    let (faucet, _) =
        Keystore::open(&net.layout.client_home()).signing_key(&net.manifest.faucet_key)?;
    let denom =
        Denom::new(net.manifest.native_denom.clone()).map_err(|e| Error::State(e.to_string()))?;
    send(
        &client,
        &faucet,
        Msg::transfer(entry.operator, denom, DEFAULT_OPERATOR_AMOUNT),
    )
    .await?;
    eprintln!("  funded its operator {}", entry.operator);
    let change = change_for(&entry, power)?;
    let (proposal, approvals) = pass_change(&net, &client, &change).await?;
    let height = wait_for_set(&net, &entry.validator_address, power, timeout).await?;
    println!(
        "{} is a validator with power {power} from height {height}",
        entry.name
    );
    if json_out {
        println!(
            "{}",
            json!({
                "name": entry.name,
                "rpc": entry.rpc_url(),
                "validator_address": entry.validator_address,
                "operator": entry.operator,
                "power": power,
                "proposal_id": proposal,
                "approved_by": approvals,
                "height": height,
            })
        );
    }
    Ok(())
}

/// `testnet remove-validator NODE`.
pub async fn remove(
    home: &std::path::Path,
    node: &str,
    stop: bool,
    timeout: Duration,
    json_out: bool,
) -> Result<()> {
    let net = Network::open(home)?;
    let entry = net.node(node)?.clone();
    let client = any_live_client(&net, Some(node)).await?;
    let change = change_for(&entry, 0)?;
    let (proposal, approvals) = pass_change(&net, &client, &change).await?;
    let height = wait_for_set(&net, &entry.validator_address, 0, timeout).await?;
    println!("{node} left the validator set at height {height}");
    if stop {
        net.stop_node(&entry)?;
        println!("stopped {node}");
    }
    if json_out {
        println!(
            "{}",
            json!({ "name": node, "proposal_id": proposal, "approved_by": approvals, "height": height, "stopped": stop })
        );
    }
    Ok(())
}
