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
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
