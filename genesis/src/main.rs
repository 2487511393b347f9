//! `genesis`: generate a network's keys, genesis and node configuration, or check a genesis
//! file.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sidechain_genesis::{cometbft::GenesisDoc, generate, spec::ValidatorSpec, NetworkSpec};

#[derive(Debug, Parser)]
#[command(
    name = "genesis",
    version,
    about = "Generate a sidechain network or check a genesis file"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate keys, genesis.json and per-node config into a new directory.
    ///
    /// Example: genesis new --out ./net --validators 4 --chain-id demo-1
    ///          genesis new --out ./net --config network.toml
    New(NewArgs),
    /// Check a CometBFT genesis.json: app_state schema and rules, validators matching it.
    ///
    /// Example: genesis validate ./net/genesis.json
    Validate {
        /// Path of the genesis.json to check.
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// Directory to create; it must not exist yet (or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Network spec in TOML (validators, powers, accounts, chain id, block time). Flags given
    /// alongside it override its fields.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of equal-power validators named node0, node1, ... (ignored with a spec that
    /// lists validators).
    #[arg(long)]
    validators: Option<usize>,
    #[arg(long)]
    chain_id: Option<String>,
    /// Milliseconds between blocks (CometBFT's timeout_commit).
    #[arg(long)]
    block_time_ms: Option<u64>,
    /// First local port; node i uses the ten ports from base + 10*i.
    #[arg(long)]
    base_port: Option<u16>,
    /// Print the manifest as JSON.
    #[arg(long)]
    json: bool,
}

/// Builds the spec from a file and/or flags.
fn spec_from(args: &NewArgs) -> anyhow::Result<NetworkSpec> {
    let mut spec = match &args.config {
        Some(path) => NetworkSpec::load(path)?,
        None => NetworkSpec::with_validators(args.validators.unwrap_or(4)),
    };
    if let (Some(n), Some(_)) = (args.validators, &args.config) {
        if spec.validators.len() != n {
            spec.validators = (0..n)
                .map(|i| ValidatorSpec {
                    name: format!("node{i}"),
                    power: sidechain_genesis::spec::DEFAULT_POWER,
                })
                .collect();
        }
    }
    if let Some(c) = &args.chain_id {
        spec.chain_id = c.clone();
    }
    if let Some(b) = args.block_time_ms {
        spec.block_time_ms = b;
    }
    if let Some(p) = args.base_port {
        spec.base_port = p;
    }
    Ok(spec)
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::New(args) => {
            let spec = spec_from(&args)?;
            let manifest = generate(&spec, &args.out)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            } else {
                println!(
                    "generated {} validators of chain {} in {}",
                    manifest.nodes.len(),
                    manifest.chain_id,
                    args.out.display()
                );
                for n in &manifest.nodes {
                    println!(
                        "  {:<8} rpc {}  p2p {}  abci {}  power {}",
                        n.name,
                        n.rpc_url(),
                        n.ports.p2p,
                        n.ports.abci,
                        n.genesis_power
                    );
                }
                println!(
                    "funded key `{}` ({}) in {}",
                    manifest.faucet_key,
                    manifest.faucet_address,
                    args.out.join("client").display()
                );
                println!("start it with: testnet up --home {}", args.out.display());
            }
        }
        Command::Validate { file, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let state = GenesisDoc::from_json(&bytes).and_then(|d| d.check().map(|s| (d, s)));
            let (doc, state) =
                state.with_context(|| format!("{} is not a valid genesis", file.display()))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "valid": true,
                        "chain_id": doc.chain_id,
                        "validators": state.validators.len(),
                        "accounts": state.accounts.len(),
                    })
                );
            } else {
                println!(
                    "{}: valid genesis of chain {} with {} validators and {} accounts",
                    file.display(),
                    doc.chain_id,
                    state.validators.len(),
                    state.accounts.len()
                );
            }
        }
    }
    Ok(())
}
