//! The mesh's Prometheus series, registered into the relayer's registry (prefix `relayer_`)
//! by [`crate::metrics::Metrics::new`]. Listed in the relayer README.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// Why a message or connection was refused (`not_validator`, `unsigned`, `malformed`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// An intent's transaction kind (`submit_batch`, `update_signer_set`, `activate_signer_set`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntentKindLabel {
    pub kind: &'static str,
}

/// The mesh's series. Cheap to clone; clones share the values.
#[derive(Clone, Debug, Default)]
pub struct MeshMetrics {
    /// Admitted peers connected right now.
    pub peers: Gauge,
    /// Peers with a heartbeat inside the liveness window.
    pub live_peers: Gauge,
    /// Items this relayer won (it was the original winner and decided to send), by kind.
    pub intents_won: Family<IntentKindLabel, Counter>,
    /// Items this relayer took over from a winner that did not land them in time, by kind.
    pub intents_taken_over: Family<IntentKindLabel, Counter>,
    /// Gossip messages refused, by reason.
    pub messages_refused: Family<ReasonLabel, Counter>,
    /// Connections refused or closed because the peer is not (or no longer) a validator's
    /// relayer.
    pub connections_refused: Counter,
}

impl MeshMetrics {
    /// Creates the series of every intent kind in `kinds` and every refusal reason at 0.
    pub fn create_known_series(&self, kinds: &[&'static str]) {
        for &kind in kinds {
            self.intents_won
                .get_or_create(&IntentKindLabel { kind })
                .inc_by(0);
            self.intents_taken_over
                .get_or_create(&IntentKindLabel { kind })
                .inc_by(0);
        }
        for reason in [
            "not_validator",
            "unsigned",
            "too_large",
            "malformed",
            "version",
            "stale",
            "wrong_address",
            "overflow",
        ] {
            self.messages_refused
                .get_or_create(&ReasonLabel { reason })
                .inc_by(0);
        }
    }

    /// Registers every series into `r`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "mesh_peers",
            "Admitted relayers (current validators) connected on the mesh",
            self.peers.clone(),
        );
        r.register(
            "mesh_live_peers",
            "Relayers whose heartbeat arrived within the liveness window (3 heartbeats)",
            self.live_peers.clone(),
        );
        r.register(
            "mesh_intents_won",
            "Items (batches, signer-set updates, activations) this relayer won on the mesh and sent, by kind",
            self.intents_won.clone(),
        );
        r.register(
            "mesh_intents_taken_over",
            "Items this relayer sent after their winner did not land them within the takeover bound, by kind",
            self.intents_taken_over.clone(),
        );
        r.register(
            "mesh_messages_refused",
            "Gossip messages ignored, by reason (not_validator, unsigned, too_large, malformed, version, stale, wrong_address, overflow)",
            self.messages_refused.clone(),
        );
        r.register(
            "mesh_connections_refused",
            "Connections refused or closed because the peer's key is not a current validator's operator key",
            self.connections_refused.clone(),
        );
    }

    pub(crate) fn refused(&self, reason: &'static str) {
        self.messages_refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
}
