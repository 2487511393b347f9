//! The node's mirror of CometBFT's mempool, pure (no storage types): which transactions
//! CheckTx admitted, the effects they have over the committed state, the transactions held for
//! a nonce gap, their replay after each commit, the transactions of a proposal, and the cache
//! of signatures this node already verified.
//!
//! Every transaction CheckTx admits stays in the mirror until a block includes it, and the
//! mirror's overlay holds the admitted transactions' effects over the committed state, so one
//! account may have several consecutive-nonce transactions pending at once. After each commit
//! the node replays what is still waiting against the new state (without signatures, which
//! passed on arrival), so CometBFT does not have to recheck its mempool over the socket
//! (`recheck = false`). If CometBFT does recheck, a waiting transaction is answered from that
//! replay. (ADR 7.)
//!
//! A transaction whose nonce is ahead of its account's next one (committed state plus admitted
//! transactions), by at most [`MAX_NONCE_GAP`], with a valid signature and passing every check
//! that reads no state, is *held*: answered `Ok` (so CometBFT keeps and gossips it), counted
//! against the admission limit, and kept aside without effects until the nonces before it are
//! admitted; it is then checked like a new one, in nonce order. A proposal is built from the
//! admitted transactions only, in admission order, which runs each account's transactions in
//! nonce order. (ADR 7, amended.)

use std::collections::{BTreeMap, BTreeSet};

use sidechain_types::{tx::DecodeError, Address, Code, SignedTx};

use crate::{
    bank, block,
    ctx::{BlockCtx, BlockInfo},
    exec::{check_stateless, execute_tx, Mode, TxOutcome},
    fail::Fail,
    Overlay, PendingWrites, Result, StateRead,
};

/// Most entries kept in the signature cache.
const MAX_VERIFIED: usize = 200_000;
/// CometBFT's default `[mempool] size`, the default admission limit.
pub const DEFAULT_MEMPOOL_SIZE: usize = 5_000;
/// Blocks after which an admitted or held transaction that no block included is forgotten (an
/// admitted one's effects leave the overlay). CometBFT only drops a transaction it holds by
/// including it, so for admitted ones this only matters if CometBFT dropped one the node
/// admitted, say because its own mempool was configured smaller than the node's limit; for held
/// ones it bounds how long a gap may stay open.
pub const ADMITTED_TX_BLOCKS: u64 = 50;
/// How far ahead of its account's next nonce a transaction may be and still be held, in
/// nonces: a nonce `next + 1 ..= next + MAX_NONCE_GAP` is held, a larger one refused
/// (`bad_nonce`).
pub const MAX_NONCE_GAP: u64 = 128;
/// Most transactions held for one account at once; more are refused (`mempool_full`) until
/// the gap fills.
pub const MAX_HELD_PER_ACCOUNT: usize = 128;
/// Bytes of protobuf framing counted for each transaction of a proposal on top of its length
/// (a field tag and at most 5 bytes of length varint), as CometBFT counts `max_tx_bytes`.
pub const PROPOSAL_TX_OVERHEAD: usize = 6;

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
    /// The signer and the transaction's nonce, when the bytes decoded.
    pub sender: Option<(Address, u64)>,
    /// `Some(next)` when the transaction was not executed because its nonce is ahead of
    /// `next`, its account's next nonce over the overlay, while every check that reads no state
    /// (signature included) passed. `outcome` is then the `bad_nonce` refusal execution would
    /// have given; the mempool may hold the transaction instead.
    pub ahead_of: Option<u64>,
}

impl Checked {
    fn refused(outcome: TxOutcome, signature: SigVerdict) -> Self {
        Checked {
            outcome,
            signature,
            sender: None,
            ahead_of: None,
        }
    }
}

