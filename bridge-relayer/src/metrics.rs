//! The relayer's Prometheus series (prefix `relayer_`) and its health, served on
//! `GET /metrics` and `GET /health` by `sidechain-telemetry`. Every series is listed in the
//! relayer README.

use std::sync::{atomic::AtomicU64, Arc, Mutex};

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

/// One wrapped token: its sidechain denom and its L1 token address.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabel {
    pub denom: String,
    pub token: String,
}

/// A gauge of a token amount in base units. Prometheus samples are float64: amounts above
/// 2^53 base units are shown rounded (the violation gauge is computed exactly).
pub type AmountGauge = Gauge<f64, AtomicU64>;

/// The kinds of L1 transaction a relayer pays for.
pub const L1_TX_KINDS: [&str; 3] = ["submit_batch", "update_signer_set", "activate_signer_set"];

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
    /// Signer-set updates being signed, waiting for submission or for activation.
    pub open_signer_sets: usize,
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
    /// Work waiting on the validators, by kind (deposit_claims, batches, signer_set_updates).
    pub pending_work: Family<KindLabel, Gauge>,
    /// The relayer mesh's series (`relayer_mesh_*`), zero while the mesh is off.
    pub mesh: crate::mesh::MeshMetrics,
    /// The conservation invariant per token ([`crate::invariant`]), in base units.
    pub invariant_l1_locked: Family<TokenLabel, AmountGauge>,
    pub invariant_wrapped_supply: Family<TokenLabel, AmountGauge>,
    pub invariant_in_flight: Family<TokenLabel, AmountGauge>,
    /// 1 when `locked >= supply + in flight` did not hold in two samples in a row.
    pub invariant_violated: Family<TokenLabel, Gauge>,
    /// Samples of the invariant by result (ok, error).
    pub invariant_samples: Family<ResultLabel, Counter>,
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
            pending_work: Family::default(),
            mesh: crate::mesh::MeshMetrics::default(),
            invariant_l1_locked: Family::default(),
            invariant_wrapped_supply: Family::default(),
            invariant_in_flight: Family::default(),
            invariant_violated: Family::default(),
            invariant_samples: Family::default(),
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
        r.register(
            "invariant_l1_locked",
            "What the L1 bridge holds of each wrapped token, in base units",
            m.invariant_l1_locked.clone(),
        );
        r.register(
            "invariant_wrapped_supply",
            "The sidechain's wrapped supply of each token, in base units",
            m.invariant_wrapped_supply.clone(),
        );
        r.register(
            "invariant_in_flight",
            "Withdrawals burned on the sidechain and not executed on L1, per token, in base units",
            m.invariant_in_flight.clone(),
        );
        r.register(
            "invariant_violated",
            "1 when the L1 bridge holds less than wrapped supply + withdrawals in flight (two samples in a row): page someone",
            m.invariant_violated.clone(),
        );
        r.register(
            "invariant_samples",
            "Samples of the conservation invariant by result (ok, error)",
            m.invariant_samples.clone(),
        );
        r.register(
            "pending_work",
            "Work waiting on the validators, by kind: deposit_claims (seen, not yet claimed by this validator), batches (outstanding withdrawal batch), signer_set_updates (not yet active)",
            m.pending_work.clone(),
        );
        m.mesh.register(&mut r);
        m.create_known_series();
        Metrics {
            registry: Arc::new(r),
            ..m
        }
    }

    /// Creates every series whose labels are known in advance at 0, so that each is served
    /// from the start (`rate()` and alerts work before the first event). Series labelled by
    /// token or by contract error appear with their first sample.
    fn create_known_series(&self) {
        for result in ["ok", "failed"] {
            self.claim_txs
                .get_or_create(&ResultLabel { result })
                .inc_by(0);
        }
        for result in ["ok", "error"] {
            self.invariant_samples
                .get_or_create(&ResultLabel { result })
                .inc_by(0);
        }
        for chain in ["l1", "sidechain"] {
            self.errors.get_or_create(&ChainLabel { chain }).inc_by(0);
        }
        for kind in ["batch", "signer_set"] {
            self.confirmations_sent
                .get_or_create(&KindLabel { kind })
                .inc_by(0);
        }
        for kind in [
            "batch_executed",
            "batch_timed_out",
            "signer_set_active",
            "signer_set_pending",
            "signer_set_cancelled",
        ] {
            self.attestations_sent
                .get_or_create(&KindLabel { kind })
                .inc_by(0);
        }
        for kind in L1_TX_KINDS {
            self.l1_gas_used
                .get_or_create(&KindLabel { kind })
                .inc_by(0);
            for result in ["ok", "failed", "not_mined"] {
                self.l1_txs
                    .get_or_create(&TxLabel { kind, result })
                    .inc_by(0);
            }
        }
        for kind in ["deposit_claims", "batches", "signer_set_updates"] {
            self.pending_work.get_or_create(&KindLabel { kind }).set(0);
        }
        self.mesh.create_known_series(&L1_TX_KINDS);
    }

    /// All work waiting, for the mesh heartbeat: deposits to claim, the outstanding batch, the
    /// open signer-set updates.
    pub fn pending_total(&self) -> u64 {
        let s = self.status();
        let claims = u64::try_from(s.pending_claims).unwrap_or(u64::MAX);
        let sets = u64::try_from(s.open_signer_sets).unwrap_or(u64::MAX);
        claims
            .saturating_add(u64::from(s.outstanding_batch.is_some()))
            .saturating_add(sets)
    }

    /// Publishes one sample of the conservation invariant.
    pub fn set_invariant(&self, tokens: &[crate::invariant::TokenBalance]) {
        for t in tokens {
            let label = TokenLabel {
                denom: t.denom.clone(),
                token: t.token.clone(),
            };
            let amount = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            self.invariant_l1_locked
                .get_or_create(&label)
                .set(amount(&t.locked));
            self.invariant_wrapped_supply
                .get_or_create(&label)
                .set(amount(&t.supply));
            self.invariant_in_flight
                .get_or_create(&label)
                .set(amount(&t.in_flight));
            self.invariant_violated
                .get_or_create(&label)
                .set(i64::from(!t.holds));
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
