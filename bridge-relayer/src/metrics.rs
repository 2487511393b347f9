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

/// What a confirmation or attestation was about, or which L1 transaction.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

/// An L1 transaction kind and what became of it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TxLabel {
    pub kind: &'static str,
    pub result: &'static str,
}

/// An L1 transaction kind and the contract error its simulation reverted with.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevertLabel {
    pub kind: &'static str,
    pub reason: &'static str,
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
    /// The outstanding withdrawal batch's nonce (none: no batch waits for L1).
    pub outstanding_batch: Option<u64>,
    /// The last reason the withdrawal side could not send an L1 transaction (a simulated
    /// revert, a pending transaction), cleared when one is sent or nothing is due.
    pub l1_tx_held: Option<String>,
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
    /// Confirmations committed on the sidechain by kind (batch, signer_set).
    pub confirmations_sent: Family<KindLabel, Counter>,
    /// Signatures the signing log refused: a second, different digest for a signed nonce.
    pub signatures_refused: Counter,
    /// Attestations committed by kind (batch_executed, batch_timed_out, signer_set_active,
    /// signer_set_pending, signer_set_cancelled).
    pub attestations_sent: Family<KindLabel, Counter>,
    /// L1 transactions sent by kind and result (ok, failed, not_mined).
    pub l1_txs: Family<TxLabel, Counter>,
    /// L1 transactions not sent because their simulation reverted, by kind and contract error.
    pub l1_simulation_reverts: Family<RevertLabel, Counter>,
    /// Gas used by mined L1 transactions, by kind.
    pub l1_gas_used: Family<KindLabel, Counter>,
    /// Nonce of the outstanding withdrawal batch (0: none).
    pub outstanding_batch_nonce: Gauge,
    /// The relayer mesh's series (`relayer_mesh_*`), zero while the mesh is off.
    pub mesh: crate::mesh::MeshMetrics,
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
            confirmations_sent: Family::default(),
            signatures_refused: Counter::default(),
            attestations_sent: Family::default(),
            l1_txs: Family::default(),
            l1_simulation_reverts: Family::default(),
            l1_gas_used: Family::default(),
            outstanding_batch_nonce: Gauge::default(),
            mesh: crate::mesh::MeshMetrics::default(),
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
        r.register(
            "confirmations_sent",
            "Batch and signer-set confirmations (bridge-key signatures) committed on the sidechain, by kind",
            m.confirmations_sent.clone(),
        );
        r.register(
            "signatures_refused",
            "Signatures refused because the bridge key signed a different digest for the same nonce (bridge/signed.jsonl)",
            m.signatures_refused.clone(),
        );
        r.register(
            "attestations_sent",
            "L1 outcomes attested on the sidechain, by kind (batch_executed, batch_timed_out, signer_set_active, signer_set_pending, signer_set_cancelled)",
            m.attestations_sent.clone(),
        );
        r.register(
            "l1_txs",
            "L1 transactions sent by the bridge key, by kind (submit_batch, update_signer_set, activate_signer_set) and result (ok, failed, not_mined)",
            m.l1_txs.clone(),
        );
        r.register(
            "l1_simulation_reverts",
            "L1 transactions not sent because eth_call against the pending block reverted, by kind and contract error",
            m.l1_simulation_reverts.clone(),
        );
        r.register(
            "l1_gas_used",
            "Gas used by mined L1 transactions of the bridge key, by kind",
            m.l1_gas_used.clone(),
        );
        r.register(
            "outstanding_batch_nonce",
            "Nonce of the withdrawal batch waiting for its L1 outcome (0: none)",
            m.outstanding_batch_nonce.clone(),
        );
        m.mesh.register(&mut r);
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
            .with("outstanding_batch", s.outstanding_batch)
            .with("l1_tx_held", s.l1_tx_held)
            .with("mesh_peers", self.mesh.peers.get())
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
