//! The validator registry and its change proposals.
//!
//! Proposals form a queue: ids are given out in order (`NEXT_PROPOSAL_ID` is the tail), every
//! proposal lapses after the same number of blocks, so they lapse in id order, and
//! `PROPOSALS_HEAD` is the lowest id that may still be open. Open proposals are the keys from
//! head to tail that are present; an approved or lapsed proposal's key is deleted.

/// Prefix of every key below.
pub const PREFIX: &[u8] = b"val/";
/// borsh `Vec<ValidatorInfo>`, sorted by consensus key. One record: the set is bounded by what
/// CometBFT can run, not by users.
pub const SET: &[u8] = b"val/set";
/// borsh `u64`: id of the next proposal (the queue's tail).
pub const NEXT_PROPOSAL_ID: &[u8] = b"val/next_proposal_id";
/// borsh `u64`: lowest proposal id that may still be open (the queue's head).
pub const PROPOSALS_HEAD: &[u8] = b"val/proposals_head";

/// `val/proposal/<id, 8 bytes big-endian>` -> borsh `Proposal`, while it is open.
pub fn proposal(id: u64) -> Vec<u8> {
    super::index(b"val/proposal/", id)
}
