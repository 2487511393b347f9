//! The pure core of the withdrawal side (sidechain → L1): what this validator still has to
//! confirm, whether it is its turn to send an L1 transaction, what a simulated revert of the
//! contract means, and how the logs of an executed batch map to its entries. No I/O: the edges
//! read the chain's records and L1, and this module answers what to do.
//!
//! The chain's records are the authority (ADR 17): the outstanding batch
//! (`/bridge/batches`), the signer-set updates (`/bridge/signer_sets`) and the set L1 holds
//! (`/bridge/l1_signer_set`). A relayer that restarts reads them again and continues; it keeps
//! nothing of its own.

use alloy::{
    primitives::U256,
    sol_types::{SolError, SolInterface},
};
use bridge_contracts::Bridge::BridgeErrors;
use sidechain_types::{
    bridge::submitter_turn, Address, BatchOutcome, BatchSignature, EthAddress, L1SignerSet,
    OutcomeVote, OutgoingBatch, Release, SignerSetOutcome, SignerSetStatus, SignerSetUpdate,
};

/// Index of `me` in the set L1 holds (the contract's `signerIndex`), `None` when not a member.
pub fn member_index(set: &L1SignerSet, me: &EthAddress) -> Option<usize> {
    set.signers.iter().position(|s| s == me)
}

/// Whether this validator (bridge address `me`) should confirm `batch` now: it is
/// outstanding and not yet ready, its signatures are collected for the set L1 holds, `me` is
/// a member of that set, and the batch holds no signature of `me` yet.
pub fn should_confirm_batch(batch: &OutgoingBatch, l1_set: &L1SignerSet, me: &EthAddress) -> bool {
    batch.settled.is_none()
        && !batch.ready
        && batch.signer_set_nonce == l1_set.nonce
        && member_index(l1_set, me).is_some()
        && !batch.signatures.iter().any(|s| s.signer == *me)
}

/// Whether this validator should confirm signer-set update `update`: it is collecting
/// signatures of the set L1 holds, `me` is a member of that set and has not signed it yet.
pub fn should_confirm_signer_set(
    update: &SignerSetUpdate,
    l1_set: &L1SignerSet,
    me: &EthAddress,
) -> bool {
    update.status == SignerSetStatus::Signing
        && update.signed_by == l1_set.nonce
        && member_index(l1_set, me).is_some()
        && !update.signatures.iter().any(|s| s.signer == *me)
}

/// Whether it is `me`'s turn to send the L1 transaction of an item with nonce `nonce` that
/// became ready at sidechain height `ready_height`, at height `height`
/// ([`submitter_turn`] over the members of the set L1 holds).
pub fn is_my_turn(
    nonce: u64,
    ready_height: u64,
    height: u64,
    l1_set: &L1SignerSet,
    me: &EthAddress,
) -> bool {
    match (
        member_index(l1_set, me),
        submitter_turn(nonce, ready_height, height, l1_set.signers.len()),
    ) {
        (Some(mine), Some(turn)) => mine == turn,
        _ => false,
    }
}

/// The fewest leading signatures (in ascending signer index, the order the chain keeps) whose
/// normalized powers in `l1_set` pass the contract's threshold: every signature given is
/// checked on L1 at about 6,400 gas each, so a submitter sends just enough. All of them when
/// even all do not pass (the contract then refuses, which the simulation reports).
pub fn enough_signatures(
    signatures: &[BatchSignature],
    l1_set: &L1SignerSet,
) -> Vec<BatchSignature> {
    let mut powers = Vec::new();
    let mut out = Vec::new();
    for s in signatures {
        let index = usize::try_from(s.signer_index).unwrap_or(usize::MAX);
        powers.push(l1_set.powers.get(index).copied().unwrap_or(0));
        out.push(s.clone());
        if bridge_contracts::protocol::passes_threshold(powers.iter().copied()) {
            break;
        }
    }
    out
}

/// Whether validator `operator` is among the voters of an outcome in `votes` (with
/// `content`: only of that content hash; without: of any outcome).
pub fn has_attested<T>(
    votes: &[OutcomeVote<T>],
    operator: &Address,
    content: Option<[u8; 32]>,
) -> bool {
    votes
        .iter()
        .any(|v| content.is_none_or(|c| c == v.content_hash) && v.validators.contains(operator))
}

/// Which L1 transaction a submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    SubmitBatch,
    UpdateSignerSet,
    ActivateSignerSet,
}

