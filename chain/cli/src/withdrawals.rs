//! `sidechain bridge withdraw|cancel|status <withdrawal>` and `sidechain query bridge
//! batches|signer-sets`: burn wrapped tokens for an L1 account and follow the withdrawal
//! through its batch to its release on L1.
//!
//! ```text
//! sidechain bridge withdraw --from alice --denom l1/eth --amount 1000 --to 0xAbC… --fee 10 --wait
//! sidechain bridge status 3 --withdrawal --json
//! sidechain bridge cancel 3 --from alice
//! sidechain query bridge batches --json
//! ```

use std::{str::FromStr, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address as L1Address, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use anyhow::{anyhow, bail, Context};
use bridge_contracts::Bridge;
use serde::Serialize;
use sidechain_client::{Client, SendOptions};
use sidechain_types::{
    bridge::submitter_turn, BridgeParams, Denom, EthAddress, L1SignerSet, Msg, OutgoingBatch,
    SignerSetUpdate, Withdrawal, WithdrawalState,
};

use crate::{output, Ctx};

/// How far back (L1 blocks) `status` looks for the `BatchExecuted` event of a batch the chain
/// has not yet marked executed.
const EXECUTION_LOOKBACK: u64 = 10_000;

/// Where a withdrawal is, as `bridge status ID --json` and `withdraw --wait --json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawalStatus {
    pub id: u64,
    /// `queued`, `in_batch`, `submitted`, `released`, `deferred`, `delayed`, `requeued` or
    /// `cancelled`.
    pub state: &'static str,
    /// What it waits for, in words.
    pub waiting_for: String,
    pub owner: String,
    pub denom: String,
    /// L1 token address (`0x000…0` for ether).
    pub token: String,
    /// L1 recipient.
    pub to: String,
    /// Base units, decimal.
    pub amount: String,
    pub fee: String,
    /// Sidechain height that took it.
    pub height: u64,
    /// The batch carrying it (in_batch, submitted, released, deferred, delayed), or the one
    /// that timed out (requeued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_nonce: Option<u64>,
    /// Signatures collected for the batch, and their power out of the L1 signer set's 2^32.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_power: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_set_power: Option<u64>,
    /// L1 timestamp (seconds) from which the batch can no longer execute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l1_tx_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l1_block: Option<u64>,
    /// delayed: the L1 release id and the L1 time (seconds) from which `executeRelease` pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable_at: Option<u64>,
}

impl WithdrawalStatus {
    /// Whether L1 is done with it (released, deferred, delayed) or it was cancelled.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state,
            "released" | "deferred" | "delayed" | "cancelled"
        )
    }
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// Parses a decimal amount of base units (`what` names the flag).
pub fn parse_u128(s: &str, what: &str) -> anyhow::Result<u128> {
    s.parse::<u128>().map_err(|_| {
        anyhow!("{what} `{s}` is not a whole number of base units (digits only, below 2^128)")
    })
}

/// A withdrawal as the user typed it.
#[derive(Debug, Clone)]
pub struct WithdrawRequest<'a> {
    /// Local key name of the account that pays.
    pub from: &'a str,
    pub denom: &'a str,
    /// Base units (decimal) the L1 recipient receives.
    pub amount: &'a str,
    /// Base units (decimal) for the submitter.
    pub fee: &'a str,
    /// L1 recipient, 0x address.
    pub to: &'a str,
}

/// Burns `amount + fee` of `denom` from key `from` and queues the withdrawal to `to`;
/// returns the committed withdrawal's id and transaction hash.
pub async fn withdraw(
    ctx: &Ctx,
    client: &Client,
    req: &WithdrawRequest<'_>,
    timeout: Duration,
) -> anyhow::Result<(u64, String)> {
    let denom = Denom::new(req.denom).map_err(|e| anyhow!("--denom: {e}"))?;
    let amount = parse_u128(req.amount, "--amount")?;
    let fee = parse_u128(req.fee, "--fee")?;
    let to = EthAddress::from_str(req.to)
        .map_err(|e| anyhow!("--to: {e}; give the L1 account's 0x address"))?;
    if let Err((_, reason)) = sidechain_types::bridge::check_withdraw(amount, fee, &to) {
        bail!("{reason}");
    }
    let (key, _) = ctx.keystore().signing_key(req.from)?;
    let sent = client
        .sign_and_send(
            &key,
            vec![Msg::withdraw(denom, amount, fee, to)],
            &SendOptions::timeout(timeout),
        )
        .await?;
    let o = &sent.outcome;
    if !sent.succeeded() {
        bail!(
            "the withdrawal failed in block {} with code {} ({}): {}",
            o.height,
            o.code,
            o.code_name,
            o.log
        );
    }
    let id = o
        .attribute("withdrawal_queued", "id")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            anyhow!(
                "transaction {} committed but its withdrawal_queued event carries no id; query it with `sidechain query tx {}`",
                o.hash,
                o.hash
            )
        })?;
    Ok((id, o.hash.clone()))
}

