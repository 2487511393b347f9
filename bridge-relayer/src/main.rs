//! `bridge-relayer`: relays final L1 deposits to the sidechain and withdrawal batches to L1
//! for one validator.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use bridge_relayer::{
    config::{self, Config},
    l1::L1,
    metrics::Metrics,
    ops,
    run::Relayer,
    sidechain::Sidechain,
};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "bridge-relayer",
    version,
    about = "Relay final L1 bridge deposits to the sidechain, and withdrawal batches to L1, for one validator",
    after_help = "Examples:\n  bridge-relayer start --home .testnet/nodes/node0/relayer\n  bridge-relayer config validate --home .testnet/nodes/node0/relayer --online --json"
)]
struct Cli {
    /// The relayer's home: relayer.toml, keys/operator.json and bridge/eth_key.json (0600).
    #[arg(long, global = true, env = "BRIDGE_RELAYER_HOME", default_value = ".")]
    home: PathBuf,
    /// Config file (default: <home>/relayer.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl From<LogFormat> for sidechain_telemetry::LogFormat {
    fn from(f: LogFormat) -> Self {
        match f {
            LogFormat::Text => sidechain_telemetry::LogFormat::Text,
            LogFormat::Json => sidechain_telemetry::LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check both chains, then relay until stopped (SIGTERM or Ctrl-C). Outages of either
    /// chain are retried with backoff and reported on /health; a configuration that does not
    /// match a chain stops it with the reason.
    Start {
        /// Log format; the level comes from RUST_LOG (default: info).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Both chains as this relayer sees them: L1 head and safe head, sidechain height, the
    /// last deposit claimed against the contract's, the outstanding batch and signer-set
    /// update, the bridge key's gas balance, the operator's balances, and the running
    /// relayer's /health.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Work waiting on the validators: deposits awaiting quorum (power so far), the batch
    /// awaiting signatures or submission, signer-set updates waiting.
    Pending {
        #[arg(long)]
        json: bool,
    },
    /// Runs every check and exits non-zero naming each that failed: L1 reachable, chain id,
    /// contract code and bridge id, sidechain reachable with its chain id and bridge, operator
    /// registered to a validator, bridge key equal to the registered Ethereum address, gas and
    /// fee balances above their floors, mesh peers seen (when the running relayer has a mesh).
    ///
    /// Example: bridge-relayer health-check --home .testnet/nodes/node0/relayer --json
    HealthCheck {
        /// Wei the bridge key must hold for gas (default 0.01 ETH).
        #[arg(long, default_value = "10000000000000000")]
        min_gas_wei: String,
        /// Base units of the native token the operator account must hold for fees.
        #[arg(long, default_value_t = 1_000)]
        min_fee_balance: u128,
        #[arg(long)]
        json: bool,
    },
    /// The relayer's keys: the operator account (sidechain) and the Ethereum bridge key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Scan L1 blocks from --from-block to the safe head again and claim every deposit this
    /// validator has not claimed and the chain has not applied (for events a node may have
    /// failed to return). Safe to run next to a running relayer: claims are idempotent.
    Clear {
        #[arg(long)]
        from_block: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// The operator address and bridge address, with their files.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Create the bridge key file (a fresh secp256k1 key) where l1.bridge_key points, unless
    /// one exists. Register its address with the validator (`sidechain tx
    /// rotate-validator-keys`) before the relayer uses it.
    Add {
        #[arg(long)]
        json: bool,
    },
    /// Write the bridge key file from a hex secret (file with 64 hex digits, `0x` optional).
    Import {
        /// File holding the hex secp256k1 secret.
        #[arg(long)]
        secret_file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check every field and the bridge key file; with --online also check both chains once
    /// (L1 chain id, contract code and bridge id; sidechain chain id, bridge, the operator's
    /// validator and that the bridge key is the validator's registered Ethereum address).
    Validate {
        #[arg(long)]
        online: bool,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| config::default_path(&cli.home));
    let r = match cli.command {
        Command::Start { log_format } => runtime.block_on(start(&cli.home, &path, log_format)),
        Command::Config(ConfigCommand::Validate { online, json }) => {
            runtime.block_on(validate(&cli.home, &path, online, json))
        }
        Command::Status { json } => runtime.block_on(async {
            let s = ops::status(&cli.home, &path).await?;
            print(json, &s, || format!("{s:#?}"))
        }),
        Command::Pending { json } => runtime.block_on(async {
            let p = ops::pending(&cli.home, &path).await?;
            print(json, &p, || {
                let mut lines = Vec::new();
                for (n, power, total) in &p.deposits {
                    lines.push(format!(
                        "deposit {n}: awaiting quorum, power {power} of {total}"
                    ));
                }
                if let Some(b) = &p.batch {
                    lines.push(format!("batch {}: {}", b["nonce"], b["state"]));
                }
                for (n, s) in &p.signer_sets {
                    lines.push(format!("signer-set update {n}: {s}"));
                }
                if lines.is_empty() {
                    lines.push("nothing pending".into());
                }
                lines.join("\n")
            })
        }),
        Command::HealthCheck {
            min_gas_wei,
            min_fee_balance,
            json,
        } => runtime.block_on(async {
            let gas_wei = min_gas_wei
                .parse::<alloy::primitives::U256>()
                .map_err(|e| anyhow::anyhow!("--min-gas-wei `{min_gas_wei}`: {e}"))?;
            let checks = ops::health_check(
                &cli.home,
                &path,
                ops::Floors {
                    gas_wei,
                    fee_units: min_fee_balance,
                },
            )
            .await;
            let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
            let out =
                serde_json::json!({ "ok": failed.is_empty(), "failed": failed, "checks": checks });
            print(json, &out, || {
                checks
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {:<22} {}",
                            if c.ok { "ok  " } else { "FAIL" },
                            c.name,
                            c.detail
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
            if failed.is_empty() {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "health check failed: {}",
                    failed.join(", ")
                ))
            }
        }),
        Command::Keys(KeysCommand::Show { json }) => {
            ops::keys_show(&cli.home, &path).and_then(|k| print(json, &k, || format!("{k:#?}")))
        }
        Command::Keys(KeysCommand::Add { json }) => ops::bridge_key_write(&cli.home, &path, None)
            .and_then(|a| {
                print(json, &serde_json::json!({ "bridge_address": a }), || {
                    format!("new bridge key {a}")
                })
            }),
        Command::Keys(KeysCommand::Import { secret_file, json }) => {
            let secret = std::fs::read_to_string(&secret_file)
                .map_err(|e| anyhow::anyhow!("--secret-file {}: {e}", secret_file.display()))
                .and_then(|t| {
                    let t = t.trim();
                    let bytes = hex::decode(t.strip_prefix("0x").unwrap_or(t))
                        .map_err(|e| anyhow::anyhow!("--secret-file: not hex ({e})"))?;
                    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                        anyhow::anyhow!(
                            "--secret-file: a secp256k1 secret is 32 bytes (64 hex digits)"
                        )
                    })
                });
            secret
                .and_then(|s| ops::bridge_key_write(&cli.home, &path, Some(s)))
                .and_then(|a| {
                    print(json, &serde_json::json!({ "bridge_address": a }), || {
                        format!("imported bridge key {a}")
                    })
                })
        }
        Command::Clear { from_block, json } => runtime.block_on(async {
            let n = ops::clear(&cli.home, &path, from_block).await?;
            print(
                json,
                &serde_json::json!({ "from_block": from_block, "claimed": n }),
                || format!("scanned L1 from block {from_block}; {n} deposits claimed"),
            )
        }),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `value` as JSON, or the text `human` builds.
fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

async fn start(home: &Path, path: &Path, log_format: LogFormat) -> anyhow::Result<()> {
    sidechain_telemetry::init(log_format.into())?;
    let (config, checked) = Config::load(path)?;
    let metrics = Metrics::new();
    if let Some(addr) = config.relayer.metrics {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on relayer.metrics = {addr}: {e}; pick a free port or remove the field"
            )
        })?;
        tokio::spawn(metrics.clone().serve(listener));
    }
    let key = config.load_bridge_key(home, path)?;
    let mesh = bridge_relayer::mesh::start_from_config(
        &config,
        home,
        path,
        key.address(),
        metrics.mesh.clone(),
    )
    .await?;
    let mut relayer = Relayer::new(config, checked, home, key, metrics)?;
    if let Some(mesh) = mesh {
        tracing::info!(peer_id = %mesh.peer_id(), listen = ?mesh.listen_addrs(), "joined the relayer mesh");
        relayer = relayer.with_mesh(mesh);
    }
    tracing::info!(config = %path.display(), "bridge-relayer starting");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = relayer.run() => r?,
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        _ = term.recv() => tracing::info!("terminated; stopping"),
    }
    Ok(())
}

async fn validate(home: &Path, path: &Path, online: bool, json: bool) -> anyhow::Result<()> {
    let outcome = async {
        let (config, checked) = Config::load(path)?;
        let key = config.load_bridge_key(home, path)?;
        if online {
            L1::new(&config, checked.bridge)?
                .check(config.l1.chain_id, checked.bridge_id)
                .await?;
            let side = Sidechain::new(&config, home)?;
            side.check(&config, &checked).await?;
            side.check_bridge_key(&key.address()).await?;
        } else {
            bridge_relayer::sidechain::load_operator_key(home, &config.sidechain.operator_key)?;
        }
        Ok::<_, bridge_relayer::Error>(())
    }
    .await;
    if json {
        let v = match &outcome {
            Ok(()) => serde_json::json!({"ok": true, "config": path, "online": online}),
            Err(e) => {
                serde_json::json!({"ok": false, "config": path, "online": online, "error": e.to_string()})
            }
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if outcome.is_ok() {
        println!(
            "{} is valid{}",
            path.display(),
            if online {
                " and matches both chains"
            } else {
                ""
            }
        );
    }
    outcome.map_err(Into::into)
}
