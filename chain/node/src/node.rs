//! The node's core: the ABCI methods as plain functions over the store and the state machine.

use std::{sync::Arc, time::Instant};

use sidechain_app::{block, genesis, BlockInfo, CheckKind, Mempool};
use sidechain_store::{Committed, Store};
use sidechain_types::{query::Route, Code, Event};

use crate::metrics::Metrics;

pub use sidechain_app::mempool::{ADMITTED_TX_BLOCKS, DEFAULT_MEMPOOL_SIZE};

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

/// The state a node keeps between ABCI calls: the store, the mempool mirror
/// ([`sidechain_app::Mempool`]), and the block staged between FinalizeBlock and Commit.
pub struct Node {
    store: Store,
    mempool: Mempool,
    /// The block staged by FinalizeBlock, awaiting Commit.
    staged: Option<BlockInfo>,
    /// The staged block's answer (block, digest of its transactions' hashes, answer), for a
    /// FinalizeBlock that CometBFT repeats after restarting before Commit.
    last_answer: Option<(BlockInfo, [u8; 32], Arc<FinalizeAnswer>)>,
    /// Time of the last block this process finalized (seconds since the Unix epoch), used as
    /// CheckTx's block time; 0 until the first FinalizeBlock after a start.
    last_time_secs: u64,
    metrics: Metrics,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("store", &self.store)
            .field("staged", &self.staged)
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
            mempool: Mempool::new(DEFAULT_MEMPOOL_SIZE),
            staged: None,
            last_answer: None,
            last_time_secs: 0,
            metrics,
        }
    }

    /// Sets the most transactions the node admits at once: CometBFT's `[mempool] size`, so
    /// that CometBFT never drops a transaction the node admitted for lack of room.
    pub fn with_mempool_limit(mut self, limit: usize) -> Self {
        self.mempool = Mempool::new(limit);
        self
    }

    /// Transactions admitted and not yet included in a block.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// Forgets every admitted transaction (a new CometBFT process starts with an empty
    /// mempool); returns how many there were.
    pub fn reset_mempool(&mut self) -> usize {
        let forgotten = self.mempool.reset();
        self.metrics.mempool_txs.set(0);
        forgotten
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

    /// `PrepareProposal`: which of CometBFT's candidate transactions (indexes into `txs`, in
    /// the order to propose them) the block `block` should carry: only transactions that
    /// still pass the ante checks against the state they will run on, each account's in nonce
    /// order, within `max_bytes` (see `Mempool::proposal`).
    pub fn prepare_proposal(
        &mut self,
        block: BlockInfo,
        txs: &[impl AsRef<[u8]>],
        max_bytes: usize,
    ) -> Result<Vec<usize>, NodeError> {
        Ok(self
            .mempool
            .proposal(&self.store.committed_view(), block, txs, max_bytes)?)
    }

    /// `FinalizeBlock`: executes and stages `block`.
    pub fn finalize_block(
        &mut self,
        block: BlockInfo,
        txs: &[impl AsRef<[u8]>],
    ) -> Result<Arc<FinalizeAnswer>, NodeError> {
        let height = block.height;
        let expected = self.store.committed().height.saturating_add(1);
        if height != expected {
            return Err(NodeError::Sequence {
                expected: format!("block {expected}"),
                got: format!("block {height}"),
            });
        }
        let hashes: Vec<[u8; 32]> = txs
            .iter()
            .map(|tx| sidechain_types::sha256(tx.as_ref()))
            .collect();
        if let Some(staged) = self.staged {
            // FinalizeBlock again for the staged height: CometBFT restarted between our answer
            // and its Commit (a CometBFT-only crash) and replays the block it decided.
            let digest = block_digest(&hashes);
            match &self.last_answer {
                Some((info, d, answer)) if *info == block && *d == digest => {
                    tracing::warn!(height, "FinalizeBlock repeated for the staged block (CometBFT restarted before Commit); answering as before");
                    return Ok(Arc::clone(answer));
                }
                // Another block for the staged height: nothing staged is durable, so drop it
                // and execute this one. (Block 1 shares its staged batch with genesis, so it
                // cannot be dropped alone.)
                _ if staged.height > 1 => {
                    tracing::warn!(height, "FinalizeBlock for the staged height with another block; executing it instead");
                    self.store.discard_pending();
                    self.staged = None;
                }
                _ => {
                    return Err(NodeError::Sequence {
                        expected: format!("the staged block {height} again, or Commit"),
                        got: format!("another block {height}"),
                    })
                }
            }
        }
        let start = Instant::now();
        let mut output = {
            let view = self.store.pending_view();
            let known = self.mempool.take_verified(&hashes);
            block::finalize_block_except(&view, block, txs, &known)?
        };
        let exec_done = Instant::now();
        let app_hash = self
            .store
            .stage(height, std::mem::take(&mut output.writes))?;
        self.staged = Some(block);
        let digest = block_digest(&hashes);
        self.mempool.block_staged(hashes);
        let ok = output.tx_results.iter().filter(|r| r.is_ok()).count();
        self.metrics.observe_block(
            output.tx_results.len(),
            ok,
            exec_done - start,
            exec_done.elapsed(),
        );
        tracing::debug!(height, txs = txs.len(), ok, app_hash = %hex(&app_hash), "block finalized");
        // Shared with the cache: keeping it costs no copy of the block's results.
        let answer = Arc::new(FinalizeAnswer { output, app_hash });
        self.last_answer = Some((block, digest, Arc::clone(&answer)));
        Ok(answer)
    }

    /// `Commit`: makes the staged block durable, then rebuilds the mempool overlay from the
    /// admitted transactions the block did not include.
    pub fn commit(&mut self) -> Result<Committed, NodeError> {
        self.last_answer = None;
        let Some(block) = self.staged.take() else {
            return Err(NodeError::Sequence {
                expected: "FinalizeBlock".into(),
                got: "Commit".into(),
            });
        };
        let start = Instant::now();
        let committed = self.store.commit(block.height)?;
        self.metrics
            .commit_seconds
            .observe(start.elapsed().as_secs_f64());
        self.metrics
            .height
            .set(i64::try_from(block.height).unwrap_or(i64::MAX));
        self.last_time_secs = block.time_secs;
        self.mempool
            .rebase(&self.store.committed_view(), self.next_block())?;
        self.metrics
            .mempool_txs
            .set(i64::try_from(self.mempool.len()).unwrap_or(i64::MAX));
        tracing::info!(height = block.height, app_hash = %hex(&committed.app_hash), mempool = self.mempool.len(), "committed");
        Ok(committed)
    }

    /// The block CheckTx checks against: the one after the last committed, at the last known
    /// block time.
    fn next_block(&self) -> BlockInfo {
        BlockInfo {
            height: self.store.committed().height.saturating_add(1),
            time_secs: self.last_time_secs,
        }
    }

    /// `CheckTx`, for new transactions and rechecks alike.
    pub fn check_tx(&mut self, tx: &[u8], kind: CheckKind) -> Result<CheckAnswer, NodeError> {
        self.check_txs(&[(tx, kind)])?
            .pop()
            .ok_or_else(|| NodeError::Sequence {
                expected: "one CheckTx answer".into(),
                got: "none".into(),
            })
    }

    /// `CheckTx` for several transactions in arrival order, their new signatures verified in
    /// one batch (see [`Mempool::check_txs`]).
    pub fn check_txs<T: AsRef<[u8]>>(
        &mut self,
        txs: &[(T, CheckKind)],
    ) -> Result<Vec<CheckAnswer>, NodeError> {
        if self.store.committed().height > 0 {
            self.metrics.checktx_batch.observe(txs.len() as f64);
        }
        let next = self.next_block();
        let outcomes = self
            .mempool
            .check_txs(&self.store.committed_view(), next, txs)?;
        Ok(outcomes
            .into_iter()
            .map(|o| {
                self.metrics
                    .checktx
                    .get_or_create(&crate::metrics::CodeLabel {
                        code: o.code.name(),
                    })
                    .inc();
                CheckAnswer {
                    code: o.code,
                    log: o.log,
                    gas_wanted: o.gas_wanted,
                    gas_used: o.gas_used,
                }
            })
            .collect())
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
        let route = Route::parse(path, data).map_err(|e| e.to_string())?;
        let Some(key) = route.state_key() else {
            // A route read from several keys: no single proof covers it.
            if prove {
                return Err(format!(
                    "{path} is read from several keys, so it has no proof; prove single records through {}",
                    sidechain_types::query::RAW
                ));
            }
            let value = if height == latest {
                sidechain_app::query::assemble(&self.store.committed_view(), &route)
            } else {
                sidechain_app::query::assemble(&self.store.view_at(height), &route)
            }
            .unwrap_or_else(|| Ok(Vec::new()))
            .map_err(|e| e.to_string())?;
            return Ok(QueryAnswer {
                code: 0,
                log: String::new(),
                key: Vec::new(),
                value,
                proof: None,
                height,
            });
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

/// SHA-256 over the concatenated transaction hashes: which block a FinalizeBlock carried.
fn block_digest(hashes: &[[u8; 32]]) -> [u8; 32] {
    sidechain_types::sha256(&hashes.concat())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
