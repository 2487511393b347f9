//! The node's core: the ABCI methods as plain functions over the store and the state machine.

use std::{collections::BTreeSet, time::Instant};

/// Most entries kept in the CheckTx signature cache.
const MAX_VERIFIED: usize = 200_000;
/// CometBFT's default `[mempool] size`, the node's default admission limit.
pub const DEFAULT_MEMPOOL_SIZE: usize = 5_000;
/// Blocks after which an admitted transaction that no block included is forgotten (its effects
/// leave the mempool overlay). CometBFT only drops a transaction it holds by including it, so
/// this only matters if CometBFT dropped one the node admitted, say because its own mempool
/// was configured smaller than the node's limit.
pub const ADMITTED_TX_BLOCKS: u64 = 50;

use sidechain_app::{block, genesis, CheckKind, MempoolChecker, PendingWrites};
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

/// A transaction CheckTx admitted, waiting in CometBFT's mempool for a block.
#[derive(Debug, Clone)]
struct Admitted {
    hash: [u8; 32],
    tx: Vec<u8>,
    /// Height of the block being built when it was admitted.
    since: u64,
}

/// The state a node keeps between ABCI calls.
///
/// The node mirrors CometBFT's mempool: every transaction CheckTx admits stays in `admitted`
/// until a block includes it, and the mempool overlay holds their effects over the committed
/// state. After each commit the node replays what is still waiting against the new state
/// (without signatures, which passed on arrival), so CometBFT does not have to recheck its
/// mempool over the socket (`recheck = false`). If CometBFT does recheck, a waiting transaction
/// is answered from that replay.
pub struct Node {
    store: Store,
    /// Effects of the admitted transactions over the committed state.
    mempool: PendingWrites,
    /// Admitted transactions no block has included yet, in admission order.
    admitted: Vec<Admitted>,
    /// Hashes of `admitted`.
    admitted_hashes: BTreeSet<[u8; 32]>,
    /// Most transactions admitted at once (CometBFT's `[mempool] size`).
    mempool_limit: usize,
    /// Hashes of the transactions of the staged block.
    in_block: BTreeSet<[u8; 32]>,
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
            admitted: Vec::new(),
            admitted_hashes: BTreeSet::new(),
            mempool_limit: DEFAULT_MEMPOOL_SIZE,
            in_block: BTreeSet::new(),
            staged_height: None,
            verified: BTreeSet::new(),
            metrics,
        }
    }

    /// Sets the most transactions the node admits at once: CometBFT's `[mempool] size`, so
    /// that CometBFT never drops a transaction the node admitted for lack of room.
    pub fn with_mempool_limit(mut self, limit: usize) -> Self {
        self.mempool_limit = limit.max(1);
        self
    }

    /// Transactions admitted and not yet included in a block.
    pub fn mempool_len(&self) -> usize {
        self.admitted.len()
    }

    /// Forgets every admitted transaction (a new CometBFT process starts with an empty
    /// mempool); returns how many there were.
    pub fn reset_mempool(&mut self) -> usize {
        let forgotten = self.admitted.len();
        self.admitted.clear();
        self.admitted_hashes.clear();
        self.mempool.clear();
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
        let hashes: Vec<[u8; 32]> = txs
            .iter()
            .map(|tx| sidechain_types::sha256(tx.as_ref()))
            .collect();
        let mut output = {
            let view = self.store.pending_view();
            let known: Vec<bool> = hashes.iter().map(|h| self.verified.remove(h)).collect();
            block::finalize_block_except(&view, height, txs, &known)?
        };
        let exec_done = Instant::now();
        let app_hash = self
            .store
            .stage(height, std::mem::take(&mut output.writes))?;
        self.staged_height = Some(height);
        self.in_block = hashes.into_iter().collect();
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

    /// `Commit`: makes the staged block durable, then rebuilds the mempool overlay from the
    /// admitted transactions the block did not include.
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
        self.rebase_mempool(height)?;
        self.metrics
            .mempool_txs
            .set(i64::try_from(self.admitted.len()).unwrap_or(i64::MAX));
        tracing::info!(height, app_hash = %hex(&committed.app_hash), mempool = self.admitted.len(), "committed");
        Ok(committed)
    }

    /// Drops the transactions block `height` included, and replays the rest in admission order
    /// against the newly committed state; those that no longer pass (a nonce another
    /// transaction used, funds spent meanwhile) or waited too long leave the overlay.
    fn rebase_mempool(&mut self, height: u64) -> Result<(), NodeError> {
        let in_block = std::mem::take(&mut self.in_block);
        let waiting = std::mem::take(&mut self.admitted);
        self.admitted_hashes.clear();
        let mut overlay = PendingWrites::new();
        let next_height = height.saturating_add(1);
        let view = self.store.committed_view();
        let mut checker = MempoolChecker::new(&view, next_height)?;
        for a in waiting {
            if in_block.contains(&a.hash)
                || next_height.saturating_sub(a.since) > ADMITTED_TX_BLOCKS
            {
                continue;
            }
            // The signature passed when the transaction arrived.
            let outcome = checker.check(&view, &mut overlay, &a.tx, Some(true))?;
            if outcome.code == Code::Ok {
                self.admitted_hashes.insert(a.hash);
                self.admitted.push(a);
            }
        }
        self.mempool = overlay;
        Ok(())
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

    /// `CheckTx` for several transactions in arrival order, with the signatures of the new
    /// ones verified in one batch first (several times cheaper per signature than one by
    /// one). The verdicts are the ones [`Node::check_tx`] gives each transaction in turn.
    pub fn check_txs<T: AsRef<[u8]>>(
        &mut self,
        txs: &[(T, CheckKind)],
    ) -> Result<Vec<CheckAnswer>, NodeError> {
        if self.store.committed().height == 0 {
            // Genesis is only staged until block 1 commits: nothing to check against yet.
            return Ok(txs
                .iter()
                .map(|_| {
                    self.answer(
                        Code::MempoolFull,
                        "the chain has no committed block yet; send again after block 1".into(),
                        0,
                        0,
                    )
                })
                .collect());
        }
        self.metrics.checktx_batch.observe(txs.len() as f64);
        // New transactions the mempool has room for get their signature checked in the batch;
        // any other transaction is checked on its own if it gets that far.
        let mut room = self.mempool_limit.saturating_sub(self.admitted.len());
        let batched: Vec<bool> = txs
            .iter()
            .map(|(_, kind)| {
                let take = *kind == CheckKind::New && room > 0;
                room = room.saturating_sub(usize::from(take));
                take
            })
            .collect();
        let verdicts: Vec<Option<bool>> = if batched.iter().filter(|b| **b).count() > 1 {
            let decoded =
                block::decode_txs(&txs.iter().map(|(t, _)| t.as_ref()).collect::<Vec<_>>());
            let skip: Vec<bool> = batched.iter().map(|b| !b).collect();
            block::verify_signatures_except(&decoded, &skip)
                .into_iter()
                .zip(&batched)
                .map(|(ok, b)| b.then_some(ok))
                .collect()
        } else {
            vec![None; txs.len()]
        };
        let next_height = self.store.committed().height.saturating_add(1);
        let mut checker = MempoolChecker::new(&self.store.committed_view(), next_height)?;
        txs.iter()
            .zip(verdicts)
            .map(|((tx, kind), verdict)| self.check_one(&mut checker, tx.as_ref(), *kind, verdict))
            .collect()
    }

    fn check_one(
        &mut self,
        checker: &mut MempoolChecker,
        tx: &[u8],
        kind: CheckKind,
        verdict: Option<bool>,
    ) -> Result<CheckAnswer, NodeError> {
        let hash = sidechain_types::sha256(tx);
        if kind == CheckKind::Recheck && self.admitted_hashes.contains(&hash) {
            // Still waiting and already replayed against the latest state at commit.
            return Ok(self.answer(Code::Ok, String::new(), 0, 0));
        }
        if kind == CheckKind::New && self.admitted.len() >= self.mempool_limit {
            return Ok(self.answer(
                Code::MempoolFull,
                format!(
                    "the mempool holds {} transactions, the most this node admits; send again after the next block",
                    self.admitted.len()
                ),
                0,
                0,
            ));
        }
        let next_height = self.store.committed().height.saturating_add(1);
        let view = self.store.committed_view();
        let signature = match kind {
            CheckKind::Recheck => Some(true),
            CheckKind::New => verdict,
        };
        let outcome = checker.check(&view, &mut self.mempool, tx, signature)?;
        if outcome.code == Code::Ok {
            self.admitted_hashes.insert(hash);
            self.admitted.push(Admitted {
                hash,
                tx: tx.to_vec(),
                since: next_height,
            });
        }
        // Any verdict but a bad signature means the signature checked out.
        if kind == CheckKind::New
            && outcome.code != Code::BadSignature
            && outcome.code != Code::Decode
            && outcome.code != Code::TxTooLarge
        {
            if self.verified.len() >= MAX_VERIFIED {
                self.verified.clear();
            }
            self.verified.insert(hash);
        }
        Ok(self.answer(
            outcome.code,
            outcome.log,
            outcome.gas_wanted,
            outcome.gas_used,
        ))
    }

    fn answer(&self, code: Code, log: String, gas_wanted: u64, gas_used: u64) -> CheckAnswer {
        self.metrics
            .checktx
            .get_or_create(&crate::metrics::CodeLabel { code: code.name() })
            .inc();
        CheckAnswer {
            code,
            log,
            gas_wanted,
            gas_used,
        }
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
