//! `finalize-bench`: FinalizeBlock throughput on real RocksDB with blocks of signed transfers,
//! broken down by phase, against the raw batch verification rate of each maintained Rust
//! ed25519 library that verifies by the ZIP-215 rules CometBFT uses (`ed25519-consensus`,
//! `ed25519-zebra`), measured in the same process on the same signatures. Single-threaded by
//! construction; `make bench` also pins it to one core.
//!
//! One pass is not enough on a shared machine, so the run is made of rounds (7 by default).
//! Each round runs FinalizeBlock on one block of each size between two raw batch verifications
//! of the same 5,000 signatures by each library (in rotating order); its ratio is the round's
//! pipeline rate on the 5,000-transfer blocks over the fastest library's raw rate in that
//! round. The report gives each round's ratio (`ratio_rounds`), their median
//! (`ratio_to_batch_verify`) and their spread.
//!
//! Writes a JSON report (default `bench/results/finalize.json`) with `tx_per_s`,
//! `raw_batch_verify_per_s` (the fastest library), `raw_batch_verify_by_library` and the ratio.

use std::{collections::BTreeMap, path::PathBuf, time::Instant};

/// The node's allocator, so the figures are the node's (ADR 6).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use base64::Engine;
use clap::Parser;
use ed25519_consensus::SigningKey;
use serde::Serialize;
use sidechain_app::{block, genesis::init_chain, sigverify};
use sidechain_store::Store;
use sidechain_types::{
    genesis::{Coin, GenesisBridge},
    tx::build_signed,
    Address, Denom, GenesisAccount, GenesisState, GenesisValidator, Msg, Params,
};

#[derive(Parser, Debug)]
#[command(about = "FinalizeBlock throughput by phase vs raw ed25519 batch verification")]
struct Args {
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench/results/finalize.json")]
    out: PathBuf,
    /// Block sizes to measure; the ratio uses 5,000 if listed, else the largest.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    block_sizes: Vec<usize>,
    /// Rounds; each gives one ratio.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Measured blocks per size per round. Each step of blocks is preceded by one raw batch per
    /// library, and the round ends with one more. Few blocks in all keep the store close to
    /// the same size from the first round to the last (it grows with every block).
    #[arg(long, default_value_t = 1)]
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
struct Spread {
    min: f64,
    max: f64,
}

#[derive(Serialize)]
struct Round {
    tx_per_s: f64,
    raw_batch_verify_by_library: BTreeMap<&'static str, f64>,
    ratio: f64,
}

#[derive(Serialize)]
struct LoadAverage {
    start: Option<f64>,
    end: Option<f64>,
}

#[derive(Serialize)]
struct Report {
    /// Median over the rounds of the end-to-end rate on the largest blocks.
    tx_per_s: f64,
    /// The fastest library's single verification rate.
    raw_single_verify_per_s: f64,
    /// The fastest library's batch rate (median over the rounds).
    raw_batch_verify_per_s: f64,
    fastest_library: &'static str,
    /// The library `sidechain_app::sigverify` uses.
    node_library: &'static str,
    raw_batch_verify_by_library: BTreeMap<&'static str, f64>,
    raw_single_verify_by_library: BTreeMap<&'static str, f64>,
    /// Median of `ratio_rounds`.
    ratio_to_batch_verify: f64,
    ratio_spread: Spread,
    ratio_rounds: Vec<f64>,
    target_ratio: f64,
    rounds: Vec<Round>,
    sizes: Vec<SizeReport>,
    accounts: usize,
    /// 1-minute load average of the machine when the run started and ended.
    load_average_1m: LoadAverage,
    note: &'static str,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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

fn seed_key(i: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    seed[31] = 0xbe;
    SigningKey::from(seed)
}

/// The ZIP-215 libraries compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Library {
    Consensus,
    Zebra,
}

impl Library {
    const ALL: [Library; 2] = [Library::Consensus, Library::Zebra];

    fn name(self) -> &'static str {
        match self {
            Library::Consensus => "ed25519-consensus",
            Library::Zebra => "ed25519-zebra",
        }
    }
}

