//! `sidechain query`.

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use serde::Serialize;
use sidechain_types::{Account, Denom};

use crate::{output, tx::resolve_address, Ctx};

#[derive(Subcommand, Debug)]
pub enum QueryCmd {
    /// An account's nonce and balances.
    ///
    /// Example: sidechain query account side1... --prove
    /// Example: sidechain query account side1... --prove --trust-height 100 --trust-hash 3F9A...
    Account {
        /// Address or local key name.
        address: String,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// One balance.
    ///
    /// Example: sidechain query balance side1... --denom side --json
    Balance {
        address: String,
        #[arg(long)]
        denom: String,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// The total supply of a denom (native, or a wrapped L1 token such as l1/eth).
    ///
    /// Example: sidechain query supply l1/eth --json
    Supply { denom: String },
    /// A committed transaction's result by hash.
    Tx { hash: String },
    /// Chain parameters (minimum gas price, limits).
    Params,
    /// The validator registry.
    Validators,
    /// Open validator-set proposals.
    Proposals,
    /// The bridge's withdrawal batches and L1 signer sets.
    ///
    /// Example: sidechain query bridge batches --json
    #[command(subcommand)]
    Bridge(BridgeQuery),
}

/// `sidechain query bridge ...`.
#[derive(Subcommand, Debug)]
pub enum BridgeQuery {
    /// The outstanding batch and the latest settled ones, newest first: state, size, fee,
    /// signatures, the relayer whose turn it is to submit, the L1 transaction.
    Batches,
    /// The signer set L1 holds and the latest updates the chain produced.
    SignerSets,
}

/// `--prove` and the trust anchor its header verification starts from.
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// Fetch a Merkle proof and check it against the app hash of a committed block, whose
    /// header is verified light-client style from a trust anchor: client.toml's
    /// `trusted_genesis` (the chain's genesis.json; `genesis` writes it), or a trusted header.
    #[arg(long)]
    pub prove: bool,
    /// Height of a header you trust, learnt from a source other than this node (overrides
    /// client.toml's anchor; give --trust-hash too).
    #[arg(long, value_name = "H", requires_all = ["prove", "trust_hash"])]
    pub trust_height: Option<u64>,
    /// Hash (hex) of the header at --trust-height.
    #[arg(long, value_name = "HEX", requires = "trust_height")]
    pub trust_hash: Option<String>,
}

#[derive(Serialize)]
struct AccountOut {
    address: String,
    nonce: u64,
    balances: Vec<BalanceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof: Option<ProofOut>,
}

#[derive(Serialize)]
struct BalanceOut {
    denom: String,
    amount: String,
}

#[derive(Serialize)]
struct ProofOut {
    verified: bool,
    height: u64,
    app_hash: String,
    /// What the header carrying the app hash was verified from: `genesis` or `height H`.
    trusted: String,
}

#[derive(Serialize)]
struct OneBalance {
    address: String,
    denom: String,
    amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof: Option<ProofOut>,
}

async fn load_account(
    ctx: &Ctx,
    address: &str,
    trust: &TrustArgs,
) -> anyhow::Result<(String, Account, Option<ProofOut>)> {
    let addr = resolve_address(ctx, address)?;
    if trust.prove {
        let p = ctx.proving_client(trust)?.account_proven(&addr).await?;
        Ok((
            addr.to_string(),
            p.value,
            Some(ProofOut {
                verified: true,
                height: p.height,
                app_hash: p.app_hash,
                trusted: p.trusted,
            }),
        ))
    } else {
        Ok((addr.to_string(), ctx.client()?.account(&addr).await?, None))
    }
}

fn proof_line(p: &Option<ProofOut>) -> String {
    p.as_ref()
        .map(|p| {
            format!(
                "\nproof    verified against app hash {} (state at height {}; header verified from {})",
                p.app_hash, p.height, p.trusted
            )
        })
        .unwrap_or_default()
}

pub async fn run(ctx: &Ctx, cmd: QueryCmd) -> anyhow::Result<()> {
    match cmd {
        QueryCmd::Account { address, trust } => {
            let (address, account, proof) = load_account(ctx, &address, &trust).await?;
            let out = AccountOut {
                address,
                nonce: account.nonce,
                balances: account
                    .balances
                    .iter()
                    .map(|(d, a)| BalanceOut {
                        denom: d.to_string(),
                        amount: a.to_string(),
                    })
                    .collect(),
                proof,
            };
            output::print(ctx, &out, || {
                let mut s = format!("address  {}\nnonce    {}", out.address, out.nonce);
                for b in &out.balances {
                    s.push_str(&format!("\nbalance  {} {}", b.amount, b.denom));
                }
                s + &proof_line(&out.proof)
            });
        }
        QueryCmd::Supply { denom } => {
            let denom = Denom::new(denom).context("denom")?;
            let amount = ctx.client()?.supply(&denom).await?;
            let out = serde_json::json!({"denom": denom.to_string(), "amount": amount.to_string()});
            output::print(ctx, &out, || format!("{amount} {denom}"));
        }
        QueryCmd::Balance {
            address,
            denom,
            trust,
        } => {
            let denom = Denom::new(denom).context("--denom")?;
            let (address, account, proof) = load_account(ctx, &address, &trust).await?;
            let out = OneBalance {
                address,
                amount: account.balance(&denom).to_string(),
                denom: denom.to_string(),
                proof,
            };
            output::print(ctx, &out, || {
                format!("{} {}{}", out.amount, out.denom, proof_line(&out.proof))
            });
        }
        QueryCmd::Tx { hash } => {
            let client = ctx.client()?;
            let t = client
                .tx(&hash)
                .await?
                .ok_or_else(|| anyhow!("transaction {hash} is not in any committed block (yet)"))?;
            output::print(ctx, &t, || {
                format!(
                    "hash    {}\nheight  {}\ncode    {} ({})\nlog     {}",
                    t.hash, t.height, t.code, t.code_name, t.log
                )
            });
        }
        QueryCmd::Params => {
            let p = ctx.client()?.params().await?;
            output::print(ctx, &p, || {
                format!(
                    "min gas price        {}\nmax msgs per tx      {}\nproposal ttl blocks  {}\nmax power change     {} bps of the power per block",
                    p.min_gas_price,
                    p.max_msgs_per_tx,
                    p.proposal_ttl_blocks,
                    p.max_power_change_per_block_bps
                )
            });
        }
        QueryCmd::Validators => {
            let v = ctx.client()?.validators().await?;
            output::print(ctx, &v, || {
                v.iter()
                    .map(|v| {
                        format!(
                            "{:<12} power {:<6} operator {}",
                            v.name, v.power, v.operator
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        QueryCmd::Bridge(BridgeQuery::Batches) => crate::withdrawals::query_batches(ctx).await?,
        QueryCmd::Bridge(BridgeQuery::SignerSets) => {
            crate::withdrawals::query_signer_sets(ctx).await?
        }
        QueryCmd::Proposals => {
            let p = ctx.client()?.proposals().await?;
            output::print(ctx, &p, || {
                if p.is_empty() {
                    return "no open proposals".to_string();
                }
                let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
                p.iter()
                    .map(|p| {
                        format!(
                            "#{} {} power {} ({} approval(s), expires after height {})\n    operator {} -> {}\n    eth      {} -> {}",
                            p.id,
                            p.change.name,
                            p.change.power,
                            p.approvals.len(),
                            p.expires_at,
                            or_dash(p.old_operator.map(|a| a.to_string())),
                            or_dash(p.new_operator().map(|a| a.to_string())),
                            or_dash(p.old_eth_address.map(|a| a.to_string())),
                            or_dash(p.new_eth_address().map(|a| a.to_string())),
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
