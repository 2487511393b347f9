//! Property tests: thousands of random sequences of deposits, batches (valid, under-signed and
//! replayed), signer-set rotations, delayed activations, pauses, queued releases and claims. After
//! every step the contract is checked against a model built only from its own events:
//!
//! - per token, the bridge holds at least `deposited - released` (released = value of executed
//!   batches), and in fact exactly that plus what it still owes (deferred claims, queued releases);
//! - deposit, batch and signer-set nonces each rise by exactly one and are never used twice;
//! - a failed step changes nothing.
//!
//! A second property drives releases at random times and of random amounts through windows of
//! random length (not only multiples of 8) and checks that no interval of `windowSeconds` ever
//! releases more than the cap.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use bridge_contracts::Bridge::{self, BridgeErrors};
use bridge_contracts::{RejectingReceiver, SignerSet, ETH};
use proptest::prelude::*;
use support::*;

const UNIT: u128 = ONE / 1_000;
/// Small caps so that random sequences hit the window cap and the delay queue.
const CAP_UNITS: u128 = 9_000;
const LARGE_UNITS: u128 = 3_000;

#[derive(Debug, Clone)]
enum Signers {
    Quorum,
    BelowQuorum,
    All,
}

#[derive(Debug, Clone)]
enum Step {
    Deposit {
        token: usize,
        units: u64,
    },
    Batch {
        token: usize,
        withdrawals: Vec<(usize, u64)>,
        fee: u64,
        signers: Signers,
    },
    ReplayLastBatch,
    Rotate {
        replace: usize,
    },
    ActivatePending,
    Pause,
    Unpause,
    Warp {
        seconds: u64,
    },
    ExecuteQueued,
    Claim,
}

fn step() -> impl Strategy<Value = Step> {
    let signers = prop_oneof![6 => Just(Signers::Quorum), 1 => Just(Signers::BelowQuorum), 1 => Just(Signers::All)];
    prop_oneof![
        6 => (0..3usize, 1..5_000u64).prop_map(|(token, units)| Step::Deposit { token, units }),
        6 => (0..3usize, prop::collection::vec((0..6usize, 0..4_000u64), 1..5), 0..50u64, signers)
            .prop_map(|(token, withdrawals, fee, signers)| Step::Batch { token, withdrawals, fee, signers }),
        1 => Just(Step::ReplayLastBatch),
        1 => (1..4usize).prop_map(|replace| Step::Rotate { replace }),
        1 => Just(Step::ActivatePending),
        1 => Just(Step::Pause),
        2 => Just(Step::Unpause),
        2 => prop_oneof![Just(60u64), Just(3_600), Just(10_800), Just(86_400)].prop_map(|seconds| Step::Warp { seconds }),
        1 => Just(Step::ExecuteQueued),
        1 => Just(Step::Claim),
    ]
}

/// What the events say, per token address.
#[derive(Default)]
struct Ledger {
    deposited: BTreeMap<Address, U256>,
    released: BTreeMap<Address, U256>,
    owed: BTreeMap<Address, U256>,
    deposit_nonces: BTreeSet<U256>,
    batch_nonces: BTreeSet<U256>,
    signer_set_nonces: BTreeSet<U256>,
    queued: BTreeMap<U256, Bridge::ReleaseQueued>,
    claimants: BTreeSet<(Address, Address)>,
}

struct World {
    f: Fixture,
    tokens: [Address; 3],
    recipients: [Address; 6],
    ledger: Ledger,
    paused: bool,
    pending: Option<(Vec<PrivateKeySigner>, SignerSet)>,
    /// Quarters of the power moved by immediate updates since the last delayed activation.
    quarters_moved: usize,
    next_seed: u64,
    last_batch: Option<(Bridge::Batch, Vec<Bridge::Signature>)>,
}

fn add(map: &mut BTreeMap<Address, U256>, token: Address, amount: U256) {
    *map.entry(token).or_default() += amount;
}

fn sub(map: &mut BTreeMap<Address, U256>, token: Address, amount: U256) {
    let entry = map.entry(token).or_default();
    *entry = entry
        .checked_sub(amount)
        .expect("the contract never pays out more than it owes");
}