/// One set of signatures (distinct keys, 32-byte messages, as in a block), in each library's
/// types. The conversion from bytes is not timed; queueing (which hashes each message) and
/// verification are.
struct RawSet {
    consensus: Vec<(
        ed25519_consensus::VerificationKeyBytes,
        ed25519_consensus::Signature,
        [u8; 32],
    )>,
    zebra: Vec<(
        ed25519_zebra::VerificationKeyBytes,
        ed25519_zebra::Signature,
        [u8; 32],
    )>,
    bytes: Vec<([u8; 32], [u8; 64], [u8; 32])>,
}

impl RawSet {
    fn new(n: usize) -> RawSet {
        let bytes: Vec<([u8; 32], [u8; 64], [u8; 32])> = (0..n)
            .map(|i| {
                let k = seed_key(1_000_000 + i);
                let m = sidechain_types::sha256(&i.to_le_bytes());
                (k.verification_key().to_bytes(), k.sign(&m).to_bytes(), m)
            })
            .collect();
        RawSet {
            consensus: bytes
                .iter()
                .map(|(pk, sig, m)| ((*pk).into(), (*sig).into(), *m))
                .collect(),
            zebra: bytes
                .iter()
                .map(|(pk, sig, m)| ((*pk).into(), ed25519_zebra::Signature::from_bytes(sig), *m))
                .collect(),
            bytes,
        }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Seconds for one batch verification of the whole set.
    fn batch_secs(&self, lib: Library) -> anyhow::Result<f64> {
        // The batch coefficients come from the OS RNG, as in the node.
        let t = Instant::now();
        let ok = match lib {
            Library::Consensus => {
                let mut v = ed25519_consensus::batch::Verifier::new();
                for (vk, sig, m) in &self.consensus {
                    v.queue((*vk, *sig, &m[..]));
                }
                v.verify(rand_core::OsRng).is_ok()
            }
            Library::Zebra => {
                let mut v = ed25519_zebra::batch::Verifier::new();
                for (vk, sig, m) in &self.zebra {
                    v.queue((*vk, *sig, &m[..]));
                }
                v.verify(rand_core::OsRng).is_ok()
            }
        };
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(ok, "{} rejected a batch of valid signatures", lib.name());
        Ok(secs)
    }

    /// Seconds to verify every signature on its own, from bytes (key decoding included, as on
    /// the node's fallback path).
    fn single_secs(&self, lib: Library) -> anyhow::Result<f64> {
        let t = Instant::now();
        let ok = match lib {
            Library::Consensus => self.bytes.iter().all(|(pk, sig, m)| {
                ed25519_consensus::VerificationKey::try_from(*pk)
                    .and_then(|vk| vk.verify(&(*sig).into(), m))
                    .is_ok()
            }),
            Library::Zebra => self.bytes.iter().all(|(pk, sig, m)| {
                ed25519_zebra::VerificationKey::try_from(*pk)
                    .and_then(|vk| vk.verify(&ed25519_zebra::Signature::from_bytes(sig), m))
                    .is_ok()
            }),
        };
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(ok, "{} rejected a valid signature", lib.name());
        Ok(secs)
    }
}

/// The chain under test: funded accounts on a real RocksDB store.
struct Chain {
    store: Store,
    _dir: tempfile::TempDir,
    keys: Vec<SigningKey>,
    addrs: Vec<Address>,
    nonces: Vec<u64>,
    native: Denom,
    height: u64,
    rng: Lcg,
    sender_cursor: usize,
}

impl Chain {
    fn new(accounts: usize) -> anyhow::Result<Chain> {
        let native = Denom::new("side")?;
        let keys: Vec<SigningKey> = (0..accounts).map(seed_key).collect();
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
        let g =
            init_chain("bench-chain", &serde_json::to_vec(&genesis)?, &[]).context("genesis")?;
        store.stage(0, g.writes)?;
        Ok(Chain {
            store,
            _dir: dir,
            nonces: vec![0u64; accounts],
            keys,
            addrs,
            native,
            height: 0,
            rng: Lcg(7),
            sender_cursor: 0,
        })
    }

