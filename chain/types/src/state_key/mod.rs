//! The whole state layout in one place: every key the application writes is built here, under
//! one prefix per component (`app/`, `bank/`, `val/`, `bridge/`), so no two components can
//! write the same key and the layout reads at a glance.
//!
//! The store reads by key only (no range scans), so records that grow with users are addressed
//! by key, and queues are keyed records between head and tail counters (ADR 12), never one list
//! rewritten on every change.
//!
//! [`block`] names the per-block accumulators: they live in the execution overlay's scratch
//! area for one block and never reach storage.

pub mod app;
pub mod bank;
pub mod block;
pub mod bridge;
pub mod validators;

/// The prefix of every key of each component, in the order the table above gives.
pub const PREFIXES: [&[u8]; 4] = [
    app::PREFIX,
    bank::PREFIX,
    validators::PREFIX,
    bridge::PREFIX,
];

/// `prefix ‖ suffix` as one key.
fn key(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len().saturating_add(suffix.len()));
    k.extend_from_slice(prefix);
    k.extend_from_slice(suffix);
    k
}

/// A queue position or id as a key suffix: 8 big-endian bytes, so keys sort in numeric order.
fn index(prefix: &[u8], i: u64) -> Vec<u8> {
    key(prefix, &i.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Denom};

    #[test]
    fn every_key_starts_with_its_components_prefix_and_prefixes_do_not_nest() {
        let a = Address([7; 20]);
        let d = Denom::new("side").unwrap();
        let by_component: [(&[u8], Vec<Vec<u8>>); 4] = [
            (
                app::PREFIX,
                vec![
                    app::CHAIN_ID.to_vec(),
                    app::PARAMS.to_vec(),
                    app::NATIVE_DENOM.to_vec(),
                    app::LAST_HEIGHT.to_vec(),
                ],
            ),
            (bank::PREFIX, vec![bank::account(&a), bank::supply(&d)]),
            (
                validators::PREFIX,
                vec![
                    validators::SET.to_vec(),
                    validators::proposal(3),
                    validators::PROPOSALS_HEAD.to_vec(),
                    validators::NEXT_PROPOSAL_ID.to_vec(),
                ],
            ),
            (
                bridge::PREFIX,
                vec![
                    bridge::PARAMS.to_vec(),
                    bridge::LAST_APPLIED.to_vec(),
                    bridge::MISBEHAVIOUR_COUNT.to_vec(),
                    bridge::TOKEN_COUNT.to_vec(),
                    bridge::REFUNDS_HEAD.to_vec(),
                    bridge::REFUNDS_TAIL.to_vec(),
                    bridge::deposit(1),
                    bridge::last_claimed(&a),
                    bridge::misbehaviour(2),
                    bridge::misbehaved(3, &a),
                    bridge::token(&crate::EthAddress([1; 20])),
                    bridge::token_index(0),
                    bridge::denom(&d),
                    bridge::refund(4),
                ],
            ),
        ];
        for (prefix, keys) in &by_component {
            for k in keys {
                assert!(k.starts_with(prefix), "{}", String::from_utf8_lossy(k));
            }
        }
        for p in PREFIXES {
            for q in PREFIXES {
                assert!(p == q || !p.starts_with(q), "{p:?} nests in {q:?}");
            }
        }
        assert!(validators::proposal(1) < validators::proposal(256));
        assert!(bridge::deposit(1) < bridge::deposit(256));
    }
}