impl World {
    fn new() -> Self {
        let mut f = Fixture::new(4);
        let fee_token = deploy_fee_token(&mut f.evm, f.admin, 100);
        f.mint(fee_token, f.user, U256::from(10_000_000 * ONE));
        f.approve(fee_token, f.user);
        let rejecting = deploy_rejecting_receiver(&mut f.evm, f.admin);
        let tokens = [f.token, fee_token, ETH];
        for token in tokens {
            let call = Bridge::setTokenConfigCall {
                token,
                allowed: true,
                windowSeconds: WINDOW_SECONDS,
                windowCap: CAP_UNITS * UNIT,
                largeReleaseThreshold: LARGE_UNITS * UNIT,
            };
            f.evm.send(f.admin, f.bridge, &call).expect("configure");
        }
        let recipients = [
            fresh_recipient(1),
            fresh_recipient(2),
            fresh_recipient(3),
            fresh_recipient(4),
            rejecting,
            f.user,
        ];
        let mut ledger = Ledger::default();
        ledger.signer_set_nonces.insert(U256::from(f.set.nonce));
        Self {
            f,
            tokens,
            recipients,
            ledger,
            paused: false,
            pending: None,
            quarters_moved: 0,
            next_seed: 100_000,
            last_batch: None,
        }
    }

    fn balance(&mut self, token: Address) -> U256 {
        let bridge = self.f.bridge;
        self.f.token_balance(token, bridge)
    }

    fn available(&self, token: Address) -> U256 {
        let deposited = self
            .ledger
            .deposited
            .get(&token)
            .copied()
            .unwrap_or_default();
        let released = self
            .ledger
            .released
            .get(&token)
            .copied()
            .unwrap_or_default();
        deposited - released
    }

    /// Folds a successful transaction's bridge events into the ledger, checking nonces.
    fn record(&mut self, outcome: &Outcome) {
        let bridge = self.f.bridge;
        for log in outcome.logs.iter().filter(|l| l.address == bridge) {
            if let Ok(e) = Bridge::Deposit::decode_log_data(&log.data) {
                let expected = U256::from(self.ledger.deposit_nonces.len() + 1);
                assert_eq!(e.nonce, expected, "deposit nonce must rise by exactly one");
                assert!(
                    self.ledger.deposit_nonces.insert(e.nonce),
                    "deposit nonce {} used twice",
                    e.nonce
                );
                add(&mut self.ledger.deposited, e.token, e.amount);
            } else if let Ok(e) = Bridge::BatchExecuted::decode_log_data(&log.data) {
                let expected = U256::from(self.ledger.batch_nonces.len() + 1);
                assert_eq!(e.nonce, expected, "batch nonce must rise by exactly one");
                assert!(
                    self.ledger.batch_nonces.insert(e.nonce),
                    "batch nonce {} used twice",
                    e.nonce
                );
            } else if let Ok(e) = Bridge::SignerSetUpdated::decode_log_data(&log.data) {
                assert!(
                    self.ledger.signer_set_nonces.insert(e.nonce),
                    "signer-set nonce {} used twice",
                    e.nonce
                );
            } else if let Ok(e) = Bridge::TransferDeferred::decode_log_data(&log.data) {
                add(&mut self.ledger.owed, e.token, e.amount);
                self.ledger.claimants.insert((e.token, e.recipient));
            } else if let Ok(e) = Bridge::Claimed::decode_log_data(&log.data) {
                sub(&mut self.ledger.owed, e.token, e.amount);
            } else if let Ok(e) = Bridge::ReleaseQueued::decode_log_data(&log.data) {
                add(&mut self.ledger.owed, e.token, e.amount);
                self.ledger.queued.insert(e.id, e);
            } else if let Ok(e) = Bridge::ReleaseExecuted::decode_log_data(&log.data) {
                let q = self
                    .ledger
                    .queued
                    .remove(&e.id)
                    .expect("executed release was queued");
                sub(&mut self.ledger.owed, q.token, q.amount);
            }
        }
    }

