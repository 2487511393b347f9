//! Measures the bridge's gas on revm (Osaka rules) and writes `contracts/gas-report.json`:
//!
//! `{"deposit_erc20": G, "deposit_eth": G, "submit_batch": [{"signers", "withdrawals", "gas"}],
//!   "update_signer_set": [{"signers", "gas"}]}`
//!
//! Figures are whole-transaction gas (21,000 base and calldata included) in the steady state:
//! the bridge already holds the token, the depositor has deposited before, the submitter already
//! holds the token and the current window bucket is in use. Withdrawals go to fresh recipients
//! (their token balance goes from zero to non-zero, the expensive case). Batches are signed by
//! the smallest quorum of equal-power signers (just over 2/3). Run with `make gas-report`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;

use alloy::primitives::U256;
use bridge_contracts::SignerSet;
use serde::Serialize;
use support::*;

const SIGNER_COUNTS: [usize; 4] = [4, 16, 64, 128];
const WITHDRAWAL_COUNTS: [usize; 3] = [1, 10, 100];

#[derive(Serialize)]
struct BatchGas {
    signers: usize,
    withdrawals: usize,
    gas: u64,
}

#[derive(Serialize)]
struct UpdateGas {
    signers: usize,
    gas: u64,
}

#[derive(Serialize)]
struct Report {
    deposit_erc20: u64,
    deposit_eth: u64,
    submit_batch: Vec<BatchGas>,
    update_signer_set: Vec<UpdateGas>,
}

fn deposits() -> (u64, u64) {
    let mut f = Fixture::new(4);
    let (user, token) = (f.user, f.token);
    f.deposit(user, token, U256::from(ONE))
        .expect("first deposit");
    let erc20 = f
        .deposit(user, token, U256::from(ONE))
        .expect("deposit")
        .gas_used;
    f.deposit_eth(user, U256::from(ONE))
        .expect("first ETH deposit");
    let eth = f
        .deposit_eth(user, U256::from(ONE))
        .expect("ETH deposit")
        .gas_used;
    (erc20, eth)
}

fn batches(signers: usize, next_recipient: &mut u64) -> Vec<BatchGas> {
    let mut f = Fixture::new(signers);
    let (user, token, relayer) = (f.user, f.token, f.relayer);
    f.deposit(user, token, U256::from(1_000_000 * ONE))
        .expect("deposit");
    f.mint(token, relayer, U256::from(ONE));
    // Warm-up batch so the window bucket and the nonce are in their steady state.
    let warmup = f.batch(
        token,
        &[(fresh_recipient(u64::MAX), U256::from(ONE))],
        U256::from(ONE),
    );
    f.submit_signed(&warmup).expect("warm-up batch");

    let mut rows = Vec::new();
    for withdrawals in WITHDRAWAL_COUNTS {
        let list: Vec<_> = (0..withdrawals)
            .map(|_| {
                *next_recipient += 1;
                (fresh_recipient(*next_recipient), U256::from(ONE))
            })
            .collect();
        let batch = f.batch(token, &list, U256::from(ONE));
        let gas = f.submit_signed(&batch).expect("batch executes").gas_used;
        rows.push(BatchGas {
            signers,
            withdrawals,
            gas,
        });
    }
    rows
}

fn update(signers: usize) -> UpdateGas {
    let mut f = Fixture::new(signers);
    // Replace one member: a small change that applies at once (no delay bookkeeping).
    let mut keys: Vec<_> = f.keys[1..].to_vec();
    keys.push(key(900_000));
    let next =
        SignerSet::normalized(f.set.nonce + 1, keys.iter().map(|k| (k.address(), 1))).expect("set");
    let quorum = f.quorum();
    let gas = f
        .update_signer_set(&next, &quorum)
        .expect("update")
        .gas_used;
    UpdateGas { signers, gas }
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("gas-report.json"));
    let (deposit_erc20, deposit_eth) = deposits();
    let mut next_recipient = 0;
    let submit_batch: Vec<BatchGas> = SIGNER_COUNTS
        .iter()
        .flat_map(|&s| batches(s, &mut next_recipient))
        .collect();
    let update_signer_set: Vec<UpdateGas> = SIGNER_COUNTS.iter().map(|&s| update(s)).collect();
    let report = Report {
        deposit_erc20,
        deposit_eth,
        submit_batch,
        update_signer_set,
    };
    std::fs::write(
        &out,
        format!("{}\n", serde_json::to_string_pretty(&report)?),
    )?;

    // A readable summary with the targets.
    let quorum = |s: usize| quorum_size(&equal_signers(s, 1, 1_000).1);
    println!("| measurement | gas |\n|---|---:|");
    println!("| deposit (ERC-20) | {deposit_erc20} |\n| depositETH | {deposit_eth} |");
    println!(
        "\n| signers (signing) | withdrawals | gas | gas per withdrawal |\n|---|---:|---:|---:|"
    );
    for row in &report.submit_batch {
        println!(
            "| {} ({}) | {} | {} | {} |",
            row.signers,
            quorum(row.signers),
            row.withdrawals,
            row.gas,
            row.gas / row.withdrawals as u64
        );
    }
    let gas = |s: usize, w: usize| {
        report
            .submit_batch
            .iter()
            .find(|r| r.signers == s && r.withdrawals == w)
            .map(|r| r.gas)
            .unwrap_or_default()
    };
    println!("\n| marginal cost | gas |\n|---|---:|");
    for (a, b) in [(4, 16), (16, 64), (64, 128), (4, 128)] {
        let per_sig = (gas(b, 1) - gas(a, 1)) / (quorum(b) - quorum(a)) as u64;
        println!("| per extra signature, {a} -> {b} signers (1 withdrawal) | {per_sig} |");
    }
    for s in SIGNER_COUNTS {
        println!(
            "| per extra withdrawal, 10 -> 100, {s} signers | {} |",
            (gas(s, 100) - gas(s, 10)) / 90
        );
    }
    println!("\n| signers | update_signer_set gas |\n|---|---:|");
    for row in &report.update_signer_set {
        println!("| {} | {} |", row.signers, row.gas);
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
