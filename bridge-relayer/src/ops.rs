//! The operator's commands besides `start`: `health-check` (each failed check named, for
//! paging), `status` (what this relayer and both chains are at), `pending` (work waiting on
//! the validators), `keys` (show, add, import the relayer's two keys) and `clear` (scan a range
//! of L1 blocks again for deposits that may have been missed). Each has a `--json` form.

use std::path::{Path, PathBuf};

use alloy::primitives::U256;
use serde::Serialize;
use sidechain_types::Denom;

use crate::{
    config::Config, core::Tracker, l1::L1, metrics::Metrics, run::Relayer, sidechain::Sidechain,
    Error,
};

/// How long a probe of the running relayer's endpoint waits.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Floors below which `health-check` fails a balance.
#[derive(Debug, Clone, Copy)]
pub struct Floors {
    /// Wei the bridge key must hold for gas.
    pub gas_wei: U256,
    /// Base units of the sidechain's native (fee) token the operator account must hold.
    pub fee_units: u128,
}

/// One named check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `config`, `bridge_key`, `l1_reachable`, `l1_chain_id`, `l1_contract`,
    /// `sidechain_reachable`, `sidechain_chain`, `operator_registered`,
    /// `bridge_key_registered`, `l1_gas_balance`, `operator_fee_balance`, `peers_seen`.
    pub name: &'static str,
    pub ok: bool,
    /// What was found, or what to do.
    pub detail: String,
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok,
        detail: detail.into(),
    }
}

/// The sidechain's native (fee) denom, from the genesis the node serves.
async fn native_denom(side: &Sidechain) -> Result<Denom, String> {
    let genesis: tendermint::Genesis<serde_json::Value> =
        tendermint_rpc::Client::genesis(side.client().http())
            .await
            .map_err(|e| format!("reading the genesis: {e}"))?;
    let genesis = serde_json::json!({ "app_state": genesis.app_state });
    let name = genesis["app_state"]["native_denom"]
        .as_str()
        .ok_or("the genesis names no native_denom")?;
    Denom::new(name).map_err(|e| e.to_string())
}

