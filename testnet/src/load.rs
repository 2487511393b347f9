//! A load generator for a running network: lanes of pre-built transactions, each lane sent in
//! order to one node's RPC (so an account's consecutive nonces reach one mempool in order),
//! all lanes at once; a watcher reads every committed block and matches its successful
//! transactions to the submissions. Only committed transactions count.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use tendermint_rpc::{Client, HttpClient};

use crate::{Error, Result};

/// Transactions to send in order to one node.
#[derive(Debug, Clone)]
pub struct Lane {
    pub rpc: String,
    pub txs: Vec<Vec<u8>>,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Transactions accepted into a mempool.
    pub submitted: u64,
    /// Of those, committed with result code 0.
    pub committed: u64,
    /// Committed transactions per second, from the first submission to the last commit.
    pub tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub seconds: f64,
    pub blocks: u64,
    /// Transactions in the blocks read, whatever their result (ours and other senders').
    pub included: u64,
    /// Of `included`, those whose result code was not 0.
    pub failed: u64,
}

/// The shared builder's client; the firehose calls `broadcast_tx_sync` on it directly (no
/// look-ups between sends) and reads blocks with it.
fn http(url: &str) -> Result<HttpClient> {
    Ok(sidechain_client::http_client(
        url,
        sidechain_client::DEFAULT_TIMEOUT,
    )?)
}

fn tx_hash(tx: &[u8]) -> [u8; 32] {
    sidechain_types::sha256(tx)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Sends every lane for at most `send_for`, then waits up to `drain` for the submitted
/// transactions to commit. Blocks are read from `watch_rpc`. With `rate` (transactions per
/// second over all lanes) submissions are paced; without it every lane sends as fast as its
/// node accepts (saturation).
pub async fn run(
    lanes: Vec<Lane>,
    watch_rpc: &str,
    send_for: Duration,
    drain: Duration,
    rate: Option<f64>,
) -> Result<LoadReport> {
    let slots = Arc::new(AtomicU64::new(0));
    let submitted_at: Arc<Mutex<HashMap<[u8; 32], Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let accepted = Arc::new(AtomicU64::new(0));
    let sending = Arc::new(AtomicBool::new(true));
    let watcher = http(watch_rpc)?;
    let start_height = watcher
        .status()
        .await
        .map_err(|e| sidechain_client::Error::from_rpc(watch_rpc, &e))?
        .sync_info
        .latest_block_height
        .value();
    let start = Instant::now();

    let mut clients: HashMap<String, HttpClient> = HashMap::new();
    let mut tasks = Vec::new();
    for lane in lanes {
        let client = match clients.get(&lane.rpc) {
            Some(c) => c.clone(),
            None => {
                let c = http(&lane.rpc)?;
                clients.insert(lane.rpc.clone(), c.clone());
                c
            }
        };
        let (submitted_at, accepted, sending, slots) = (
            submitted_at.clone(),
            accepted.clone(),
            sending.clone(),
            slots.clone(),
        );
        tasks.push(tokio::spawn(async move {
            'txs: for tx in lane.txs {
                let hash = tx_hash(&tx);
                let mut attempts = 0u32;
                if let Some(rate) = rate.filter(|r| *r > 0.0) {
                    let slot = slots.fetch_add(1, Ordering::Relaxed);
                    let at = start + Duration::from_secs_f64(slot as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                }
                loop {
                    if !sending.load(Ordering::Relaxed) {
                        break 'txs;
                    }
                    if let Ok(mut map) = submitted_at.lock() {
                        map.insert(hash, Instant::now());
                    }
                    match client.broadcast_tx_sync(tx.clone()).await {
                        Ok(r) if r.code.is_ok() => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        // Mempool full, a full RPC, or a CheckTx refusal: back off and retry a
                        // few times; a lane that keeps failing stops (its later nonces would fail
                        // too).
                        _ => {
                            if let Ok(mut map) = submitted_at.lock() {
                                map.remove(&hash);
                            }
                            attempts += 1;
                            if attempts > 200 {
                                break 'txs;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        }));
    }

    let stop_at = start + send_for;
    let mut latencies = Vec::new();
    let mut committed = 0u64;
    let mut last_commit = start;
    let mut next = start_height + 1;
    let mut blocks = 0u64;
    let (mut included, mut failed) = (0u64, 0u64);
    let mut drain_deadline = None;
    loop {
        let now = Instant::now();
        if now >= stop_at && sending.swap(false, Ordering::Relaxed) {
            drain_deadline = Some(now + drain);
        }
        let latest = watcher
            .status()
            .await
            .map(|s| s.sync_info.latest_block_height.value())
            .unwrap_or(next - 1);
        while next <= latest {
            let h = tendermint::block::Height::try_from(next)
                .map_err(|e| Error::Chain(e.to_string()))?;
            let (block, results) = match (watcher.block(h).await, watcher.block_results(h).await) {
                (Ok(b), Ok(r)) => (b, r),
                _ => break,
            };
            let seen = Instant::now();
            blocks += 1;
            let codes = results.txs_results.unwrap_or_default();
            for (i, tx) in block.block.data.iter().enumerate() {
                included += 1;
                if !codes.get(i).is_some_and(|r| r.code.is_ok()) {
                    failed += 1;
                } else {
                    let sent = submitted_at
                        .lock()
                        .ok()
                        .and_then(|mut m| m.remove(&tx_hash(tx)));
                    if let Some(sent) = sent {
                        committed += 1;
                        latencies.push(seen.duration_since(sent).as_secs_f64() * 1000.0);
                        last_commit = seen;
                    }
                }
            }
            next += 1;
        }
        if let Some(deadline) = drain_deadline {
            let pending = submitted_at.lock().map(|m| m.len()).unwrap_or(0);
            if pending == 0 || Instant::now() >= deadline {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let seconds = last_commit.duration_since(start).as_secs_f64();
    Ok(LoadReport {
        submitted: accepted.load(Ordering::Relaxed),
        committed,
        tps: if seconds > 0.0 {
            committed as f64 / seconds
        } else {
            0.0
        },
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        seconds,
        blocks,
        included,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_of_a_sorted_sample() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 51.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