/// Where withdrawal `id` is. With an L1 provider, a batch the chain still holds as outstanding
/// but that L1 executed shows as `submitted` with its L1 transaction.
pub async fn status(
    client: &Client,
    l1: Option<&DynProvider>,
    params: &BridgeParams,
    id: u64,
) -> anyhow::Result<WithdrawalStatus> {
    let w: Withdrawal = client
        .withdrawal(id)
        .await?
        .ok_or_else(|| anyhow!("no withdrawal has id {id} (ids start at 1)"))?;
    let mut s = WithdrawalStatus {
        id,
        state: w.state.name(),
        waiting_for: String::new(),
        owner: w.owner.to_string(),
        denom: w.denom.to_string(),
        token: w.token.to_string(),
        to: w.to.to_string(),
        amount: w.amount.to_string(),
        fee: w.fee.to_string(),
        height: w.height,
        batch_nonce: None,
        signatures: None,
        signed_power: None,
        signer_set_power: None,
        batch_timeout: None,
        l1_tx_hash: None,
        l1_block: None,
        release_id: None,
        executable_at: None,
    };
    match &w.state {
        WithdrawalState::Queued => {
            s.waiting_for = format!(
                "a batch of its token: one is cut when {} withdrawals wait or the oldest has waited {} blocks, and after the outstanding batch settles",
                params.batch_max_size, params.batch_max_wait_blocks
            );
        }
        WithdrawalState::Requeued { nonce } => {
            s.batch_nonce = Some(*nonce);
            s.waiting_for = format!(
                "batch {nonce} timed out on L1 unexecuted; the withdrawal waits for the next batch"
            );
        }
        WithdrawalState::Cancelled { height } => {
            s.waiting_for =
                format!("nothing: cancelled at height {height}, amount and fee returned");
        }
        WithdrawalState::InBatch { nonce } => {
            s.batch_nonce = Some(*nonce);
            let batch = client.batch(*nonce).await?.ok_or_else(|| {
                anyhow!("withdrawal {id} names batch {nonce}, which the chain does not hold")
            })?;
            let set = client.l1_signer_set().await?.unwrap_or(L1SignerSet {
                nonce: 0,
                signers: Vec::new(),
                powers: Vec::new(),
            });
            let signed = batch
                .signatures
                .iter()
                .filter_map(|sig| set.powers.get(sig.signer_index as usize))
                .fold(0u64, |a, p| a.saturating_add(*p));
            s.signatures = Some(batch.signatures.len());
            s.signed_power = Some(signed);
            s.signer_set_power = Some(set.powers.iter().fold(0u64, |a, p| a.saturating_add(*p)));
            s.batch_timeout = Some(batch.timeout);
            s.waiting_for = if batch.ready {
                "submission to L1 by a relayer (signatures pass the contract's threshold)".into()
            } else {
                format!(
                    "signatures: {} of {} signers, power {signed} of {} (more than 2/3 makes it ready)",
                    batch.signatures.len(),
                    set.signers.len(),
                    s.signer_set_power.unwrap_or_default()
                )
            };
            if let Some(provider) = l1 {
                if let Some((tx, block)) = executed_on_l1(provider, params, *nonce).await? {
                    s.state = "submitted";
                    s.l1_tx_hash = Some(tx);
                    s.l1_block = Some(block);
                    s.waiting_for = format!(
                        "L1 executed the batch in block {block}; waiting for {} confirmations and the validators' attestation",
                        params.confirmations
                    );
                }
            }
        }
        WithdrawalState::Released {
            nonce,
            l1_block,
            l1_tx_hash,
        } => {
            s.batch_nonce = Some(*nonce);
            s.l1_block = Some(*l1_block);
            s.l1_tx_hash = Some(hex0x(l1_tx_hash));
            s.waiting_for = format!("nothing: released on L1 in block {l1_block}");
        }
        WithdrawalState::Deferred {
            nonce,
            l1_block,
            l1_tx_hash,
        } => {
            s.batch_nonce = Some(*nonce);
            s.l1_block = Some(*l1_block);
            s.l1_tx_hash = Some(hex0x(l1_tx_hash));
            s.waiting_for = format!(
                "the recipient: the transfer to {} failed, so the amount waits in the bridge; {} calls claim({}, to) on L1",
                w.to, w.to, w.token
            );
        }
        WithdrawalState::Delayed {
            nonce,
            l1_block,
            l1_tx_hash,
            release_id,
            executable_at,
        } => {
            s.batch_nonce = Some(*nonce);
            s.l1_block = Some(*l1_block);
            s.l1_tx_hash = Some(hex0x(l1_tx_hash));
            s.release_id = Some(*release_id);
            s.executable_at = Some(*executable_at);
            s.waiting_for = format!(
                "the large-release delay: anyone may call executeRelease({release_id}, ...) on L1 from L1 time {executable_at}"
            );
        }
    }
    Ok(s)
}

