//! `bridge-bench` (deposit part): deposits from many L1 accounts on the whole local stack
//! (geth `--dev`, the deployed bridge, 4 validators and 4 relayers, started by `testnet up`).
//! Reports the latency from the moment a deposit's L1 block appeared to the moment the
//! sidechain block that minted it appeared (p50, p99), deposits minted per second, claims per
//! sidechain transaction, the confirmation depth and both block times. Writes
//! `bench/results/bridge.json`.
//!
//! Target: `deposit_p50_ms` at most `confirmations × l1_block_ms` plus two sidechain block
//! times (the wait for finality, then one block for the claims and one for the quorum).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, FixedBytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use anyhow::{bail, Context};
use bridge_contracts::Bridge;
use clap::Parser;
use serde_json::json;
use sidechain_client::Client;
use sidechain_types::bridge::DepositState;

#[derive(Debug, Parser)]
#[command(
    name = "bridge-bench",
    about = "Deposit latency and throughput of the whole local bridge stack"
)]
struct Args {
    #[arg(long, default_value = "bench/results/bridge.json")]
    out: PathBuf,
    #[arg(long, default_value_t = 1_000)]
    deposits: usize,
    /// L1 accounts the deposits come from.
    #[arg(long, default_value_t = 50)]
    accounts: usize,
    #[arg(long, default_value_t = 26_000)]
    base_port: u16,
    /// Seconds between L1 blocks.
    #[arg(long, default_value_t = 1)]
    l1_block_period: u64,
    #[arg(long, default_value_t = testnet::l1::DEFAULT_CONFIRMATIONS)]
    confirmations: u64,
    /// Seconds to wait for every deposit to be minted.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// First time this process saw each block height appear (L1 or sidechain).
type Seen = Arc<Mutex<BTreeMap<u64, Instant>>>;

/// Records when each new height appears, polling every 25 ms.
fn watch<F, Fut>(
    seen: Seen,
    stop: Arc<std::sync::atomic::AtomicBool>,
    height: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<u64>> + Send,
{
    tokio::spawn(async move {
        let mut last = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(h) = height().await {
                if h > last {
                    let now = Instant::now();
                    if let Ok(mut s) = seen.lock() {
                        for x in (last + 1)..=h {
                            s.entry(x).or_insert(now);
                        }
                    }
                    last = h;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
}

fn testnet_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.with_file_name("testnet"))
}

fn testnet(home: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let out = Command::new(testnet_bin()?)
        .args(args)
        .arg("--home")
        .arg(home)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!(
            "testnet {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Stops the network when dropped.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = testnet(&self.0, &["down"]);
    }
}

async fn bench(args: Args) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("net");
    eprintln!("starting the local stack (L1, 4 validators, 4 relayers)");
    testnet(
        &home,
        &[
            "up",
            "--detach",
            "--base-port",
            &args.base_port.to_string(),
            "--l1-block-period",
            &args.l1_block_period.to_string(),
            "--confirmations",
            &args.confirmations.to_string(),
        ],
    )?;
    let _down = Down(home.clone());
    let status: serde_json::Value =
        serde_json::from_slice(&testnet(&home, &["status", "--json"])?.stdout)?;
    let l1 = &status["l1"];
    let rpc = l1["rpc"].as_str().context("l1.rpc")?.to_string();
    let bridge: Address = l1["bridge"].as_str().context("l1.bridge")?.parse()?;
    let faucet_key = testnet::l1::read_key(Path::new(
        l1["faucet_key_file"].as_str().context("faucet key")?,
    ))?;
    let node_rpc = status["nodes"][0]["rpc"]
        .as_str()
        .context("rpc")?
        .to_string();
    let client = Client::new(&node_rpc)?;
    let url: alloy::transports::http::reqwest::Url = rpc.parse()?;
    let reader: DynProvider = ProviderBuilder::new().connect_http(url.clone()).erased();

    // Fund the depositing accounts (ether for the deposits and their gas).
    eprintln!("funding {} L1 accounts", args.accounts);
    let faucet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(faucet_key))
        .connect_http(url.clone())
        .erased();
    let accounts: Vec<PrivateKeySigner> = (0..args.accounts)
        .map(|_| PrivateKeySigner::random())
        .collect();
    let mut pending = Vec::new();
    for a in &accounts {
        let tx = TransactionRequest::default()
            .with_to(a.address())
            .with_value(U256::from(10u128.pow(18)));
        pending.push(faucet.send_transaction(tx).await?);
    }
    for p in pending {
        p.get_receipt().await?;
    }

    let recipient: FixedBytes<20> = FixedBytes::from([0x42; 20]);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let l1_seen: Seen = Arc::default();
    let side_seen: Seen = Arc::default();
    let r = reader.clone();
    let w1 = watch(l1_seen.clone(), stop.clone(), move || {
        let r = r.clone();
        async move { r.get_block_number().await.ok() }
    });
    let c = Client::new(&node_rpc)?;
    let c = Arc::new(c);
    let w2 = watch(side_seen.clone(), stop.clone(), move || {
        let c = c.clone();
        async move { c.status().await.ok().map(|s| s.latest_height) }
    });

    eprintln!(
        "sending {} deposits from {} accounts",
        args.deposits, args.accounts
    );
    let per = args.deposits.div_ceil(args.accounts.max(1));
    let mut tasks = Vec::new();
    let mut left = args.deposits;
    for key in accounts {
        let n = per.min(left);
        left -= n;
        if n == 0 {
            break;
        }
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let p = ProviderBuilder::new()
                .wallet(EthereumWallet::from(key))
                .connect_http(url)
                .erased();
            let b = Bridge::new(bridge, p);
            let mut hashes = Vec::new();
            for i in 0..n {
                let pending = b
                    .depositETH(recipient)
                    .value(U256::from(1_000 + i as u64))
                    .send()
                    .await?;
                hashes.push(*pending.tx_hash());
            }
            Ok::<_, anyhow::Error>(hashes)
        }));
    }
    let mut hashes = Vec::new();
    for t in tasks {
        hashes.extend(t.await??);
    }
    // Each deposit's nonce and L1 block, from its receipt.
    let mut deposits: Vec<(u64, u64)> = Vec::new();
    for h in &hashes {
        let receipt = loop {
            if let Some(r) = reader.get_transaction_receipt(*h).await? {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        if !receipt.status() {
            bail!("deposit {h} reverted");
        }
        let nonce = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<Bridge::Deposit>().ok())
            .and_then(|e| u64::try_from(e.inner.data.nonce).ok())
            .context("a deposit without its event")?;
        deposits.push((nonce, receipt.block_number.unwrap_or_default()));
    }
    deposits.sort_unstable();
    let last_nonce = deposits.last().map(|d| d.0).unwrap_or_default();

    eprintln!("waiting for every deposit to be minted");
    let start = Instant::now();
    loop {
        let applied = client.last_applied_deposit().await.unwrap_or(0);
        if applied >= last_nonce {
            break;
        }
        if start.elapsed() > Duration::from_secs(args.timeout) {
            bail!(
                "only {applied} of {last_nonce} deposits were applied within {} s",
                args.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = w1.await;
    let _ = w2.await;
    let l1_seen = l1_seen.lock().map(|s| s.clone()).unwrap_or_default();
    let side_seen = side_seen.lock().map(|s| s.clone()).unwrap_or_default();

    let mut latencies = Vec::new();
    let mut first_l1: Option<Instant> = None;
    let mut last_mint: Option<Instant> = None;
    for (nonce, block) in &deposits {
        let record = client
            .deposit(*nonce)
            .await?
            .context("a deposit the chain does not know")?;
        let height = match record.state {
            DepositState::Minted { height } => height,
            other => bail!("deposit {nonce} is {other:?}, not minted"),
        };
        let (Some(l1_t), Some(side_t)) = (l1_seen.get(block), side_seen.get(&height)) else {
            continue;
        };
        latencies.push(side_t.saturating_duration_since(*l1_t).as_secs_f64() * 1000.0);
        first_l1 = Some(first_l1.map_or(*l1_t, |f| f.min(*l1_t)));
        last_mint = Some(last_mint.map_or(*side_t, |l| l.max(*side_t)));
    }
    latencies.sort_by(f64::total_cmp);
    let span = match (first_l1, last_mint) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    // Sidechain block time: mean gap between the heights seen while minting.
    let heights: Vec<(&u64, &Instant)> = side_seen.iter().collect();
    let sidechain_block_ms = match (heights.first(), heights.last()) {
        (Some((h0, t0)), Some((h1, t1))) if h1 > h0 => {
            t1.saturating_duration_since(**t0).as_secs_f64() * 1000.0 / (**h1 - **h0) as f64
        }
        _ => 0.0,
    };
    // Claims per transaction, from every relayer's counters.
    let (mut claims, mut txs) = (0.0, 0.0);
    for n in status["nodes"].as_array().into_iter().flatten() {
        let port = n["ports"]["relayer"].as_u64().unwrap_or_default() as u16;
        if let Some(body) = testnet::rpc::http_get(port, "/metrics", Duration::from_secs(5)).await {
            claims += scrape(&body, "relayer_claims_sent_total");
            txs += scrape(&body, "relayer_claim_txs_total{result=\"ok\"}");
        }
    }
    let l1_block_ms = (args.l1_block_period * 1000) as f64;
    let p50 = percentile(&latencies, 50.0);
    let target = args.confirmations as f64 * l1_block_ms + 2.0 * sidechain_block_ms;
    Ok(json!({
        "deposits": deposits.len(),
        "l1_accounts": args.accounts,
        "deposit_p50_ms": p50,
        "deposit_p99_ms": percentile(&latencies, 99.0),
        "deposit_max_ms": latencies.last().copied().unwrap_or(0.0),
        "deposits_per_s": if span > 0.0 { deposits.len() as f64 / span } else { 0.0 },
        "claims_per_tx": if txs > 0.0 { claims / txs } else { 0.0 },
        "confirmations": args.confirmations,
        "l1_block_ms": l1_block_ms,
        "sidechain_block_ms": sidechain_block_ms,
        "target_p50_ms": target,
        "meets_target": p50 <= target,
        "measured_latencies": latencies.len(),
    }))
}

fn scrape(body: &str, series: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let out = args.out.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(report) => {
            let text = serde_json::to_string_pretty(&report).unwrap_or_default();
            println!("{text}");
            if let Err(e) = std::fs::write(&out, format!("{text}\n")) {
                eprintln!("error: cannot write {}: {e}", out.display());
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
