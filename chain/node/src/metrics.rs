//! Prometheus metrics of the node and its health, served on `GET /metrics` and `GET /health`
//! by `sidechain-telemetry`.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use sidechain_telemetry::Health;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

/// The node's series, and whether it serves ABCI yet. Cheap to clone; clones share the values.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub height: Gauge,
    pub mempool_txs: Gauge,
    pub txs: Family<ResultLabel, Counter>,
    pub checktx: Family<CodeLabel, Counter>,
    pub block_txs: Histogram,
    pub checktx_batch: Histogram,
    pub execute_seconds: Histogram,
    pub merkle_seconds: Histogram,
    pub commit_seconds: Histogram,
    registry: Arc<Registry>,
    serving: Arc<AtomicBool>,
}

fn seconds_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ]
    .into_iter()
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sidechain");
        let height = Gauge::default();
        registry.register(
            "block_height",
            "Last committed block height",
            height.clone(),
        );
        let mempool_txs = Gauge::default();
        registry.register(
            "mempool_txs",
            "Transactions admitted by CheckTx and waiting for a block (after the last commit)",
            mempool_txs.clone(),
        );
        let txs = Family::<ResultLabel, Counter>::default();
        registry.register(
            "txs",
            "Transactions executed in blocks, by result (ok or failed)",
            txs.clone(),
        );
        let checktx = Family::<CodeLabel, Counter>::default();
        registry.register(
            "checktx",
            "CheckTx verdicts by result code name",
            checktx.clone(),
        );
        let block_txs = Histogram::new([0.0, 1.0, 10.0, 100.0, 1000.0, 5000.0, 10000.0]);
        registry.register(
            "block_txs",
            "Transactions per finalized block",
            block_txs.clone(),
        );
        let checktx_batch = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]);
        registry.register(
            "checktx_batch_txs",
            "CheckTx requests answered together (their new signatures verified in one batch)",
            checktx_batch.clone(),
        );
        let execute_seconds = Histogram::new(seconds_buckets());
        registry.register(
            "finalize_execute_seconds",
            "FinalizeBlock decode, signature and execution time",
            execute_seconds.clone(),
        );
        let merkle_seconds = Histogram::new(seconds_buckets());
        registry.register(
            "finalize_merkle_seconds",
            "FinalizeBlock Merkle tree update time",
            merkle_seconds.clone(),
        );
        let commit_seconds = Histogram::new(seconds_buckets());
        registry.register(
            "commit_seconds",
            "Commit (synced RocksDB write) time",
            commit_seconds.clone(),
        );
        Metrics {
            height,
            mempool_txs,
            txs,
            checktx,
            block_txs,
            checktx_batch,
            execute_seconds,
            merkle_seconds,
            commit_seconds,
            registry: Arc::new(registry),
            serving: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn observe_block(&self, txs: usize, ok: usize, execute: Duration, merkle: Duration) {
        let failed = txs.saturating_sub(ok);
        self.txs
            .get_or_create(&ResultLabel { result: "ok" })
            .inc_by(ok as u64);
        self.txs
            .get_or_create(&ResultLabel { result: "failed" })
            .inc_by(failed as u64);
        self.block_txs.observe(txs as f64);
        self.execute_seconds.observe(execute.as_secs_f64());
        self.merkle_seconds.observe(merkle.as_secs_f64());
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The registry holding every series, for an endpoint to encode.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Records that the store is open and the ABCI server listens: from now on the node is
    /// healthy.
    pub fn set_serving(&self) {
        self.serving.store(true, Ordering::Relaxed);
    }

    /// What `GET /health` reports: healthy once [`Metrics::set_serving`] was called, with the
    /// last committed height either way.
    pub fn health(&self) -> Health {
        let health = if self.serving.load(Ordering::Relaxed) {
            Health::healthy()
        } else {
            Health::unhealthy("starting: the ABCI server is not listening yet")
        };
        health.with("height", self.height.get())
    }

    /// Serves `GET /metrics` and `GET /health` on `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) {
        let registry = self.registry();
        if let Err(e) = sidechain_telemetry::serve(listener, registry, move || self.health()).await
        {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
