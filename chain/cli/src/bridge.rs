//! `sidechain bridge`: lock tokens or ether in the L1 bridge for a sidechain account, and follow
//! a deposit from its L1 transaction to its mint.
//!
//! ```text
//! sidechain bridge deposit --token 0x5FbD… --amount 1000 --to alice --wait
//! sidechain bridge deposit --token eth --amount 1000000000000000 --to side1… --json
//! sidechain bridge status 7 --json
//! ```
//!
//! The L1 flags default to the client home's `client.toml` (`l1_rpc`, `l1_key_file`,
//! `bridge`), which `testnet up` writes.

use std::{path::PathBuf, str::FromStr, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address as L1Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use anyhow::{anyhow, bail, Context};
use bridge_contracts::{user, Bridge, ETH};
use clap::Subcommand;
use serde::Serialize;
use sidechain_client::{Client, ClientConfig};
use sidechain_types::{
    bridge::{wrapped_denom, DepositRecord, DepositState},
    BridgeParams, EthAddress, ValidatorInfo,
};

use crate::{output, tx::resolve_address, withdrawals, Ctx};

#[derive(Subcommand, Debug)]
pub enum BridgeCmd {
    /// Lock an ERC-20 (approving the bridge first when the allowance is short) or ether in
    /// the L1 bridge for a sidechain account; prints the L1 transaction hash and the deposit
    /// nonce. With --wait, follows it until it is minted.
    ///
    /// Example: sidechain bridge deposit --token eth --amount 1000000000000000 --to alice --wait
    Deposit {
        /// The L1 token's address, or `eth` for ether.
        #[arg(long)]
        token: String,
        /// Amount in the token's base units (decimal).
        #[arg(long)]
        amount: String,
        /// Sidechain recipient: an address or a local key name.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        l1: L1Flags,
        /// Wait until the deposit is minted on the sidechain, showing what it waits for.
        #[arg(long)]
        wait: bool,
        /// Seconds --wait waits at most.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Where a deposit or a withdrawal is. A deposit: awaiting L1 confirmations, awaiting
    /// quorum (attested power so far), minted at height H, or a refund owed. A withdrawal:
    /// queued, in_batch (batch nonce, signatures x of y power), submitted (L1 tx hash),
    /// released (L1 block), deferred (claimable on L1), delayed (executable after T),
    /// requeued or cancelled. A number names a withdrawal when only a withdrawal has it, or
    /// when both exist (then --deposit picks the deposit); an L1 transaction hash names a
    /// deposit.
    ///
    /// Example: sidechain bridge status 7 --json
    /// Example: sidechain bridge status 3 --withdrawal --json
    Status {
        /// A withdrawal id, a deposit nonce, or the L1 transaction hash of a deposit.
        id: String,
        /// ID is a deposit nonce.
        #[arg(long, conflicts_with = "withdrawal")]
        deposit: bool,
        /// ID is a withdrawal id.
        #[arg(long)]
        withdrawal: bool,
        #[command(flatten)]
        l1: L1Flags,
    },
    /// Burn `--amount` plus `--fee` of a wrapped denom and queue a withdrawal to an L1
    /// account; prints the withdrawal id. The fee goes to the relayer that submits the batch
    /// on L1. With --wait, follows it until L1 has released it.
    ///
    /// Example: sidechain bridge withdraw --from alice --denom l1/eth --amount 1000 --to 0xAbC... --fee 10 --wait
    Withdraw {
        /// Local key name of the sidechain account that pays.
        #[arg(long)]
        from: String,
        /// The wrapped denom (`l1/eth`, `l1/0x...`; `sidechain query balance` shows them).
        #[arg(long)]
        denom: String,
        /// Base units the L1 recipient receives (decimal).
        #[arg(long)]
        amount: String,
        /// L1 recipient (0x address).
        #[arg(long)]
        to: String,
        /// Base units of the same denom paid to the batch's submitter.
        #[arg(long, default_value = "0")]
        fee: String,
        #[command(flatten)]
        l1: L1Flags,
        /// Wait until L1 has released it (or deferred or delayed it), showing each step.
        #[arg(long)]
        wait: bool,
        /// Seconds --wait waits at most.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Cancel a queued withdrawal (one no batch holds): amount and fee come back.
    ///
    /// Example: sidechain bridge cancel 3 --from alice
    Cancel {
        /// The withdrawal id.
        id: u64,
        /// Local key name of the account that made the withdrawal.
        #[arg(long)]
        from: String,
    },
}

/// Where the L1 is and who signs on it.
#[derive(clap::Args, Debug)]
pub struct L1Flags {
    /// L1 JSON-RPC URL (default: client.toml's `l1_rpc`).
    #[arg(long)]
    l1_rpc: Option<String>,
    /// File with the hex secp256k1 key that signs L1 transactions (default: client.toml's
    /// `l1_key_file`).
    #[arg(long)]
    l1_key_file: Option<PathBuf>,
}

/// Where a deposit is, as `bridge status --json` and `deposit --wait --json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct DepositStatus {
    pub nonce: u64,
    /// `awaiting_confirmations`, `awaiting_quorum`, `minted` or `refund_owed`.
    pub state: &'static str,
    /// Voting power of the current validators that claimed the leading content.
    pub attested_power: u64,
    pub total_power: u64,
    pub denom: Option<String>,
    /// Base units, decimal.
    pub amount: Option<String>,
    pub recipient: Option<String>,
    pub token: Option<String>,
    pub l1_tx_hash: Option<String>,
    pub l1_block: Option<u64>,
    /// L1 blocks on top of the deposit's block so far, and how many the relayers wait for.
    pub confirmations: Option<u64>,
    pub required_confirmations: u64,
    /// Sidechain height that minted it (or recorded the refund).
    pub height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
}

struct L1 {
    rpc: String,
    provider: DynProvider,
}

fn l1_rpc(ctx: &Ctx, flags: &L1Flags) -> anyhow::Result<L1> {
    let rpc = match &flags.l1_rpc {
        Some(r) => r.clone(),
        None => ClientConfig::load(&ctx.home)?.l1_rpc.ok_or_else(|| {
            anyhow!("no L1 RPC URL: give --l1-rpc (or set l1_rpc in {}/client.toml; `testnet up` writes it)", ctx.home.display())
        })?,
    };
    let provider = bridge_contracts::rpc::reader(&rpc).context("--l1-rpc")?;
    Ok(L1 { provider, rpc })
}

fn l1_key(ctx: &Ctx, flags: &L1Flags) -> anyhow::Result<PrivateKeySigner> {
    let path = match &flags.l1_key_file {
        Some(p) => p.clone(),
        None => ClientConfig::load(&ctx.home)?.l1_key_file.ok_or_else(|| {
            anyhow!("no L1 key: give --l1-key-file (a file with a hex secp256k1 key, mode 0600)")
        })?,
    };
    user::read_key_file(&path).map_err(|e| anyhow!("the L1 key file: {e}"))
}

/// The chain's bridge, checked against the L1 the user points at.
async fn bridge_params(client: &Client, l1: &L1) -> anyhow::Result<BridgeParams> {
    let params = client.bridge_params().await?.ok_or_else(|| {
        anyhow!(
            "the sidechain at {} has no bridge configured in its genesis",
            client.url()
        )
    })?;
    let chain_id = l1
        .provider
        .get_chain_id()
        .await
        .map_err(|e| anyhow!("cannot reach the L1 at {} ({e}); is it running?", l1.rpc))?;
    if chain_id != params.l1_chain_id {
        bail!(
            "the L1 at {} is chain {chain_id}, but the sidechain's bridge lives on chain {}; point --l1-rpc at that chain",
            l1.rpc,
            params.l1_chain_id
        );
    }
    Ok(params)
}

fn parse_token(s: &str) -> anyhow::Result<EthAddress> {
    if s.eq_ignore_ascii_case("eth") || s.eq_ignore_ascii_case("ether") {
        return Ok(EthAddress::ZERO);
    }
    EthAddress::from_str(s)
        .map_err(|e| anyhow!("--token: {e}; give the L1 token's 0x address, or `eth` for ether"))
}

fn parse_amount(s: &str) -> anyhow::Result<U256> {
    let v = U256::from_str_radix(s, 10).map_err(|_| {
        anyhow!("--amount `{s}` is not a whole number of base units (digits only, below 2^256)")
    })?;
    if v.is_zero() {
        bail!("--amount must be more than 0");
    }
    Ok(v)
}

pub async fn run(ctx: &Ctx, cmd: BridgeCmd) -> anyhow::Result<()> {
    match cmd {
        BridgeCmd::Deposit {
            token,
            amount,
            to,
            l1,
            wait,
            timeout,
        } => {
            let token = parse_token(&token)?;
            let amount = parse_amount(&amount)?;
            let recipient = resolve_address(ctx, &to).context("--to")?;
            let key = l1_key(ctx, &l1)?;
            let l1 = l1_rpc(ctx, &l1)?;
            let client = ctx.client()?;
            let params = bridge_params(&client, &l1).await?;
            let bridge = L1Address::from(params.contract.0);
            let token_addr = L1Address::from(token.0);
            let config = Bridge::new(bridge, &l1.provider)
                .tokenConfig(token_addr)
                .call()
                .await
                .map_err(|e| anyhow!("reading the bridge's token list at {} ({e})", l1.rpc))?;
            if !config.allowed {
                bail!(
                    "the bridge {} does not accept {}; `testnet status --json` lists the test tokens under l1.tokens, and `eth` is ether",
                    params.contract,
                    if token.is_zero() { "ether".to_string() } else { format!("token {token}") }
                );
            }
            let have = user::balance_of(&l1.provider, token_addr, key.address()).await?;
            if have < amount {
                bail!(
                    "the L1 account {} holds {have} base units of {}, less than --amount {amount}",
                    key.address(),
                    if token.is_zero() {
                        "ether".to_string()
                    } else {
                        token.to_string()
                    }
                );
            }
            if !ctx.json {
                eprintln!(
                    "sending the deposit to {} on L1 {}",
                    params.contract, l1.rpc
                );
            }
            let receipt = user::deposit(&l1.rpc, key, bridge, token_addr, amount, recipient.0)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if !ctx.json {
                eprintln!(
                    "deposit nonce {} in L1 block {} (transaction {}){}",
                    receipt.nonce,
                    receipt.l1_block,
                    receipt.l1_tx_hash,
                    if receipt.approved {
                        "; approved the bridge first"
                    } else {
                        ""
                    }
                );
            }
            let denom = wrapped_denom(&token).to_string();
            if !wait {
                let out = serde_json::json!({
                    "l1_tx_hash": receipt.l1_tx_hash.to_string(),
                    "l1_block": receipt.l1_block,
                    "nonce": receipt.nonce,
                    "amount": receipt.amount.to_string(),
                    "denom": denom,
                    "recipient": recipient.to_string(),
                    "approved": receipt.approved,
                });
                output::print(ctx, &out, || {
                    format!(
                        "l1 tx   {}\nnonce   {}\namount  {} (as received by the bridge)\ndenom   {denom}\nfollow it with: sidechain bridge status {}",
                        receipt.l1_tx_hash, receipt.nonce, receipt.amount, receipt.nonce
                    )
                });
                return Ok(());
            }
            let status = follow(
                ctx,
                &client,
                &l1,
                &params,
                receipt.nonce,
                Duration::from_secs(timeout),
            )
            .await?;
            let out = serde_json::json!({
                "l1_tx_hash": receipt.l1_tx_hash.to_string(),
                "l1_block": receipt.l1_block,
                "nonce": receipt.nonce,
                "amount": status.amount,
                "denom": status.denom,
                "recipient": recipient.to_string(),
                "height": status.height,
                "state": status.state,
                "approved": receipt.approved,
            });
            output::print(ctx, &out, || {
                format!(
                    "minted {} {} to {} at height {}",
                    status.amount.clone().unwrap_or_default(),
                    status.denom.clone().unwrap_or_default(),
                    recipient,
                    status.height.unwrap_or_default()
                )
            });
            Ok(())
        }
        BridgeCmd::Status {
            id,
            deposit,
            withdrawal,
            l1,
        } => {
            let client = ctx.client()?;
            if let Ok(n) = id.parse::<u64>() {
                if n == 0 {
                    bail!("deposit nonces and withdrawal ids start at 1");
                }
                let is_withdrawal =
                    withdrawal || (!deposit && client.withdrawal(n).await?.is_some());
                if is_withdrawal {
                    let params = client.bridge_params().await?.ok_or_else(|| {
                        anyhow!("the sidechain at {} has no bridge configured", client.url())
                    })?;
                    // L1 is optional here: without it `submitted` cannot be told from in_batch.
                    let l1 = l1_rpc(ctx, &l1).ok();
                    let s =
                        withdrawals::status(&client, l1.as_ref().map(|l| &l.provider), &params, n)
                            .await?;
                    if !withdrawal && !ctx.json && client.deposit(n).await?.is_some() {
                        eprintln!("(deposit {n} exists too: `sidechain bridge status {n} --deposit` shows it)");
                    }
                    output::print(ctx, &s, || withdrawals::human(&s));
                    return Ok(());
                }
            }
            let l1 = l1_rpc(ctx, &l1)?;
            let params = bridge_params(&client, &l1).await?;
            let nonce = match id.parse::<u64>() {
                Ok(n) => n,
                Err(_) => nonce_of_tx(&l1, &params, &id).await?,
            };
            let s = status(&client, &l1, &params, nonce).await?;
            output::print(ctx, &s, || human(&s));
            Ok(())
        }
        BridgeCmd::Withdraw {
            from,
            denom,
            amount,
            to,
            fee,
            l1,
            wait,
            timeout,
        } => {
            let client = ctx.client()?;
            let params = client.bridge_params().await?.ok_or_else(|| {
                anyhow!(
                    "the sidechain at {} has no bridge configured in its genesis",
                    client.url()
                )
            })?;
            let request = withdrawals::WithdrawRequest {
                from: &from,
                denom: &denom,
                amount: &amount,
                fee: &fee,
                to: &to,
            };
            let (id, hash) =
                withdrawals::withdraw(ctx, &client, &request, Duration::from_secs(timeout.min(60)))
                    .await?;
            if !wait {
                let out = serde_json::json!({ "id": id, "tx_hash": hash, "state": "queued" });
                output::print(ctx, &out, || {
                    format!(
                        "withdrawal {id} queued (transaction {hash})
follow it with: sidechain bridge status {id} --withdrawal"
                    )
                });
                return Ok(());
            }
            if !ctx.json {
                eprintln!("withdrawal {id} queued (transaction {hash})");
            }
            let l1 = l1_rpc(ctx, &l1).ok();
            let s = withdrawals::follow(
                ctx,
                &client,
                l1.as_ref().map(|l| &l.provider),
                &params,
                id,
                Duration::from_secs(timeout),
            )
            .await?;
            let mut out = serde_json::to_value(&s)?;
            out["tx_hash"] = serde_json::Value::String(hash);
            output::print(ctx, &out, || withdrawals::human(&s));
            Ok(())
        }
        BridgeCmd::Cancel { id, from } => {
            let client = ctx.client()?;
            let (key, _) = ctx.keystore().signing_key(&from)?;
            let sent = client
                .sign_and_send(
                    &key,
                    vec![sidechain_types::Msg::cancel_withdrawal(id)],
                    &sidechain_client::SendOptions::default(),
                )
                .await?;
            let o = &sent.outcome;
            if !sent.succeeded() {
                bail!(
                    "cancelling withdrawal {id} failed in block {} with code {} ({}): {}",
                    o.height,
                    o.code,
                    o.code_name,
                    o.log
                );
            }
            let refunded = o
                .attribute("withdrawal_cancelled", "refunded")
                .unwrap_or("0")
                .to_string();
            let out = serde_json::json!({ "id": id, "state": "cancelled", "refunded": refunded, "tx_hash": o.hash, "height": o.height });
            output::print(ctx, &out, || {
                format!(
                    "withdrawal {id} cancelled at height {}; {refunded} base units returned",
                    o.height
                )
            });
            Ok(())
        }
    }
}

fn human(s: &DepositStatus) -> String {
    let what = match s.state {
        "awaiting_confirmations" => format!(
            "awaiting L1 confirmations: {} of {}",
            s.confirmations.unwrap_or_default(),
            s.required_confirmations
        ),
        "awaiting_quorum" => format!(
            "awaiting quorum: attested power {} of {} (more than 2/3 mints)",
            s.attested_power, s.total_power
        ),
        "minted" => format!("minted at height {}", s.height.unwrap_or_default()),
        _ => format!(
            "refund owed to the L1 sender (recorded at height {}): {}",
            s.height.unwrap_or_default(),
            s.refund_reason.clone().unwrap_or_default()
        ),
    };
    let mut lines = vec![format!("deposit {}: {what}", s.nonce)];
    if let (Some(a), Some(d)) = (&s.amount, &s.denom) {
        lines.push(format!("amount  {a} {d}"));
    }
    if let Some(r) = &s.recipient {
        lines.push(format!("to      {r}"));
    }
    if let Some(h) = &s.l1_tx_hash {
        lines.push(format!(
            "l1 tx   {h} (block {})",
            s.l1_block.unwrap_or_default()
        ));
    }
    lines.join("\n")
}

/// Follows deposit `nonce` until it is minted (or a refund is owed, an error), printing each
/// change of what it waits for on stderr.
async fn follow(
    ctx: &Ctx,
    client: &Client,
    l1: &L1,
    params: &BridgeParams,
    nonce: u64,
    timeout: Duration,
) -> anyhow::Result<DepositStatus> {
    let start = std::time::Instant::now();
    let mut last = String::new();
    loop {
        match status(client, l1, params, nonce).await {
            Ok(s) => {
                let line = human(&s).lines().next().unwrap_or_default().to_string();
                if line != last && !ctx.json {
                    eprintln!("[{:>3}s] {line}", start.elapsed().as_secs());
                }
                last = line;
                match s.state {
                    "minted" => return Ok(s),
                    "refund_owed" => bail!(
                        "deposit {nonce} was not minted: {}; the L1 sender is owed a refund",
                        s.refund_reason.unwrap_or_default()
                    ),
                    _ => {}
                }
            }
            Err(e) => {
                if !ctx.json {
                    eprintln!(
                        "[{:>3}s] cannot read the deposit yet: {e:#}",
                        start.elapsed().as_secs()
                    );
                }
            }
        }
        if start.elapsed() > timeout {
            bail!(
                "deposit {nonce} was not minted within {} s ({last}); check it later with `sidechain bridge status {nonce}`",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The nonce of the deposit made by L1 transaction `hash`.
async fn nonce_of_tx(l1: &L1, params: &BridgeParams, hash: &str) -> anyhow::Result<u64> {
    let h = B256::from_str(hash).map_err(|_| {
        anyhow!(
            "`{hash}` is neither a deposit nonce nor an L1 transaction hash (0x + 64 hex digits)"
        )
    })?;
    let receipt = l1
        .provider
        .get_transaction_receipt(h)
        .await
        .map_err(|e| anyhow!("reading the L1 receipt of {hash} ({e})"))?
        .ok_or_else(|| anyhow!("the L1 at {} knows no transaction {hash}", l1.rpc))?;
    let bridge = L1Address::from(params.contract.0);
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == bridge)
        .find_map(|l| l.log_decode::<Bridge::Deposit>().ok())
        .and_then(|e| u64::try_from(e.inner.data.nonce).ok())
        .ok_or_else(|| {
            anyhow!(
                "L1 transaction {hash} made no deposit to the bridge {}",
                params.contract
            )
        })
}

/// Power of the current validators among `voters` (operator addresses).
fn power_of(validators: &[ValidatorInfo], voters: &[sidechain_types::Address]) -> u64 {
    validators
        .iter()
        .filter(|v| voters.contains(&v.operator))
        .fold(0u64, |acc, v| acc.saturating_add(v.power))
}

/// Where deposit `nonce` is, from the sidechain's record and, before any validator claimed
/// it, from its L1 event.
async fn status(
    client: &Client,
    l1: &L1,
    params: &BridgeParams,
    nonce: u64,
) -> anyhow::Result<DepositStatus> {
    let validators = client.validators().await?;
    let total_power = validators
        .iter()
        .fold(0u64, |a, v| a.saturating_add(v.power));
    let record: Option<DepositRecord> = client.deposit(nonce).await?;
    let mut s = DepositStatus {
        nonce,
        state: "awaiting_confirmations",
        attested_power: 0,
        total_power,
        denom: None,
        amount: None,
        recipient: None,
        token: None,
        l1_tx_hash: None,
        l1_block: None,
        confirmations: None,
        required_confirmations: params.confirmations,
        height: None,
        refund_reason: None,
    };
    let fill = |c: &sidechain_types::bridge::DepositClaim, s: &mut DepositStatus| {
        s.denom = Some(wrapped_denom(&c.token).to_string());
        s.amount = Some(c.amount.to_string());
        s.recipient = Some(c.recipient.to_string());
        s.token = Some(c.token.to_string());
        s.l1_tx_hash = Some(format!("0x{}", hex::encode(c.l1_tx_hash)));
        s.l1_block = Some(c.l1_block);
    };
    if let Some(r) = &record {
        if let Some(c) = &r.claim {
            fill(c, &mut s);
        }
        match &r.state {
            DepositState::Minted { height } => {
                s.state = "minted";
                s.height = Some(*height);
                s.attested_power = total_power;
                return Ok(s);
            }
            DepositState::RefundOwed { height, reason } => {
                s.state = "refund_owed";
                s.height = Some(*height);
                s.refund_reason = Some(reason.clone());
                return Ok(s);
            }
            DepositState::Pending => {
                if let Some(best) = r
                    .tallies
                    .iter()
                    .max_by_key(|t| power_of(&validators, &t.validators))
                {
                    s.attested_power = power_of(&validators, &best.validators);
                    fill(&best.claim, &mut s);
                    s.state = "awaiting_quorum";
                }
            }
        }
    }
    if s.l1_block.is_none() {
        // No claim yet: find the event on L1 by its indexed nonce.
        let filter = Filter::new()
            .address(L1Address::from(params.contract.0))
            .event_signature(Bridge::Deposit::SIGNATURE_HASH)
            .topic1(U256::from(nonce))
            .from_block(params.deploy_block)
            .to_block(BlockNumberOrTag::Latest);
        let logs = l1
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| anyhow!("reading deposit {nonce} from the L1 at {} ({e})", l1.rpc))?;
        let log = logs.first().ok_or_else(|| {
            anyhow!(
                "the bridge {} on L1 holds no deposit {nonce} yet",
                params.contract
            )
        })?;
        let e = log
            .log_decode::<Bridge::Deposit>()
            .map_err(|e| anyhow!("a Deposit log that does not decode: {e}"))?;
        let d = &e.inner.data;
        let token = EthAddress(d.token.into_array());
        s.denom = Some(wrapped_denom(&token).to_string());
        s.amount = Some(d.amount.to_string());
        s.recipient = Some(sidechain_types::Address(d.recipient.0).to_string());
        s.token = Some(if d.token == ETH {
            "eth".into()
        } else {
            token.to_string()
        });
        s.l1_tx_hash = log.transaction_hash.map(|h| h.to_string());
        s.l1_block = log.block_number;
    }
    if let Some(block) = s.l1_block {
        let head = l1
            .provider
            .get_block_number()
            .await
            .map_err(|e| anyhow!("reading the L1 head at {} ({e})", l1.rpc))?;
        let confirmations = head.saturating_sub(block);
        s.confirmations = Some(confirmations);
        if s.state == "awaiting_confirmations" && confirmations >= params.confirmations {
            s.state = "awaiting_quorum";
        }
    }
    Ok(s)
}
