//! Deploys the L1 bridge to a JSON-RPC endpoint and prints the addresses as JSON.
//!
//! Example (local geth --dev):
//!
//! ```text
//! bridge-deploy --rpc-url http://127.0.0.1:8545 --key-file deployer.key \
//!   --signer-set signers.json --guardian 0x... --bridge-id 0x01 --eth --test-tokens
//! ```
//!
//! `signers.json`: `{"nonce": 0, "signers": [{"address": "0x...", "power": 10}, ...]}` with raw
//! voting powers; the tool normalizes them to 2^32. `--test-tokens` needs a build with the
//! crate's `test-tokens` feature (`cargo build -p bridge-contracts --features test-tokens`).

use std::path::PathBuf;

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{bail, Context};
use bridge_contracts::deploy::{deploy_all, DeployParams, TokenLimits};
use bridge_contracts::SignerSet;
use clap::Parser;
use serde::Deserialize;

#[derive(Debug, Parser)]
#[command(
    name = "bridge-deploy",
    about = "Deploy the L1 bridge contract and print its addresses as JSON"
)]
struct Args {
    /// JSON-RPC endpoint of the L1 (http).
    #[arg(long, env = "BRIDGE_RPC_URL", default_value = "http://127.0.0.1:8545")]
    rpc_url: String,
    /// File holding the deployer's private key as hex (pays gas, becomes admin).
    #[arg(long, env = "BRIDGE_DEPLOYER_KEY_FILE", conflicts_with = "key")]
    key_file: Option<PathBuf>,
    /// The deployer's private key as hex (prefer --key-file: arguments are visible to other users).
    #[arg(long, env = "BRIDGE_DEPLOYER_KEY", hide_env_values = true)]
    key: Option<String>,
    /// JSON file with the initial signer set: {"nonce": N, "signers": [{"address": "0x..", "power": P}]}.
    #[arg(long)]
    signer_set: PathBuf,
    /// Guardian address (can pause; must differ from the admin).
    #[arg(long)]
    guardian: Address,
    /// Offer admin rights to this address instead of keeping them with the deployer.
    #[arg(long)]
    admin: Option<Address>,
    /// Bridge id (EIP-712 salt), up to 32 bytes of hex, left-padded with zeros.
    #[arg(long)]
    bridge_id: String,
    /// Delay in seconds for signer-set changes that move at least 1/3 of the power.
    #[arg(long, default_value_t = 3600)]
    signer_set_delay: u64,
    /// Delay in seconds for releases above a token's large-release threshold.
    #[arg(long, default_value_t = 3600)]
    release_delay: u64,
    /// Allowlist ether.
    #[arg(long)]
    eth: bool,
    /// Also deploy and allowlist a plain and a fee-on-transfer test token (local networks only;
    /// needs a build with the `test-tokens` feature).
    #[arg(long)]
    test_tokens: bool,
    /// Sliding-window length in seconds for the allowlisted tokens.
    #[arg(long, default_value_t = 86_400)]
    window_seconds: u32,
    /// Most value (base units) released per window and token.
    #[arg(long, default_value_t = 10u128.pow(24))]
    window_cap: u128,
    /// Single releases above this many base units wait out the release delay.
    #[arg(long, default_value_t = 10u128.pow(22))]
    large_release_threshold: u128,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerSetFile {
    nonce: u64,
    signers: Vec<SignerEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerEntry {
    address: Address,
    power: u64,
}

fn parse_bridge_id(text: &str) -> anyhow::Result<B256> {
    let hex = text.strip_prefix("0x").unwrap_or(text);
    if hex.is_empty() || hex.len() > 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("--bridge-id must be 1 to 64 hex digits, got {text:?}");
    }
    let padded = format!("{hex:0>64}");
    let id: B256 = padded.parse().context("--bridge-id")?;
    if id == B256::ZERO {
        bail!("--bridge-id must be non-zero");
    }
    Ok(id)
}

fn read_key(args: &Args) -> anyhow::Result<PrivateKeySigner> {
    let text = match (&args.key_file, &args.key) {
        (Some(path), _) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, Some(key)) => key.clone(),
        (None, None) => bail!("give the deployer key with --key-file or BRIDGE_DEPLOYER_KEY"),
    };
    text.trim()
        .parse::<PrivateKeySigner>()
        .context("the deployer key must be 32 bytes of hex")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = read_key(&args)?;
    let text = std::fs::read_to_string(&args.signer_set)
        .with_context(|| format!("reading the signer set {}", args.signer_set.display()))?;
    let file: SignerSetFile = serde_json::from_str(&text)
        .with_context(|| format!("parsing the signer set {}", args.signer_set.display()))?;
    let signer_set = SignerSet::normalized(
        file.nonce,
        file.signers.iter().map(|s| (s.address, s.power)),
    )
    .with_context(|| format!("invalid signer set in {}", args.signer_set.display()))?;
    let limits = TokenLimits {
        window_seconds: args.window_seconds,
        window_cap: args.window_cap,
        large_release_threshold: args.large_release_threshold,
    };
    let params = DeployParams {
        bridge_id: parse_bridge_id(&args.bridge_id)?,
        signer_set,
        guardian: args.guardian,
        admin: args.admin,
        signer_set_delay: args.signer_set_delay,
        release_delay: args.release_delay,
        eth: args.eth.then_some(limits),
        test_tokens: args.test_tokens.then_some(limits),
    };
    let deployed = deploy_all(&args.rpc_url, key, &params)
        .await
        .with_context(|| format!("deploying to {}", args.rpc_url))?;
    println!("{}", serde_json::to_string_pretty(&deployed)?);
    Ok(())
}
