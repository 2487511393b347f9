//! The node's mirror of CometBFT's mempool, pure (no storage types): which transactions
//! CheckTx admitted, the effects they have over the committed state, their replay after each
//! commit, and the cache of signatures this node already verified.
//!
//! Every transaction CheckTx admits stays in the mirror until a block includes it, and the
//! mirror's overlay holds the admitted transactions' effects over the committed state, so one
//! account may have several consecutive-nonce transactions pending at once. After each commit
//! the node replays what is still waiting against the new state (without signatures, which
//! passed on arrival), so CometBFT does not have to recheck its mempool over the socket
//! (`recheck = false`). If CometBFT does recheck, a waiting transaction is answered from that
//! replay. (ADR 7.)

use std::collections::BTreeSet;

use sidechain_types::{tx::DecodeError, Code, SignedTx};

use crate::{
    block,
    ctx::{BlockCtx, BlockInfo},
    exec::{execute_tx, Mode, TxOutcome},
    Overlay, PendingWrites, Result, StateRead,
};

/// Most entries kept in the signature cache.
const MAX_VERIFIED: usize = 200_000;
/// CometBFT's default `[mempool] size`, the default admission limit.
pub const DEFAULT_MEMPOOL_SIZE: usize = 5_000;
/// Blocks after which an admitted transaction that no block included is forgotten (its effects
/// leave the overlay). CometBFT only drops a transaction it holds by including it, so this
/// only matters if CometBFT dropped one the node admitted, say because its own mempool was
/// configured smaller than the node's limit.
pub const ADMITTED_TX_BLOCKS: u64 = 50;

/// Whether CheckTx sees a transaction for the first time or rechecks one already admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    New,
    /// CometBFT re-runs CheckTx on what is left in its mempool after every block. These exact
    /// bytes passed the signature check when they arrived, so it is not repeated; nonce,
    /// balance and fee are checked again against the new state.
    Recheck,
}

/// How a check learns whether the signature is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureInput {
    /// Verify it during the check.
    Verify,
    /// Already verified (in a batch with other incoming transactions) with this verdict.
    Verified(bool),
    /// Not verified now: these exact bytes passed verification when they arrived.
    Trusted,
}

/// What a check established about the signature, reported explicitly so that nothing infers
/// it from the result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigVerdict {
    /// Verified now (alone or in a batch) and valid.
    Valid,
    /// Verified now and invalid.
    Invalid,
    /// Not verified by this check: the bytes did not decode, or the signature was trusted.
    NotVerified,
}

/// The result of one mempool check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub outcome: TxOutcome,
    pub signature: SigVerdict,
}

/// Admits a transaction to `mempool` (an overlay over `base`): decodes it, checks its signature,
/// and executes it against the committed state plus the effects of the transactions admitted
/// before it, which it extends on success. Nothing is written when it fails. `next` is the
/// block being built (its time: the last committed block's).
pub fn check_tx(
    base: &dyn StateRead,
    mempool: &mut PendingWrites,
    tx_bytes: &[u8],
    next: BlockInfo,
    kind: CheckKind,
) -> Result<TxOutcome> {
    let signature = match kind {
        CheckKind::New => SignatureInput::Verify,
        CheckKind::Recheck => SignatureInput::Trusted,
    };
    Ok(MempoolChecker::new(base, next)?
        .check(base, mempool, tx_bytes, signature)?
        .outcome)
}

/// Checks mempool transactions one after another against the same committed state, reading
/// the chain's parameters once (a CheckTx batch, or the replay after a commit).
#[derive(Debug, Clone)]
pub struct MempoolChecker {
    ctx: BlockCtx,
}

impl MempoolChecker {
    /// Reads the parameters of `base`, the committed state the block `next` will build on.
    /// Transactions cannot change them, so the mempool overlay is not consulted.
    pub fn new(base: &dyn StateRead, next: BlockInfo) -> Result<Self> {
        Ok(MempoolChecker {
            ctx: BlockCtx::load(&Overlay::new(base), next)?,
        })
    }

