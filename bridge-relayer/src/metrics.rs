//! The relayer's Prometheus series (prefix `relayer_`) and its health, served on
//! `GET /metrics` and `GET /health` by `sidechain-telemetry`. Every series is listed in the
//! relayer README.

use std::sync::{Arc, Mutex};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use serde::Serialize;
use sidechain_telemetry::Health;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChainLabel {
    pub chain: &'static str,
}

/// What the relayer is doing, for `/health` and the logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Start-up checks of both chains passed.
    pub started: bool,
    pub l1_head: u64,
    pub l1_safe_head: Option<u64>,
    /// Next L1 block to read.
    pub l1_scan_from: u64,
    pub last_applied_deposit: u64,
    pub next_deposit_nonce: u64,
    pub pending_claims: usize,
    /// The last error of each edge, cleared by its next success.
    pub l1_error: Option<String>,
    pub sidechain_error: Option<String>,
}

/// The relayer's series. Cheap to clone; clones share the values.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub l1_head: Gauge,
    pub l1_safe_head: Gauge,
    /// The L1 safe head minus the last block read.
    pub l1_scan_lag: Gauge,
    pub deposits_seen: Counter,
    pub claims_sent: Counter,
    pub claim_txs: Family<ResultLabel, Counter>,
    pub last_applied_deposit: Gauge,
    pub next_deposit_nonce: Gauge,
    pub pending_claims: Gauge,
    pub errors: Family<ChainLabel, Counter>,
    registry: Arc<Registry>,
    status: Arc<Mutex<Status>>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("relayer");
        let m = Metrics {
            l1_head: Gauge::default(),
            l1_safe_head: Gauge::default(),
            l1_scan_lag: Gauge::default(),
            deposits_seen: Counter::default(),
            claims_sent: Counter::default(),
            claim_txs: Family::default(),
            last_applied_deposit: Gauge::default(),
            next_deposit_nonce: Gauge::default(),
            pending_claims: Gauge::default(),
            errors: Family::default(),
            registry: Arc::new(Registry::default()),
            status: Arc::new(Mutex::new(Status::default())),
        };
        r.register("l1_head", "Latest L1 block number", m.l1_head.clone());
        r.register(
            "l1_safe_head",
            "Highest L1 block final enough to act on (confirmation depth or finalized tag)",
            m.l1_safe_head.clone(),
        );
        r.register(
            "l1_scan_lag_blocks",
            "L1 blocks between the safe head and the last block read",
            m.l1_scan_lag.clone(),
        );
        r.register(
            "deposits_seen",
            "Deposit events read from the bridge contract that still needed claiming",
            m.deposits_seen.clone(),
        );
        r.register(
            "claims_sent",
            "Deposit claims committed on the sidechain by this relayer",
            m.claims_sent.clone(),
        );
        r.register(
            "claim_txs",
            "Claim transactions by result (ok, failed)",
            m.claim_txs.clone(),
        );
        r.register(
            "last_applied_deposit_nonce",
            "Highest deposit nonce the sidechain has applied",
            m.last_applied_deposit.clone(),
        );
        r.register(
            "next_deposit_nonce",
            "First deposit nonce this validator still has to claim",
            m.next_deposit_nonce.clone(),
        );
        r.register(
            "pending_claims",
            "Deposits seen on L1 and not yet claimed by this validator",
            m.pending_claims.clone(),
        );
        r.register(
            "errors",
            "Failed calls by chain (l1, sidechain); each is retried with backoff",
            m.errors.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            ..m
        }
    }

    /// Updates the shared status.
    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Healthy once started with no edge failing right now.
    pub fn health(&self) -> Health {
        let s = self.status();
        let mut h = if s.started {
            Health::healthy()
        } else {
            Health::unhealthy("starting: the checks of both chains have not passed yet")
        };
        if let Some(e) = &s.l1_error {
            h = h.problem(format!("L1: {e}"));
        }
        if let Some(e) = &s.sidechain_error {
            h = h.problem(format!("sidechain: {e}"));
        }
        h.with("l1_head", s.l1_head)
            .with("l1_safe_head", s.l1_safe_head)
            .with("l1_scan_from", s.l1_scan_from)
            .with("last_applied_deposit", s.last_applied_deposit)
            .with("next_deposit_nonce", s.next_deposit_nonce)
            .with("pending_claims", s.pending_claims as u64)
    }

    /// Serves the endpoint until the process ends.
    pub async fn serve(self, listener: TcpListener) {
        let registry = self.registry.clone();
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
