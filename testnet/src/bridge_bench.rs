//! `bridge-bench`: both directions on the whole local stack (geth `--dev`, the deployed bridge,
//! 4 validators and 4 relayers, started by `testnet up`). Writes `bench/results/bridge.json`.
//!
//! Deposits: from many L1 accounts, each to its own sidechain account. Reports the latency
//! from the moment a deposit's L1 block appeared to the moment the sidechain block that minted
//! it appeared (p50, p99), deposits minted per second, claims per sidechain transaction, the
//! confirmation depth and both block times. Target: `deposit_p50_ms` at most `confirmations ×
//! l1_block_ms` plus two sidechain block times (the wait for finality, then one block for the
//! claims and one for the quorum).
//!
//! Withdrawals: the same sidechain accounts withdraw back to L1, all sent at once. Reports the
//! latency from the moment the sidechain block that took a withdrawal appeared to the moment
//! the sidechain block that marked it released appeared (p50, p99; and to the L1 block that
//! executed it), withdrawals released per second, withdrawals per batch, L1 gas per withdrawal
//! (the batches' receipts on geth) and L1 transactions sent per batch by the relayers' bridge
//! keys. Target: `withdrawal_p50_ms` at most 3 sidechain blocks plus one L1 block plus the
//! confirmation wait for the execution attestation (`confirmations × l1_block_ms`).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, FixedBytes, U256},
    providers::{DynProvider, Provider},
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
    /// Seconds to wait for every deposit to be minted, and again for every withdrawal to be
    /// released.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Withdrawals back to L1 (0: deposits only).
    #[arg(long, default_value_t = 1_000)]
    withdrawals: usize,
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
    let reader: DynProvider = bridge_contracts::rpc::reader(&rpc)?;

    // Fund the depositing accounts (ether for the deposits and their gas).
    eprintln!("funding {} L1 accounts", args.accounts);
    let faucet = bridge_contracts::rpc::signing(&rpc, faucet_key)?;
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

    // One sidechain account per L1 account receives that account's deposits and later
    // withdraws them.
    let side_keys: Vec<ed25519_consensus::SigningKey> = (0..args.accounts)
        .map(|_| ed25519_consensus::SigningKey::new(rand_core::OsRng))
        .collect();
    let side_addrs: Vec<sidechain_types::Address> = side_keys
        .iter()
        .map(|k| sidechain_types::Address::from_pubkey(&k.verification_key().to_bytes()))
        .collect();
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
    for (key, side) in accounts.into_iter().zip(side_addrs.iter().copied()) {
        let recipient: FixedBytes<20> = FixedBytes::from(side.0);
        let n = per.min(left);
        left -= n;
        if n == 0 {
            break;
        }
        let p = bridge_contracts::rpc::signing(&rpc, key)?;
        tasks.push(tokio::spawn(async move {
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
    let withdrawals = if args.withdrawals > 0 {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let l1_seen: Seen = Arc::default();
        let side_seen: Seen = Arc::default();
        let r = reader.clone();
        let w1 = watch(l1_seen.clone(), stop.clone(), move || {
            let r = r.clone();
            async move { r.get_block_number().await.ok() }
        });
        let c = Arc::new(Client::new(&node_rpc)?);
        let w2 = watch(side_seen.clone(), stop.clone(), move || {
            let c = c.clone();
            async move { c.status().await.ok().map(|s| s.latest_height) }
        });
        let report = withdraw_bench(
            &args, &status, &client, &reader, &side_keys, &l1_seen, &side_seen,
        )
        .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = w1.await;
        let _ = w2.await;
        Some(report?)
    } else {
        None
    };
    let mut report = json!({
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
    });
    if let (Some(w), Some(obj)) = (withdrawals, report.as_object_mut()) {
        for (k, v) in w.as_object().into_iter().flatten() {
            obj.insert(k.clone(), v.clone());
        }
    }
    Ok(report)
}

/// The withdrawal part: every sidechain account withdraws its share back to one L1 address,
/// all at once; waits until every withdrawal is released and measures.
async fn withdraw_bench(
    args: &Args,
    status: &serde_json::Value,
    client: &Client,
    reader: &DynProvider,
    keys: &[ed25519_consensus::SigningKey],
    l1_seen: &Seen,
    side_seen: &Seen,
) -> anyhow::Result<serde_json::Value> {
    use sidechain_types::{tx::build_signed, BatchOutcome, Denom, EthAddress, Msg};
    let chain_id = client.status().await?.chain_id;
    let gas_price = client.params().await?.min_gas_price;
    let native = Denom::new(status["native_denom"].as_str().context("native_denom")?)?;
    let eth = Denom::new(sidechain_types::bridge::ETHER_DENOM)?;
    // Fees on the sidechain are paid in the native token: the faucet key pays each account.
    let client_home = PathBuf::from(status["client_home"].as_str().context("client_home")?);
    let faucet_name = status["faucet_key"].as_str().context("faucet_key")?;
    let (faucet, _) = sidechain_client::Keystore::open(&client_home).signing_key(faucet_name)?;
    for chunk in keys.chunks(32) {
        let msgs = chunk
            .iter()
            .map(|k| {
                Msg::transfer(
                    sidechain_types::Address::from_pubkey(&k.verification_key().to_bytes()),
                    native.clone(),
                    sidechain_types::Amount::from(10_000_000u128),
                )
            })
            .collect();
        let sent = client
            .sign_and_send(&faucet, msgs, &sidechain_client::SendOptions::default())
            .await?;
        if !sent.succeeded() {
            bail!(
                "funding the withdrawing accounts failed: {}",
                sent.outcome.log
            );
        }
    }
    // The funded L1 test key receives them: an account that exists already, so no transfer pays
    // for creating one.
    let to: EthAddress = status["l1"]["faucet_address"]
        .as_str()
        .context("l1.faucet_address")?
        .parse()?;
    let per = args.withdrawals.div_ceil(keys.len().max(1));
    eprintln!(
        "sending {} withdrawals from {} accounts",
        args.withdrawals,
        keys.len()
    );
    // Every transaction is broadcast first (consecutive nonces per account), then each one's
    // commit is awaited: the chain sees them all at once.
    let mut hashes = Vec::new();
    let mut left = args.withdrawals;
    for k in keys {
        let n = per.min(left);
        left -= n;
        let me = sidechain_types::Address::from_pubkey(&k.verification_key().to_bytes());
        let nonce = client.account(&me).await?.nonce;
        for i in 0..n {
            let tx = build_signed(
                k,
                &chain_id,
                nonce + i as u64,
                gas_price,
                vec![Msg::withdraw(eth.clone(), 500, 1 + (i as u128 % 5), to)],
            )
            .context("building a withdrawal")?;
            hashes.push(client.broadcast(&tx).await?);
        }
    }
    let mut taken: Vec<(u64, u64)> = Vec::new(); // (withdrawal id, height that took it)
    for h in hashes {
        let o = client.wait_for_tx(h, Duration::from_secs(120)).await?;
        if o.code != 0 {
            bail!("withdrawal {} failed: {} {}", o.hash, o.code_name, o.log);
        }
        let id = o
            .attribute("withdrawal_queued", "id")
            .and_then(|v| v.parse().ok())
            .context("a withdrawal without its id")?;
        taken.push((id, o.height));
    }
    let last_id = taken.iter().map(|t| t.0).max().unwrap_or(0);
    eprintln!("waiting for every withdrawal to be released on L1");
    let start = Instant::now();
    // batch nonce -> settled executed batch (the latest 20 are listed; poll often enough).
    let mut executed: BTreeMap<u64, sidechain_types::OutgoingBatch> = BTreeMap::new();
    loop {
        for b in client.batches().await? {
            if matches!(
                b.settled.as_ref().map(|s| &s.outcome),
                Some(BatchOutcome::Executed(_))
            ) {
                executed.entry(b.nonce).or_insert(b);
            }
        }
        let released: usize = executed
            .values()
            .map(|b| {
                b.withdrawals
                    .iter()
                    .filter(|w| !w.refund && w.id <= last_id)
                    .count()
            })
            .sum();
        if released >= taken.len() {
            break;
        }
        if start.elapsed() > Duration::from_secs(args.timeout) {
            bail!(
                "only {released} of {} withdrawals were released within {} s",
                taken.len(),
                args.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let l1_seen = l1_seen.lock().map(|s| s.clone()).unwrap_or_default();
    let side_seen = side_seen.lock().map(|s| s.clone()).unwrap_or_default();
    // id -> (settled height, L1 block)
    let mut done: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut gas = 0u128;
    let mut entries = 0usize;
    for b in executed.values() {
        let Some(s) = &b.settled else { continue };
        let BatchOutcome::Executed(e) = &s.outcome else {
            continue;
        };
        for w in b.withdrawals.iter().filter(|w| !w.refund) {
            done.insert(w.id, (s.height, e.l1_block));
        }
        let receipt = reader
            .get_transaction_receipt(alloy::primitives::B256::from(e.l1_tx_hash))
            .await?
            .context("an executed batch without its L1 receipt")?;
        gas += u128::from(receipt.gas_used);
        entries += b.withdrawals.len();
    }
    let mut latencies = Vec::new();
    let mut to_l1 = Vec::new();
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for (id, height) in &taken {
        let (Some((settled, l1_block)), Some(t0)) = (done.get(id), side_seen.get(height)) else {
            continue;
        };
        if let Some(t1) = side_seen.get(settled) {
            latencies.push(t1.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
            first = Some(first.map_or(*t0, |f| f.min(*t0)));
            last = Some(last.map_or(*t1, |l| l.max(*t1)));
        }
        if let Some(t1) = l1_seen.get(l1_block) {
            to_l1.push(t1.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    to_l1.sort_by(f64::total_cmp);
    let span = match (first, last) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    // L1 transactions sent by the relayers' bridge keys while the withdrawals went out.
    let relayers: Vec<Address> = status["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["eth_address"].as_str()?.parse().ok())
        .collect();
    let (from_block, to_block) = (
        l1_seen.keys().next().copied().unwrap_or(0),
        l1_seen.keys().next_back().copied().unwrap_or(0),
    );
    let mut relayer_txs = 0usize;
    for n in from_block..=to_block {
        if let Some(block) = reader.get_block_by_number(n.into()).full().await? {
            relayer_txs += block
                .transactions
                .txns()
                .filter(|t| relayers.contains(&t.inner.signer()))
                .count();
        }
    }
    let heights: Vec<(&u64, &Instant)> = side_seen.iter().collect();
    let sidechain_block_ms = match (heights.first(), heights.last()) {
        (Some((h0, t0)), Some((h1, t1))) if h1 > h0 => {
            t1.saturating_duration_since(**t0).as_secs_f64() * 1000.0 / (**h1 - **h0) as f64
        }
        _ => 0.0,
    };
    let l1_block_ms = (args.l1_block_period * 1000) as f64;
    let p50 = percentile(&latencies, 50.0);
    let target = 3.0 * sidechain_block_ms + l1_block_ms + args.confirmations as f64 * l1_block_ms;
    let batches = executed.len().max(1);
    Ok(json!({
        "withdrawals": taken.len(),
        "withdrawal_accounts": keys.len(),
        "withdrawal_p50_ms": p50,
        "withdrawal_p99_ms": percentile(&latencies, 99.0),
        "withdrawal_max_ms": latencies.last().copied().unwrap_or(0.0),
        "withdrawal_l1_p50_ms": percentile(&to_l1, 50.0),
        "withdrawals_per_s": if span > 0.0 { latencies.len() as f64 / span } else { 0.0 },
        "withdrawal_batches": executed.len(),
        "withdrawals_per_batch": entries as f64 / batches as f64,
        "l1_gas_per_withdrawal": if entries > 0 { gas as f64 / entries as f64 } else { 0.0 },
        "l1_txs_per_batch": relayer_txs as f64 / batches as f64,
        "withdrawal_sidechain_block_ms": sidechain_block_ms,
        "withdrawal_target_p50_ms": target,
        "withdrawal_meets_target": p50 <= target,
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
