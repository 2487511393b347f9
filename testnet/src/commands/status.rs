//! `testnet status`: per node its processes, height, app hash, peers and voting power.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{network::Network, process::ProcessKind, rpc, Result};

const RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// The status as the JSON object `testnet status --json` prints.
pub async fn collect(net: &Network) -> Result<Value> {
    let m = &net.manifest;
    let observed = futures::future::join_all(m.nodes.iter().map(|n| {
        let url = n.rpc_url();
        async move { rpc::observe(&url, RPC_TIMEOUT).await }
    }))
    .await;
    // One node's view of the validator set gives the power of nodes that do not answer.
    let mut set = None;
    for (n, o) in m.nodes.iter().zip(&observed) {
        if o.is_some() {
            set = rpc::validator_set(&n.rpc_url(), RPC_TIMEOUT).await;
            if set.is_some() {
                break;
            }
        }
    }
    let observed_flags: Vec<bool> = observed.iter().map(Option::is_some).collect();
    let mut nodes = Vec::new();
    for (n, o) in m.nodes.iter().zip(observed) {
        let procs = net.processes(n);
        let pid_of = |k| {
            procs.get(k).and_then(|r| {
                if r.state == crate::process::ProcState::Dead {
                    None
                } else {
                    r.pid
                }
            })
        };
        let power = set
            .as_ref()
            .map(|s| {
                s.iter()
                    .find(|(a, _)| *a == n.validator_address)
                    .map(|(_, p)| *p)
                    .unwrap_or(0)
            })
            .or(o.as_ref().map(|o| o.voting_power));
        let processes: serde_json::Map<String, Value> = procs
            .processes
            .iter()
            .map(|r| {
                (
                    r.kind.name().to_string(),
                    json!({ "pid": if r.state == crate::process::ProcState::Dead { None } else { r.pid }, "state": r.state.as_str() }),
                )
            })
            .collect();
        nodes.push(json!({
            "name": n.name,
            "rpc": n.rpc_url(),
            "p2p": format!("127.0.0.1:{}", n.ports.p2p),
            "running": procs.all_alive(),
            "state": procs.summary(),
            "pid": pid_of(ProcessKind::Consensus),
            "app_pid": pid_of(ProcessKind::App),
            "processes": processes,
            "height": o.as_ref().map(|o| o.height),
            "app_hash": o.as_ref().map(|o| o.app_hash.clone()),
            "catching_up": o.as_ref().map(|o| o.catching_up),
            "peers": o.as_ref().map(|o| o.peers),
            "voting_power": power,
            "validator_address": n.validator_address,
            "operator": n.operator,
            "eth_address": n.eth_address,
            "ports": n.ports,
            "relayer": ProcessKind::Relayer.runs_on(&net.paths(&n.name)).then(|| json!({
                "running": pid_of(ProcessKind::Relayer).is_some(),
                "pid": pid_of(ProcessKind::Relayer),
                "metrics": format!("http://127.0.0.1:{}/metrics", n.ports.relayer),
                "health": format!("http://127.0.0.1:{}/health", n.ports.relayer),
            })),
        }));
    }
    let l1 = crate::l1::L1Manifest::load(net.home())?;
    let invariant = match &l1 {
        Some(l1) => bridge_invariant(l1, &observed_rpc(m, &observed_flags)).await,
        None => Value::Null,
    };
    Ok(json!({
        "home": net.home(),
        "chain_id": m.chain_id,
        "native_denom": m.native_denom,
        "client_home": net.layout.client_home(),
        "faucet_key": m.faucet_key,
        "faucet_address": m.faucet_address,
        "l1": l1.map(|l1| crate::l1::status_json(net.home(), &l1)),
        "bridge_invariant": invariant,
        "nodes": nodes,
    }))
}

/// The RPC URL of the first node that answered.
fn observed_rpc(m: &sidechain_genesis::Manifest, answered: &[bool]) -> Option<String> {
    m.nodes
        .iter()
        .zip(answered)
        .find(|(_, a)| **a)
        .map(|(n, _)| n.rpc_url())
}

/// The conservation invariant per wrapped token (`bridge_relayer::invariant`), read from the
/// first node that answers and the local L1; `{"error": ...}` when either cannot be read.
async fn bridge_invariant(l1: &crate::l1::L1Manifest, rpc: &Option<String>) -> Value {
    let Some(rpc) = rpc else {
        return json!({ "error": "no node answers" });
    };
    let sample = async {
        let client = sidechain_client::Client::with_timeout(rpc, RPC_TIMEOUT)?;
        let provider = bridge_contracts::rpc::reader(&l1.rpc)?;
        bridge_relayer::invariant::sample(&client, &provider, l1.bridge).await
    };
    match tokio::time::timeout(Duration::from_secs(5), sample).await {
        Ok(Ok(tokens)) => json!({
            "holds": tokens.iter().all(|t| t.holds),
            "tokens": tokens,
        }),
        Ok(Err(e)) => json!({ "error": format!("{e:#}") }),
        Err(_) => json!({ "error": "the chains did not answer within 5 s" }),
    }
}

/// Prints the status as a table.
pub fn print_table(v: &Value) {
    println!(
        "chain {}  home {}",
        v["chain_id"].as_str().unwrap_or_default(),
        v["home"].as_str().unwrap_or_default()
    );
    println!(
        "{:<8} {:<8} {:>8} {:<18} {:>5} {:>6} {:<24} PIDS (cometbft/app/relayer)",
        "NODE", "STATE", "HEIGHT", "APP HASH", "PEERS", "POWER", "RPC"
    );
    for n in v["nodes"].as_array().into_iter().flatten() {
        let show = |k: &str| match &n[k] {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let hash = show("app_hash");
        let hash = if hash.len() > 16 {
            format!("{}..", &hash[..16])
        } else {
            hash
        };
        let relayer = match &n["relayer"]["pid"] {
            Value::Null => "-".to_string(),
            other => other.to_string(),
        };
        println!(
            "{:<8} {:<8} {:>8} {:<18} {:>5} {:>6} {:<24} {}/{}/{}",
            show("name"),
            show("state"),
            show("height"),
            hash,
            show("peers"),
            show("voting_power"),
            show("rpc"),
            show("pid"),
            show("app_pid"),
            relayer
        );
    }
    if let Some(l1) = v["l1"].as_object() {
        let s = |k: &str| match &l1[k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!(
            "L1 {} (chain {}, {}), Bridge {}, tokens {}",
            s("rpc"),
            s("chain_id"),
            if l1["running"].as_bool().unwrap_or(false) {
                "running"
            } else {
                "stopped"
            },
            s("bridge"),
            s("tokens")
        );
        println!(
            "funded L1 key {} in {}",
            s("faucet_address"),
            s("faucet_key_file")
        );
        let inv = &v["bridge_invariant"];
        if let Some(e) = inv["error"].as_str() {
            println!("bridge invariant: cannot be read ({e})");
        }
        for t in inv["tokens"].as_array().into_iter().flatten() {
            let f = |k: &str| t[k].as_str().unwrap_or("-").to_string();
            println!(
                "bridge invariant {}: {} (L1 locked {} >= supply {} + in flight {})",
                f("denom"),
                if t["holds"].as_bool() == Some(true) {
                    "holds"
                } else {
                    "VIOLATED"
                },
                f("locked"),
                f("supply"),
                f("in_flight")
            );
        }
    }
    println!(
        "funded key `{}` ({}) in client home {}",
        v["faucet_key"].as_str().unwrap_or_default(),
        v["faucet_address"].as_str().unwrap_or_default(),
        v["client_home"].as_str().unwrap_or_default()
    );
}