    /// Admits `tx_bytes` to `mempool` (the overlay over `base`) or says why not.
    pub fn check(
        &mut self,
        base: &dyn StateRead,
        mempool: &mut PendingWrites,
        tx_bytes: &[u8],
        signature: SignatureInput,
    ) -> Result<Checked> {
        let tx = match SignedTx::decode(tx_bytes) {
            Ok(tx) => tx,
            Err(e) => {
                let code = match e {
                    DecodeError::TooLarge { .. } => Code::TxTooLarge,
                    DecodeError::Malformed(_) => Code::Decode,
                };
                return Ok(Checked {
                    outcome: TxOutcome::rejected(code, e.to_string()),
                    signature: SigVerdict::NotVerified,
                });
            }
        };
        let (sig_ok, verdict) = match signature {
            SignatureInput::Trusted => (true, SigVerdict::NotVerified),
            SignatureInput::Verified(ok) => (ok, SigVerdict::from_bool(ok)),
            SignatureInput::Verify => {
                // The same rule and library as FinalizeBlock's batches (ADR 13), so CheckTx's
                // verdicts, which FinalizeBlock trusts (ADR 5), are the block's verdicts.
                let ok = tx.verify_signature();
                (ok, SigVerdict::from_bool(ok))
            }
        };
        // Per-block accumulators (fees) live in the overlay's scratch area, which starts empty
        // for every check: fees are never paid from the mempool.
        let mut view = Overlay::with_pending(base, std::mem::take(mempool));
        let outcome = execute_tx(
            &mut view,
            &self.ctx,
            &tx,
            tx_bytes.len(),
            sig_ok,
            Mode::Check,
        );
        *mempool = view.into_pending();
        Ok(Checked {
            outcome: outcome?,
            signature: verdict,
        })
    }
}

impl SigVerdict {
    fn from_bool(ok: bool) -> Self {
        if ok {
            SigVerdict::Valid
        } else {
            SigVerdict::Invalid
        }
    }
}

/// A transaction CheckTx admitted, waiting in CometBFT's mempool for a block.
#[derive(Debug, Clone)]
struct Admitted {
    hash: [u8; 32],
    tx: Vec<u8>,
    /// Height of the block being built when it was admitted.
    since: u64,
}

/// The mirror of CometBFT's mempool (see the module doc).
#[derive(Debug)]
pub struct Mempool {
    /// Effects of the admitted transactions over the committed state.
    overlay: PendingWrites,
    /// Admitted transactions no block has included yet, in admission order.
    admitted: Vec<Admitted>,
    /// Hashes of `admitted`.
    admitted_hashes: BTreeSet<[u8; 32]>,
    /// Most transactions admitted at once (CometBFT's `[mempool] size`).
    limit: usize,
    /// Hashes of the transactions of the staged block.
    in_block: BTreeSet<[u8; 32]>,
    /// SHA-256 of transactions whose signature a check verified as valid; FinalizeBlock does
    /// not verify those bytes again. Bounded; forgetting an entry only costs a verification.
    verified: BTreeSet<[u8; 32]>,
}

impl Mempool {
    /// An empty mirror admitting at most `limit` transactions at once (at least 1).
    pub fn new(limit: usize) -> Self {
        Mempool {
            overlay: PendingWrites::new(),
            admitted: Vec::new(),
            admitted_hashes: BTreeSet::new(),
            limit: limit.max(1),
            in_block: BTreeSet::new(),
            verified: BTreeSet::new(),
        }
    }

    /// Transactions admitted and not yet included in a block.
    pub fn len(&self) -> usize {
        self.admitted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.admitted.is_empty()
    }

    /// Whether a check verified the signature of these exact bytes (by their SHA-256) and it
    /// was valid.
    pub fn is_verified(&self, hash: &[u8; 32]) -> bool {
        self.verified.contains(hash)
    }

    /// Forgets every admitted transaction (a new CometBFT process starts with an empty
    /// mempool); returns how many there were. The signature cache stays: it depends on the
    /// bytes only.
    pub fn reset(&mut self) -> usize {
        let forgotten = self.admitted.len();
        self.admitted.clear();
        self.admitted_hashes.clear();
        self.overlay.clear();
        forgotten
    }

    /// For FinalizeBlock: which of the block's transactions (by SHA-256) this node's CheckTx
    /// already verified; each verdict is used once and leaves the cache.
    pub fn take_verified(&mut self, hashes: &[[u8; 32]]) -> Vec<bool> {
        hashes.iter().map(|h| self.verified.remove(h)).collect()
    }