    /// Builds a block of `size` transfers from distinct senders to random recipients (not
    /// timed), then runs FinalizeBlock on it phase by phase and commits it.
    fn block(&mut self, size: usize) -> anyhow::Result<Phases> {
        let accounts = self.keys.len();
        let mut txs: Vec<Vec<u8>> = Vec::with_capacity(size);
        for _ in 0..size {
            let s = self.sender_cursor % accounts;
            self.sender_cursor += 1;
            let to = self.addrs[(self.rng.next() as usize) % accounts];
            let tx = build_signed(
                &self.keys[s],
                "bench-chain",
                self.nonces[s],
                1,
                vec![Msg::transfer(
                    to,
                    self.native.clone(),
                    1 + (self.rng.next() % 1000) as u128,
                )],
            )
            .context("fee fits")?;
            self.nonces[s] += 1;
            txs.push(tx.encode());
        }
        self.height += 1;
        let height = self.height;
        let mut p = Phases::default();
        let t = Instant::now();
        let decoded = block::decode_txs(&txs);
        p.decode_ms = ms(t);
        let t = Instant::now();
        let sig_ok = block::verify_signatures(&decoded);
        p.signatures_ms = ms(t);
        let t = Instant::now();
        let out = {
            let view = self.store.pending_view();
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
        self.store.stage(height, out.writes)?;
        p.merkle_ms = ms(t);
        let t = Instant::now();
        self.store.commit(height)?;
        p.commit_ms = ms(t);
        Ok(p)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let load_start = load_average();
    let max_block = args.block_sizes.iter().copied().max().unwrap_or(0);
    anyhow::ensure!(max_block > 0, "--block-sizes must list a positive size");
    anyhow::ensure!(
        args.rounds > 0 && args.blocks > 0,
        "--rounds and --blocks must be positive"
    );
    anyhow::ensure!(
        args.accounts >= max_block,
        "--accounts must be at least the largest block size"
    );
    let ratio_size = if args.block_sizes.contains(&5000) {
        5000
    } else {
        max_block
    };

    eprintln!("signing {ratio_size} signatures for the raw rates ...");
    let raw = RawSet::new(ratio_size);
    let mut raw_single = BTreeMap::new();
    for lib in Library::ALL {
        let secs: Vec<f64> = (0..3)
            .map(|_| raw.single_secs(lib))
            .collect::<anyhow::Result<_>>()?;
        let rate = raw.len() as f64 / median(&secs);
        eprintln!("  {} single: {rate:.0}/s", lib.name());
        raw_single.insert(lib.name(), rate);
    }

    eprintln!("generating {} funded accounts ...", args.accounts);
    let mut chain = Chain::new(args.accounts)?;

    // Warm-up, not counted: one batch per library, one block per size.
    for lib in Library::ALL {
        raw.batch_secs(lib)?;
    }
    for &size in &args.block_sizes {
        let p = chain.block(size)?;
        eprintln!("  warm-up block of {size}: {:.1} ms", p.total_ms());
    }

    let mut sums: Vec<Phases> = vec![Phases::default(); args.block_sizes.len()];
    let mut rounds: Vec<Round> = Vec::with_capacity(args.rounds);
    let mut step = 0usize;
    for round in 0..args.rounds {
        let mut lib_secs = [0.0f64; Library::ALL.len()];
        let (mut pipe_secs, mut pipe_txs) = (0.0f64, 0usize);
        // Raw batches before every block step and once more at the end of the round, so the
        // blocks are framed by raw measurements; the library order rotates from pass to pass.
        let mut raw_pass = |lib_secs: &mut [f64]| -> anyhow::Result<()> {
            for k in 0..Library::ALL.len() {
                let i = (step + k) % Library::ALL.len();
                lib_secs[i] += raw.batch_secs(Library::ALL[i])?;
            }
            step += 1;
            Ok(())
        };
        for _ in 0..args.blocks {
            raw_pass(&mut lib_secs)?;
            for (slot, &size) in args.block_sizes.iter().enumerate() {
                let p = chain.block(size)?;
                sums[slot].add(&p);
                if size == ratio_size {
                    pipe_secs += p.total_ms() / 1e3;
                    pipe_txs += size;
                }
                eprintln!(
                    "  round {round} block {:>3} ({size} txs): {:.1} ms = decode {:.1} + sig {:.1} + exec {:.1} + merkle {:.1} + commit {:.1}",
                    chain.height, p.total_ms(), p.decode_ms, p.signatures_ms, p.execution_ms, p.merkle_ms, p.commit_ms
                );
            }
        }
        raw_pass(&mut lib_secs)?;
        let by_lib: BTreeMap<&'static str, f64> = Library::ALL
            .iter()
            .zip(lib_secs)
            .map(|(lib, secs)| (lib.name(), (raw.len() * (args.blocks + 1)) as f64 / secs))
            .collect();
        let fastest = by_lib.values().copied().fold(0.0, f64::max);
        let tx_per_s = pipe_txs as f64 / pipe_secs;
        let ratio = tx_per_s / fastest;
        eprintln!(
            "round {round}: pipeline {tx_per_s:.0} tx/s; raw batch {}; ratio {ratio:.3}",
            by_lib
                .iter()
                .map(|(l, r)| format!("{l} {r:.0}/s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        rounds.push(Round {
            tx_per_s,
            raw_batch_verify_by_library: by_lib,
            ratio,
        });
    }

    let measured = args.rounds * args.blocks;
    let sizes: Vec<SizeReport> = args
        .block_sizes
        .iter()
        .zip(&sums)
        .map(|(&size, sum)| {
            let mean = sum.scaled(1.0 / measured as f64);
            let total = mean.total_ms();
            SizeReport {
                block_txs: size,
                blocks: measured,
                tx_per_s: size as f64 / (total / 1e3),
                phases_ms: mean,
                phases_pct: mean.scaled(100.0 / total),
            }
        })
        .collect();

    let raw_batch: BTreeMap<&'static str, f64> = Library::ALL
        .iter()
        .map(|lib| {
            let per_round: Vec<f64> = rounds
                .iter()
                .filter_map(|r| r.raw_batch_verify_by_library.get(lib.name()).copied())
                .collect();
            (lib.name(), median(&per_round))
        })
        .collect();
    let (fastest_library, raw_batch_fastest) =
        raw_batch
            .iter()
            .map(|(l, r)| (*l, *r))
            .fold(
                ("", 0.0),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
    let ratio_rounds: Vec<f64> = rounds.iter().map(|r| r.ratio).collect();
    let tx_rounds: Vec<f64> = rounds.iter().map(|r| r.tx_per_s).collect();
    let report = Report {
        tx_per_s: median(&tx_rounds),
        raw_single_verify_per_s: raw_single.get(fastest_library).copied().unwrap_or(0.0),
        raw_batch_verify_per_s: raw_batch_fastest,
        fastest_library,
        node_library: sigverify::LIBRARY,
        raw_batch_verify_by_library: raw_batch,
        raw_single_verify_by_library: raw_single,
        ratio_to_batch_verify: median(&ratio_rounds),
        ratio_spread: Spread {
            min: ratio_rounds.iter().copied().fold(f64::INFINITY, f64::min),
            max: ratio_rounds.iter().copied().fold(0.0, f64::max),
        },
        ratio_rounds,
        target_ratio: 0.5,
        rounds,
        sizes,
        accounts: args.accounts,
        load_average_1m: LoadAverage {
            start: load_start,
            end: load_average(),
        },
        note: "one thread; tx_per_s is end to end for 5,000-transfer blocks (decode + batch signature check + execution + JMT update + synced RocksDB commit), median over rounds; each round alternates raw batch verification of 5,000 signatures by every library with FinalizeBlock, and its ratio is its tx_per_s over its fastest raw batch rate; ratio_to_batch_verify is the median of ratio_rounds",
    };
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.out, format!("{json}\n"))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{json}");
    if report.node_library != report.fastest_library {
        eprintln!(
            "note: the node verifies with {}, but {} was the fastest in this run",
            report.node_library, report.fastest_library
        );
    }
    eprintln!(
        "tx_per_s {:.0} vs raw batch verify {:.0}/s ({}): median ratio {:.2} over {} rounds (min {:.2}, max {:.2}; target >= 0.5); report in {}",
        report.tx_per_s,
        report.raw_batch_verify_per_s,
        report.fastest_library,
        report.ratio_to_batch_verify,
        args.rounds,
        report.ratio_spread.min,
        report.ratio_spread.max,
        args.out.display()
    );
    Ok(())
}
