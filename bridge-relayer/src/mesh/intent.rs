//! The "exactly one payer" rule, as a pure function ([`decide`]) every relayer computes the same
//! way from what it has seen on the mesh.
//!
//! Before paying gas for an L1 transaction (a batch, a signer-set update, an activation), a
//! relayer announces an intent for the item `(kind, nonce)`. Every relayer ranks the intents of
//! one item by a key that does not depend on who computes it:
//!
//! 1. *on time* before *late*: an intent first seen within [`Rules::window_ms`] of the first
//!    intent seen for the item is on time; a later one is late (its relayer noticed the item
//!    after the others had already settled who pays, so it queues behind them);
//! 2. then by [`priority`]: SHA-256 of the item and the relayer's Ethereum address, lowest
//!    first. It rotates with the nonce, so the work (and its gas) spreads over the relayers.
//!
//! The first in that order is the *original winner*. Among candidates whose relayer is live
//! (a heartbeat seen recently; this relayer always counts as live), the relayer at rank `r`
//! sends once the window has closed and `r` takeover bounds have passed
//! ([`Rules::takeover_ms`]): rank 0 at once, rank 1 after one bound if the item is still not
//! done, and so on. A winner that stops sending heartbeats drops out of the live ranking, so its
//! successor moves up without waiting.
//!
//! With no live peer at all (the mesh is off, partitioned, or still forming) the relayer falls
//! back to the chain's turn order ([`sidechain_types::bridge::submitter_turn`]), which the caller
//! passes in as `fallback_turn_is_mine`.
//!
//! Nothing here touches safety: the contract decides what executes. A lost, late or forged
//! intent can only make two relayers send (one transaction then reverts in simulation or on L1)
//! or make everyone wait one more takeover bound.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sidechain_types::EthAddress;

/// The L1 transaction an intent is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `submitBatch` of withdrawal batch `nonce`.
    SubmitBatch,
    /// `updateSignerSet` to signer set `nonce`.
    UpdateSignerSet,
    /// `activateSignerSet` of signer set `nonce`.
    ActivateSignerSet,
}

impl Kind {
    /// The name used in logs, metrics and on the wire.
    pub fn label(self) -> &'static str {
        match self {
            Kind::SubmitBatch => "submit_batch",
            Kind::UpdateSignerSet => "update_signer_set",
            Kind::ActivateSignerSet => "activate_signer_set",
        }
    }

    /// One byte in the [`priority`] preimage.
    fn code(self) -> u8 {
        match self {
            Kind::SubmitBatch => 1,
            Kind::UpdateSignerSet => 2,
            Kind::ActivateSignerSet => 3,
        }
    }
}

impl From<crate::outbound::TxKind> for Kind {
    fn from(k: crate::outbound::TxKind) -> Self {
        use crate::outbound::TxKind;
        match k {
            TxKind::SubmitBatch => Kind::SubmitBatch,
            TxKind::UpdateSignerSet => Kind::UpdateSignerSet,
            TxKind::ActivateSignerSet => Kind::ActivateSignerSet,
        }
    }
}

/// One piece of L1 work: a transaction kind and the nonce of its batch or signer set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Item {
    pub kind: Kind,
    pub nonce: u64,
}

/// Domain separation of [`priority`].
const PRIORITY_DOMAIN: &[u8] = b"sidechain-bridge/mesh/intent-priority/v1";

/// The rank key of `relayer` for `item`: SHA-256 of a domain tag, the kind, the nonce (big
/// endian) and the 20 address bytes. Lower wins.
pub fn priority(item: Item, relayer: &EthAddress) -> [u8; 32] {
    let mut pre = Vec::with_capacity(PRIORITY_DOMAIN.len() + 1 + 8 + 20);
    pre.extend_from_slice(PRIORITY_DOMAIN);
    pre.push(item.kind.code());
    pre.extend_from_slice(&item.nonce.to_be_bytes());
    pre.extend_from_slice(relayer.as_bytes());
    sidechain_types::sha256(&pre)
}

