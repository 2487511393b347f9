//! `finalize-bench`: FinalizeBlock throughput on real RocksDB with blocks of signed transfers,
//! broken down by phase, next to the raw ed25519 single and batch verification rates measured
//! in the same run. Single-threaded by construction; `make bench` also pins it to one core.
//!
//! Writes a JSON report (default `bench/results/finalize.json`) with `tx_per_s` (5,000-transfer
//! blocks, end to end) and `raw_batch_verify_per_s`.

use std::{path::PathBuf, time::Instant};

/// The node's allocator, so the figures are the node's (ADR 6).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use base64::Engine;
use clap::Parser;
use ed25519_consensus::{batch, SigningKey, VerificationKeyBytes};
use serde::Serialize;
use sidechain_app::{block, genesis::init_chain};
use sidechain_store::Store;
use sidechain_types::{
    genesis::{Coin, GenesisBridge},
    tx::build_signed,
    Address, Denom, GenesisAccount, GenesisState, GenesisValidator, Msg, Params,
};

#[derive(Parser, Debug)]
#[command(about = "FinalizeBlock throughput by phase vs raw ed25519 verification")]
struct Args {
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench/results/finalize.json")]
    out: PathBuf,
    /// Block sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    block_sizes: Vec<usize>,
    /// Measured blocks per size (after one warm-up block).
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// Funded accounts (senders are drawn from them, one transaction per sender per block).
    #[arg(long, default_value_t = 20_000)]
    accounts: usize,
}

#[derive(Serialize, Default, Clone, Copy)]
struct Phases {
    decode_ms: f64,
    signatures_ms: f64,
    execution_ms: f64,
    merkle_ms: f64,
    commit_ms: f64,
}

impl Phases {
    fn total_ms(&self) -> f64 {
        self.decode_ms + self.signatures_ms + self.execution_ms + self.merkle_ms + self.commit_ms
    }
    fn add(&mut self, o: &Phases) {
        self.decode_ms += o.decode_ms;
        self.signatures_ms += o.signatures_ms;
        self.execution_ms += o.execution_ms;
        self.merkle_ms += o.merkle_ms;
        self.commit_ms += o.commit_ms;
    }
    fn scaled(&self, f: f64) -> Phases {
        Phases {
            decode_ms: self.decode_ms * f,
            signatures_ms: self.signatures_ms * f,
            execution_ms: self.execution_ms * f,
            merkle_ms: self.merkle_ms * f,
            commit_ms: self.commit_ms * f,
        }
    }
}

#[derive(Serialize)]
struct SizeReport {
    block_txs: usize,
    blocks: usize,
    tx_per_s: f64,
    /// Mean milliseconds per block, by phase.
    phases_ms: Phases,
    /// Share of the block time per phase, in percent.
    phases_pct: Phases,
}

#[derive(Serialize)]
struct Report {
    tx_per_s: f64,
    raw_single_verify_per_s: f64,
    raw_batch_verify_per_s: f64,
    ratio_to_batch_verify: f64,
    target_ratio: f64,
    sizes: Vec<SizeReport>,
    accounts: usize,
    note: &'static str,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn raw_verify_rates(n: usize) -> (f64, f64) {
    let keys: Vec<SigningKey> = (0..n).map(|i| seed_key(1_000_000 + i)).collect();
    let msgs: Vec<[u8; 32]> = (0..n)
        .map(|i| sidechain_types::sha256(&i.to_le_bytes()))
        .collect();
    let items: Vec<_> = keys
        .iter()
        .zip(&msgs)
        .map(|(k, m)| (k.verification_key(), k.sign(m), *m))
        .collect();
    // Single: best of 3 rounds.
    let mut single = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for (vk, sig, m) in &items {
            assert!(vk.verify(sig, m).is_ok());
        }
        single = single.min(t.elapsed().as_secs_f64());
    }
    let mut batched = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut v = batch::Verifier::new();
        for (vk, sig, m) in &items {
            v.queue((VerificationKeyBytes::from(*vk), *sig, &m[..]));
        }
        assert!(v.verify(rand_core::OsRng).is_ok());
        batched = batched.min(t.elapsed().as_secs_f64());
    }
    (n as f64 / single, n as f64 / batched)
}

