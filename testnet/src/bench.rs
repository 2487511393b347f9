//! `testnet-bench`: committed throughput and submit-to-commit latency of a 4-validator local
//! network under signed transfers from many accounts, next to CometBFT's built-in `kvstore`
//! application run in the same network shape under the same load. Writes
//! `bench/results/testnet.json`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::Parser;
use ed25519_consensus::SigningKey;
use serde_json::json;
use sidechain_genesis::{spec::AccountSpec, NetworkSpec};
use sidechain_types::{genesis::Coin, tx::build_signed, Address, Denom, Msg};
use testnet::{
    bins::Binaries,
    load::{self, Lane, LoadReport},
    rpc,
};

#[derive(Debug, Parser)]
#[command(
    name = "testnet-bench",
    about = "Committed tx/s and latency of a 4-validator testnet against CometBFT's kvstore"
)]
struct Args {
    /// Where to write the figures.
    #[arg(long, default_value = "bench/results/testnet.json")]
    out: PathBuf,
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Sending accounts (one lane each, spread over the validators).
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Transactions pre-signed per account (the most a lane can send).
    #[arg(long, default_value_t = 600)]
    txs_per_account: u64,
    /// Seconds of sending, per application.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Seconds to wait after sending for submitted transactions to commit.
    #[arg(long, default_value_t = 30)]
    drain: u64,
    /// First port of the benchmark networks (two blocks of 10 per node).
    #[arg(long, default_value_t = 25_000)]
    base_port: u16,
    #[arg(long, default_value_t = sidechain_genesis::spec::DEFAULT_BLOCK_TIME_MS)]
    block_time_ms: u64,
    /// Offered load (tx/s over all validators) of the latency phase that runs before the
    /// saturation phase, well below capacity so that latency is not queueing.
    #[arg(long, default_value_t = 200.0)]
    latency_rate: f64,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 20)]
    latency_seconds: u64,
    /// Measure only one application, for profiling one side. No ratio is written, so give
    /// `--out` another path to keep the full figures.
    #[arg(long, value_enum)]
    only: Option<Only>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    Ours,
    Kvstore,
}

/// Accounts that send during the latency phase (apart from the saturation accounts).
const LATENCY_ACCOUNTS: usize = 40;

/// A paced phase measuring latency, then a saturation phase measuring throughput.
#[derive(Debug)]
struct Phases {
    paced: LoadReport,
    saturated: LoadReport,
}

impl Args {
    fn latency_txs_per_account(&self) -> u64 {
        (self.latency_rate * self.latency_seconds as f64 / LATENCY_ACCOUNTS as f64).ceil() as u64
            + 5
    }
}

async fn run_phases(
    args: &Args,
    rpc0: &str,
    paced: Vec<Lane>,
    saturating: Vec<Lane>,
) -> anyhow::Result<Phases> {
    eprintln!(
        "latency phase: {} tx/s for {} s",
        args.latency_rate, args.latency_seconds
    );
    let paced = load::run(
        paced,
        rpc0,
        Duration::from_secs(args.latency_seconds),
        Duration::from_secs(args.drain),
        Some(args.latency_rate),
    )
    .await?;
    eprintln!("saturation phase: {} s", args.seconds);
    let saturated = load::run(
        saturating,
        rpc0,
        Duration::from_secs(args.seconds),
        Duration::from_secs(args.drain),
        None,
    )
    .await?;
    Ok(Phases { paced, saturated })
}

/// Runs `testnet down` for a home when dropped.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        if let Ok(exe) = std::env::current_exe() {
            let testnet = exe.with_file_name("testnet");
            let _ = Command::new(testnet)
                .args(["down", "--home"])
                .arg(&self.0)
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// Terminates kvstore nodes when dropped.
struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

