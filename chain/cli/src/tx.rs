//! `sidechain tx`: build, sign, broadcast, wait for the block.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde::Serialize;
use sidechain_client::SendOptions;
use sidechain_types::{amount::parse_amount, Address, Denom, Msg, ValidatorChange};

use crate::{output, Ctx};

#[derive(Args, Debug)]
pub struct Common {
    /// Name of the signing key (see `sidechain keys list`).
    #[arg(long)]
    from: String,
    /// Use this nonce instead of the account's committed one (to queue several transactions).
    #[arg(long)]
    nonce: Option<u64>,
    /// Seconds to wait for the transaction to be committed.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

#[derive(Subcommand, Debug)]
pub enum TxCmd {
    /// Send tokens.
    ///
    /// Example: sidechain tx transfer --from alice --to side1qy... --amount 1000 --denom side
    Transfer {
        #[command(flatten)]
        common: Common,
        /// Recipient: an address (side1...) or the name of a local key.
        #[arg(long)]
        to: String,
        /// Whole number of base units.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        denom: String,
    },
    /// Propose adding, re-weighting (same key, new power) or removing (power 0) a validator.
    /// Must be sent from a current validator's operator key; counts as that validator's approval.
    ProposeValidator {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
        /// The 32-byte ed25519 CometBFT consensus public key: 64 hex digits, or base64 as in
        /// genesis and `priv_validator_key.json`.
        #[arg(long)]
        consensus_key: String,
        #[arg(long)]
        power: u64,
        /// The new validator's operator (relayer) account.
        #[arg(long)]
        operator: String,
        /// 0x-prefixed Ethereum address of the validator's bridge key (EIP-55 checksum checked
        /// when mixed case).
        #[arg(long)]
        eth_address: sidechain_types::EthAddress,
    },
    /// Approve an open validator-set proposal.
    VoteValidator {
        #[command(flatten)]
        common: Common,
        /// Proposal id (see `sidechain query proposals`).
        #[arg(long)]
        proposal: u64,
    },
    /// Hand a validator's operator account and bridge key to new ones, at once. Must be sent
    /// from that validator's current operator key; no vote is needed, and a proposal cannot do
    /// it. Give the current value for the one you keep.
    ///
    /// Example: sidechain tx rotate-validator-keys --from operator --consensus-key BASE64
    /// --new-operator side1qy... --new-eth-address 0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B
    RotateValidatorKeys {
        #[command(flatten)]
        common: Common,
        /// The validator's 32-byte ed25519 CometBFT consensus public key: 64 hex digits, or
        /// base64 as in genesis and `priv_validator_key.json`.
        #[arg(long)]
        consensus_key: String,
        /// The new operator (relayer) account: an address (side1...) or a local key's name.
        #[arg(long)]
        new_operator: String,
        /// 0x-prefixed Ethereum address of the new bridge key (EIP-55 checksum checked when
        /// mixed case).
        #[arg(long)]
        new_eth_address: sidechain_types::EthAddress,
    },
}

#[derive(Serialize)]
struct Sent {
    hash: String,
    code: u32,
    code_name: String,
    height: u64,
    log: String,
    gas_used: i64,
    from: Address,
    nonce: u64,
}

/// Resolves an address argument: a bech32 address or a local key's name.
pub fn resolve_address(ctx: &Ctx, s: &str) -> anyhow::Result<Address> {
    match s.parse::<Address>() {
        Ok(a) => Ok(a),
        Err(parse_err) => match ctx.keystore().show(s) {
            Ok(k) => Ok(k.address),
            Err(_) => Err(anyhow!(
                "{parse_err} (and there is no local key named `{s}`)"
            )),
        },
    }
}

pub async fn run(ctx: &Ctx, cmd: TxCmd) -> anyhow::Result<()> {
    match cmd {
        TxCmd::Transfer {
            common,
            to,
            amount,
            denom,
        } => {
            let to = resolve_address(ctx, &to).context("--to")?;
            let amount = parse_amount(&amount).map_err(|e| anyhow!("--amount: {e}"))?;
            if amount == 0 {
                bail!("--amount must be positive");
            }
            let denom = Denom::new(denom).context("--denom")?;
            send(ctx, &common, vec![Msg::transfer(to, denom, amount)]).await
        }
        TxCmd::ProposeValidator {
            common,
            name,
            consensus_key,
            power,
            operator,
            eth_address,
        } => {
            let key = parse_consensus_key(&consensus_key)?;
            let operator = resolve_address(ctx, &operator).context("--operator")?;
            let change = ValidatorChange {
                name,
                consensus_key: key,
                power,
                operator,
                eth_address,
            };
            send(ctx, &common, vec![Msg::propose_validator_change(change)]).await
        }
        TxCmd::VoteValidator { common, proposal } => {
            send(ctx, &common, vec![Msg::vote_validator_change(proposal)]).await
        }
        TxCmd::RotateValidatorKeys {
            common,
            consensus_key,
            new_operator,
            new_eth_address,
        } => {
            let key = parse_consensus_key(&consensus_key)?;
            let new_operator = resolve_address(ctx, &new_operator).context("--new-operator")?;
            let msg = Msg::rotate_validator_keys(key, new_operator, new_eth_address);
            send(ctx, &common, vec![msg]).await
        }
    }
}

/// A `--consensus-key`: 64 hex digits (optionally `0x`-prefixed) or base64 (as CometBFT writes
/// it in genesis and `priv_validator_key.json`).
fn parse_consensus_key(s: &str) -> anyhow::Result<[u8; 32]> {
    let hex_digits = s.trim_start_matches("0x");
    if hex_digits.len() == 64 {
        if let Some(key) = hex::decode(hex_digits)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        {
            return Ok(key);
        }
    }
    sidechain_types::genesis::decode_pubkey(s)
        .map_err(|e| anyhow!("--consensus-key must be 64 hex digits or base64 of 32 bytes ({e})"))
}

async fn send(ctx: &Ctx, common: &Common, msgs: Vec<Msg>) -> anyhow::Result<()> {
    let (key, _) = ctx.keystore().signing_key(&common.from)?;
    let options = SendOptions {
        nonce: common.nonce,
        timeout: Duration::from_secs(common.timeout),
    };
    let done = ctx.client()?.sign_and_send(&key, msgs, &options).await?;
    let (outcome, nonce) = (done.outcome, done.nonce);
    let sent = Sent {
        hash: outcome.hash.clone(),
        code: outcome.code,
        code_name: outcome.code_name.clone(),
        height: outcome.height,
        log: outcome.log.clone(),
        gas_used: outcome.gas_used,
        from: done.signer,
        nonce,
    };
    if outcome.code != 0 {
        if ctx.json {
            output::print(ctx, &sent, String::new);
        }
        bail!(
            "transaction {} failed in block {} with code {} ({}): {}",
            outcome.hash,
            outcome.height,
            outcome.code,
            outcome.code_name,
            outcome.log
        );
    }
    output::print(ctx, &sent, || {
        format!(
            "committed in block {}\nhash   {}\ncode   0 (ok)\nnonce  {nonce}",
            sent.height, sent.hash
        )
    });
    Ok(())
}
