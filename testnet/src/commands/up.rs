//! `testnet up`: generate the network if the home holds none, start every node, show
//! progress until each has produced blocks, print what to do next; in the foreground, wait for
//! Ctrl-C and stop everything.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use sidechain_genesis::{ports, spec::ValidatorSpec, NetworkSpec};

use crate::{
    bins::Binaries,
    l1::{self, L1Manifest, L1Options, L1Paths},
    network::Network,
    process::{self, ProcState, ProcessKind},
    rpc, Error, Result,
};

/// Height every node must reach before the network counts as up.
const READY_HEIGHT: u64 = 2;

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Number of validators of a new network (default 4).
    #[arg(long)]
    pub validators: Option<usize>,
    /// Network spec in TOML (validators, powers, accounts, chain id, block time), as the
    /// `genesis` command reads it; flags override its fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub chain_id: Option<String>,
    /// Milliseconds between blocks (CometBFT's timeout_commit).
    #[arg(long)]
    pub block_time_ms: Option<u64>,
    /// First local port; node i uses the ten ports from base + 10*i (default 26600).
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Return once the network is up and leave it running; control it with the other
    /// subcommands and stop it with `testnet down`.
    #[arg(long)]
    pub detach: bool,
    /// Seconds to wait for every node to produce blocks.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
    /// A new network without the local L1, bridge contract and relayers (a sidechain alone).
    #[arg(long)]
    pub no_l1: bool,
    /// Seconds between blocks of a new network's local L1 (geth --dev.period).
    #[arg(long, default_value_t = crate::l1::DEFAULT_BLOCK_PERIOD_SECS)]
    pub l1_block_period: u64,
    /// L1 blocks a new network's relayers wait on top of a deposit before claiming it.
    #[arg(long, default_value_t = crate::l1::DEFAULT_CONFIRMATIONS)]
    pub confirmations: u64,
    /// Sidechain blocks the oldest queued withdrawal waits before a batch is cut that is not
    /// full (a new network's genesis `bridge.batch_max_wait_blocks`).
    #[arg(long, default_value_t = crate::l1::DEFAULT_BATCH_MAX_WAIT_BLOCKS)]
    pub batch_max_wait_blocks: u64,
    /// Seconds (L1 time) a batch stays valid on L1 before it times out and its withdrawals
    /// are batched again (a new network's genesis `bridge.batch_timeout_seconds`, at least 60).
    #[arg(long, default_value_t = crate::l1::DEFAULT_BATCH_TIMEOUT_SECS)]
    pub batch_timeout_secs: u64,
}

impl UpArgs {
    fn spec(&self) -> Result<NetworkSpec> {
        let mut spec = match &self.config {
            Some(path) => NetworkSpec::load(path)?,
            None => NetworkSpec::with_validators(self.validators.unwrap_or(4)),
        };
        if let (Some(n), Some(_)) = (self.validators, &self.config) {
            spec.validators = (0..n)
                .map(|i| ValidatorSpec {
                    name: format!("node{i}"),
                    power: sidechain_genesis::spec::DEFAULT_POWER,
                })
                .collect();
        }
        if let Some(c) = &self.chain_id {
            spec.chain_id = c.clone();
        }
        if let Some(b) = self.block_time_ms {
            spec.block_time_ms = b;
        }
        if let Some(p) = self.base_port {
            spec.base_port = p;
        }
        Ok(spec)
    }
}