impl TxKind {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            TxKind::SubmitBatch => "submit_batch",
            TxKind::UpdateSignerSet => "update_signer_set",
            TxKind::ActivateSignerSet => "activate_signer_set",
        }
    }
}

/// What a simulated L1 call's revert means for the relayer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revert {
    /// The work is already done on L1 (the batch or update executed, the set was activated):
    /// nothing to send; the attestation follows once the L1 block is final.
    AlreadyDone,
    /// A condition that may pass by itself (paused, the token's window cap, a pending set
    /// update, a delay not over): try again on a later step.
    Temporary,
    /// The batch's timeout has passed on L1: it can never execute; the timeout attestation
    /// settles it.
    Expired,
    /// The signatures are for a signer set L1 no longer (or not yet) holds: wait until the
    /// chain attests the signer-set change and collects signatures again.
    WrongSignerSet,
    /// Anything else: the transaction would fail; it is not sent and the reason is reported.
    Refused,
}

/// The contract's custom error in revert data `data` and what it means for a `kind`
/// transaction: the error's name (the metric label) and its class. Data that is no error of
/// the contract is `("unknown", Refused)`.
pub fn classify_revert(kind: TxKind, data: &[u8]) -> (&'static str, Revert) {
    let Ok(err) = BridgeErrors::abi_decode(data) else {
        return ("unknown", Revert::Refused);
    };
    use BridgeErrors as E;
    let class = match (&err, kind) {
        (E::WrongBatchNonce(e), TxKind::SubmitBatch) if e.expected > e.got => Revert::AlreadyDone,
        (E::WrongSignerSetNonce(e), TxKind::UpdateSignerSet) if e.expected > e.got => {
            Revert::AlreadyDone
        }
        (E::NoPendingSignerSet(_), TxKind::ActivateSignerSet) => Revert::AlreadyDone,
        (E::BatchExpired(_), TxKind::SubmitBatch) => Revert::Expired,
        (E::WrongSignerSet(_), _) => Revert::WrongSignerSet,
        (
            E::IsPaused(_)
            | E::WindowCapExceeded(_)
            | E::SignerSetUpdatePending(_)
            | E::SignerSetDelayNotOver(_)
            | E::Reentrancy(_),
            _,
        ) => Revert::Temporary,
        _ => Revert::Refused,
    };
    (error_name(&err), class)
}

/// The Solidity name of a contract error.
fn error_name(err: &BridgeErrors) -> &'static str {
    use BridgeErrors as E;
    match err {
        E::IsPaused(_) => "IsPaused",
        E::WindowCapExceeded(_) => "WindowCapExceeded",
        E::WrongBatchNonce(_) => "WrongBatchNonce",
        E::BatchExpired(_) => "BatchExpired",
        E::WrongSignerSet(_) => "WrongSignerSet",
        E::WrongSignerSetNonce(_) => "WrongSignerSetNonce",
        E::SignerSetUpdatePending(_) => "SignerSetUpdatePending",
        E::SignerSetDelayNotOver(_) => "SignerSetDelayNotOver",
        E::NoPendingSignerSet(_) => "NoPendingSignerSet",
        E::InsufficientPower(_) => "InsufficientPower",
        E::SignerMismatch(_) => "SignerMismatch",
        E::SignatureOrder(_) => "SignatureOrder",
        E::HighS(_) => "HighS",
        E::SignerIndexOutOfRange(_) => "SignerIndexOutOfRange",
        E::TokenNotConfigured(_) => "TokenNotConfigured",
        E::FeeTransferFailed(_) => "FeeTransferFailed",
        E::InsufficientGasForTransfer(_) => "InsufficientGasForTransfer",
        E::Reentrancy(_) => "Reentrancy",
        E::EmptyBatch(_) => "EmptyBatch",
        E::BatchTooLarge(_) => "BatchTooLarge",
        E::LengthMismatch(_) => "LengthMismatch",
        _ => "other",
    }
}

/// A log of the bridge contract that tells how an entry of an executed batch was paid (from
/// the receipt of the transaction holding `BatchExecuted`, in log order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryLog {
    /// `TransferDeferred(token, recipient, amount)`.
    Deferred {
        token: EthAddress,
        recipient: EthAddress,
        amount: U256,
    },
    /// `ReleaseQueued(id, token, recipient, amount, executableAt)`.
    Queued {
        id: u64,
        token: EthAddress,
        recipient: EthAddress,
        amount: U256,
        executable_at: u64,
    },
}