/// Admits a transaction to `mempool` (an overlay over `base`): decodes it, checks its signature,
/// and executes it against the committed state plus the effects of the transactions admitted
/// before it, which it extends on success. Nothing is written when it fails. `next` is the
/// block being built (its time: the last committed block's). A nonce ahead of the account's is
/// refused (`bad_nonce`): holding is [`Mempool`]'s.
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
/// the chain's parameters once (a CheckTx batch, the replay after a commit, a proposal).
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

    /// Admits `tx_bytes` to `mempool` (the overlay over `base`) or says why not. A transaction
    /// whose nonce is ahead of its account's is not executed: it gets the stateless checks only
    /// and, if they pass, [`Checked::ahead_of`].
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
                return Ok(Checked::refused(
                    TxOutcome::rejected(code, e.to_string()),
                    SigVerdict::NotVerified,
                ));
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
        let result = self.run(&mut view, &tx, tx_bytes.len(), sig_ok);
        *mempool = view.into_pending();
        let (outcome, ahead_of) = result?;
        Ok(Checked {
            outcome,
            signature: verdict,
            sender: Some((tx.signer(), tx.body.nonce)),
            ahead_of,
        })
    }

    /// Executes `tx` over `view`, unless its nonce is ahead of the account's: then only the
    /// checks that read no state run, and nothing is written.
    fn run(
        &self,
        view: &mut Overlay<'_>,
        tx: &SignedTx,
        tx_len: usize,
        sig_ok: bool,
    ) -> Result<(TxOutcome, Option<u64>)> {
        let signer = tx.signer();
        let next = bank::state::account(view, &signer)?.nonce;
        if tx.body.nonce <= next {
            // The expected nonce executes; a used one fails in the ante as in a block.
            return Ok((
                execute_tx(view, &self.ctx, tx, tx_len, sig_ok, Mode::Check)?,
                None,
            ));
        }
        match check_stateless(&self.ctx, tx, tx_len, sig_ok) {
            Ok(()) => Ok((
                TxOutcome {
                    code: Code::BadNonce,
                    log: format!(
                        "account {signer} expects nonce {next}, the transaction has {}",
                        tx.body.nonce
                    ),
                    gas_wanted: tx.body.fee.gas_limit,
                    gas_used: 0,
                    events: Vec::new(),
                },
                Some(next),
            )),
            Err(Fail::Tx(code, log)) => Ok((TxOutcome::rejected(code, log), None)),
            Err(Fail::App(e)) => Err(e),
        }
    }

    /// The next nonce of `address` over `mempool` (the overlay over `base`).
    fn next_nonce(
        base: &dyn StateRead,
        mempool: &mut PendingWrites,
        address: &Address,
    ) -> Result<u64> {
        let view = Overlay::with_pending(base, std::mem::take(mempool));
        let account = bank::state::account(&view, address);
        *mempool = view.into_pending();
        Ok(account?.nonce)
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

/// A transaction CheckTx answered `Ok`, waiting in CometBFT's mempool for a block.
#[derive(Debug, Clone)]
struct Waiting {
    hash: [u8; 32],
    tx: Vec<u8>,
    /// Height of the block being built when CheckTx answered it.
    since: u64,
}

/// The mirror of CometBFT's mempool (see the module doc).
///
/// Every transaction CheckTx answered `Ok` and no block included yet is in exactly one of:
/// admitted (its effects in the overlay), held (waiting for a nonce gap to fill, no effects),
/// or dropped (it no longer passes; CometBFT still holds it). The three together count against
/// the limit, as CometBFT counts them in its own mempool.
#[derive(Debug)]
pub struct Mempool {
    /// Effects of the admitted transactions over the committed state.
    overlay: PendingWrites,
    /// `next.height` of the committed state the overlay is over (set by [`Mempool::rebase`];
    /// `None` until the first one, or after [`Mempool::reset`]).
    base: Option<u64>,
    /// Admitted transactions no block has included yet, in admission order.
    admitted: Vec<Waiting>,
    /// Hashes of `admitted`.
    admitted_hashes: BTreeSet<[u8; 32]>,
    /// Transactions held for a nonce gap, by account then nonce: at most
    /// [`MAX_HELD_PER_ACCOUNT`] per account, each at most [`MAX_NONCE_GAP`] ahead when held.
    held: BTreeMap<Address, BTreeMap<u64, Waiting>>,
    /// The account and nonce of every held transaction, by hash.
    held_hashes: BTreeMap<[u8; 32], (Address, u64)>,
    /// Transactions answered `Ok` that the mirror dropped (they no longer pass) and that
    /// CometBFT still holds, with the height they were answered at; never proposed, forgotten
    /// when a block includes them or after [`ADMITTED_TX_BLOCKS`].
    dropped: BTreeMap<[u8; 32], u64>,
    /// Most transactions answered `Ok` and waiting at once (CometBFT's `[mempool] size`).
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
            base: None,
            admitted: Vec::new(),
            admitted_hashes: BTreeSet::new(),
            held: BTreeMap::new(),
            held_hashes: BTreeMap::new(),
            dropped: BTreeMap::new(),
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

    /// Transactions held for a nonce gap.
    pub fn held_len(&self) -> usize {
        self.held_hashes.len()
    }

    /// Whether these exact bytes (by SHA-256) are admitted.
    pub fn is_admitted(&self, hash: &[u8; 32]) -> bool {
        self.admitted_hashes.contains(hash)
    }

    /// Whether these exact bytes (by SHA-256) are held for a nonce gap.
    pub fn is_held(&self, hash: &[u8; 32]) -> bool {
        self.held_hashes.contains_key(hash)
    }

    /// Transactions counted against the limit: admitted, held and dropped-but-still-in-
    /// CometBFT.
    fn occupied(&self) -> usize {
        self.admitted
            .len()
            .saturating_add(self.held_hashes.len())
            .saturating_add(self.dropped.len())
    }

    /// Whether a check verified the signature of these exact bytes (by their SHA-256) and it
    /// was valid.
    pub fn is_verified(&self, hash: &[u8; 32]) -> bool {
        self.verified.contains(hash)
    }

    fn cache_verified(&mut self, hash: [u8; 32]) {
        if self.verified.len() >= MAX_VERIFIED {
            self.verified.clear();
        }
        self.verified.insert(hash);
    }

    /// Forgets every admitted and held transaction (a new CometBFT process starts with an
    /// empty mempool); returns how many there were. The signature cache stays: it depends on
    /// the bytes only.
    pub fn reset(&mut self) -> usize {
        let forgotten = self.admitted.len().saturating_add(self.held_hashes.len());
        self.admitted.clear();
        self.admitted_hashes.clear();
        self.held.clear();
        self.held_hashes.clear();
        self.dropped.clear();
        self.overlay.clear();
        self.base = None;
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

    /// After a commit: drops the transactions the committed block included, replays the other
    /// admitted ones in admission order against `committed` (the new state, for the block
    /// `next`), then tries the held ones, account by account in nonce order. Admitted
    /// transactions that no longer pass (a nonce another transaction used, funds spent
    /// meanwhile) are dropped; held ones whose nonce is now behind are dropped, and those
    /// whose nonce is now next are admitted if they pass. Admitted and held transactions that
    /// waited more than [`ADMITTED_TX_BLOCKS`] are forgotten.
    pub fn rebase(&mut self, committed: &dyn StateRead, next: BlockInfo) -> Result<()> {
        let in_block = std::mem::take(&mut self.in_block);
        let expired = |since: u64| next.height.saturating_sub(since) > ADMITTED_TX_BLOCKS;
        self.dropped
            .retain(|hash, since| !in_block.contains(hash) && !expired(*since));
        let waiting = std::mem::take(&mut self.admitted);
        self.admitted_hashes.clear();
        self.overlay.clear();
        self.base = Some(next.height);
        let mut checker = MempoolChecker::new(committed, next)?;
        for a in waiting {
            if in_block.contains(&a.hash) || expired(a.since) {
                continue;
            }
            let checked =
                checker.check(committed, &mut self.overlay, &a.tx, SignatureInput::Trusted)?;
            if checked.outcome.code == Code::Ok {
                self.admitted_hashes.insert(a.hash);
                self.admitted.push(a);
            } else {
                self.dropped.insert(a.hash, a.since);
            }
        }
        let held_hashes = &mut self.held_hashes;
        self.held.retain(|_, queue| {
            queue.retain(|_, h| {
                let keep = !in_block.contains(&h.hash) && !expired(h.since);
                if !keep {
                    held_hashes.remove(&h.hash);
                }
                keep
            });
            !queue.is_empty()
        });
        let accounts: Vec<Address> = self.held.keys().copied().collect();
        for account in accounts {
            self.promote(committed, &mut checker, account)?;
        }
        Ok(())
    }

    /// Admits the held transactions of `account` whose nonce has become next, in nonce order,
    /// each checked like a new one (signature trusted: it was verified before it was held).
    /// Those that fail, or whose nonce is now behind, are dropped.
    fn promote(
        &mut self,
        committed: &dyn StateRead,
        checker: &mut MempoolChecker,
        account: Address,
    ) -> Result<()> {
        loop {
            let Some(queue) = self.held.get_mut(&account) else {
                return Ok(());
            };
            let Some((&nonce, _)) = queue.first_key_value() else {
                self.held.remove(&account);
                return Ok(());
            };
            let next = MempoolChecker::next_nonce(committed, &mut self.overlay, &account)?;
            if nonce > next {
                return Ok(());
            }
            let Some(h) = queue.remove(&nonce) else {
                return Ok(());
            };
            if queue.is_empty() {
                self.held.remove(&account);
            }
            self.held_hashes.remove(&h.hash);
            if nonce < next {
                // Another transaction with this nonce was committed or admitted first.
                self.dropped.insert(h.hash, h.since);
                continue;
            }
            let checked =
                checker.check(committed, &mut self.overlay, &h.tx, SignatureInput::Trusted)?;
            if checked.outcome.code == Code::Ok {
                self.admitted_hashes.insert(h.hash);
                self.admitted.push(h);
            } else {
                self.dropped.insert(h.hash, h.since);
            }
        }
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
        if self.admitted.is_empty() {
            // An empty overlay lies over any committed state.
            self.base = Some(next.height);
        }
        // New transactions the mempool has room for get their signature checked in the batch;
        // any other transaction is checked on its own if it gets that far.
        let mut room = self.limit.saturating_sub(self.occupied());
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
        if let Some(&(account, nonce)) = self.held_hashes.get(&hash) {
            // Still held (a recheck, or the same bytes again).
            let log = self.held_log(committed, &account, nonce)?;
            return Ok(TxOutcome::rejected(Code::Ok, log));
        }
        // Checked again: admitted, held or refused (CometBFT then drops it), it is no longer
        // counted as dropped.
        self.dropped.remove(&hash);
        if kind == CheckKind::New && self.occupied() >= self.limit {
            return Ok(TxOutcome::rejected(
                Code::MempoolFull,
                format!(
                    "the mempool holds {} transactions, the most this node admits; send again after the next block",
                    self.occupied()
                ),
            ));
        }
        let signature = match (kind, verdict) {
            (CheckKind::Recheck, _) => SignatureInput::Trusted,
            (CheckKind::New, Some(ok)) => SignatureInput::Verified(ok),
            (CheckKind::New, None) => SignatureInput::Verify,
        };
        let checked = checker.check(committed, &mut self.overlay, tx, signature)?;
        if checked.signature == SigVerdict::Valid {
            self.cache_verified(hash);
        }
        let mut outcome = checked.outcome;
        match (checked.sender, checked.ahead_of) {
            (Some((account, _)), _) if outcome.code == Code::Ok => {
                self.admitted_hashes.insert(hash);
                self.admitted.push(Waiting {
                    hash,
                    tx: tx.to_vec(),
                    since: next.height,
                });
                self.promote(committed, checker, account)?;
            }
            // Holding needs a signature verified now: a recheck's was trusted.
            (Some((account, nonce)), Some(expected))
                if kind == CheckKind::New && checked.signature == SigVerdict::Valid =>
            {
                if let Err(refusal) = self.hold(account, nonce, expected, hash, tx, next) {
                    outcome = refusal;
                } else {
                    outcome.code = Code::Ok;
                    outcome.log = held_message(&account, nonce, expected);
                }
            }
            _ => {}
        }
        Ok(outcome)
    }

    /// Holds `tx` (nonce `nonce` of `account`, whose next nonce is `expected`) or says why not.
    fn hold(
        &mut self,
        account: Address,
        nonce: u64,
        expected: u64,
        hash: [u8; 32],
        tx: &[u8],
        next: BlockInfo,
    ) -> std::result::Result<(), TxOutcome> {
        let gap = nonce.saturating_sub(expected);
        if gap > MAX_NONCE_GAP {
            return Err(TxOutcome::rejected(
                Code::BadNonce,
                format!(
                    "account {account} expects nonce {expected}, the transaction has {nonce}: \
                     the mempool holds a transaction at most {MAX_NONCE_GAP} nonces ahead"
                ),
            ));
        }
        let queue = self.held.entry(account).or_default();
        if queue.contains_key(&nonce) {
            return Err(TxOutcome::rejected(
                Code::BadNonce,
                format!(
                    "a transaction with nonce {nonce} from account {account} is already held \
                     until nonce {expected} arrives"
                ),
            ));
        }
        if queue.len() >= MAX_HELD_PER_ACCOUNT {
            return Err(TxOutcome::rejected(
                Code::MempoolFull,
                format!(
                    "account {account} already has {MAX_HELD_PER_ACCOUNT} transactions held \
                     until nonce {expected} arrives; send that one first"
                ),
            ));
        }
        queue.insert(
            nonce,
            Waiting {
                hash,
                tx: tx.to_vec(),
                since: next.height,
            },
        );
        self.held_hashes.insert(hash, (account, nonce));
        Ok(())
    }

    fn held_log(
        &mut self,
        committed: &dyn StateRead,
        account: &Address,
        nonce: u64,
    ) -> Result<String> {
        let expected = MempoolChecker::next_nonce(committed, &mut self.overlay, account)?;
        Ok(held_message(account, nonce, expected))
    }

    /// The transactions of a proposal for block `next` over `committed` (the state the block
    /// will run on: the node's last commit), chosen from `candidates` (CometBFT's list in
    /// `RequestPrepareProposal.txs`). Returns indexes into `candidates`, in block order.
    ///
    /// * Admitted transactions come first, in admission order, which runs each account's
    ///   transactions in nonce order and each one after the transactions whose effects it
    ///   needs. While the proposal is the mirror's admission order without a gap, nothing is
    ///   executed (the overlay already vouches for it); after an admitted transaction that is
    ///   missing from `candidates` (CometBFT has not processed its answer yet, say), the
    ///   following ones are checked again over the proposal so far.
    /// * Held and dropped transactions are never proposed.
    /// * A candidate unknown to the mirror (CometBFT's mempool outlived the node's mirror, see
    ///   [`Mempool::reset`]) is checked on the spot against `committed` plus the proposal so
    ///   far: decoded, its signature verified (in one batch for all of them; valid verdicts
    ///   are cached for FinalizeBlock) and executed; it is included only if it passes. One
    ///   whose nonce is ahead waits, within this proposal, for the nonce before it.
    /// * Each transaction costs its length plus [`PROPOSAL_TX_OVERHEAD`] bytes; the proposal
    ///   stops at the first that does not fit in `max_bytes`.
    ///
    /// Duplicated candidates count once. Before block 1 commits the proposal is empty.
    pub fn proposal<T: AsRef<[u8]>>(
        &mut self,
        committed: &dyn StateRead,
        next: BlockInfo,
        candidates: &[T],
        max_bytes: usize,
    ) -> Result<Vec<usize>> {
        if next.height <= 1 {
            return Ok(Vec::new());
        }
        let txs: Vec<&[u8]> = candidates.iter().map(AsRef::as_ref).collect();
        let mut index: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            let hash = sidechain_types::sha256(tx);
            if index.contains_key(&hash) {
                continue;
            }
            index.insert(hash, i);
            if !self.admitted_hashes.contains(&hash)
                && !self.held_hashes.contains_key(&hash)
                && !self.dropped.contains_key(&hash)
            {
                unknown.push((i, hash));
            }
        }
        let mut builder = Proposal {
            committed,
            next,
            txs: &txs,
            max_bytes,
            bytes: 0,
            picked: Vec::new(),
            view: None,
            full: false,
        };
        // The overlay vouches for a gapless prefix of the admission order over this state.
        let mut vouched = self.base == Some(next.height);
        for a in &self.admitted {
            let Some(&i) = index.get(&a.hash) else {
                vouched = false;
                continue;
            };
            if vouched {
                if !builder.take(i) {
                    break;
                }
            } else {
                builder.try_add(i, SignatureInput::Trusted)?;
            }
            if builder.full {
                break;
            }
        }
        if builder.full || unknown.is_empty() {
            return Ok(builder.picked);
        }
        // Unknown candidates: signatures in one batch (those not verified before).
        let unverified: Vec<(usize, [u8; 32])> = unknown
            .iter()
            .filter(|(_, hash)| !self.verified.contains(hash))
            .copied()
            .collect();
        let decoded = block::decode_txs(
            &unverified
                .iter()
                .filter_map(|(i, _)| txs.get(*i).copied())
                .collect::<Vec<_>>(),
        );
        for ((_, hash), ok) in unverified
            .iter()
            .zip(block::verify_signatures_except(&decoded, &[]))
        {
            if ok {
                self.cache_verified(*hash);
            }
        }
        // Nonces ahead wait for the one before them: (account, nonce) -> candidate.
        let mut parked: BTreeMap<(Address, u64), usize> = BTreeMap::new();
        for (i, hash) in unknown {
            let signature = SignatureInput::Verified(self.verified.contains(&hash));
            let Some(checked) = builder.try_add(i, signature)? else {
                break;
            };
            match (checked.sender, checked.ahead_of, checked.outcome.code) {
                (Some((account, mut nonce)), _, Code::Ok) => {
                    // Admit what was waiting for this nonce, in nonce order.
                    while let Some(j) = nonce
                        .checked_add(1)
                        .and_then(|n| parked.remove(&(account, n)))
                    {
                        match builder.try_add(j, SignatureInput::Trusted)? {
                            Some(c) if c.outcome.code == Code::Ok => {
                                nonce = nonce.saturating_add(1)
                            }
                            _ => break,
                        }
                    }
                }
                (Some((account, nonce)), Some(_), _) => {
                    parked.entry((account, nonce)).or_insert(i);
                }
                _ => {}
            }
            if builder.full {
                break;
            }
        }
        Ok(builder.picked)
    }
}

/// The log of a held transaction's `Ok` answer.
fn held_message(account: &Address, nonce: u64, expected: u64) -> String {
    format!(
        "held until nonce {expected} arrives: account {account} expects nonce {expected}, \
         the transaction has {nonce}"
    )
}

/// A proposal being built (see [`Mempool::proposal`]).
struct Proposal<'a> {
    committed: &'a dyn StateRead,
    next: BlockInfo,
    /// CometBFT's candidates.
    txs: &'a [&'a [u8]],
    max_bytes: usize,
    /// Bytes counted so far (lengths plus framing).
    bytes: usize,
    /// Indexes into `txs`, in block order.
    picked: Vec<usize>,
    /// `committed` plus the effects of `picked`, built on first need.
    view: Option<(PendingWrites, MempoolChecker)>,
    /// A transaction did not fit: the proposal is complete.
    full: bool,
}

