//! The ABCI 2.0 surface: tower services for the consensus, mempool, info and snapshot
//! connections, all calling one [`Node`] behind a mutex. Work is done when a request is
//! called, so requests on a connection are handled strictly in order.

use std::{
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Poll, Waker},
    time::Duration,
};

use crate::server::BoxError;
use bytes::Bytes;
use futures::future::{ready, Ready};
use sidechain_types::Event;
use tendermint::{
    abci::{self, request, response, types::ExecTxResult, Code},
    merkle::proof::{ProofOp, ProofOps},
    v0_38::abci::{
        ConsensusRequest, ConsensusResponse, InfoRequest, InfoResponse, MempoolRequest,
        MempoolResponse, SnapshotRequest, SnapshotResponse,
    },
    validator, vote, AppHash, PublicKey,
};
use tower::Service;

use crate::node::{Node, NodeError};

/// Shared handle to the node.
#[derive(Clone)]
pub struct Handle(Arc<Mutex<Node>>);

impl Handle {
    pub fn new(node: Node) -> Self {
        Handle(Arc::new(Mutex::new(node)))
    }

    fn lock(&self) -> MutexGuard<'_, Node> {
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
fn fatal(e: NodeError) -> BoxError {
    tracing::error!(error = %e, "stopping: the node cannot continue safely");
    eprintln!("sidechaind: fatal: {e}");
    std::process::exit(2)
}

fn to_abci_events(events: &[Event]) -> Vec<abci::Event> {
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

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn app_hash(bytes: Vec<u8>) -> Result<AppHash, BoxError> {
    AppHash::try_from(bytes).map_err(|e| e.into())
}

/// Consensus connection: InitChain, Prepare/ProcessProposal, FinalizeBlock, Commit, vote
/// extensions.
#[derive(Clone)]
pub struct Consensus(pub Handle);

impl Service<ConsensusRequest> for Consensus {
    type Response = ConsensusResponse;
    type Error = BoxError;
    type Future = Ready<Result<ConsensusResponse, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ConsensusRequest) -> Self::Future {
        ready(self.handle(req))
    }
}

impl Consensus {
    fn handle(&self, req: ConsensusRequest) -> Result<ConsensusResponse, BoxError> {
        match req {
            ConsensusRequest::InitChain(r) => self.init_chain(r).map(ConsensusResponse::InitChain),
            ConsensusRequest::PrepareProposal(r) => {
                Ok(ConsensusResponse::PrepareProposal(prepare_proposal(r)))
            }
            ConsensusRequest::ProcessProposal(_) => {
                // Every transaction gets a verdict in FinalizeBlock, so no proposal is refused.
                Ok(ConsensusResponse::ProcessProposal(
                    response::ProcessProposal::Accept,
                ))
            }
            ConsensusRequest::ExtendVote(_) => {
                Ok(ConsensusResponse::ExtendVote(response::ExtendVote {
                    vote_extension: Bytes::new(),
                }))
            }
            ConsensusRequest::VerifyVoteExtension(_) => Ok(ConsensusResponse::VerifyVoteExtension(
                response::VerifyVoteExtension::Accept,
            )),
            ConsensusRequest::FinalizeBlock(r) => {
                self.finalize_block(r).map(ConsensusResponse::FinalizeBlock)
            }
            ConsensusRequest::Commit => {
                self.0.lock().commit().map_err(fatal)?;
                Ok(ConsensusResponse::Commit(response::Commit {
                    data: Bytes::new(),
                    retain_height: 0u32.into(),
                }))
            }
        }
    }

    fn init_chain(&self, r: request::InitChain) -> Result<response::InitChain, BoxError> {
        if r.initial_height.value() != 1 {
            return Err(format!(
                "genesis initial_height is {}; this application starts chains at height 1",
                r.initial_height.value()
            )
            .into());
        }
        let mut validators = Vec::with_capacity(r.validators.len());
        for u in &r.validators {
            let key = u
                .pub_key
                .ed25519()
                .ok_or("genesis validators must use ed25519 keys")?;
            let bytes: [u8; 32] = key
                .as_bytes()
                .try_into()
                .map_err(|_| "ed25519 key is not 32 bytes")?;
            validators.push((bytes, u.power.value()));
        }
        let (hash, events) = self
            .0
            .lock()
            .init_chain(&r.chain_id, &r.app_state_bytes, &validators)
            .map_err(fatal)?;
        for e in &events {
            tracing::debug!(kind = %e.kind, attributes = ?e.attributes, "genesis event");
        }
        Ok(response::InitChain {
            consensus_params: None,
            validators: Vec::new(),
            app_hash: app_hash(hash.to_vec())?,
        })
    }