impl EntryLog {
    fn matches(&self, token: &EthAddress, to: &EthAddress, value: U256) -> bool {
        match self {
            EntryLog::Deferred {
                token: t,
                recipient,
                amount,
            }
            | EntryLog::Queued {
                token: t,
                recipient,
                amount,
                ..
            } => t == token && recipient == to && *amount == value,
        }
    }

    fn release(&self) -> Release {
        match self {
            EntryLog::Deferred { .. } => Release::Deferred,
            EntryLog::Queued {
                id, executable_at, ..
            } => Release::Delayed {
                release_id: *id,
                executable_at: *executable_at,
            },
        }
    }
}

/// How L1 paid each entry of `batch`, from the bridge's `TransferDeferred` and
/// `ReleaseQueued` logs of the executing transaction (`logs`, in log order, the batch's
/// `BatchExecuted` and other transactions' logs left out).
///
/// The contract walks the entries in order, emits at most one of these logs per entry (none
/// for a zero amount or a paid transfer) and pays the fee to `submitter` after every entry, so
/// the logs are matched to entries in order: an entry takes the next log when the log names
/// the batch's token, the entry's recipient and amount; otherwise it was paid. A last log
/// left over that defers `fee` to `submitter` is the fee's own and belongs to no entry. Among
/// entries with the same recipient and amount the logs go to the earliest ones (which of two
/// identical entries was deferred cannot be told from logs, and the L1 outcome is the same).
///
/// Errors: logs that fit no entry (another contract, a misread receipt): nothing is attested.
pub fn releases(
    batch: &OutgoingBatch,
    submitter: &EthAddress,
    logs: &[EntryLog],
) -> Result<Vec<Release>, String> {
    let mut next = logs.iter().peekable();
    let mut out = Vec::with_capacity(batch.withdrawals.len());
    for entry in &batch.withdrawals {
        let value = U256::from_be_bytes(entry.amount.0);
        let taken = next
            .next_if(|log| !value.is_zero() && log.matches(&batch.token, &entry.to, value))
            .map(EntryLog::release);
        out.push(taken.unwrap_or(Release::Paid));
    }
    let rest: Vec<&EntryLog> = next.collect();
    match rest.as_slice() {
        [] => Ok(out),
        [EntryLog::Deferred {
            token,
            recipient,
            amount,
        }] if token == &batch.token
            && recipient == submitter
            && *amount == U256::from(batch.fee) =>
        {
            Ok(out)
        }
        _ => Err(format!(
            "{} log(s) of the executing transaction fit no entry of batch {} (first: {:?}); not attesting",
            rest.len(),
            batch.nonce,
            rest.first()
        )),
    }
}

/// What final L1 logs show of signer-set update `nonce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetEvents {
    /// `SignerSetUpdated(nonce, …, activatesAt)`: its `activatesAt` (seconds).
    pub updated: Option<u64>,
    /// `SignerSetActivated(nonce, …)`.
    pub activated: bool,
    /// `PendingSignerSetCancelled(nonce, …)`.
    pub cancelled: bool,
}

/// The outcome to attest for an update whose chain status is `status`, from what final L1
/// logs show: `Active` once activated, `Cancelled` once cancelled, `Pending` while accepted
/// and waiting out the delay (only while the chain still calls it ready: a pending update
/// waits for its activation or cancellation). `None`: nothing to attest.
pub fn signer_set_outcome(
    status: &SignerSetStatus,
    events: &SetEvents,
) -> Option<SignerSetOutcome> {
    let open = matches!(
        status,
        SignerSetStatus::Ready { .. } | SignerSetStatus::Pending { .. }
    );
    if !open {
        return None;
    }
    if events.activated {
        return Some(SignerSetOutcome::Active);
    }
    if events.cancelled {
        return Some(SignerSetOutcome::Cancelled);
    }
    match (status, events.updated) {
        (SignerSetStatus::Ready { .. }, Some(activates_at)) => {
            Some(SignerSetOutcome::Pending { activates_at })
        }
        _ => None,
    }
}

/// The batch outcome to attest when no `BatchExecuted` is final: timed out when the final
/// block `l1_block` (timestamp `l1_time`, seconds) is at or past the batch's timeout and the
/// contract's `lastBatchNonce` in that block's state is below the batch's nonce (ADR 17).
pub fn timed_out(
    batch: &OutgoingBatch,
    l1_block: u64,
    l1_time: u64,
    last_batch_nonce: u64,
) -> Option<BatchOutcome> {
    (l1_time >= batch.timeout && last_batch_nonce < batch.nonce)
        .then_some(BatchOutcome::TimedOut { l1_block, l1_time })
}

