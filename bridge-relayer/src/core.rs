//! The relayer's pure core: which L1 deposits this validator still has to claim, and how its
//! claims are grouped into transactions. No I/O: the edges (`l1`, `sidechain`) feed it what
//! they read, and it answers what to send.
//!
//! The sidechain's record is the authority: on start and after any failure the tracker is
//! reset from it ([`Tracker::resync`]), so a relayer that lost every local file neither skips
//! nor repeats a claim. Claims always go out in nonce order without gaps, and never further
//! ahead of the chain's last applied deposit than the chain accepts.

use std::{collections::BTreeMap, time::Duration};

use sidechain_types::bridge::{DepositClaim, MAX_PENDING_DEPOSITS_AHEAD};

/// What the chain says about deposits, as far as this relayer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainProgress {
    /// Highest deposit nonce the sidechain has applied (minted or recorded as a refund).
    pub last_applied: u64,
    /// Highest deposit nonce this validator has claimed.
    pub last_claimed: u64,
}

impl ChainProgress {
    /// The first nonce this validator still has to claim.
    pub fn next_to_claim(&self) -> u64 {
        self.last_applied.max(self.last_claimed).saturating_add(1)
    }
}

/// What [`Tracker::observe`] learned from one scanned block range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observed {
    /// Events new to the tracker that still need claiming.
    pub new: usize,
    /// Events for nonces already claimed (or applied): nothing to do.
    pub old: usize,
    /// Events for a nonce already seen with different content (an L1 reorg above the
    /// confirmation depth, or a lying endpoint): the newer content replaces the older one
    /// when nothing was claimed yet.
    pub replaced: usize,
}

/// Deposits seen on L1 that this validator has not claimed yet, and where the L1 scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    /// First nonce not yet claimed by this validator (nor applied by the chain).
    next_nonce: u64,
    /// Next L1 block to read events from.
    scan_from: u64,
    /// Seen events with nonce >= `next_nonce`, by nonce.
    seen: BTreeMap<u64, DepositClaim>,
}

impl Tracker {
    /// A tracker that reads L1 from block `scan_from` on and claims from the chain's next
    /// nonce for this validator on.
    pub fn new(progress: ChainProgress, scan_from: u64) -> Self {
        Tracker {
            next_nonce: progress.next_to_claim(),
            scan_from,
            seen: BTreeMap::new(),
        }
    }

    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Next L1 block to read.
    pub fn scan_from(&self) -> u64 {
        self.scan_from
    }

    /// Seen events waiting to be claimed.
    pub fn pending(&self) -> usize {
        self.seen.len()
    }

    /// The range to read next when the L1's usable head (the highest block final enough to
    /// act on) is `safe_head`: at most `max_range` blocks, or nothing when caught up.
    pub fn next_range(&self, safe_head: u64, max_range: u64) -> Option<(u64, u64)> {
        if self.scan_from > safe_head || max_range == 0 {
            return None;
        }
        let to = self.scan_from.saturating_add(max_range - 1).min(safe_head);
        Some((self.scan_from, to))
    }

    /// Takes the events read from blocks `from..=to` (all of them, in any order) and moves the
    /// scan past `to`.
    pub fn observe(&mut self, events: Vec<DepositClaim>, to: u64) -> Observed {
        let mut report = Observed::default();
        for e in events {
            if e.nonce < self.next_nonce {
                report.old += 1;
                continue;
            }
            match self.seen.insert(e.nonce, e.clone()) {
                None => report.new += 1,
                Some(prev) if prev != e => report.replaced += 1,
                Some(_) => report.old += 1,
            }
        }
        self.scan_from = self.scan_from.max(to.saturating_add(1));
        report
    }

    /// The claims to send now, in transactions of at most `max_per_tx` claims: the seen events
    /// from the next nonce on without a gap, and not beyond what the chain accepts ahead of its
    /// last applied deposit.
    pub fn claims(&self, last_applied: u64, max_per_tx: usize) -> Vec<Vec<DepositClaim>> {
        let limit = last_applied.saturating_add(MAX_PENDING_DEPOSITS_AHEAD);
        let mut run = Vec::new();
        let mut expect = self.next_nonce;
        for (nonce, claim) in self.seen.range(self.next_nonce..) {
            if *nonce != expect || *nonce > limit {
                break;
            }
            run.push(claim.clone());
            expect = expect.saturating_add(1);
        }
        run.chunks(max_per_tx.max(1)).map(<[_]>::to_vec).collect()
    }

    /// The first nonce missing below a later seen one, once the scan has passed the later
    /// one's block: the events before it were never read (the scan started too late), so the
    /// edge must read L1 again from an earlier block.
    pub fn gap(&self) -> Option<u64> {
        let (&first, claim) = self.seen.range(self.next_nonce..).next()?;
        (first > self.next_nonce && claim.l1_block < self.scan_from).then_some(self.next_nonce)
    }

    /// The chain committed claims up to `nonce` from this validator.
    pub fn claimed_through(&mut self, nonce: u64) {
        if nonce >= self.next_nonce {
            self.next_nonce = nonce.saturating_add(1);
            self.seen = self.seen.split_off(&self.next_nonce);
        }
    }

    /// Adopts the chain's record (after a start, a failure, or another relayer's claims that
    /// applied deposits): nonces the chain has applied or this validator has claimed are
    /// dropped. Never moves backwards past a nonce the chain confirms.
    pub fn resync(&mut self, progress: ChainProgress) {
        let next = progress.next_to_claim();
        if next != self.next_nonce {
            self.next_nonce = next;
            self.seen = self.seen.split_off(&next);
        }
    }

    /// Reads L1 again from `block` (after a gap, or `clear --from-block`).
    pub fn rescan_from(&mut self, block: u64) {
        self.scan_from = self.scan_from.min(block);
    }
}