/// The L1 transaction and block of `BatchExecuted(nonce)`, if L1 holds one in the last
/// [`EXECUTION_LOOKBACK`] blocks.
async fn executed_on_l1(
    provider: &DynProvider,
    params: &BridgeParams,
    nonce: u64,
) -> anyhow::Result<Option<(String, u64)>> {
    let head = provider
        .get_block_number()
        .await
        .map_err(|e| anyhow!("reading the L1 head ({e})"))?;
    let filter = Filter::new()
        .address(L1Address::from(params.contract.0))
        .event_signature(Bridge::BatchExecuted::SIGNATURE_HASH)
        .topic1(U256::from(nonce))
        .from_block(
            head.saturating_sub(EXECUTION_LOOKBACK)
                .max(params.deploy_block),
        )
        .to_block(BlockNumberOrTag::Latest);
    let logs = provider
        .get_logs(&filter)
        .await
        .map_err(|e| anyhow!("reading BatchExecuted({nonce}) from L1 ({e})"))?;
    Ok(logs
        .iter()
        .filter(|l| !l.removed)
        .filter_map(|l| Some((l.transaction_hash?.to_string(), l.block_number?)))
        .next_back())
}

/// The text form of a withdrawal's status.
pub fn human(s: &WithdrawalStatus) -> String {
    let mut lines = vec![format!("withdrawal {}: {}", s.id, s.state)];
    lines.push(format!("waiting for  {}", s.waiting_for));
    lines.push(format!(
        "amount       {} {} (fee {}) to {}",
        s.amount, s.denom, s.fee, s.to
    ));
    if let Some(n) = s.batch_nonce {
        lines.push(format!("batch        {n}"));
    }
    if let (Some(n), Some(p), Some(t)) = (s.signatures, s.signed_power, s.signer_set_power) {
        lines.push(format!("signatures   {n} (power {p} of {t})"));
    }
    if let Some(h) = &s.l1_tx_hash {
        lines.push(format!(
            "l1 tx        {h} (block {})",
            s.l1_block.unwrap_or_default()
        ));
    }
    lines.join("\n")
}

