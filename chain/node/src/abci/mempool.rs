//! The mempool connection: CheckTx, in batches.

use std::{
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use tendermint::{
    abci::{request, response, Code},
    v0_38::abci::{MempoolRequest, MempoolResponse},
};
use tower::Service;

use super::{fatal, to_i64, Handle};
use crate::server::BoxError;

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

/// The ABCI server clones the services for every connection CometBFT opens; each clone gets
/// its own request queue and changes nothing else. Forgetting the previous CometBFT's mempool
/// is [`Mempool::connection_opened`]'s job.
impl Clone for Mempool {
    fn clone(&self) -> Self {
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

    /// A CometBFT process opened a connection: CometBFT connects when it starts, with an empty
    /// mempool, so the node forgets what it had admitted for the previous process (otherwise
    /// those transactions' nonces would stay taken). The server calls this for every accepted
    /// connection; at a CometBFT start the first call empties the mirror and the others find
    /// it empty.
    pub fn connection_opened(&self) {
        let forgotten = self.node.lock().reset_mempool();
        if forgotten > 0 {
            tracing::info!(
                forgotten,
                "CometBFT connected anew: its mempool is empty, so is the node's"
            );
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