/// Runs every check; later checks that depend on a failed one are reported as failed with the
/// reason. The relayer's own metrics endpoint (when configured and running) tells whether it
/// has mesh peers.
pub async fn health_check(home: &Path, path: &Path, floors: Floors) -> Vec<Check> {
    let mut out = Vec::new();
    let (config, checked) = match Config::load(path) {
        Ok(c) => {
            out.push(check("config", true, path.display().to_string()));
            c
        }
        Err(e) => {
            out.push(check("config", false, e.to_string()));
            return out;
        }
    };
    let key = match config.load_bridge_key(home, path) {
        Ok(k) => {
            out.push(check("bridge_key", true, k.address().to_string()));
            Some(k)
        }
        Err(e) => {
            out.push(check("bridge_key", false, e.to_string()));
            None
        }
    };
    // L1.
    match L1::new(&config, checked.bridge) {
        Err(e) => out.push(check("l1_reachable", false, e.to_string())),
        Ok(l1) => {
            match l1.heads().await {
                Err(e) => {
                    out.push(check("l1_reachable", false, e.to_string()));
                    out.push(check("l1_chain_id", false, "L1 unreachable"));
                    out.push(check("l1_contract", false, "L1 unreachable"));
                    out.push(check("l1_gas_balance", false, "L1 unreachable"));
                }
                Ok(h) => {
                    out.push(check(
                        "l1_reachable",
                        true,
                        format!("{} at block {}", l1.url(), h.head),
                    ));
                    match l1.check(config.l1.chain_id, checked.bridge_id).await {
                        Ok(()) => {
                            out.push(check("l1_chain_id", true, config.l1.chain_id.to_string()));
                            out.push(check(
                                "l1_contract",
                                true,
                                format!(
                                    "{} has code and bridge id 0x{}",
                                    checked.bridge,
                                    hex::encode(checked.bridge_id)
                                ),
                            ));
                        }
                        Err(e) => {
                            let text = e.to_string();
                            let chain = text.contains("chain id");
                            out.push(check(
                                "l1_chain_id",
                                !chain,
                                if chain {
                                    text.clone()
                                } else {
                                    config.l1.chain_id.to_string()
                                },
                            ));
                            out.push(check(
                                "l1_contract",
                                false,
                                if chain {
                                    "not checked: wrong chain".into()
                                } else {
                                    text
                                },
                            ));
                        }
                    }
                    match &key {
                    None => out.push(check("l1_gas_balance", false, "no bridge key")),
                    Some(k) => match l1.eth_balance(k.address()).await {
                        Ok(wei) => out.push(check(
                            "l1_gas_balance",
                            wei >= floors.gas_wei,
                            format!("{wei} wei (floor {}); send ether to {} to pay for L1 transactions", floors.gas_wei, k.address()),
                        )),
                        Err(e) => out.push(check("l1_gas_balance", false, e.to_string())),
                    },
                }
                }
            }
        }
    }
    // Sidechain.
    let side = match Sidechain::new(&config, home) {
        Ok(s) => s,
        Err(e) => {
            out.push(check("sidechain_reachable", false, e.to_string()));
            return out;
        }
    };
    match side.client().status().await {
        Err(e) => {
            out.push(check("sidechain_reachable", false, e.to_string()));
            for n in [
                "sidechain_chain",
                "operator_registered",
                "bridge_key_registered",
                "operator_fee_balance",
            ] {
                out.push(check(n, false, "sidechain unreachable"));
            }
        }
        Ok(st) => {
            out.push(check(
                "sidechain_reachable",
                true,
                format!("{} at height {}", config.sidechain.rpc, st.latest_height),
            ));
            match side.check(&config, &checked).await {
                Ok(_) => out.push(check(
                    "sidechain_chain",
                    true,
                    format!("chain {} with this bridge", st.chain_id),
                )),
                Err(Error::NotValidator { .. }) => out.push(check(
                    "sidechain_chain",
                    true,
                    format!("chain {} with this bridge", st.chain_id),
                )),
                Err(e) => out.push(check("sidechain_chain", false, e.to_string())),
            }
            match side.check_validator().await {
                Ok(()) => out.push(check(
                    "operator_registered",
                    true,
                    side.operator().to_string(),
                )),
                Err(e) => out.push(check("operator_registered", false, e.to_string())),
            }
            match &key {
                None => out.push(check("bridge_key_registered", false, "no bridge key")),
                Some(k) => match side.check_bridge_key(&k.address()).await {
                    Ok(()) => out.push(check(
                        "bridge_key_registered",
                        true,
                        k.address().to_string(),
                    )),
                    Err(e) => out.push(check("bridge_key_registered", false, e.to_string())),
                },
            }
            let fee = async {
                let denom = native_denom(&side).await?;
                let account = side
                    .client()
                    .account(&side.operator())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>((denom.clone(), account.balance(&denom)))
            }
            .await;
            match fee {
                Ok((denom, have)) => out.push(check(
                    "operator_fee_balance",
                    have >= floors.fee_units,
                    format!(
                        "{have} {denom} (floor {}); fund {} to pay for claims and confirmations",
                        floors.fee_units,
                        side.operator()
                    ),
                )),
                Err(e) => out.push(check("operator_fee_balance", false, e)),
            }
        }
    }
    if let Some(peers) = mesh_peers(&config).await {
        out.push(check(
            "peers_seen",
            peers > 0.0,
            format!("{peers} mesh peers on the running relayer"),
        ));
    }
    out
}

/// The running relayer's `relayer_mesh_peers` from its metrics endpoint, when it has one and
/// exports the series.
async fn mesh_peers(config: &Config) -> Option<f64> {
    let addr = config.relayer.metrics?;
    let body = sidechain_telemetry::probe::http_body(addr, "/metrics", PROBE_TIMEOUT).await?;
    body.lines()
        .find(|l| l.starts_with("relayer_mesh_peers "))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
}

/// What `status` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    pub l1_head: Option<u64>,
    /// The highest L1 block the relayer acts on (confirmation depth or finalized).
    pub l1_safe_head: Option<u64>,
    pub l1_error: Option<String>,
    pub sidechain_height: Option<u64>,
    pub sidechain_error: Option<String>,
    /// The contract's last deposit nonce on L1.
    pub l1_deposit_nonce: Option<u64>,
    /// The chain's last applied deposit and this validator's last claim.
    pub last_applied_deposit: Option<u64>,
    pub last_claimed_deposit: Option<u64>,
    /// The outstanding batch (nonce, ready) and the open signer-set update (nonce, status).
    pub outstanding_batch: Option<u64>,
    pub outstanding_batch_ready: Option<bool>,
    pub open_signer_set: Option<(u64, String)>,
    pub bridge_address: Option<String>,
    pub l1_gas_wei: Option<String>,
    pub operator: Option<String>,
    pub operator_balances: Vec<(String, String)>,
    /// Relayers connected on the mesh, from the running relayer's `/health` (none: it is not
    /// running or serves no endpoint).
    pub mesh_peers: Option<f64>,
    /// The conservation invariant per token (locked on L1 >= wrapped supply + in flight),
    /// when both chains answer.
    pub invariant: Option<Vec<crate::invariant::TokenBalance>>,
    /// The running relayer's `/health` answer, when it serves one.
    pub running: Option<serde_json::Value>,
}