/// The revert data of an error for tests and logs: the encoded custom error.
pub fn encode_error<E: SolError>(e: &E) -> Vec<u8> {
    e.abi_encode()
}

#[cfg(test)]
mod tests {
    use bridge_contracts::Bridge;
    use sidechain_types::{bridge::L1Amount, BatchEntry, BatchSettlement};

    use super::*;

    fn eth(b: u8) -> EthAddress {
        EthAddress([b; 20])
    }

    fn set(n: u8) -> L1SignerSet {
        L1SignerSet {
            nonce: 0,
            signers: (1..=n).map(eth).collect(),
            powers: vec![(1u64 << 32) / u64::from(n); usize::from(n)],
        }
    }

    fn sig(index: u32) -> BatchSignature {
        BatchSignature {
            signer_index: index,
            signer: eth(u8::try_from(index + 1).unwrap()),
            signature: [1; 65],
        }
    }

    fn batch(entries: &[(u8, u128)]) -> OutgoingBatch {
        OutgoingBatch {
            nonce: 3,
            token: eth(0xaa),
            timeout: 1_000,
            fee: 7,
            withdrawals: entries
                .iter()
                .enumerate()
                .map(|(i, (to, amount))| BatchEntry {
                    id: i as u64 + 1,
                    refund: false,
                    to: eth(*to),
                    amount: L1Amount::from_u128(*amount),
                })
                .collect(),
            height: 10,
            signer_set_nonce: 0,
            signatures: Vec::new(),
            ready: false,
            ready_height: 0,
            settled: None,
            attestations: Vec::new(),
        }
    }

    fn deferred(to: u8, amount: u64) -> EntryLog {
        EntryLog::Deferred {
            token: eth(0xaa),
            recipient: eth(to),
            amount: U256::from(amount),
        }
    }

    fn queued(id: u64, to: u8, amount: u64) -> EntryLog {
        EntryLog::Queued {
            id,
            token: eth(0xaa),
            recipient: eth(to),
            amount: U256::from(amount),
            executable_at: 500 + id,
        }
    }

    #[test]
    fn confirm_only_what_is_missing_for_the_set_l1_holds() {
        let s = set(4);
        let mut b = batch(&[(1, 5)]);
        assert!(should_confirm_batch(&b, &s, &eth(2)));
        assert!(!should_confirm_batch(&b, &s, &eth(9)), "not a member");
        b.signatures.push(sig(1));
        assert!(!should_confirm_batch(&b, &s, &eth(2)), "already signed");
        assert!(should_confirm_batch(&b, &s, &eth(1)));
        b.signer_set_nonce = 1;
        assert!(!should_confirm_batch(&b, &s, &eth(1)), "another set");
        b.signer_set_nonce = 0;
        b.ready = true;
        assert!(!should_confirm_batch(&b, &s, &eth(1)), "ready: enough");
        b.ready = false;
        b.settled = Some(BatchSettlement {
            height: 20,
            outcome: BatchOutcome::TimedOut {
                l1_block: 1,
                l1_time: 2,
            },
        });
        assert!(!should_confirm_batch(&b, &s, &eth(1)), "settled");

        let mut u = SignerSetUpdate {
            set: L1SignerSet { nonce: 1, ..set(3) },
            height: 5,
            signed_by: 0,
            signatures: vec![sig(0)],
            status: SignerSetStatus::Signing,
            attestations: Vec::new(),
        };
        assert!(should_confirm_signer_set(&u, &s, &eth(2)));
        assert!(!should_confirm_signer_set(&u, &s, &eth(1)));
        u.signed_by = 1;
        assert!(!should_confirm_signer_set(&u, &s, &eth(2)));
        u.signed_by = 0;
        u.status = SignerSetStatus::Ready { height: 9 };
        assert!(!should_confirm_signer_set(&u, &s, &eth(2)));
    }