/// One relayer's intent for an item, as this relayer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The announcing relayer's Ethereum (bridge key) address.
    pub relayer: EthAddress,
    /// When this relayer first saw the intent, on its own clock (Unix milliseconds). The
    /// sender's timestamp is not used: a skewed or forged clock must not hold up a takeover.
    pub seen_at_ms: u64,
}

/// The timing of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Milliseconds after the first intent seen for an item during which intents are collected
    /// and nobody sends; longer than gossip takes to reach every peer.
    pub window_ms: u64,
    /// Milliseconds each candidate gives the one ranked before it to land the transaction
    /// before sending itself.
    pub takeover_ms: u64,
}

/// What a relayer should do about an item now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send: this relayer is the original winner.
    Send,
    /// Send: the relayers ranked before this one have not landed the item in time (or are no
    /// longer live); `stalled` is the original winner.
    TakeOver { stalled: EthAddress },
    /// Do not send: `winner` should; this relayer takes over in `takeover_in_ms` milliseconds
    /// if the item is still not done by then.
    StandBy {
        winner: EthAddress,
        takeover_in_ms: u64,
    },
    /// Do not send yet: intents are still being collected for `remaining_ms` milliseconds.
    Collecting { remaining_ms: u64 },
    /// No live peer on the mesh: the chain's turn order decides; `my_turn` is what the caller
    /// passed as `fallback_turn_is_mine`.
    Fallback { my_turn: bool },
}

impl Decision {
    /// Whether to send the transaction now.
    pub fn send(&self) -> bool {
        match self {
            Decision::Send | Decision::TakeOver { .. } => true,
            Decision::Fallback { my_turn } => *my_turn,
            Decision::StandBy { .. } | Decision::Collecting { .. } => false,
        }
    }
}

/// What a relayer has seen on the mesh, as [`decide`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// This relayer's Ethereum (bridge key) address.
    pub me: &'a EthAddress,
    /// Every intent seen for the item from admitted peers, at most one per relayer (the first
    /// seen), including `me`'s own; if `me`'s is missing it counts as seen at `now_ms`.
    pub intents: &'a [Seen],
    /// The peers (other than `me`) whose heartbeat arrived recently; `me` is always live. Empty:
    /// the mesh has no live peer and the turn order decides.
    pub live: &'a BTreeSet<EthAddress>,
    /// This relayer's clock, Unix milliseconds.
    pub now_ms: u64,
}