fn spec(args: &Args, base_port: u16) -> NetworkSpec {
    let mut spec = NetworkSpec::with_validators(args.validators);
    spec.base_port = base_port;
    spec.block_time_ms = args.block_time_ms;
    spec.chain_id = "bench-local".into();
    spec
}

async fn wait_for_blocks(rpcs: &[String], min: u64) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let mut ready = true;
        for r in rpcs {
            let h = rpc::observe(r, Duration::from_secs(2))
                .await
                .map(|o| o.height)
                .unwrap_or(0);
            ready &= h >= min;
        }
        if ready {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(180) {
            bail!("the benchmark network produced no blocks within 180 s");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Our chain: funded accounts in genesis, then transfers to a sink.
async fn bench_ours(args: &Args, work: &Path) -> anyhow::Result<Phases> {
    let keys: Vec<SigningKey> = (0..args.accounts + LATENCY_ACCOUNTS)
        .map(|_| SigningKey::new(rand_core::OsRng))
        .collect();
    let mut spec = spec(args, args.base_port);
    let denom = Denom::new(spec.native_denom.clone())?;
    spec.accounts = keys
        .iter()
        .map(|k| AccountSpec {
            address: None,
            pub_key: Some(hex::encode(k.verification_key().to_bytes())),
            balances: vec![Coin {
                denom: denom.clone(),
                amount: 1_000_000_000_000_000,
            }],
        })
        .collect();
    let home = work.join("ours");
    let manifest = sidechain_genesis::generate(&spec, &home)?;
    let down = Down(home.clone());
    let testnet = std::env::current_exe()?.with_file_name("testnet");
    let status = Command::new(&testnet)
        .args(["up", "--detach", "--home"])
        .arg(&home)
        .stdout(Stdio::null())
        .status()
        .context("running testnet up")?;
    if !status.success() {
        bail!("testnet up failed for the benchmark network");
    }
    let rpcs: Vec<String> = manifest.nodes.iter().map(|n| n.rpc_url()).collect();
    wait_for_blocks(&rpcs, 2).await?;

    let lane = |i: usize, key: &SigningKey, count: u64| Lane {
        rpc: rpcs[i % rpcs.len()].clone(),
        txs: (0..count)
            .filter_map(|nonce| transfer(&spec, &denom, key, nonce))
            .collect(),
    };
    eprintln!("signing transfers");
    let (saturating_keys, latency_keys) = keys.split_at(args.accounts);
    let saturating: Vec<Lane> = saturating_keys
        .iter()
        .enumerate()
        .map(|(i, k)| lane(i, k, args.txs_per_account))
        .collect();
    let paced: Vec<Lane> = latency_keys
        .iter()
        .enumerate()
        .map(|(i, k)| lane(i, k, args.latency_txs_per_account()))
        .collect();
    eprintln!("our chain:");
    let phases = run_phases(args, &rpcs[0], paced, saturating).await?;
    drop(down);
    Ok(phases)
}

/// One signed transfer of 1 unit to a sink account: the transaction both applications carry.
fn transfer(spec: &NetworkSpec, denom: &Denom, key: &SigningKey, nonce: u64) -> Option<Vec<u8>> {
    let msg = Msg::transfer(Address::from_pubkey(&[7; 32]), denom.clone(), 1);
    build_signed(
        key,
        &spec.chain_id,
        nonce,
        spec.params.min_gas_price,
        vec![msg],
    )
    .map(|t| t.encode())
}

/// The size of our transfers, which kvstore's transactions are padded to.
fn transfer_len(args: &Args) -> anyhow::Result<usize> {
    let spec = spec(args, args.base_port);
    let denom = Denom::new(spec.native_denom.clone())?;
    let key = SigningKey::new(rand_core::OsRng);
    transfer(&spec, &denom, &key, 0)
        .map(|t| t.len())
        .context("building a sample transfer")
}

/// CometBFT's kvstore in the same network shape: the same generated configuration, the
/// application replaced by `--proxy_app=kvstore`, transactions of the same size.
async fn bench_kvstore(
    args: &Args,
    work: &Path,
    bins: &Binaries,
    tx_len: usize,
) -> anyhow::Result<Phases> {
    let spec = spec(args, args.base_port + 200);
    let home = work.join("kvstore");
    let manifest = sidechain_genesis::generate(&spec, &home)?;
    let mut nodes = Kill(Vec::new());
    for n in &manifest.nodes {
        let cometbft_home = home.join("nodes").join(&n.name).join("cometbft");
        let log = fs::File::create(home.join(format!("{}.log", n.name)))?;
        let child = Command::new(&bins.cometbft)
            .args(["start", "--proxy_app=kvstore", "--home"])
            .arg(&cometbft_home)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting cometbft with kvstore")?;
        nodes.0.push(child);
    }
    let rpcs: Vec<String> = manifest.nodes.iter().map(|n| n.rpc_url()).collect();
    wait_for_blocks(&rpcs, 2).await?;
    let lanes = |prefix: &str, accounts: usize, count: u64| -> Vec<Lane> {
        (0..accounts)
            .map(|i| {
                let txs = (0..count)
                    .map(|j| {
                        let mut tx = format!("{prefix}{i}-{j}=").into_bytes();
                        tx.resize(tx_len.max(tx.len() + 1), b'v');
                        tx
                    })
                    .collect();
                Lane {
                    rpc: rpcs[i % rpcs.len()].clone(),
                    txs,
                }
            })
            .collect()
    };
    eprintln!("kvstore:");
    let report = run_phases(
        args,
        &rpcs[0],
        lanes("p", LATENCY_ACCOUNTS, args.latency_txs_per_account()),
        lanes("s", args.accounts, args.txs_per_account),
    )
    .await?;
    drop(nodes);
    Ok(report)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bins = Binaries::locate()?;
    let tx_len = transfer_len(&args)?;
    let work = std::env::temp_dir().join(format!("sidechain-bench-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let result = async {
        let ours = match args.only {
            Some(Only::Kvstore) => None,
            _ => Some(bench_ours(&args, &work).await?),
        };
        eprintln!("ours: {ours:?}");
        let kv = match args.only {
            Some(Only::Ours) => None,
            _ => Some(bench_kvstore(&args, &work, &bins, tx_len).await?),
        };
        eprintln!("kvstore: {kv:?}");
        anyhow::Ok((ours, kv))
    }
    .await;
    let _ = fs::remove_dir_all(&work);
    let (ours, kv) = result?;
    let mut out = json!({
        "latency_offered_tps": args.latency_rate,
        "validators": args.validators,
        "accounts": args.accounts,
        "send_seconds": args.seconds,
        "block_time_ms": args.block_time_ms,
        "tx_bytes": tx_len,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    // Our latencies are the headline keys (`p50_ms`); kvstore's carry its name as a prefix.
    for (name, prefix, phases) in [("ours", "", &ours), ("kvstore", "kvstore_", &kv)] {
        let Some(p) = phases else { continue };
        out[format!("{name}_tps")] = json!(round(p.saturated.tps));
        out[format!("{prefix}p50_ms")] = json!(round(p.paced.p50_ms));
        out[format!("{prefix}p99_ms")] = json!(round(p.paced.p99_ms));
        out[format!("{prefix}saturated_p50_ms")] = json!(round(p.saturated.p50_ms));
        out[format!("{prefix}saturated_p99_ms")] = json!(round(p.saturated.p99_ms));
        out[name] = json!({ "paced": p.paced, "saturated": p.saturated });
    }
    if let (Some(ours), Some(kv)) = (&ours, &kv) {
        if kv.saturated.tps > 0.0 {
            out["ratio"] = json!(round(ours.saturated.tps / kv.saturated.tps));
        }
    }
    if let Some(parent) = args.out.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&args.out, serde_json::to_vec_pretty(&out)?)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