    /// Records the transactions of the block just staged (by SHA-256): they leave the mirror at
    /// the next [`Mempool::rebase`].
    pub fn block_staged(&mut self, hashes: impl IntoIterator<Item = [u8; 32]>) {
        self.in_block = hashes.into_iter().collect();
    }

    /// After a commit: drops the transactions the committed block included, and replays the
    /// rest in admission order against `committed` (the new state, for the block `next`);
    /// those that no longer pass (a nonce another transaction used, funds spent meanwhile) or
    /// waited too long leave the mirror.
    pub fn rebase(&mut self, committed: &dyn StateRead, next: BlockInfo) -> Result<()> {
        let in_block = std::mem::take(&mut self.in_block);
        let waiting = std::mem::take(&mut self.admitted);
        self.admitted_hashes.clear();
        let mut overlay = PendingWrites::new();
        let mut checker = MempoolChecker::new(committed, next)?;
        for a in waiting {
            if in_block.contains(&a.hash)
                || next.height.saturating_sub(a.since) > ADMITTED_TX_BLOCKS
            {
                continue;
            }
            let checked = checker.check(committed, &mut overlay, &a.tx, SignatureInput::Trusted)?;
            if checked.outcome.code == Code::Ok {
                self.admitted_hashes.insert(a.hash);
                self.admitted.push(a);
            }
        }
        self.overlay = overlay;
        Ok(())
    }

    /// CheckTx for several transactions in arrival order against `committed` (the state after
    /// block `next.height - 1`), with the signatures of the new ones verified in one batch first
    /// (several times cheaper per signature than one by one). The verdicts are the ones each
    /// transaction would get checked alone, in turn.
    pub fn check_txs<T: AsRef<[u8]>>(
        &mut self,
        committed: &dyn StateRead,
        next: BlockInfo,
        txs: &[(T, CheckKind)],
    ) -> Result<Vec<TxOutcome>> {
        if next.height <= 1 {
            // Genesis is only staged until block 1 commits: nothing to check against yet.
            return Ok(txs
                .iter()
                .map(|_| {
                    TxOutcome::rejected(
                        Code::MempoolFull,
                        "the chain has no committed block yet; send again after block 1",
                    )
                })
                .collect());
        }
        // New transactions the mempool has room for get their signature checked in the batch;
        // any other transaction is checked on its own if it gets that far.
        let mut room = self.limit.saturating_sub(self.admitted.len());
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
        let mut checker = MempoolChecker::new(committed, next)?;
        txs.iter()
            .zip(verdicts)
            .map(|((tx, kind), verdict)| {
                self.check_one(committed, next, &mut checker, tx.as_ref(), *kind, verdict)
            })
            .collect()
    }

    fn check_one(
        &mut self,
        committed: &dyn StateRead,
        next: BlockInfo,
        checker: &mut MempoolChecker,
        tx: &[u8],
        kind: CheckKind,
        verdict: Option<bool>,
    ) -> Result<TxOutcome> {
        let hash = sidechain_types::sha256(tx);
        if kind == CheckKind::Recheck && self.admitted_hashes.contains(&hash) {
            // Still waiting and already replayed against the latest state at commit.
            return Ok(TxOutcome::rejected(Code::Ok, String::new()));
        }
        if kind == CheckKind::New && self.admitted.len() >= self.limit {
            return Ok(TxOutcome::rejected(
                Code::MempoolFull,
                format!(
                    "the mempool holds {} transactions, the most this node admits; send again after the next block",
                    self.admitted.len()
                ),
            ));
        }
        let signature = match (kind, verdict) {
            (CheckKind::Recheck, _) => SignatureInput::Trusted,
            (CheckKind::New, Some(ok)) => SignatureInput::Verified(ok),
            (CheckKind::New, None) => SignatureInput::Verify,
        };
        let checked = checker.check(committed, &mut self.overlay, tx, signature)?;
        if checked.outcome.code == Code::Ok {
            self.admitted_hashes.insert(hash);
            self.admitted.push(Admitted {
                hash,
                tx: tx.to_vec(),
                since: next.height,
            });
        }
        if checked.signature == SigVerdict::Valid {
            if self.verified.len() >= MAX_VERIFIED {
                self.verified.clear();
            }
            self.verified.insert(hash);
        }
        Ok(checked.outcome)
    }
}

impl Default for Mempool {
    fn default() -> Self {
        Mempool::new(DEFAULT_MEMPOOL_SIZE)
    }
}