/// Exponential backoff between retries: `initial`, doubling per failure up to `max`; reset on
/// success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            current: initial,
            failures: 0,
        }
    }

    /// The wait before the next attempt; doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = self.current.saturating_mul(2).min(self.max);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.current = self.initial;
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sidechain_types::{bridge::L1Amount, Address, EthAddress};

    use super::*;

    fn dep(nonce: u64, block: u64) -> DepositClaim {
        DepositClaim {
            nonce,
            token: EthAddress::ZERO,
            sender: EthAddress([7; 20]),
            recipient: Address([9; 20]),
            amount: L1Amount::from_u128(u128::from(nonce) * 10),
            l1_block: block,
            l1_tx_hash: [nonce as u8; 32],
            log_index: 0,
        }
    }

    fn nonces(batches: &[Vec<DepositClaim>]) -> Vec<u64> {
        batches.iter().flatten().map(|c| c.nonce).collect()
    }

    #[test]
    fn claims_start_at_the_chains_next_nonce_and_stop_at_a_gap() {
        let mut t = Tracker::new(
            ChainProgress {
                last_applied: 2,
                last_claimed: 3,
            },
            10,
        );
        assert_eq!(t.next_nonce(), 4);
        let r = t.observe(
            (1..=8)
                .filter(|n| *n != 6)
                .map(|n| dep(n, 10 + n))
                .collect(),
            20,
        );
        assert_eq!((r.new, r.old), (4, 3));
        assert_eq!(nonces(&t.claims(2, 100)), vec![4, 5]);
        assert_eq!(t.gap(), None, "nonce 4 is next and seen: no gap");
        t.claimed_through(5);
        assert_eq!(t.claims(2, 100), Vec::<Vec<DepositClaim>>::new());
        assert_eq!(t.gap(), Some(6), "7 was read from block 17 but 6 never was");
        t.rescan_from(0);
        assert_eq!(t.scan_from(), 0);
        t.observe(vec![dep(6, 16)], 20);
        assert_eq!(nonces(&t.claims(2, 100)), vec![6, 7, 8]);
    }

    #[test]
    fn claims_are_grouped_and_bounded_by_the_chains_window() {
        let mut t = Tracker::new(ChainProgress::default(), 0);
        t.observe((1..=250).map(|n| dep(n, n)).collect(), 300);
        let batches = t.claims(0, 100);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let mut t = Tracker::new(ChainProgress::default(), 0);
        let far = MAX_PENDING_DEPOSITS_AHEAD + 5;
        t.observe((1..=far).map(|n| dep(n, n)).collect(), far);
        assert_eq!(
            nonces(&t.claims(0, 100)).last().copied(),
            Some(MAX_PENDING_DEPOSITS_AHEAD)
        );
    }

    #[test]
    fn ranges_are_bounded_and_stop_at_the_safe_head() {
        let mut t = Tracker::new(ChainProgress::default(), 5);
        assert_eq!(t.next_range(4, 10), None);
        assert_eq!(t.next_range(100, 10), Some((5, 14)));
        t.observe(Vec::new(), 14);
        assert_eq!(t.next_range(20, 10), Some((15, 20)));
        t.observe(Vec::new(), 20);
        assert_eq!(t.next_range(20, 10), None);
    }

    #[test]
    fn resync_drops_what_the_chain_applied() {
        let mut t = Tracker::new(ChainProgress::default(), 0);
        t.observe((1..=5).map(|n| dep(n, n)).collect(), 5);
        t.resync(ChainProgress {
            last_applied: 3,
            last_claimed: 0,
        });
        assert_eq!(nonces(&t.claims(3, 100)), vec![4, 5]);
        assert_eq!(t.pending(), 2);
    }

    #[test]
    fn changed_content_for_a_seen_nonce_replaces_it() {
        let mut t = Tracker::new(ChainProgress::default(), 0);
        t.observe(vec![dep(1, 1)], 1);
        let mut other = dep(1, 2);
        other.amount = L1Amount::from_u128(5);
        let r = t.observe(vec![other.clone()], 2);
        assert_eq!(r.replaced, 1);
        assert_eq!(t.claims(0, 10), vec![vec![other]]);
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let d: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, vec![100, 200, 350, 350]);
        assert_eq!(b.failures(), 4);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    proptest! {
        /// Whatever ranges the events arrive in (out of order, repeated) and whenever the
        /// chain confirms claims, every nonce is handed out for claiming exactly once per
        /// confirmation, in order, and none is skipped.
        #[test]
        fn every_nonce_is_claimed_once_in_order(
            n in 1u64..60,
            chunks in proptest::collection::vec(1usize..10, 1..20),
            repeat in any::<bool>(),
        ) {
            let all: Vec<DepositClaim> = (1..=n).map(|k| dep(k, k)).collect();
            let mut t = Tracker::new(ChainProgress::default(), 1);
            let mut claimed = Vec::new();
            let mut i = 0usize;
            let mut c = chunks.iter().cycle();
            while i < all.len() {
                let step = *c.next().unwrap_or(&1);
                let end = (i + step).min(all.len());
                let mut batch = all[i..end].to_vec();
                batch.reverse();
                if repeat {
                    batch.extend(all[..i].iter().cloned());
                }
                let to = all[end - 1].l1_block;
                t.observe(batch, to);
                for txn in t.claims(0, 7) {
                    let last = txn.last().map(|c| c.nonce).unwrap_or_default();
                    claimed.extend(txn.iter().map(|c| c.nonce));
                    t.claimed_through(last);
                }
                i = end;
            }
            prop_assert_eq!(claimed, (1..=n).collect::<Vec<_>>());
        }
    }
}