    #[test]
    fn exactly_one_member_has_the_turn_and_it_moves_on() {
        let s = set(4);
        for height in 100..160 {
            let holders: Vec<u8> = (1..=4)
                .filter(|m| is_my_turn(7, 100, height, &s, &eth(*m)))
                .collect();
            assert_eq!(holders.len(), 1, "height {height}");
        }
        // nonce 7, 4 members: member index 3 first, then 0 after 10 blocks.
        assert!(is_my_turn(7, 100, 100, &s, &eth(4)));
        assert!(is_my_turn(7, 100, 110, &s, &eth(1)));
        assert!(!is_my_turn(7, 100, 100, &s, &eth(9)), "not a member");
        let empty = L1SignerSet {
            nonce: 0,
            signers: Vec::new(),
            powers: Vec::new(),
        };
        assert!(!is_my_turn(7, 100, 100, &empty, &eth(1)), "empty set");
    }

    #[test]
    fn just_enough_signatures_are_submitted() {
        let s = set(4);
        let all: Vec<_> = (0..4).map(sig).collect();
        assert_eq!(enough_signatures(&all, &s).len(), 3, "3 of 4 pass 2/3");
        assert_eq!(enough_signatures(&all[..2], &s).len(), 2, "all when short");
        let s3 = set(3);
        assert_eq!(enough_signatures(&all[..3], &s3).len(), 3);
    }

    #[test]
    fn reverts_are_classified() {
        let k = TxKind::SubmitBatch;
        let data = encode_error(&Bridge::WrongBatchNonce {
            expected: U256::from(4),
            got: U256::from(3),
        });
        assert_eq!(
            classify_revert(k, &data),
            ("WrongBatchNonce", Revert::AlreadyDone)
        );
        let data = encode_error(&Bridge::WrongBatchNonce {
            expected: U256::from(3),
            got: U256::from(4),
        });
        assert_eq!(classify_revert(k, &data).1, Revert::Refused);
        assert_eq!(
            classify_revert(k, &encode_error(&Bridge::IsPaused {})),
            ("IsPaused", Revert::Temporary)
        );
        let cap = Bridge::WindowCapExceeded {
            token: alloy::primitives::Address::ZERO,
            used: U256::from(1),
            requested: U256::from(2),
            cap: U256::from(2),
        };
        assert_eq!(
            classify_revert(k, &encode_error(&cap)),
            ("WindowCapExceeded", Revert::Temporary)
        );
        assert_eq!(
            classify_revert(
                k,
                &encode_error(&Bridge::BatchExpired {
                    timeout: U256::from(9)
                })
            ),
            ("BatchExpired", Revert::Expired)
        );
        assert_eq!(
            classify_revert(k, &encode_error(&Bridge::WrongSignerSet {})),
            ("WrongSignerSet", Revert::WrongSignerSet)
        );
        assert_eq!(
            classify_revert(
                TxKind::UpdateSignerSet,
                &encode_error(&Bridge::WrongSignerSetNonce {
                    expected: U256::from(3),
                    got: U256::from(2)
                })
            ),
            ("WrongSignerSetNonce", Revert::AlreadyDone)
        );
        assert_eq!(
            classify_revert(
                TxKind::ActivateSignerSet,
                &encode_error(&Bridge::NoPendingSignerSet {})
            ),
            ("NoPendingSignerSet", Revert::AlreadyDone)
        );
        assert_eq!(
            classify_revert(
                k,
                &encode_error(&Bridge::InsufficientPower {
                    signed: U256::from(1)
                })
            ),
            ("InsufficientPower", Revert::Refused)
        );
        assert_eq!(classify_revert(k, &[]), ("unknown", Revert::Refused));
        assert_eq!(
            classify_revert(k, &[0xde, 0xad, 0xbe, 0xef, 1]),
            ("unknown", Revert::Refused)
        );
    }

    #[test]
    fn logs_map_to_entries_in_order() {
        let b = batch(&[(1, 10), (2, 20), (3, 30), (4, 40)]);
        let sub = eth(0x55);
        assert_eq!(
            releases(&b, &sub, &[]).unwrap(),
            vec![Release::Paid; 4],
            "no logs: all paid"
        );
        let r = releases(&b, &sub, &[deferred(2, 20), queued(0, 4, 40)]).unwrap();
        assert_eq!(
            r,
            vec![
                Release::Paid,
                Release::Deferred,
                Release::Paid,
                Release::Delayed {
                    release_id: 0,
                    executable_at: 500
                }
            ]
        );
    }