/// Decides whether relayer `view.me` sends `item` now (see the module doc for the rule).
pub fn decide(item: Item, view: &View<'_>, rules: &Rules, fallback_turn_is_mine: bool) -> Decision {
    let View {
        me,
        intents,
        live,
        now_ms,
    } = *view;
    if live.iter().all(|a| a == me) {
        return Decision::Fallback {
            my_turn: fallback_turn_is_mine,
        };
    }
    let mut all: Vec<Seen> = intents.to_vec();
    if !all.iter().any(|s| s.relayer == *me) {
        all.push(Seen {
            relayer: *me,
            seen_at_ms: now_ms,
        });
    }
    let first = all.iter().map(|s| s.seen_at_ms).min().unwrap_or(now_ms);
    let closes = first.saturating_add(rules.window_ms);
    if now_ms < closes {
        return Decision::Collecting {
            remaining_ms: closes - now_ms,
        };
    }
    // Order: on time before late, then by priority, then by address (a tie of SHA-256 values
    // would need a collision; the address keeps the order total anyway).
    let key = |s: &Seen| (s.seen_at_ms > closes, priority(item, &s.relayer), s.relayer);
    all.sort_by_key(key);
    all.dedup_by_key(|s| s.relayer);
    let Some(original) = all.first().map(|s| s.relayer) else {
        // `all` holds at least `me`; an empty list cannot happen, and standing by is safe.
        return Decision::Collecting { remaining_ms: 0 };
    };
    let live: Vec<&Seen> = all
        .iter()
        .filter(|s| s.relayer == *me || live.contains(&s.relayer))
        .collect();
    let rank = live.iter().position(|s| s.relayer == *me).unwrap_or(0);
    // A late candidate's clock starts when it was seen, so it never jumps ahead of the bound
    // given to those before it.
    let start = live
        .get(rank)
        .map(|s| s.seen_at_ms.max(closes))
        .unwrap_or(closes);
    let due = start.saturating_add(rules.takeover_ms.saturating_mul(rank as u64));
    if now_ms < due {
        let winner = live.first().map(|s| s.relayer).unwrap_or(original);
        return Decision::StandBy {
            winner,
            takeover_in_ms: due - now_ms,
        };
    }
    if original == *me {
        Decision::Send
    } else {
        Decision::TakeOver { stalled: original }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        window_ms: 2_000,
        takeover_ms: 30_000,
    };

    /// [`decide`] with the peers in `live` live.
    fn run(
        it: Item,
        me: &EthAddress,
        intents: &[Seen],
        live: &[EthAddress],
        now_ms: u64,
        fallback: bool,
    ) -> Decision {
        let live: BTreeSet<EthAddress> = live.iter().copied().collect();
        let view = View {
            me,
            intents,
            live: &live,
            now_ms,
        };
        decide(it, &view, &RULES, fallback)
    }

    fn addr(b: u8) -> EthAddress {
        EthAddress([b; 20])
    }

    fn item(nonce: u64) -> Item {
        Item {
            kind: Kind::SubmitBatch,
            nonce,
        }
    }

    fn seen(relayers: &[EthAddress], at: u64) -> Vec<Seen> {
        relayers
            .iter()
            .map(|r| Seen {
                relayer: *r,
                seen_at_ms: at,
            })
            .collect()
    }

    /// The relayers of `set` ordered by priority for `item`.
    fn ranked(item: Item, set: &[EthAddress]) -> Vec<EthAddress> {
        let mut v = set.to_vec();
        v.sort_by_key(|r| priority(item, r));
        v
    }

    #[test]
    fn exactly_one_of_the_candidates_sends_after_the_window() {
        let set = [addr(1), addr(2), addr(3), addr(4)];
        for nonce in 0..50 {
            let it = item(nonce);
            let intents = seen(&set, 1_000);
            let decisions: Vec<Decision> = set
                .iter()
                .map(|me| run(it, me, &intents, &set, 3_000, false))
                .collect();
            assert_eq!(decisions.iter().filter(|d| d.send()).count(), 1, "{nonce}");
            let winner = ranked(it, &set)[0];
            let i = set.iter().position(|a| *a == winner).unwrap();
            assert_eq!(decisions[i], Decision::Send);
            for (j, d) in decisions.iter().enumerate() {
                if j != i {
                    assert!(matches!(d, Decision::StandBy { winner: w, .. } if *w == winner));
                }
            }
        }
    }

    #[test]
    fn the_winner_rotates_with_the_nonce() {
        let set = [addr(1), addr(2), addr(3), addr(4)];
        let winners: std::collections::BTreeSet<EthAddress> =
            (0..40).map(|n| ranked(item(n), &set)[0]).collect();
        assert!(winners.len() >= 3, "{winners:?}");
    }

    #[test]
    fn nobody_sends_inside_the_window() {
        let set = [addr(1), addr(2)];
        let intents = seen(&set, 1_000);
        for me in &set {
            let d = run(item(7), me, &intents, &set, 2_500, true);
            assert_eq!(d, Decision::Collecting { remaining_ms: 500 });
        }
    }

    #[test]
    fn without_live_peers_the_turn_order_decides() {
        let d = run(item(1), &addr(1), &[], &[], 0, true);
        assert_eq!(d, Decision::Fallback { my_turn: true });
        assert!(d.send());
        let d = run(item(1), &addr(1), &[], &[addr(1)], 0, false);
        assert!(!d.send());
    }

    #[test]
    fn the_next_in_rank_takes_over_after_one_bound_and_the_third_after_two() {
        let set = [addr(1), addr(2), addr(3)];
        let it = item(11);
        let order = ranked(it, &set);
        let intents = seen(&set, 0);
        let at = |me: &EthAddress, now| run(it, me, &intents, &set, now, false);
        // just before the first bound ends: only the winner sends
        let now = RULES.window_ms + RULES.takeover_ms - 1;
        assert_eq!(at(&order[0], now), Decision::Send);
        assert_eq!(
            at(&order[1], now),
            Decision::StandBy {
                winner: order[0],
                takeover_in_ms: 1
            }
        );
        // after it: the second takes over, the third still stands by
        let now = RULES.window_ms + RULES.takeover_ms;
        assert_eq!(at(&order[1], now), Decision::TakeOver { stalled: order[0] });
        assert!(!at(&order[2], now).send());
        let now = RULES.window_ms + 2 * RULES.takeover_ms;
        assert_eq!(at(&order[2], now), Decision::TakeOver { stalled: order[0] });
    }

    #[test]
    fn a_winner_without_heartbeats_is_passed_over_at_once() {
        let set = [addr(1), addr(2), addr(3)];
        let it = item(5);
        let order = ranked(it, &set);
        let intents = seen(&set, 0);
        let dead = order[0];
        let live: Vec<EthAddress> = set.iter().copied().filter(|a| *a != dead).collect();
        let now = RULES.window_ms;
        let d1 = run(it, &order[1], &intents, &live, now, false);
        assert_eq!(d1, Decision::TakeOver { stalled: dead });
        let d2 = run(it, &order[2], &intents, &live, now, false);
        assert!(matches!(d2, Decision::StandBy { winner, .. } if winner == order[1]));
    }

    #[test]
    fn a_late_intent_queues_behind_the_settled_ones() {
        let set = [addr(1), addr(2), addr(3), addr(4)];
        let it = item(3);
        let order = ranked(it, &set);
        // the best-ranked relayer noticed the item late, after the others had settled
        let mut intents = seen(&order[1..], 0);
        let late_at = RULES.window_ms + 5_000;
        intents.push(Seen {
            relayer: order[0],
            seen_at_ms: late_at,
        });
        let now = late_at + 1;
        assert_eq!(
            run(it, &order[1], &intents, &set, now, false),
            Decision::Send
        );
        let late = run(it, &order[0], &intents, &set, now, false);
        assert!(
            matches!(late, Decision::StandBy { winner, .. } if winner == order[1]),
            "{late:?}"
        );
    }

    #[test]
    fn a_missing_own_intent_counts_as_seen_now() {
        let others = [addr(8), addr(9)];
        let intents = seen(&others, 0);
        let me = addr(1);
        let now = RULES.window_ms + 10;
        let d = run(item(2), &me, &intents, &others, now, false);
        // late, so never the original winner
        assert!(!matches!(d, Decision::Send), "{d:?}");
    }

    #[test]
    fn a_lone_candidate_with_live_but_silent_peers_sends_after_the_window() {
        let me = addr(1);
        let intents = seen(&[me], 0);
        let d = run(
            item(9),
            &me,
            &intents,
            &[addr(2), addr(3)],
            RULES.window_ms,
            false,
        );
        assert_eq!(d, Decision::Send);
    }

    #[test]
    fn priority_separates_kinds_nonces_and_relayers() {
        let a = priority(item(1), &addr(1));
        assert_ne!(a, priority(item(2), &addr(1)));
        assert_ne!(a, priority(item(1), &addr(2)));
        let other = Item {
            kind: Kind::UpdateSignerSet,
            nonce: 1,
        };
        assert_ne!(a, priority(other, &addr(1)));
    }
}