    fn run(&mut self, step: &Step) {
        let before: Vec<U256> = self.tokens.map(|t| self.balance(t)).to_vec();
        let nonces_before = (self.f.deposit_nonce(), self.f.last_batch_nonce());
        let result = self.apply(step);
        match &result {
            Ok(outcome) => self.record(outcome),
            Err(_) => {
                let after: Vec<U256> = self.tokens.map(|t| self.balance(t)).to_vec();
                assert_eq!(before, after, "a failed {step:?} moved tokens");
                assert_eq!(
                    nonces_before,
                    (self.f.deposit_nonce(), self.f.last_batch_nonce())
                );
            }
        }
        self.check_invariants();
    }

    fn expect_paused<T: std::fmt::Debug>(&self, result: &Result<T, Failure>) {
        if self.paused {
            let err = result
                .as_ref()
                .expect_err("nothing runs while paused")
                .expect_bridge_error();
            assert!(matches!(err, BridgeErrors::IsPaused(_)), "{err:?}");
        }
    }

    fn apply(&mut self, step: &Step) -> Result<Outcome, Failure> {
        match step {
            Step::Deposit { token, units } => {
                let token = self.tokens[*token];
                let amount = U256::from(u128::from(*units) * UNIT);
                let (user, bridge) = (self.f.user, self.f.bridge);
                let result = if token == ETH {
                    self.f.deposit_eth(user, amount)
                } else {
                    self.f.deposit(user, token, amount)
                };
                self.expect_paused(&result);
                if !self.paused {
                    let outcome = result
                        .as_ref()
                        .expect("deposit of an allowlisted token succeeds");
                    let events = deposit_events(bridge, &outcome.logs);
                    assert_eq!(events.len(), 1);
                    assert!(events[0].amount <= amount && events[0].amount > U256::ZERO);
                }
                result
            }
            Step::Batch {
                token,
                withdrawals,
                fee,
                signers,
            } => {
                let token = self.tokens[*token];
                let mut list: Vec<(Address, U256)> = withdrawals
                    .iter()
                    .map(|&(r, units)| (self.recipients[r], U256::from(u128::from(units) * UNIT)))
                    .collect();
                let fee = U256::from(u128::from(*fee) * UNIT);
                // The sidechain never signs more than is locked: trim to what is available.
                let mut budget = self.available(token).saturating_sub(fee);
                for w in &mut list {
                    w.1 = w.1.min(budget);
                    budget -= w.1;
                }
                let batch_fee = if self.available(token) >= fee {
                    fee
                } else {
                    U256::ZERO
                };
                let batch = self.f.batch(token, &list, batch_fee);
                let quorum = self.f.quorum();
                let indices: Vec<usize> = match signers {
                    Signers::Quorum => quorum,
                    Signers::BelowQuorum => quorum[..quorum.len() - 1].to_vec(),
                    Signers::All => (0..self.f.set.len()).collect(),
                };
                let signatures = self.f.sign(self.f.domain().batch_digest(&batch), &indices);
                let result = self.f.submit(&batch, signatures.clone());
                self.expect_paused(&result);
                if !self.paused {
                    match (&result, signers) {
                        (Err(e), Signers::BelowQuorum) => {
                            assert!(matches!(
                                e.expect_bridge_error(),
                                BridgeErrors::InsufficientPower(_)
                            ))
                        }
                        (Ok(_), Signers::BelowQuorum) => panic!("a batch without quorum executed"),
                        (Err(e), _) => {
                            let err = e.expect_bridge_error();
                            assert!(matches!(err, BridgeErrors::WindowCapExceeded(_)), "{err:?}");
                        }
                        (Ok(_), _) => {
                            let total = list.iter().fold(batch_fee, |acc, w| acc + w.1);
                            add(&mut self.ledger.released, token, total);
                            self.last_batch = Some((batch, signatures));
                        }
                    }
                }
                result
            }
            Step::ReplayLastBatch => {
                let Some((batch, signatures)) = self.last_batch.clone() else {
                    return Err(Failure {
                        gas_used: 0,
                        output: Default::default(),
                        halted: false,
                    });
                };
                let call = Bridge::submitBatchCall {
                    current: self.f.set.to_abi(),
                    signatures,
                    batch,
                };
                let result = self.f.evm.send(self.f.relayer, self.f.bridge, &call);
                assert!(result.is_err(), "a replayed batch executed");
                result
            }
            Step::Rotate { replace } => {
                let mut keys: Vec<_> = self.f.keys[*replace..].to_vec();
                for _ in 0..*replace {
                    keys.push(key(self.next_seed));
                    self.next_seed += 1;
                }
                let nonce: u64 = self
                    .f
                    .evm
                    .view(self.f.bridge, &Bridge::signerSetNonceCall {});
                let next = SignerSet::normalized(nonce + 1, keys.iter().map(|k| (k.address(), 1)))
                    .expect("set");
                let keys = sort_keys(keys, &next);
                let quorum = self.f.quorum();
                let result = self.f.update_signer_set(&next, &quorum);
                self.expect_paused(&result);
                if self.paused {
                    return result;
                }
                if self.pending.is_some() {
                    let err = result
                        .as_ref()
                        .expect_err("update while one is pending")
                        .expect_bridge_error();
                    assert!(
                        matches!(err, BridgeErrors::SignerSetUpdatePending(_)),
                        "{err:?}"
                    );
                    return result;
                }
                result
                    .as_ref()
                    .expect("a quorum-signed valid set is accepted");
                // Each replaced member is 1/4 of the power; the contract adds up what immediate
                // updates moved and delays the one that brings the sum to 1/3 (2 quarters).
                let moved = self.quarters_moved + replace;
                if moved >= 2 {
                    self.pending = Some((keys, next));
                } else {
                    self.quarters_moved = moved;
                    self.f.keys = keys;
                    self.f.set = next;
                }
                result
            }
            Step::ActivatePending => {
                let result = self.f.evm.send(
                    self.f.relayer,
                    self.f.bridge,
                    &Bridge::activateSignerSetCall {},
                );
                match &result {
                    Ok(_) => {
                        let (keys, set) = self.pending.take().expect("activated a pending set");
                        self.f.keys = keys;
                        self.f.set = set;
                        self.quarters_moved = 0;
                    }
                    Err(failure) if !self.paused && self.pending.is_some() => {
                        let err = failure.expect_bridge_error();
                        assert!(
                            matches!(err, BridgeErrors::SignerSetDelayNotOver(_)),
                            "{err:?}"
                        );
                    }
                    Err(_) => {}
                }
                result
            }
            Step::Pause => {
                let result = self.f.pause();
                assert_eq!(result.is_ok(), !self.paused);
                self.paused = true;
                result
            }
            Step::Unpause => {
                let result = self.f.unpause();
                assert_eq!(result.is_ok(), self.paused);
                self.paused = false;
                result
            }
            Step::Warp { seconds } => {
                self.f.evm.warp(*seconds);
                Ok(Outcome {
                    gas_used: 0,
                    output: Default::default(),
                    logs: vec![],
                })
            }
            Step::ExecuteQueued => {
                let Some(q) = self.ledger.queued.values().next().cloned() else {
                    return Err(Failure {
                        gas_used: 0,
                        output: Default::default(),
                        halted: false,
                    });
                };
                let call = Bridge::executeReleaseCall {
                    id: q.id,
                    token: q.token,
                    recipient: q.recipient,
                    amount: q.amount,
                    executableAt: q.executableAt,
                };
                let result = self.f.evm.send(self.f.user, self.f.bridge, &call);
                self.expect_paused(&result);
                let ready = U256::from(self.f.evm.timestamp()) >= q.executableAt;
                if !self.paused {
                    assert_eq!(result.is_ok(), ready, "{result:?}");
                }
                result
            }
            Step::Claim => {
                let Some(&(token, claimant)) = self.ledger.claimants.iter().next() else {
                    return Err(Failure {
                        gas_used: 0,
                        output: Default::default(),
                        halted: false,
                    });
                };
                let to = fresh_recipient(77);
                let claim = Bridge::claimCall { token, to }.abi_encode();
                let result = if self.f.evm.has_code(claimant) {
                    let via = RejectingReceiver::callCall {
                        target: self.f.bridge,
                        data: claim.into(),
                    };
                    self.f.evm.send(self.f.admin, claimant, &via)
                } else {
                    self.f
                        .evm
                        .transact(claimant, self.f.bridge, claim.into(), U256::ZERO)
                };
                if result.is_ok() {
                    self.ledger.claimants.remove(&(token, claimant));
                }
                result
            }
        }
    }