fn seed_key(i: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed[31] = 0xbe;
    SigningKey::from(seed)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let max_block = args.block_sizes.iter().copied().max().unwrap_or(0);
    anyhow::ensure!(
        args.accounts >= max_block,
        "--accounts must be at least the largest block size"
    );
    eprintln!("raw ed25519 verification over {max_block} signatures ...");
    let (raw_single, raw_batch) = raw_verify_rates(max_block.max(1000));
    eprintln!("  single {raw_single:.0}/s, batch {raw_batch:.0}/s");

    let native = Denom::new("side")?;
    eprintln!("generating {} funded accounts ...", args.accounts);
    let keys: Vec<SigningKey> = (0..args.accounts).map(seed_key).collect();
    let addrs: Vec<Address> = keys
        .iter()
        .map(|k| Address::from_pubkey(&k.verification_key().to_bytes()))
        .collect();
    let validator = seed_key(usize::MAX / 2);
    let genesis = GenesisState {
        native_denom: native.clone(),
        params: Params::default(),
        accounts: addrs
            .iter()
            .map(|a| GenesisAccount {
                address: *a,
                balances: vec![Coin {
                    denom: native.clone(),
                    amount: 1u128 << 80,
                }],
            })
            .collect(),
        validators: vec![GenesisValidator {
            name: "bench".into(),
            pub_key: base64::engine::general_purpose::STANDARD
                .encode(validator.verification_key().to_bytes()),
            power: 1,
            operator: addrs[0],
            eth_address: format!("0x{}", "11".repeat(20)),
        }],
        denoms: vec![],
        bridge: GenesisBridge::default(),
    };
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path())?;
    let g = init_chain("bench-chain", &serde_json::to_vec(&genesis)?, &[]).context("genesis")?;
    store.stage(0, g.writes)?;
    let mut nonces = vec![0u64; args.accounts];
    let mut height = 0u64;
    let mut rng = Lcg(7);
    let mut sizes = Vec::new();
    let mut sender_cursor = 0usize;

    for &size in &args.block_sizes {
        let mut sum = Phases::default();
        for round in 0..=args.blocks {
            // Build the block (not timed): `size` distinct senders, random recipients.
            let txs: Vec<Vec<u8>> = (0..size)
                .map(|_| {
                    let s = sender_cursor % args.accounts;
                    sender_cursor += 1;
                    let to = addrs[(rng.next() as usize) % args.accounts];
                    let tx = build_signed(
                        &keys[s],
                        "bench-chain",
                        nonces[s],
                        1,
                        vec![Msg::transfer(
                            to,
                            native.clone(),
                            1 + (rng.next() % 1000) as u128,
                        )],
                    )
                    .expect("fee fits");
                    nonces[s] += 1;
                    tx.encode()
                })
                .collect();
            height += 1;
            let mut p = Phases::default();
            let t = Instant::now();
            let decoded = block::decode_txs(&txs);
            p.decode_ms = ms(t);
            let t = Instant::now();
            let sig_ok = block::verify_signatures(&decoded);
            p.signatures_ms = ms(t);
            let t = Instant::now();
            let out = {
                let view = store.pending_view();
                let at = sidechain_app::BlockInfo {
                    height,
                    time_secs: height,
                };
                block::execute_block(&view, at, &decoded, &sig_ok)?
            };
            p.execution_ms = ms(t);
            let failed = out.tx_results.iter().filter(|r| !r.is_ok()).count();
            anyhow::ensure!(
                failed == 0,
                "{failed} transactions failed in the benchmark block: {:?}",
                out.tx_results.iter().find(|r| !r.is_ok())
            );
            let t = Instant::now();
            store.stage(height, out.writes)?;
            p.merkle_ms = ms(t);
            let t = Instant::now();
            store.commit(height)?;
            p.commit_ms = ms(t);
            if round > 0 {
                sum.add(&p);
            }
            eprintln!(
                "  block {height:>3} ({size} txs{}): {:.1} ms = decode {:.1} + sig {:.1} + exec {:.1} + merkle {:.1} + commit {:.1}",
                if round == 0 { ", warm-up" } else { "" },
                p.total_ms(), p.decode_ms, p.signatures_ms, p.execution_ms, p.merkle_ms, p.commit_ms
            );
        }
        let mean = sum.scaled(1.0 / args.blocks as f64);
        let total = mean.total_ms();
        sizes.push(SizeReport {
            block_txs: size,
            blocks: args.blocks,
            tx_per_s: size as f64 / (total / 1e3),
            phases_ms: mean,
            phases_pct: mean.scaled(100.0 / total),
        });
    }

    let tx_per_s = sizes
        .iter()
        .find(|s| s.block_txs == 5000)
        .or(sizes.last())
        .map(|s| s.tx_per_s)
        .unwrap_or(0.0);
    let report = Report {
        tx_per_s,
        raw_single_verify_per_s: raw_single,
        raw_batch_verify_per_s: raw_batch,
        ratio_to_batch_verify: tx_per_s / raw_batch,
        target_ratio: 0.5,
        sizes,
        accounts: args.accounts,
        note: "one thread; tx_per_s is end to end for 5,000-transfer blocks (decode + batch signature check + execution + JMT update + synced RocksDB commit)",
    };
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.out, format!("{json}\n"))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{json}");
    eprintln!(
        "tx_per_s {:.0} vs raw batch verify {:.0}/s: ratio {:.2} (target >= 0.5); report in {}",
        report.tx_per_s,
        raw_batch,
        report.ratio_to_batch_verify,
        args.out.display()
    );
    Ok(())
}
