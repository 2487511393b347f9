//! The node's core: the ABCI methods as plain functions over the store and the state machine.

use std::{collections::BTreeSet, time::Instant};

/// Most entries kept in the CheckTx signature cache.
const MAX_VERIFIED: usize = 200_000;

use sidechain_app::{block, check_tx, genesis, CheckKind, PendingWrites};
use sidechain_store::{Committed, Store};
use sidechain_types::{query, state_key, Address, Code, Denom, Event};

use crate::metrics::Metrics;

/// Result of a query, before conversion to ABCI.
#[derive(Debug, Default)]
pub struct QueryAnswer {
    pub code: u32,
    pub log: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// borsh `SparseMerkleProof`, when a proof was requested.
    pub proof: Option<Vec<u8>>,
    pub height: u64,
}

/// Result of CheckTx.
#[derive(Debug)]
pub struct CheckAnswer {
    pub code: Code,
    pub log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
}

/// One finalized block, before conversion to ABCI.
#[derive(Debug)]
pub struct FinalizeAnswer {
    pub output: block::BlockOutput,
    pub app_hash: [u8; 32],
}

/// Errors that stop the node: storage failures or a state that cannot be right.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] sidechain_store::Error),
    #[error(transparent)]
    App(#[from] sidechain_app::AppError),
    #[error("genesis is invalid: {0}")]
    Genesis(#[from] genesis::InitError),
    #[error("CometBFT sent {got} but the node expected {expected}; the node's database and CometBFT's data belong to different chains or the database was damaged")]
    Sequence { expected: String, got: String },
}

/// The state a node keeps between ABCI calls.
pub struct Node {
    store: Store,
    /// Effects of the transactions admitted to the mempool since the last commit.
    mempool: PendingWrites,
    /// Height of the block staged by FinalizeBlock, awaiting Commit.
    staged_height: Option<u64>,
    /// SHA-256 of transactions whose signature this node's CheckTx verified; FinalizeBlock does
    /// not verify those bytes again. Bounded; forgetting an entry only costs a verification.
    verified: BTreeSet<[u8; 32]>,
    metrics: Metrics,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("store", &self.store)
            .field("staged_height", &self.staged_height)
            .finish()
    }
}

impl Node {
    pub fn new(store: Store, metrics: Metrics) -> Self {
        let committed = store.committed();
        metrics
            .height
            .set(i64::try_from(committed.height).unwrap_or(i64::MAX));
        Node {
            store,
            mempool: PendingWrites::new(),
            staged_height: None,
            verified: BTreeSet::new(),
            metrics,
        }
    }

    pub fn committed(&self) -> Committed {
        self.store.committed()
    }

    /// `Info`: the last committed height and app hash (empty before the first block).
    pub fn info(&self) -> (u64, Vec<u8>) {
        let c = self.store.committed();
        if c.height == 0 {
            (0, Vec::new())
        } else {
            (c.height, c.app_hash.to_vec())
        }
    }

    /// `InitChain`: stages the genesis state as tree version 0 and returns its root.
    pub fn init_chain(
        &mut self,
        chain_id: &str,
        app_state: &[u8],
        validators: &[([u8; 32], u64)],
    ) -> Result<([u8; 32], Vec<Event>), NodeError> {
        if self.store.committed().height != 0 {
            return Err(NodeError::Sequence {
                expected: format!(
                    "no InitChain (height {} is committed)",
                    self.store.committed().height
                ),
                got: "InitChain".into(),
            });
        }
        // A crash before the first commit leaves nothing on disk; start over.
        self.store.discard_pending();
        let out = genesis::init_chain(chain_id, app_state, validators)?;
        let app_hash = self.store.stage(0, out.writes)?;
        tracing::info!(chain_id, validators = out.validators.len(), app_hash = %hex(&app_hash), "genesis staged");
        Ok((app_hash, out.events))
    }

    /// `FinalizeBlock`: executes and stages block `height`.
    pub fn finalize_block(
        &mut self,
        height: u64,
        txs: &[impl AsRef<[u8]>],
    ) -> Result<FinalizeAnswer, NodeError> {
        let expected = self.store.committed().height.saturating_add(1);
        if height != expected || self.staged_height.is_some() {
            return Err(NodeError::Sequence {
                expected: format!("block {expected}"),
                got: format!("block {height}"),
            });
        }
        let start = Instant::now();
        let mut output = {
            let view = self.store.pending_view();
            let known: Vec<bool> = txs
                .iter()
                .map(|tx| self.verified.remove(&sidechain_types::sha256(tx.as_ref())))
                .collect();
            block::finalize_block_except(&view, height, txs, &known)?
        };
        let exec_done = Instant::now();
        let app_hash = self
            .store
            .stage(height, std::mem::take(&mut output.writes))?;
        self.staged_height = Some(height);
        let ok = output.tx_results.iter().filter(|r| r.is_ok()).count();
        self.metrics.observe_block(
            output.tx_results.len(),
            ok,
            exec_done - start,
            exec_done.elapsed(),
        );
        tracing::debug!(height, txs = txs.len(), ok, app_hash = %hex(&app_hash), "block finalized");
        Ok(FinalizeAnswer { output, app_hash })
    }