impl Proposal<'_> {
    /// Counts candidate `i` if it fits; `false` (and `full`) if not.
    fn fits(&mut self, i: usize) -> bool {
        let len = self.txs.get(i).map_or(0, |t| t.len());
        match self
            .bytes
            .checked_add(len)
            .and_then(|b| b.checked_add(PROPOSAL_TX_OVERHEAD))
        {
            Some(total) if total <= self.max_bytes => {
                self.bytes = total;
                true
            }
            _ => {
                self.full = true;
                false
            }
        }
    }

    /// Takes candidate `i` without checking it (the mirror vouches for it); `false` if it
    /// does not fit.
    fn take(&mut self, i: usize) -> bool {
        if !self.fits(i) {
            return false;
        }
        self.picked.push(i);
        true
    }

    /// Checks candidate `i` over `committed` plus the proposal so far and takes it if it
    /// passes. `None` if it does not fit (the proposal is then full).
    fn try_add(&mut self, i: usize, signature: SignatureInput) -> Result<Option<Checked>> {
        self.view()?;
        let before = self.bytes;
        if !self.fits(i) {
            return Ok(None);
        }
        let tx = self.txs.get(i).copied().unwrap_or_default();
        let committed = self.committed;
        let (overlay, checker) = self.view()?;
        let checked = checker.check(committed, overlay, tx, signature)?;
        if checked.outcome.code == Code::Ok {
            self.picked.push(i);
        } else {
            self.bytes = before;
        }
        Ok(Some(checked))
    }

    /// `committed` plus the effects of the transactions picked so far; built on first need by
    /// replaying them (they were picked on the mirror's word, so their signatures are trusted;
    /// one that fails all the same is left out).
    fn view(&mut self) -> Result<(&mut PendingWrites, &mut MempoolChecker)> {
        if self.view.is_none() {
            let mut overlay = PendingWrites::new();
            let mut checker = MempoolChecker::new(self.committed, self.next)?;
            let picked = std::mem::take(&mut self.picked);
            self.bytes = 0;
            for i in picked {
                let tx = self.txs.get(i).copied().unwrap_or_default();
                let checked =
                    checker.check(self.committed, &mut overlay, tx, SignatureInput::Trusted)?;
                if checked.outcome.code == Code::Ok && self.fits(i) {
                    self.picked.push(i);
                }
            }
            self.full = false;
            self.view = Some((overlay, checker));
        }
        match self.view.as_mut() {
            Some((overlay, checker)) => Ok((overlay, checker)),
            None => Err(crate::AppError::Corrupt {
                key: "mempool proposal".into(),
                reason: "overlay missing".into(),
            }),
        }
    }
}

impl Default for Mempool {
    fn default() -> Self {
        Mempool::new(DEFAULT_MEMPOOL_SIZE)
    }
}