    fn check_invariants(&mut self) {
        for token in self.tokens {
            let balance = self.balance(token);
            let deposited = self
                .ledger
                .deposited
                .get(&token)
                .copied()
                .unwrap_or_default();
            let released = self
                .ledger
                .released
                .get(&token)
                .copied()
                .unwrap_or_default();
            let owed = self.ledger.owed.get(&token).copied().unwrap_or_default();
            assert!(
                released <= deposited,
                "released more {token} than was deposited"
            );
            assert!(
                balance >= deposited - released,
                "{token}: balance {balance} < deposited - released"
            );
            assert_eq!(
                balance,
                deposited - released + owed,
                "{token}: locked value is not conserved"
            );
        }
        assert_eq!(
            U256::from(self.f.deposit_nonce()),
            U256::from(self.ledger.deposit_nonces.len())
        );
        assert_eq!(
            U256::from(self.f.last_batch_nonce()),
            U256::from(self.ledger.batch_nonces.len())
        );
        let paused: bool = self.f.evm.view(self.f.bridge, &Bridge::pausedCall {});
        assert_eq!(paused, self.paused);
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Random window lengths (multiples of 8 or not), release times and amounts against the rule
/// the README states: the value released in any interval of `windowSeconds` never exceeds the
/// cap. A model of the accepted releases checks every interval after every release, and that a
/// release is refused only when the last 9 buckets (at most 9 * ceil(windowSeconds / 8) seconds)
/// would go over the cap.
fn window_case(window: u32, releases: &[(u64, u128)]) {
    const CAP: u128 = 1_000;
    let mut f = Fixture::new(4);
    let token = f.token;
    f.deposit(f.user, token, U256::from(CAP * 1_000))
        .expect("deposit");
    f.configure_window(token, window, CAP, u128::MAX);
    let width = u64::from(window).div_ceil(8);
    let mut accepted: Vec<(u64, u128)> = Vec::new();
    for &(wait, amount) in releases {
        f.evm.warp(wait);
        let now = f.evm.timestamp();
        let batch = f.batch(
            token,
            &[(fresh_recipient(1), U256::from(amount))],
            U256::ZERO,
        );
        match f.submit_signed(&batch) {
            Ok(_) => accepted.push((now, amount)),
            Err(failure) => {
                let err = failure.expect_bridge_error();
                assert!(matches!(err, BridgeErrors::WindowCapExceeded(_)), "{err:?}");
                let recent: u128 = accepted
                    .iter()
                    .filter(|(t, _)| now - t < 9 * width)
                    .map(|(_, a)| a)
                    .sum();
                assert!(
                    recent + amount > CAP,
                    "refused {amount} at {now} with only {recent} in the last 9 buckets"
                );
            }
        }
        // The busiest interval of `window` seconds starts at some accepted release.
        for &(start, _) in &accepted {
            let sum: u128 = accepted
                .iter()
                .filter(|(t, _)| *t >= start && t - start < u64::from(window))
                .map(|(_, a)| a)
                .sum();
            assert!(
                sum <= CAP,
                "window {window}: {sum} released in [{start}, {start} + {window})"
            );
        }
    }
}

fn window_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn window_length() -> impl Strategy<Value = u32> {
    prop_oneof![8..64u32, 64..5_000u32, 5_000..200_000u32]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: window_cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn window_cap_holds_for_every_interval_of_any_window_length(
        (window, releases) in window_length().prop_flat_map(|window| {
            // Mostly short waits, so that releases crowd the window, and some long ones.
            let wait = prop_oneof![3 => 0..u64::from(window) / 4 + 1, 1 => 0..u64::from(window) * 2];
            (Just(window), prop::collection::vec((wait, 1..=1_000u128), 1..25))
        })
    ) {
        window_case(window, &releases);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_conserve_value_and_never_reuse_a_nonce(steps in prop::collection::vec(step(), 1..30)) {
        let mut world = World::new();
        for step in &steps {
            world.run(step);
        }
    }
}