/// Follows withdrawal `id` until L1 is done with it (or it is cancelled), printing each
/// change of state on stderr. Times out after `timeout`.
pub async fn follow(
    ctx: &Ctx,
    client: &Client,
    l1: Option<&DynProvider>,
    params: &BridgeParams,
    id: u64,
    timeout: Duration,
) -> anyhow::Result<WithdrawalStatus> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match status(client, l1, params, id).await {
            Ok(s) => {
                let line = format!("{}: {}", s.state, s.waiting_for);
                if line != last && !ctx.json {
                    eprintln!("withdrawal {id}: {line}");
                }
                last = line;
                if s.is_final() {
                    return Ok(s);
                }
            }
            Err(e) => {
                if !ctx.json {
                    eprintln!("withdrawal {id}: cannot read its state yet ({e:#}); retrying");
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "withdrawal {id} is still {last} after {} s; follow it with `sidechain bridge status {id} --withdrawal`",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One batch as `query bridge batches` prints it.
#[derive(Debug, Serialize)]
struct BatchOut {
    nonce: u64,
    token: String,
    /// `signing`, `ready`, `executed` or `timed_out`.
    state: &'static str,
    withdrawals: usize,
    refunds: usize,
    fee: String,
    timeout: u64,
    height: u64,
    signer_set_nonce: u64,
    signatures: usize,
    /// The L1 signer-set member whose relayer submits it now (ready batches).
    #[serde(skip_serializing_if = "Option::is_none")]
    submitter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    l1_tx_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settled_height: Option<u64>,
    ids: Vec<u64>,
}

fn batch_out(b: &OutgoingBatch, set: Option<&L1SignerSet>, height: u64) -> BatchOut {
    use sidechain_types::BatchOutcome;
    let state = match b.settled.as_ref().map(|s| &s.outcome) {
        Some(BatchOutcome::Executed(_)) => "executed",
        Some(BatchOutcome::TimedOut { .. }) => "timed_out",
        None if b.ready => "ready",
        None => "signing",
    };
    let submitter = (state == "ready")
        .then(|| {
            let set = set?;
            let i = submitter_turn(b.nonce, b.ready_height, height, set.signers.len())?;
            set.signers.get(i).map(|a| a.to_string())
        })
        .flatten();
    BatchOut {
        nonce: b.nonce,
        token: b.token.to_string(),
        state,
        withdrawals: b.withdrawals.iter().filter(|w| !w.refund).count(),
        refunds: b.withdrawals.iter().filter(|w| w.refund).count(),
        fee: b.fee.to_string(),
        timeout: b.timeout,
        height: b.height,
        signer_set_nonce: b.signer_set_nonce,
        signatures: b.signatures.len(),
        submitter,
        l1_tx_hash: match b.settled.as_ref().map(|s| &s.outcome) {
            Some(BatchOutcome::Executed(e)) => Some(hex0x(&e.l1_tx_hash)),
            _ => None,
        },
        settled_height: b.settled.as_ref().map(|s| s.height),
        ids: b
            .withdrawals
            .iter()
            .filter(|w| !w.refund)
            .map(|w| w.id)
            .collect(),
    }
}

/// `sidechain query bridge batches`.
pub async fn query_batches(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let batches = client.batches().await?;
    let set = client.l1_signer_set().await?;
    let height = client.status().await?.latest_height;
    let out: Vec<BatchOut> = batches
        .iter()
        .map(|b| batch_out(b, set.as_ref(), height))
        .collect();
    output::print(ctx, &serde_json::json!({ "batches": out }), || {
        if out.is_empty() {
            return "no batch yet".into();
        }
        let mut lines = vec![format!(
            "{:>6}  {:<10}  {:<42}  {:>5}  {:>4}  {:>12}  {}",
            "nonce", "state", "token", "count", "sigs", "fee", "l1 tx"
        )];
        for b in &out {
            lines.push(format!(
                "{:>6}  {:<10}  {:<42}  {:>5}  {:>4}  {:>12}  {}",
                b.nonce,
                b.state,
                b.token,
                b.withdrawals + b.refunds,
                b.signatures,
                b.fee,
                b.l1_tx_hash.clone().unwrap_or_else(|| "-".into())
            ));
        }
        lines.join("\n")
    });
    Ok(())
}

#[derive(Debug, Serialize)]
struct SignerSetOut {
    nonce: u64,
    /// `signing`, `ready`, `pending`, `active` or `cancelled`; the set L1 holds is `active`.
    status: &'static str,
    signed_by: Option<u64>,
    signatures: usize,
    height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activates_at: Option<u64>,
    signers: Vec<String>,
    powers: Vec<u64>,
}

fn update_out(u: &SignerSetUpdate) -> SignerSetOut {
    SignerSetOut {
        nonce: u.set.nonce,
        status: u.status.name(),
        signed_by: Some(u.signed_by),
        signatures: u.signatures.len(),
        height: Some(u.height),
        activates_at: match u.status {
            sidechain_types::SignerSetStatus::Pending { activates_at, .. } => Some(activates_at),
            _ => None,
        },
        signers: u.set.signers.iter().map(|a| a.to_string()).collect(),
        powers: u.set.powers.clone(),
    }
}

/// `sidechain query bridge signer-sets`: the set L1 holds and the latest updates.
pub async fn query_signer_sets(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let current = client
        .l1_signer_set()
        .await?
        .context("the chain runs without a bridge: it holds no L1 signer set")?;
    let updates: Vec<SignerSetOut> = client
        .signer_set_updates()
        .await?
        .iter()
        .map(update_out)
        .collect();
    let l1 = SignerSetOut {
        nonce: current.nonce,
        status: "active",
        signed_by: None,
        signatures: 0,
        height: None,
        activates_at: None,
        signers: current.signers.iter().map(|a| a.to_string()).collect(),
        powers: current.powers.clone(),
    };
    output::print(
        ctx,
        &serde_json::json!({ "l1": l1, "updates": updates }),
        || {
            let mut lines = vec![format!(
                "L1 holds signer set {} ({} members)",
                l1.nonce,
                l1.signers.len()
            )];
            for (a, p) in l1.signers.iter().zip(&l1.powers) {
                lines.push(format!("  {a}  {p}"));
            }
            for u in &updates {
                lines.push(format!(
                    "update {}: {} ({} members, {} signatures, signed by set {})",
                    u.nonce,
                    u.status,
                    u.signers.len(),
                    u.signatures,
                    u.signed_by.unwrap_or_default()
                ));
            }
            lines.join("\n")
        },
    );
    Ok(())
}