/// Opens the network in `home`, generating it first when there is none; says whether it was
/// generated now.
fn prepare(home: &Path, args: &UpArgs) -> Result<(Network, bool)> {
    if home.join(sidechain_genesis::layout::MANIFEST_FILE).exists() {
        let net = Network::open(home)?;
        if net.any_running() {
            return Err(Error::State(format!(
                "the network in {} is already running; see it with `testnet status`, stop it with `testnet down`",
                home.display()
            )));
        }
        let genesis_validators = net
            .manifest
            .nodes
            .iter()
            .filter(|n| n.genesis_power > 0)
            .count();
        let differs = args.validators.is_some_and(|v| v != genesis_validators)
            || args.base_port.is_some_and(|p| p != net.manifest.base_port)
            || args
                .chain_id
                .as_ref()
                .is_some_and(|c| *c != net.manifest.chain_id)
            || args
                .block_time_ms
                .is_some_and(|b| b != net.manifest.block_time_ms)
            || args.config.is_some();
        if differs {
            return Err(Error::State(format!(
                "{} already holds a network ({} nodes, chain {}, ports from {}); start it as it is with `testnet up --home {}`, or remove it with `testnet reset` to make a new one",
                home.display(),
                net.manifest.nodes.len(),
                net.manifest.chain_id,
                net.manifest.base_port,
                home.display()
            )));
        }
        ports::ensure_free(
            net.manifest
                .nodes
                .iter()
                .map(|n| (n.name.as_str(), &n.ports)),
        )?;
        println!("starting the existing network in {}", home.display());
        Ok((net, false))
    } else {
        let spec = args.spec()?;
        println!(
            "generating a network of {} validators (chain {}) in {}",
            spec.validators.len(),
            spec.chain_id,
            home.display()
        );
        sidechain_genesis::generate(&spec, home)?;
        Ok((Network::open(home)?, true))
    }
}

/// Children started by this invocation, by node and process.
type Children = Vec<(String, ProcessKind, Child)>;

/// Starts every node: all applications, then all CometBFT processes, then the relayers.
fn start_all(net: &Network, bins: &Binaries) -> Result<Children> {
    let mut children = Vec::new();
    for kind in ProcessKind::START_ORDER {
        for entry in &net.manifest.nodes {
            let paths = net.paths(&entry.name);
            if !kind.runs_on(&paths) {
                continue;
            }
            let child = process::start(kind, bins, &paths, entry, crate::network::START_TIMEOUT)?;
            println!("  {:<8} {:<10} pid {}", entry.name, kind.name(), child.id());
            children.push((entry.name.clone(), kind, child));
        }
    }
    Ok(children)
}

