//! `sidechain`: keys, transfers, queries and validator-set proposals from the command line.
//!
//! ```text
//! sidechain keys add alice
//! sidechain tx transfer --from alice --to side1... --amount 1000 --denom side
//! sidechain query balance side1... --denom side --json
//! sidechain bridge deposit --token eth --amount 1000000000000000 --to alice --wait
//! ```

mod bridge;
mod keys;
mod output;
mod query;
mod tx;
mod withdrawals;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sidechain_client::{Client, ClientConfig, TrustAnchor};

#[derive(Parser, Debug)]
#[command(
    name = "sidechain",
    version,
    about = "Use the sidechain: keys, transfers, queries, bridge deposits"
)]
pub struct Cli {
    /// Client home: key files under keys/, defaults in client.toml.
    #[arg(long, global = true, env = "SIDECHAIN_HOME")]
    home: Option<PathBuf>,
    /// CometBFT RPC URL of a node (default: client.toml's `node`, else http://127.0.0.1:26657).
    #[arg(long, global = true, env = "SIDECHAIN_NODE")]
    node: Option<String>,
    /// Print one JSON object for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create, list and show keys (files are readable by their owner only).
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Sign and send a transaction, then wait until it is committed.
    #[command(subcommand)]
    Tx(tx::TxCmd),
    /// Read chain state.
    #[command(subcommand)]
    Query(query::QueryCmd),
    /// Bridge tokens from L1: deposit, and follow a deposit until it is minted.
    #[command(subcommand)]
    Bridge(bridge::BridgeCmd),
    /// Chain id, latest height and app hash of the node.
    Status,
}

/// Where the command runs: home, node and output mode.
pub struct Ctx {
    pub home: PathBuf,
    pub node: String,
    pub json: bool,
}

impl Ctx {
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.node)?)
    }

    /// A client for proven queries: it verifies headers from the header the flags name
    /// (`--trust-height`/`--trust-hash`), else from client.toml's anchor (`trust_height` and
    /// `trust_hash`, else `trusted_genesis`). With none, an error says how to give one: the
    /// node is never its own witness.
    pub fn proving_client(&self, trust: &query::TrustArgs) -> anyhow::Result<Client> {
        let anchor = match (trust.trust_height, trust.trust_hash.as_deref()) {
            (Some(height), Some(hash)) => TrustAnchor::header(height, hash)?,
            _ => ClientConfig::load(&self.home)?
                .trust_anchor(&self.home)?
                .ok_or_else(|| {
                    sidechain_client::Error::NoTrustAnchor(format!(
                        "{} sets none",
                        self.home
                            .join(sidechain_client::config::FILE_NAME)
                            .display()
                    ))
                })?,
        };
        Ok(self.client()?.trusting(anchor))
    }

    pub fn keystore(&self) -> sidechain_client::Keystore {
        sidechain_client::Keystore::open(&self.home)
    }
}

fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".sidechain")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = cli.home.unwrap_or_else(default_home);
    let node = match cli.node {
        Some(n) => n,
        None => ClientConfig::load(&home)?.node,
    };
    let ctx = Ctx {
        home,
        node,
        json: cli.json,
    };
    match cli.command {
        Command::Keys(cmd) => keys::run(&ctx, cmd),
        Command::Tx(cmd) => tx::run(&ctx, cmd).await,
        Command::Query(cmd) => query::run(&ctx, cmd).await,
        Command::Bridge(cmd) => bridge::run(&ctx, cmd).await,
        Command::Status => {
            let s = ctx.client()?.status().await?;
            output::print(&ctx, &s, || {
                format!(
                    "chain id     {}\nnode         {} ({})\nheight       {}\napp hash     {}\ncatching up  {}",
                    s.chain_id, s.moniker, ctx.node, s.latest_height, s.latest_app_hash, s.catching_up
                )
            });
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    if let Err(e) = run(cli).await {
        output::fail(json, &e);
        std::process::exit(1);
    }
}