    /// `Commit`: makes the staged block durable and resets the mempool overlay (CometBFT then
    /// rechecks what is left in its mempool).
    pub fn commit(&mut self) -> Result<Committed, NodeError> {
        let Some(height) = self.staged_height.take() else {
            return Err(NodeError::Sequence {
                expected: "FinalizeBlock".into(),
                got: "Commit".into(),
            });
        };
        let start = Instant::now();
        let committed = self.store.commit(height)?;
        self.metrics
            .commit_seconds
            .observe(start.elapsed().as_secs_f64());
        self.metrics
            .height
            .set(i64::try_from(height).unwrap_or(i64::MAX));
        self.mempool.clear();
        tracing::info!(height, app_hash = %hex(&committed.app_hash), "committed");
        Ok(committed)
    }

    /// `CheckTx`, for new transactions and rechecks alike.
    pub fn check_tx(&mut self, tx: &[u8], kind: CheckKind) -> Result<CheckAnswer, NodeError> {
        let next_height = self.store.committed().height.saturating_add(1);
        let view = self.store.committed_view();
        let outcome = check_tx(&view, &mut self.mempool, tx, next_height, kind)?;
        // Any verdict but a bad signature means the signature checked out.
        if kind == CheckKind::New
            && outcome.code != Code::BadSignature
            && outcome.code != Code::Decode
            && outcome.code != Code::TxTooLarge
        {
            if self.verified.len() >= MAX_VERIFIED {
                self.verified.clear();
            }
            self.verified.insert(sidechain_types::sha256(tx));
        }
        self.metrics
            .checktx
            .get_or_create(&crate::metrics::CodeLabel {
                code: outcome.code.name(),
            })
            .inc();
        Ok(CheckAnswer {
            code: outcome.code,
            log: outcome.log,
            gas_wanted: outcome.gas_wanted,
            gas_used: outcome.gas_used,
        })
    }

    /// `Query`: the paths in `sidechain_types::query`. Height 0 means the latest committed.
    pub fn query(&self, path: &str, data: &[u8], height: u64, prove: bool) -> QueryAnswer {
        match self.query_inner(path, data, height, prove) {
            Ok(a) => a,
            Err(log) => QueryAnswer {
                code: 1,
                log,
                ..Default::default()
            },
        }
    }

    fn query_inner(
        &self,
        path: &str,
        data: &[u8],
        height: u64,
        prove: bool,
    ) -> Result<QueryAnswer, String> {
        let latest = self.store.committed().height;
        if latest == 0 {
            return Err("the chain has no committed block yet; wait for height 1".into());
        }
        let height = if height == 0 { latest } else { height };
        if height > latest {
            return Err(format!(
                "height {height} is not committed yet (latest is {latest})"
            ));
        }
        let key = match path {
            query::ACCOUNT => {
                let bytes: [u8; 20] = data
                    .try_into()
                    .map_err(|_| format!("{path} takes 20 address bytes, got {}", data.len()))?;
                state_key::account(&Address(bytes))
            }
            query::SUPPLY => {
                let denom =
                    std::str::from_utf8(data).map_err(|_| "denom is not UTF-8".to_string())?;
                state_key::supply(&Denom::new(denom).map_err(|e| e.to_string())?)
            }
            query::PARAMS => state_key::PARAMS.to_vec(),
            query::VALIDATORS => state_key::VALIDATORS.to_vec(),
            query::PROPOSALS => state_key::PROPOSALS.to_vec(),
            query::RAW => data.to_vec(),
            other => {
                return Err(format!(
                    "unknown query path `{other}`; known: {}, {}, {}, {}, {}, {}",
                    query::ACCOUNT,
                    query::SUPPLY,
                    query::PARAMS,
                    query::VALIDATORS,
                    query::PROPOSALS,
                    query::RAW
                ))
            }
        };
        let (value, proof) = if prove {
            let (v, p) = self
                .store
                .get_with_proof(&key, height)
                .map_err(|e| e.to_string())?;
            (v, Some(p))
        } else if height == latest {
            use sidechain_app::StateRead;
            (
                self.store
                    .committed_view()
                    .get(&key)
                    .map_err(|e| e.to_string())?,
                None,
            )
        } else {
            (
                self.store.get_at(&key, height).map_err(|e| e.to_string())?,
                None,
            )
        };
        Ok(QueryAnswer {
            code: 0,
            log: String::new(),
            key,
            value: value.unwrap_or_default(),
            proof,
            height,
        })
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