/// Waits until every node reports a height of at least [`READY_HEIGHT`], printing progress.
async fn wait_for_blocks(net: &Network, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let mut last_line = String::new();
    loop {
        let mut heights = BTreeMap::new();
        for n in &net.manifest.nodes {
            let procs = net.processes(n);
            if !procs.all_alive() {
                let dead = procs
                    .processes
                    .iter()
                    .find(|r| r.state == process::ProcState::Dead)
                    .map(|r| r.kind)
                    .unwrap_or(ProcessKind::Consensus);
                let log = dead.log_file(&net.paths(&n.name));
                return Err(Error::Process(format!(
                    "{} of {} exited while the network was starting; its log {} ends with:\n{}",
                    dead.name(),
                    n.name,
                    log.display(),
                    process::tail(&log, 20)
                )));
            }
            let h = rpc::observe(&n.rpc_url(), Duration::from_secs(2))
                .await
                .map(|o| o.height);
            heights.insert(n.name.clone(), h);
        }
        let line = heights
            .iter()
            .map(|(name, h)| {
                format!(
                    "{name}={}",
                    h.map(|h| h.to_string()).unwrap_or_else(|| "-".into())
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        if line != last_line {
            println!("  [{:>3}s] heights: {line}", start.elapsed().as_secs());
            last_line = line;
        }
        if heights
            .values()
            .all(|h| h.is_some_and(|h| h >= READY_HEIGHT))
        {
            return Ok(());
        }
        if start.elapsed() > timeout {
            let slow: Vec<&str> = heights
                .iter()
                .filter(|(_, h)| !h.is_some_and(|h| h >= READY_HEIGHT))
                .map(|(n, _)| n.as_str())
                .collect();
            let first = slow.first().copied().unwrap_or("node0");
            let log = ProcessKind::Consensus.log_file(&net.paths(first));
            return Err(Error::Chain(format!(
                "{} produced no blocks within {} s; the log of {first} ({}) ends with:\n{}",
                slow.join(", "),
                timeout.as_secs(),
                log.display(),
                process::tail(&log, 20)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The node the printed commands name: the second one when there is one, so that killing it
/// leaves the first (the client's RPC) serving; the only one on a 1-validator network.
fn example_node(nodes: &[sidechain_genesis::layout::NodeEntry]) -> String {
    nodes
        .get(1)
        .or_else(|| nodes.first())
        .map(|n| n.name.clone())
        .unwrap_or_default()
}

fn print_summary(net: &Network, bins: &Binaries, l1: Option<&L1Manifest>, detach: bool) {
    let m = &net.manifest;
    let client = net.layout.client_home();
    println!();
    println!(
        "The network is up: chain {}, {} validators, home {}",
        m.chain_id,
        m.nodes.len(),
        net.home().display()
    );
    println!();
    println!(
        "{:<8} {:<26} {:<18} {:<22}",
        "NODE", "RPC", "P2P", "METRICS (cometbft/app)"
    );
    for n in &m.nodes {
        println!(
            "{:<8} {:<26} {:<18} :{}/:{}",
            n.name,
            n.rpc_url(),
            format!("127.0.0.1:{}", n.ports.p2p),
            n.ports.cometbft_metrics,
            n.ports.app_metrics
        );
    }
    println!();
    println!(
        "Funded account: key `{}` = {} ({})",
        m.faucet_key, m.faucet_address, m.native_denom
    );
    println!(
        "Client home:    {} (client.toml points at {})",
        client.display(),
        m.nodes.first().map(|n| n.rpc_url()).unwrap_or_default()
    );
    println!();
    let sc = format!("{} --home {}", bins.sidechain.display(), client.display());
    let home = format!("--home {}", net.home().display());
    println!("Next:");
    println!("  {sc} keys add alice");
    println!(
        "  {sc} tx transfer --from {} --to <alice's address> --amount 1000 --denom {}",
        m.faucet_key, m.native_denom
    );
    println!(
        "  {sc} query balance <alice's address> --denom {}",
        m.native_denom
    );
    if let Some(l1) = l1 {
        println!();
        println!(
            "L1 (geth --dev):  {} (chain id {}, a block every {} s)",
            l1.rpc, l1.chain_id, l1.block_period_secs
        );
        println!("Bridge contract:  {}", l1.bridge);
        for (symbol, token) in &l1.tokens {
            println!("Test token {symbol:<5} {token}");
        }
        println!(
            "Funded L1 key:    {} in {} (1000 ETH and 1,000,000 of each test token)",
            l1.faucet_address,
            l1.faucet_key_file.display()
        );
        println!(
            "Relayers wait {} L1 blocks before claiming a deposit.",
            l1.confirmations
        );
        println!();
        println!("Bridge a test token (the client home has the L1 defaults):");
        let plain = l1.tokens.get("TST").or_else(|| l1.tokens.values().next());
        let token = plain.map(|t| t.to_string()).unwrap_or_else(|| "eth".into());
        println!("  {sc} keys add alice");
        println!(
            "  {sc} bridge deposit --token {token} --amount 1000 --to <alice's address> --wait"
        );
        println!("  {sc} bridge deposit --token eth --amount 1000000000000000 --to <alice's address> --wait");
        println!("  {sc} bridge status <nonce>");
        println!(
            "  {sc} query balance <alice's address> --denom l1/0x{}",
            hex::encode(plain.map(|t| t.0).unwrap_or_default())
        );
        println!();
    }
    println!("  testnet status {home}          (or --json)");
    let example = example_node(&m.nodes);
    println!("  testnet logs {example} --follow {home}");
    println!("  testnet kill {example} {home} / testnet restart {example} {home}");
    println!("  testnet add-validator {home}");
    if detach {
        println!("  testnet down {home}            stops every process");
    } else {
        println!();
        println!("Press Ctrl-C to stop every process.");
    }
}

/// Starts the network's L1: a new one (deployed and configured) for a network generated now,
/// the existing one for a network that has one, none otherwise.
async fn start_l1(
    net: &Network,
    bins: &Binaries,
    args: &UpArgs,
    fresh: bool,
) -> Result<Option<(L1Manifest, Option<Child>)>> {
    let paths = L1Paths::new(net.home());
    let timeout = Duration::from_secs(60);
    if let Some(l1) = L1Manifest::load(net.home())? {
        if l1::state(&paths) != ProcState::Dead {
            return Ok(Some((l1, None)));
        }
        println!("starting the L1 (geth --dev) on {}", l1.rpc);
        let child = l1::start(
            bins,
            &paths,
            (l1.http_port, l1.authrpc_port, l1.p2p_port),
            l1.block_period_secs,
            timeout,
        )
        .await?;
        return Ok(Some((l1, Some(child))));
    }
    if !fresh || args.no_l1 {
        if !fresh && !args.no_l1 {
            println!("this network was made without an L1 (no {}); it runs without the bridge (`testnet reset` and `testnet up` make one with it)", paths.manifest().display());
        }
        return Ok(None);
    }
    if args.l1_block_period == 0 {
        return Err(Error::State(
            "--l1-block-period must be at least 1 second".into(),
        ));
    }
    if !(1..=sidechain_types::bridge::MAX_CONFIRMATIONS).contains(&args.confirmations) {
        return Err(Error::State(format!(
            "--confirmations must be 1 to {}",
            sidechain_types::bridge::MAX_CONFIRMATIONS
        )));
    }
    if args.batch_max_wait_blocks == 0 {
        return Err(Error::State(
            "--batch-max-wait-blocks must be at least 1".into(),
        ));
    }
    if args.batch_timeout_secs < 60 {
        return Err(Error::State(
            "--batch-timeout-secs must be at least 60 (relayers need time to sign and submit)"
                .into(),
        ));
    }
    if paths.dir.exists() {
        std::fs::remove_dir_all(&paths.dir).map_err(|e| Error::io(&paths.dir, e))?;
    }
    let ports = l1::ports(net.manifest.base_port)?;
    println!(
        "starting the L1 (geth --dev, a block every {} s) on http://127.0.0.1:{}",
        args.l1_block_period, ports.0
    );
    let mut child = l1::start(bins, &paths, ports, args.l1_block_period, timeout).await?;
    let progress = |s: &str| println!("  {s}");
    let deployed = l1::deploy_and_configure(
        net.home(),
        &net.manifest,
        ports,
        L1Options {
            block_period_secs: args.l1_block_period,
            confirmations: args.confirmations,
            batch_max_wait_blocks: args.batch_max_wait_blocks,
            batch_timeout_secs: args.batch_timeout_secs,
        },
        &progress,
    )
    .await;
    match deployed {
        Ok(l1) => {
            println!(
                "  Bridge {} (deploy block {}), tokens {}",
                l1.bridge,
                l1.deploy_block,
                l1.tokens
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(Some((l1, Some(child))))
        }
        Err(e) => {
            let _ = net.stop_all();
            let _ = child.wait();
            // Nothing started on this network yet: the next `up` deploys again.
            let _ = std::fs::remove_dir_all(&paths.dir);
            Err(e)
        }
    }
}

/// Waits until every relayer answers `GET /health` with 200, printing progress.
async fn wait_for_relayers(net: &Network, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let mut last_line = String::new();
    loop {
        let mut states = BTreeMap::new();
        for n in &net.manifest.nodes {
            if !ProcessKind::Relayer.runs_on(&net.paths(&n.name)) {
                continue;
            }
            let healthy = rpc::http_ok(n.ports.relayer, "/health", Duration::from_secs(2)).await;
            states.insert(n.name.clone(), healthy);
        }
        if states.is_empty() {
            return Ok(());
        }
        let line = states
            .iter()
            .map(|(name, ok)| format!("{name}={}", if *ok { "healthy" } else { "starting" }))
            .collect::<Vec<_>>()
            .join(" ");
        if line != last_line {
            println!("  [{:>3}s] relayers: {line}", start.elapsed().as_secs());
            last_line = line;
        }
        if states.values().all(|ok| *ok) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            let first = states
                .iter()
                .find(|(_, ok)| !**ok)
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            let log = ProcessKind::Relayer.log_file(&net.paths(&first));
            return Err(Error::Chain(format!(
                "the relayer of {first} did not report healthy within {} s; its log {} ends with:\n{}",
                timeout.as_secs(),
                log.display(),
                process::tail(&log, 20)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `testnet up`.
pub async fn run(home: &Path, args: UpArgs) -> Result<()> {
    let bins = Binaries::locate()?;
    let (net, fresh) = prepare(home, &args)?;
    let l1 = tokio::select! {
        r = start_l1(&net, &bins, &args, fresh) => r,
        _ = shutdown_signal() => Err(Error::State("interrupted while starting the L1; stopping it".into())),
    };
    let (l1, l1_child) = match l1 {
        Ok(Some((l1, child))) => (Some(l1), child),
        Ok(None) => (None, None),
        Err(e) => {
            let _ = net.stop_all();
            return Err(e);
        }
    };
    println!("starting {} nodes", net.manifest.nodes.len());
    let mut children = match start_all(&net, &bins) {
        Ok(c) => c,
        Err(e) => {
            let _ = net.stop_all();
            return Err(e);
        }
    };
    let waited = tokio::select! {
        r = async {
            wait_for_blocks(&net, Duration::from_secs(args.timeout)).await?;
            wait_for_relayers(&net, Duration::from_secs(args.timeout)).await
        } => r,
        _ = shutdown_signal() => Err(Error::State("interrupted while starting; stopping every process".into())),
    };
    if let Err(e) = waited {
        let _ = net.stop_all();
        return Err(e);
    }
    print_summary(&net, &bins, l1.as_ref(), args.detach);
    if args.detach {
        return Ok(());
    }
    if let Some(child) = l1_child {
        children.push(("l1".into(), ProcessKind::Consensus, child));
    }
    foreground(&net, children).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Keeps the launcher in the foreground: reaps and reports processes that exit, and stops the
/// whole network on Ctrl-C or SIGTERM.
async fn foreground(net: &Network, mut children: Children) -> Result<()> {
    let pid_file = net.launcher_pid_file();
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .map_err(|e| Error::io(&pid_file, e))?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                children.retain_mut(|(node, kind, child)| match child.try_wait() {
                    Ok(Some(status)) => {
                        if node == "l1" {
                            println!("the L1 (geth) exited ({status}); its log is {}", L1Paths::new(net.home()).log().display());
                        } else {
                            println!("{node}: {} exited ({status}); `testnet logs {node}` shows why, `testnet restart {node}` starts it again", kind.name());
                        }
                        false
                    }
                    _ => true,
                });
            }
        }
    }
    println!();
    println!("stopping every process");
    let stopped = net.stop_all();
    for (_, _, child) in &mut children {
        let _ = child.try_wait();
    }
    let _ = std::fs::remove_file(&pid_file);
    let stopped = stopped?;
    println!(
        "stopped {stopped} processes; `testnet up --home {}` starts the same network again",
        net.home().display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidechain_genesis::{layout::NodeEntry, NodePorts};

    fn node(i: usize) -> NodeEntry {
        NodeEntry {
            name: format!("node{i}"),
            index: i,
            ports: NodePorts::for_node(30_000, i).unwrap(),
            node_id: String::new(),
            consensus_pub_key: String::new(),
            validator_address: String::new(),
            operator: sidechain_types::Address([i as u8; 20]),
            eth_address: String::new(),
            genesis_power: 10,
        }
    }

    #[test]
    fn printed_commands_name_a_node_that_exists() {
        assert_eq!(example_node(&[node(0)]), "node0");
        assert_eq!(example_node(&[node(0), node(1), node(2)]), "node1");
    }
}
