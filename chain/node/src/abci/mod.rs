//! The ABCI 2.0 surface: one tower service per CometBFT connection ([`consensus`],
//! [`mempool`], [`info`], [`snapshot`]), all calling one [`Node`] behind a mutex. Work is done
//! when a request is called, so requests on a connection are handled strictly in order.

pub mod consensus;
pub mod info;
pub mod mempool;
pub mod snapshot;

use std::sync::{Arc, Mutex, MutexGuard};

use sidechain_types::Event;
use tendermint::{abci, AppHash};

use crate::{
    node::{Node, NodeError},
    server::BoxError,
};

pub use consensus::Consensus;
pub use info::Info;
pub use mempool::Mempool;
pub use snapshot::Snapshot;

/// Shared handle to the node.
#[derive(Clone)]
pub struct Handle(Arc<Mutex<Node>>);

impl Handle {
    pub fn new(node: Node) -> Self {
        Handle(Arc::new(Mutex::new(node)))
    }

    /// Transactions the node's mempool mirror holds.
    pub fn mempool_len(&self) -> usize {
        self.lock().mempool_len()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Node> {
        // A panic while holding the lock cannot leave a half-applied block on disk (commits are
        // atomic), so the data is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A storage failure or an impossible request sequence: stop the process (fail-stop) rather
/// than answer and risk diverging from the other validators. Everything committed is durable;
/// on restart CometBFT replays from there.
pub(crate) fn fatal(e: NodeError) -> BoxError {
    tracing::error!(error = %e, "stopping: the node cannot continue safely");
    eprintln!("sidechaind: fatal: {e}");
    std::process::exit(2)
}

pub(crate) fn to_abci_events(events: &[Event]) -> Vec<abci::Event> {
    events
        .iter()
        .map(|e| {
            abci::Event::new(
                e.kind.clone(),
                e.attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), sidechain_types::events::is_indexed(k))),
            )
        })
        .collect()
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn app_hash(bytes: Vec<u8>) -> Result<AppHash, BoxError> {
    AppHash::try_from(bytes).map_err(|e| e.into())
}