/// Reads both chains and the running relayer's health.
pub async fn status(home: &Path, path: &Path) -> anyhow::Result<Status> {
    let (config, checked) = Config::load(path)?;
    let key = config.load_bridge_key(home, path).ok();
    let l1 = L1::new(&config, checked.bridge)?;
    let side = Sidechain::new(&config, home)?;
    let mut s = Status {
        l1_head: None,
        l1_safe_head: None,
        l1_error: None,
        sidechain_height: None,
        sidechain_error: None,
        l1_deposit_nonce: None,
        last_applied_deposit: None,
        last_claimed_deposit: None,
        outstanding_batch: None,
        outstanding_batch_ready: None,
        open_signer_set: None,
        bridge_address: key.as_ref().map(|k| k.address().to_string()),
        l1_gas_wei: None,
        operator: Some(side.operator().to_string()),
        operator_balances: Vec::new(),
        mesh_peers: None,
        invariant: None,
        running: None,
    };
    match l1.heads().await {
        Ok(h) => {
            s.l1_head = Some(h.head);
            s.l1_safe_head = h.safe;
            s.l1_deposit_nonce = l1.deposit_nonce().await.ok();
            if let Some(k) = &key {
                s.l1_gas_wei = l1
                    .eth_balance(k.address())
                    .await
                    .ok()
                    .map(|w| w.to_string());
            }
        }
        Err(e) => s.l1_error = Some(e.to_string()),
    }
    match side.client().status().await {
        Ok(st) => {
            s.sidechain_height = Some(st.latest_height);
            if let Ok(p) = side.progress().await {
                s.last_applied_deposit = Some(p.last_applied);
                s.last_claimed_deposit = Some(p.last_claimed);
            }
            if let Ok(Some(b)) = side.client().outstanding_batch().await {
                s.outstanding_batch = Some(b.nonce);
                s.outstanding_batch_ready = Some(b.ready);
            }
            if let Ok(updates) = side.client().signer_set_updates().await {
                s.open_signer_set = updates
                    .iter()
                    .find(|u| u.status.is_open())
                    .map(|u| (u.set.nonce, u.status.name().to_string()));
            }
            if let Ok(a) = side.client().account(&side.operator()).await {
                s.operator_balances = a
                    .balances
                    .iter()
                    .map(|(d, v)| (d.to_string(), v.to_string()))
                    .collect();
            }
        }
        Err(e) => s.sidechain_error = Some(e.to_string()),
    }
    if s.l1_error.is_none() && s.sidechain_error.is_none() {
        s.invariant = crate::invariant::sample(side.client(), l1.provider(), checked.bridge)
            .await
            .ok();
    }
    if let Some(addr) = config.relayer.metrics {
        if let Some(answer) =
            sidechain_telemetry::probe::http_get(addr, "/health", PROBE_TIMEOUT).await
        {
            s.running = answer
                .find("\r\n\r\n")
                .and_then(|at| serde_json::from_str(answer.get(at + 4..)?).ok());
        }
    }
    s.mesh_peers = s
        .running
        .as_ref()
        .and_then(|r: &serde_json::Value| r["mesh_peers"].as_f64());
    Ok(s)
}

/// Work waiting on the validators, as `pending` prints it.
#[derive(Debug, Serialize)]
pub struct Pending {
    /// Deposits L1 holds above the chain's last applied one: (nonce, power that claimed the
    /// leading content, total power), at most 50.
    pub deposits: Vec<(u64, u64, u64)>,
    /// The outstanding batch: nonce, signatures, whether ready (awaiting submission) or not
    /// (awaiting signatures).
    pub batch: Option<serde_json::Value>,
    /// Signer-set updates not yet active or cancelled: nonce and status.
    pub signer_sets: Vec<(u64, String)>,
}