    fn finalize_block(
        &self,
        r: request::FinalizeBlock,
    ) -> Result<response::FinalizeBlock, BoxError> {
        let answer = self
            .0
            .lock()
            .finalize_block(r.height.value(), &r.txs)
            .map_err(fatal)?;
        let tx_results = answer
            .output
            .tx_results
            .iter()
            .map(|t| ExecTxResult {
                code: Code::from(t.code.value()),
                data: Bytes::new(),
                log: t.log.clone(),
                info: t.code.name().to_string(),
                gas_wanted: to_i64(t.gas_wanted),
                gas_used: to_i64(t.gas_used),
                events: to_abci_events(&t.events),
                codespace: String::new(),
            })
            .collect();
        let mut validator_updates = Vec::with_capacity(answer.output.validator_updates.len());
        for (key, power) in &answer.output.validator_updates {
            let pub_key = PublicKey::from_raw_ed25519(key)
                .ok_or("validator update with an invalid ed25519 key")?;
            validator_updates.push(validator::Update {
                pub_key,
                power: vote::Power::try_from(*power)?,
            });
        }
        Ok(response::FinalizeBlock {
            events: to_abci_events(&answer.output.events),
            tx_results,
            validator_updates,
            consensus_param_updates: None,
            app_hash: app_hash(answer.app_hash.to_vec())?,
        })
    }
}

/// Keeps the proposal within `max_tx_bytes`, in mempool order.
fn prepare_proposal(r: request::PrepareProposal) -> response::PrepareProposal {
    let limit = usize::try_from(r.max_tx_bytes).unwrap_or(0);
    let mut total = 0usize;
    let txs = r
        .txs
        .into_iter()
        .take_while(|tx| {
            // Each tx costs its length plus protobuf framing (at most 5 bytes of varint and a tag).
            total = total.saturating_add(tx.len()).saturating_add(6);
            total <= limit
        })
        .collect();
    response::PrepareProposal { txs }
}

/// How long the first CheckTx of a batch waits for more requests before the batch runs.
pub const CHECK_BATCH_WAIT: Duration = Duration::from_millis(2);
/// Most CheckTx requests in one batch.
const CHECK_BATCH_MAX: usize = 256;

/// CheckTx requests received and not yet answered, and answers not yet collected.
#[derive(Default)]
struct CheckQueue {
    next_seq: u64,
    queued: Vec<(u64, Bytes, sidechain_app::CheckKind)>,
    done: BTreeMap<u64, response::CheckTx>,
    wakers: Vec<Waker>,
}

/// Mempool connection: CheckTx. CometBFT sends CheckTx requests without waiting for the
/// answers, so under load many are in flight at once: requests are queued and run together
/// after at most [`CHECK_BATCH_WAIT`] (or at [`CHECK_BATCH_MAX`]), in arrival order, with the
/// new transactions' signatures verified in one batch. Answers go back in request order.
pub struct Mempool {
    node: Handle,
    queue: Arc<Mutex<CheckQueue>>,
    batch_wait: Duration,
}

/// The ABCI server clones each service for every connection CometBFT opens, which happens when
/// a CometBFT process starts. A starting CometBFT has an empty mempool, so the node forgets
/// what it had admitted for the previous one (otherwise those transactions' nonces would stay
/// taken), and each connection gets its own request queue.
impl Clone for Mempool {
    fn clone(&self) -> Self {
        let forgotten = self.node.lock().reset_mempool();
        if forgotten > 0 {
            tracing::info!(
                forgotten,
                "CometBFT connected anew: its mempool is empty, so is the node's"
            );
        }
        Mempool::new(self.node.clone()).with_batch_wait(self.batch_wait)
    }
}

impl Mempool {
    pub fn new(node: Handle) -> Self {
        Mempool {
            node,
            queue: Arc::new(Mutex::new(CheckQueue::default())),
            batch_wait: CHECK_BATCH_WAIT,
        }
    }

    /// How long the first request of a batch waits for more (default [`CHECK_BATCH_WAIT`]).
    pub fn with_batch_wait(mut self, wait: Duration) -> Self {
        self.batch_wait = wait;
        self
    }
}

fn lock_queue(queue: &Mutex<CheckQueue>) -> MutexGuard<'_, CheckQueue> {
    // The queue is consistent between statements, so a poisoned lock is still usable.
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Service<MempoolRequest> for Mempool {
    type Response = MempoolResponse;
    type Error = BoxError;
    type Future = CheckTxFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: MempoolRequest) -> Self::Future {
        let MempoolRequest::CheckTx(r) = req;
        let kind = match r.kind {
            request::CheckTxKind::Recheck => sidechain_app::CheckKind::Recheck,
            request::CheckTxKind::New => sidechain_app::CheckKind::New,
        };
        let mut q = lock_queue(&self.queue);
        let seq = q.next_seq;
        q.next_seq = q.next_seq.wrapping_add(1);
        q.queued.push((seq, r.tx, kind));
        CheckTxFuture {
            seq,
            node: self.node.clone(),
            queue: self.queue.clone(),
            wait: self.batch_wait,
            timer: None,
        }
    }
}