    #[test]
    fn the_fee_deferral_is_not_given_to_an_entry() {
        let sub = eth(0x55);
        let b = batch(&[(1, 10), (2, 20)]);
        // The fee (7) to the submitter was deferred; the entries were paid.
        let r = releases(&b, &sub, &[deferred(0x55, 7)]).unwrap();
        assert_eq!(r, vec![Release::Paid, Release::Paid]);
        // An entry that pays the submitter exactly the fee takes the log first: the contract
        // reverts a failed fee transfer, so a single such log is the entry's.
        let b = batch(&[(1, 10), (0x55, 7)]);
        let r = releases(&b, &sub, &[deferred(0x55, 7)]).unwrap();
        assert_eq!(r, vec![Release::Paid, Release::Deferred]);
        // Entry deferred and the fee too: two logs, the last is the fee's.
        let r = releases(&b, &sub, &[deferred(0x55, 7), deferred(0x55, 7)]).unwrap();
        assert_eq!(r, vec![Release::Paid, Release::Deferred]);
    }

    #[test]
    fn identical_entries_and_zero_amounts() {
        let sub = eth(0x55);
        let b = batch(&[(1, 10), (1, 10), (2, 0)]);
        let r = releases(&b, &sub, &[deferred(1, 10)]).unwrap();
        assert_eq!(r, vec![Release::Deferred, Release::Paid, Release::Paid]);
        let r = releases(&b, &sub, &[deferred(1, 10), deferred(1, 10)]).unwrap();
        assert_eq!(r, vec![Release::Deferred, Release::Deferred, Release::Paid]);
        // A zero amount never takes a log (the contract skips it).
        let r = releases(&b, &sub, &[deferred(2, 0)]);
        assert!(r.is_err(), "{r:?}");
    }

    #[test]
    fn logs_that_fit_nothing_are_refused() {
        let sub = eth(0x55);
        let b = batch(&[(1, 10)]);
        for logs in [
            vec![deferred(9, 10)],
            vec![deferred(1, 11)],
            vec![deferred(1, 10), deferred(1, 10)],
            vec![EntryLog::Deferred {
                token: eth(0xbb),
                recipient: eth(1),
                amount: U256::from(10),
            }],
            vec![deferred(0x55, 7), deferred(1, 10)],
        ] {
            assert!(releases(&b, &sub, &logs).is_err(), "{logs:?}");
        }
    }

    #[test]
    fn signer_set_outcomes() {
        let ready = SignerSetStatus::Ready { height: 3 };
        let pending = SignerSetStatus::Pending {
            activates_at: 50,
            height: 4,
        };
        let none = SetEvents::default();
        assert_eq!(signer_set_outcome(&ready, &none), None);
        let upd = SetEvents {
            updated: Some(50),
            ..none
        };
        assert_eq!(
            signer_set_outcome(&ready, &upd),
            Some(SignerSetOutcome::Pending { activates_at: 50 })
        );
        assert_eq!(signer_set_outcome(&pending, &upd), None, "already pending");
        let act = SetEvents {
            activated: true,
            ..upd
        };
        assert_eq!(
            signer_set_outcome(&ready, &act),
            Some(SignerSetOutcome::Active)
        );
        assert_eq!(
            signer_set_outcome(&pending, &act),
            Some(SignerSetOutcome::Active)
        );
        let can = SetEvents {
            cancelled: true,
            ..upd
        };
        assert_eq!(
            signer_set_outcome(&pending, &can),
            Some(SignerSetOutcome::Cancelled)
        );
        assert_eq!(
            signer_set_outcome(&SignerSetStatus::Signing, &act),
            None,
            "not submitted by the chain's record"
        );
        assert_eq!(
            signer_set_outcome(&SignerSetStatus::Active { height: 9 }, &act),
            None
        );
    }

    #[test]
    fn timeouts_need_time_past_and_the_nonce_unused() {
        let b = batch(&[(1, 1)]);
        assert_eq!(timed_out(&b, 5, 999, 2), None, "before the timeout");
        assert_eq!(
            timed_out(&b, 5, 1_000, 2),
            Some(BatchOutcome::TimedOut {
                l1_block: 5,
                l1_time: 1_000
            })
        );
        assert_eq!(timed_out(&b, 5, 2_000, 3), None, "executed");
    }

    #[test]
    fn attestations_are_found_by_voter() {
        let me = Address([1; 20]);
        let votes = vec![OutcomeVote {
            content_hash: [9; 32],
            outcome: SignerSetOutcome::Active,
            validators: vec![Address([0; 20]), me],
        }];
        assert!(has_attested(&votes, &me, None));
        assert!(has_attested(&votes, &me, Some([9; 32])));
        assert!(!has_attested(&votes, &me, Some([8; 32])));
        assert!(!has_attested(&votes, &Address([2; 20]), None));
    }
}