/// Reads the pending work from both chains.
pub async fn pending(home: &Path, path: &Path) -> anyhow::Result<Pending> {
    let (config, checked) = Config::load(path)?;
    let l1 = L1::new(&config, checked.bridge)?;
    let side = Sidechain::new(&config, home)?;
    let client = side.client();
    let validators = client.validators().await?;
    let total = validators
        .iter()
        .fold(0u64, |a, v| a.saturating_add(v.power));
    let last_applied = client.last_applied_deposit().await?;
    let on_l1 = l1.deposit_nonce().await?;
    let mut deposits = Vec::new();
    for nonce in last_applied.saturating_add(1)..=on_l1.min(last_applied.saturating_add(50)) {
        let power = match client.deposit(nonce).await? {
            Some(r) => r
                .tallies
                .iter()
                .map(|t| {
                    validators
                        .iter()
                        .filter(|v| t.validators.contains(&v.operator))
                        .fold(0u64, |a, v| a.saturating_add(v.power))
                })
                .max()
                .unwrap_or(0),
            None => 0,
        };
        deposits.push((nonce, power, total));
    }
    let batch = client.outstanding_batch().await?.map(|b| {
        serde_json::json!({
            "nonce": b.nonce,
            "token": b.token.to_string(),
            "entries": b.withdrawals.len(),
            "signatures": b.signatures.len(),
            "state": if b.ready { "awaiting_submission" } else { "awaiting_signatures" },
            "timeout": b.timeout,
        })
    });
    let signer_sets = client
        .signer_set_updates()
        .await?
        .iter()
        .filter(|u| u.status.is_open())
        .map(|u| (u.set.nonce, u.status.name().to_string()))
        .collect();
    Ok(Pending {
        deposits,
        batch,
        signer_sets,
    })
}

/// Scans L1 blocks `from_block` up to the safe head again and claims every deposit this
/// validator has not claimed that the chain has not applied; returns how many deposits were
/// claimed. For a relayer that may have missed events (a node that served incomplete logs).
pub async fn clear(home: &Path, path: &Path, from_block: u64) -> anyhow::Result<u64> {
    let (config, checked) = Config::load(path)?;
    let key = config.load_bridge_key(home, path)?;
    let relayer = Relayer::new(config, checked, home, key, Metrics::new())?;
    relayer.start_checks().await?;
    let progress = relayer.side.progress().await?;
    let before = progress.last_claimed;
    let mut tracker = Tracker::new(progress, from_block);
    loop {
        let (caught_up, _) = relayer.step(&mut tracker).await?;
        if caught_up {
            break;
        }
    }
    let after = relayer.side.progress().await?.last_claimed;
    Ok(after.saturating_sub(before))
}

/// The relayer's two keys.
#[derive(Debug, Serialize)]
pub struct Keys {
    /// The operator account (sidechain address) and the key file.
    pub operator: Option<String>,
    pub operator_key_file: PathBuf,
    /// The bridge key's Ethereum address and the key file.
    pub bridge_address: Option<String>,
    pub bridge_key_file: PathBuf,
}

/// The keys the configuration names, with their addresses (`None` when a file is missing or
/// unreadable; the error is in `health-check`).
pub fn keys_show(home: &Path, path: &Path) -> anyhow::Result<Keys> {
    let (config, _) = Config::load(path)?;
    let operator = crate::sidechain::load_operator_key(home, &config.sidechain.operator_key)
        .ok()
        .map(|(_, a)| a.to_string());
    let bridge = config.load_bridge_key(home, path).ok();
    Ok(Keys {
        operator,
        operator_key_file: home
            .join("keys")
            .join(format!("{}.json", config.sidechain.operator_key)),
        bridge_address: bridge.as_ref().map(|k| k.address().to_string()),
        bridge_key_file: config.bridge_key_path(home),
    })
}

/// Writes a new bridge key file (`{"address", "private_key"}`, mode 0600) at the configured
/// path from `secret` (32 bytes) or a fresh random key; refuses to overwrite one.
pub fn bridge_key_write(
    home: &Path,
    path: &Path,
    secret: Option<[u8; 32]>,
) -> anyhow::Result<String> {
    let (config, _) = Config::load(path)?;
    let file = config.bridge_key_path(home);
    if file.exists() {
        anyhow::bail!(
            "{} exists; move it away first (a validator's bridge key is registered on the chain and in the L1 signer set)",
            file.display()
        );
    }
    let signer = match secret {
        Some(s) => alloy::signers::local::PrivateKeySigner::from_bytes(&s.into())
            .map_err(|e| anyhow::anyhow!("the secret is not a valid secp256k1 key: {e}"))?,
        None => alloy::signers::local::PrivateKeySigner::random(),
    };
    let json = serde_json::json!({
        "address": signer.address().to_checksum(None),
        "private_key": format!("0x{}", hex::encode(signer.to_bytes())),
    });
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)?;
    f.write_all(serde_json::to_string_pretty(&json)?.as_bytes())?;
    f.sync_all()?;
    Ok(signer.address().to_checksum(None))
}