/// The answer to one CheckTx request, ready once its batch has run.
pub struct CheckTxFuture {
    seq: u64,
    node: Handle,
    queue: Arc<Mutex<CheckQueue>>,
    wait: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for CheckTxFuture {
    type Output = Result<MempoolResponse, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        {
            let mut q = lock_queue(&this.queue);
            if let Some(answer) = q.done.remove(&this.seq) {
                return Poll::Ready(Ok(MempoolResponse::CheckTx(answer)));
            }
            if q.queued.len() < CHECK_BATCH_MAX {
                let wait = this.wait;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)));
                if timer.as_mut().poll(cx).is_pending() {
                    q.wakers.push(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
        run_check_batch(&this.node, &this.queue);
        let answer = lock_queue(&this.queue).done.remove(&this.seq);
        match answer {
            Some(answer) => Poll::Ready(Ok(MempoolResponse::CheckTx(answer))),
            None => Poll::Ready(Err("CheckTx request lost from the batch queue".into())),
        }
    }
}

/// Runs every queued CheckTx request, stores the answers and wakes the waiting requests.
fn run_check_batch(node: &Handle, queue: &Mutex<CheckQueue>) {
    let (batch, wakers) = {
        let mut q = lock_queue(queue);
        (std::mem::take(&mut q.queued), std::mem::take(&mut q.wakers))
    };
    if !batch.is_empty() {
        let txs: Vec<(&[u8], sidechain_app::CheckKind)> = batch
            .iter()
            .map(|(_, tx, kind)| (tx.as_ref(), *kind))
            .collect();
        // A node error is fatal: `fatal` stops the process.
        let answers = match node.lock().check_txs(&txs) {
            Ok(answers) => answers,
            Err(e) => {
                let _ = fatal(e);
                return;
            }
        };
        let mut q = lock_queue(queue);
        for ((seq, _, _), a) in batch.iter().zip(answers) {
            q.done.insert(
                *seq,
                response::CheckTx {
                    code: Code::from(a.code.value()),
                    log: a.log,
                    info: a.code.name().to_string(),
                    gas_wanted: to_i64(a.gas_wanted),
                    gas_used: to_i64(a.gas_used),
                    ..Default::default()
                },
            );
        }
    }
    for w in wakers {
        w.wake();
    }
}

/// Info connection: Info, Query, Echo.
#[derive(Clone)]
pub struct Info(pub Handle);

impl Service<InfoRequest> for Info {
    type Response = InfoResponse;
    type Error = BoxError;
    type Future = Ready<Result<InfoResponse, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: InfoRequest) -> Self::Future {
        ready(self.handle(req))
    }
}

impl Info {
    fn handle(&self, req: InfoRequest) -> Result<InfoResponse, BoxError> {
        match req {
            InfoRequest::Info(_) => {
                let (height, hash) = self.0.lock().info();
                tracing::info!(height, "handshake: reporting last committed block");
                Ok(InfoResponse::Info(response::Info {
                    data: "sidechaind".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    app_version: 1,
                    last_block_height: tendermint::block::Height::try_from(height)?,
                    last_block_app_hash: app_hash(hash)?,
                }))
            }
            InfoRequest::Query(q) => {
                let a = self
                    .0
                    .lock()
                    .query(&q.path, &q.data, q.height.value(), q.prove);
                let proof = a.proof.map(|data| ProofOps {
                    ops: vec![ProofOp {
                        field_type: sidechain_types::query::PROOF_OP_TYPE.to_string(),
                        key: a.key.clone(),
                        data,
                    }],
                });
                Ok(InfoResponse::Query(response::Query {
                    code: Code::from(a.code),
                    log: a.log,
                    key: a.key.into(),
                    value: a.value.into(),
                    proof,
                    height: tendermint::block::Height::try_from(a.height)?,
                    ..Default::default()
                }))
            }
            InfoRequest::Echo(e) => Ok(InfoResponse::Echo(response::Echo { message: e.message })),
        }
    }
}

/// Snapshot connection: state sync is not offered; every request gets the empty answer.
#[derive(Clone)]
pub struct Snapshot;

impl Service<SnapshotRequest> for Snapshot {
    type Response = SnapshotResponse;
    type Error = BoxError;
    type Future = Ready<Result<SnapshotResponse, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: SnapshotRequest) -> Self::Future {
        ready(Ok(match req {
            SnapshotRequest::ListSnapshots => SnapshotResponse::ListSnapshots(Default::default()),
            SnapshotRequest::OfferSnapshot(_) => {
                SnapshotResponse::OfferSnapshot(Default::default())
            }
            SnapshotRequest::LoadSnapshotChunk(_) => {
                SnapshotResponse::LoadSnapshotChunk(Default::default())
            }
            SnapshotRequest::ApplySnapshotChunk(_) => {
                SnapshotResponse::ApplySnapshotChunk(Default::default())
            }
        }))
    }
}
