//! Withdrawals to L1: burning into per-token queues, cancelling, batches cut by size and by age
//! (highest fee first, one outstanding batch), validators' signatures over the contract's
//! EIP-712 batch digest and the contract's threshold of the L1 signer set (ADR 17).

mod harness;

use alloy_primitives::{Address as L1Address, B256, U256};
use harness::*;
use k256::ecdsa::SigningKey as EthKey;
use proptest::prelude::*;
use sidechain_app::BlockOutput;
use sidechain_types::{
    bridge::{wrapped_denom, ETHER},
    genesis::GenesisBridge,
    query::Route,
    state_key,
    tx::build_signed,
    Address, BatchOutcome, BridgeParams, Code, Denom, DepositClaim, EthAddress, ExecutedBatch,
    GenesisState, L1Amount, L1SignerSet, Msg, OutgoingBatch, Release, SignerSetOutcome,
    SignerSetStatus, SignerSetUpdate, ValidatorChange, Withdrawal, WithdrawalState,
};

const TO: EthAddress = EthAddress([0x44; 20]);

fn eth_key(i: u8) -> EthKey {
    EthKey::from_bytes(&[10 + i; 32].into()).unwrap()
}

fn eth_addr(k: &EthKey) -> EthAddress {
    EthAddress(L1Address::from_public_key(k.verifying_key()).0 .0)
}

fn with_bridge(mut g: GenesisState, max_size: u32, max_wait: u64) -> GenesisState {
    g.bridge = GenesisBridge {
        l1_chain_id: 1337,
        contract: Some("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".into()),
        bridge_id: Some(format!("0x{}", "ab".repeat(32))),
        deploy_block: 1,
        confirmations: 2,
        batch_max_size: Some(max_size),
        batch_max_wait_blocks: Some(max_wait),
        batch_timeout_seconds: Some(3_600),
    };
    g
}

/// A bridged chain with validators of these powers, whose bridge keys are `eth_key(i)`.
fn bridged(powers: &[u64], max_size: u32, max_wait: u64) -> Chain {
    let mut g = genesis(
        powers.len() as u8,
        &[(user(0), 1_000_000_000_000), (user(1), 1_000_000_000_000)],
    );
    for (i, (v, p)) in g.validators.iter_mut().zip(powers).enumerate() {
        v.power = *p;
        v.eth_address = eth_addr(&eth_key(i as u8)).to_string();
    }
    Chain::new(with_bridge(g, max_size, max_wait))
}

fn user_key(i: u8) -> ed25519_consensus::SigningKey {
    key(1 + i)
}

fn user(i: u8) -> Address {
    addr(&user_key(i))
}

fn eth() -> Denom {
    wrapped_denom(&ETHER)
}

fn send(chain: &Chain, k: &ed25519_consensus::SigningKey, msg: Msg) -> Vec<u8> {
    let nonce = chain.account(&addr(k)).nonce;
    build_signed(k, CHAIN_ID, nonce, 1, vec![msg])
        .unwrap()
        .encode()
}

/// Every validator claims deposit `nonce` of `amount` wei to `to`; the block mints it.
fn deposit(chain: &mut Chain, validators: u8, nonce: u64, to: Address, amount: u128) {
    let claim = DepositClaim {
        nonce,
        token: ETHER,
        sender: EthAddress([0x22; 20]),
        recipient: to,
        amount: L1Amount::from_u128(amount),
        l1_block: 100 + nonce,
        l1_tx_hash: [nonce as u8; 32],
        log_index: 0,
    };
    let txs: Vec<_> = (0..validators)
        .map(|i| {
            send(
                chain,
                &operator_key(i),
                Msg::claim_deposits(vec![claim.clone()]),
            )
        })
        .collect();
    let out = chain.block(&txs);
    assert_all_ok(&out);
}

fn assert_all_ok(out: &BlockOutput) {
    for r in &out.tx_results {
        assert_eq!(r.code, Code::Ok, "{}", r.log);
    }
}

/// Runs `msg` from `k` alone in a block; returns the block.
fn run(chain: &mut Chain, k: &ed25519_consensus::SigningKey, msg: Msg) -> BlockOutput {
    let tx = send(chain, k, msg);
    chain.block(&[tx])
}

fn code(out: &BlockOutput) -> Code {
    out.tx_results[0].code
}

fn eth_balance(chain: &Chain, a: &Address) -> u128 {
    chain.account(a).balance(&eth())
}

fn eth_supply(chain: &Chain) -> u128 {
    chain
        .read(&state_key::bank::supply(&eth()))
        .unwrap_or_default()
}

fn query<T: borsh::BorshDeserialize>(chain: &Chain, route: Route) -> Option<T> {
    let k = route.state_key().unwrap();
    chain.read(&k)
}

fn withdrawal(chain: &Chain, id: u64) -> Withdrawal {
    query(chain, Route::BridgeWithdrawal(id)).unwrap()
}

fn batch(chain: &Chain, nonce: u64) -> Option<OutgoingBatch> {
    query(chain, Route::BridgeBatch(nonce))
}

fn params(chain: &Chain) -> BridgeParams {
    query(chain, Route::BridgeParams).unwrap()
}

fn events<'a>(out: &'a BlockOutput, kind: &str) -> Vec<&'a sidechain_types::Event> {
    out.tx_results
        .iter()
        .flat_map(|r| r.events.iter())
        .chain(out.events.iter())
        .filter(|e| e.kind == kind)
        .collect()
}

/// A chain with one validator (so one claim mints) and `amount` wei minted to user 0.
fn funded(amount: u128, max_size: u32, max_wait: u64) -> Chain {
    let mut chain = bridged(&[10], max_size, max_wait);
    deposit(&mut chain, 1, 1, user(0), amount);
    assert_eq!(eth_balance(&chain, &user(0)), amount);
    chain
}

#[test]
fn withdrawal_to_the_zero_address_or_of_zero_is_refused() {
    let mut chain = funded(1_000, 10, 100);
    let out = run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), 10, 1, EthAddress::ZERO),
    );
    assert_eq!(
        code(&out),
        Code::WithdrawToZeroAddress,
        "{}",
        out.tx_results[0].log
    );
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 0, 1, TO));
    assert_eq!(code(&out), Code::ZeroWithdrawal);
    let out = run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), u128::MAX, 1, TO),
    );
    assert_eq!(code(&out), Code::AmountOverflow);
    assert_eq!(eth_balance(&chain, &user(0)), 1_000);
}

#[test]
fn native_and_unregistered_denoms_are_refused() {
    let mut chain = funded(1_000, 10, 100);
    let before = chain.balance(&user(0));
    let out = run(&mut chain, &user_key(0), Msg::withdraw(side(), 10, 0, TO));
    assert_eq!(
        code(&out),
        Code::NotBridgedDenom,
        "{}",
        out.tx_results[0].log
    );
    let other = wrapped_denom(&EthAddress([0x99; 20]));
    let out = run(&mut chain, &user_key(0), Msg::withdraw(other, 10, 0, TO));
    assert_eq!(code(&out), Code::NotBridgedDenom);
    // Only the transaction fees left the account.
    assert!(chain.balance(&user(0)) < before);
    assert_eq!(eth_balance(&chain, &user(0)), 1_000);
}

#[test]
fn more_than_the_balance_is_refused() {
    let mut chain = funded(1_000, 10, 100);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 1_000, 1, TO));
    assert_eq!(
        code(&out),
        Code::InsufficientFunds,
        "{}",
        out.tx_results[0].log
    );
    assert_eq!(eth_balance(&chain, &user(0)), 1_000);
    assert_eq!(eth_supply(&chain), 1_000);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 999, 1, TO));
    assert_all_ok(&out);
    assert_eq!(eth_balance(&chain, &user(0)), 0);
    assert_eq!(eth_supply(&chain), 0);
}

#[test]
fn cancel_by_the_owner_before_batching_returns_amount_and_fee() {
    let mut chain = funded(1_000, 10, 100);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 100, 5, TO));
    assert_all_ok(&out);
    let queued = events(&out, "withdrawal_queued");
    assert_eq!(queued[0].get("id"), Some("1"));
    assert_eq!(eth_balance(&chain, &user(0)), 895);
    assert_eq!(eth_supply(&chain), 895);
    let w = withdrawal(&chain, 1);
    assert_eq!(w.state, WithdrawalState::Queued);
    assert_eq!((w.amount, w.fee, w.to, w.token), (100, 5, TO, ETHER));

    // Another account may not cancel it.
    let out = run(&mut chain, &user_key(1), Msg::cancel_withdrawal(1));
    assert_eq!(code(&out), Code::NotWithdrawalOwner);
    let out = run(&mut chain, &user_key(0), Msg::cancel_withdrawal(7));
    assert_eq!(code(&out), Code::UnknownWithdrawal);

    let out = run(&mut chain, &user_key(0), Msg::cancel_withdrawal(1));
    assert_all_ok(&out);
    assert_eq!(eth_balance(&chain, &user(0)), 1_000);
    assert_eq!(eth_supply(&chain), 1_000);
    assert!(matches!(
        withdrawal(&chain, 1).state,
        WithdrawalState::Cancelled { .. }
    ));
    assert_eq!(withdrawal(&chain, 1).state.name(), "cancelled");
    // Twice is refused, and nothing is batched afterwards.
    let out = run(&mut chain, &user_key(0), Msg::cancel_withdrawal(1));
    assert_eq!(code(&out), Code::WithdrawalNotQueued);
    for _ in 0..110 {
        chain.block(&[]);
    }
    assert!(batch(&chain, 1).is_none());
}

#[test]
fn cancel_after_batching_is_refused() {
    let mut chain = funded(1_000, 1, 100);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 100, 5, TO));
    assert_all_ok(&out);
    assert_eq!(events(&out, "batch_cut").len(), 1);
    assert_eq!(
        withdrawal(&chain, 1).state,
        WithdrawalState::InBatch { nonce: 1 }
    );
    let out = run(&mut chain, &user_key(0), Msg::cancel_withdrawal(1));
    assert_eq!(
        code(&out),
        Code::WithdrawalNotQueued,
        "{}",
        out.tx_results[0].log
    );
    assert_eq!(eth_balance(&chain, &user(0)), 895);
}

#[test]
fn batches_are_cut_by_size_highest_fee_first() {
    let mut chain = funded(10_000, 3, 100);
    let txs = vec![send(&chain, &user_key(0), Msg::withdraw(eth(), 100, 1, TO))];
    assert_all_ok(&chain.block(&txs));
    let fees = [5u128, 5, 9];
    for (i, fee) in fees.iter().enumerate() {
        let to = EthAddress([i as u8 + 1; 20]);
        let out = run(
            &mut chain,
            &user_key(0),
            Msg::withdraw(eth(), 200, *fee, to),
        );
        assert_all_ok(&out);
        let cut = events(&out, "batch_cut");
        if i == 1 {
            // The queue reached 3.
            assert_eq!(cut.len(), 1);
            assert_eq!(cut[0].get("ids"), Some("2,3,1"));
        } else {
            assert!(cut.is_empty(), "at {i}");
        }
    }
    let b = batch(&chain, 1).unwrap();
    let ids: Vec<u64> = b.withdrawals.iter().map(|w| w.id).collect();
    assert_eq!(ids, vec![2, 3, 1], "fee 5 (lower id first), fee 5, fee 1");
    assert_eq!(b.fee, 11);
    assert_eq!(b.token, ETHER);
    assert_eq!(b.timeout, at(b.height).time_secs + 3_600);
    assert!(!b.ready && b.signatures.is_empty());
    // Withdrawal 4 (fee 9) is queued; no second batch while batch 1 is outstanding.
    assert_eq!(withdrawal(&chain, 4).state, WithdrawalState::Queued);
    for _ in 0..150 {
        chain.block(&[]);
    }
    assert!(batch(&chain, 2).is_none());
    assert_eq!(withdrawal(&chain, 4).state, WithdrawalState::Queued);
}

#[test]
fn batches_are_cut_by_age() {
    let mut chain = funded(10_000, 10, 3);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 100, 1, TO));
    assert_all_ok(&out);
    let queued_at = withdrawal(&chain, 1).height;
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 100, 7, TO));
    assert_all_ok(&out);
    loop {
        let out = chain.block(&[]);
        let cut = events(&out, "batch_cut");
        if chain.height < queued_at + 3 {
            assert!(cut.is_empty());
        } else {
            assert_eq!(chain.height, queued_at + 3);
            assert_eq!(cut[0].get("ids"), Some("2,1"));
            break;
        }
    }
    let b = batch(&chain, 1).unwrap();
    assert_eq!(b.withdrawals.len(), 2);
    assert_eq!(b.withdrawals[0].id, 2);
}

/// `r ‖ s ‖ v` by `key` over `digest`, low s (k256 signs low-s).
fn sign(key: &EthKey, digest: [u8; 32]) -> [u8; 65] {
    let (sig, recid) = key.sign_prehash_recoverable(&digest).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + recid.to_byte();
    out
}

/// The batch digest computed here from the batch's fields with `bridge_protocol` alone.
fn protocol_digest(p: &BridgeParams, b: &OutgoingBatch) -> [u8; 32] {
    let domain = bridge_protocol::Domain::new(
        p.l1_chain_id,
        L1Address::from(p.contract.0),
        B256::from(p.bridge_id),
    );
    let abi = bridge_protocol::Batch {
        token: L1Address::from(b.token.0),
        nonce: U256::from(b.nonce),
        timeout: U256::from(b.timeout),
        fee: U256::from(b.fee),
        recipients: b
            .withdrawals
            .iter()
            .map(|w| L1Address::from(w.to.0))
            .collect(),
        amounts: b
            .withdrawals
            .iter()
            .map(|w| U256::from_be_bytes(w.amount.0))
            .collect(),
    };
    domain.batch_digest(&abi).0
}

/// Three validators of power 10; user 0 holds 1,000 wei; batch 1 is cut.
fn with_batch() -> (Chain, [u8; 32]) {
    let mut chain = bridged(&[10, 10, 10], 1, 100);
    deposit(&mut chain, 3, 1, user(0), 1_000);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 300, 3, TO));
    assert_all_ok(&out);
    let b = batch(&chain, 1).unwrap();
    let digest = protocol_digest(&params(&chain), &b);
    (chain, digest)
}

#[test]
fn the_chain_checks_bridge_protocols_batch_digest() {
    let (chain, digest) = with_batch();
    let b = batch(&chain, 1).unwrap();
    assert_eq!(
        sidechain_app::bridge::l1::batch_digest(&params(&chain), &b),
        digest
    );
    assert_eq!(b.withdrawals[0].amount, L1Amount::from_u128(300));
    assert_eq!(b.withdrawals[0].to, TO);
}

#[test]
fn the_genesis_l1_signer_set_is_the_normalized_validator_set() {
    let (chain, _) = with_batch();
    let set: L1SignerSet = query(&chain, Route::BridgeL1SignerSet).unwrap();
    let expected = bridge_protocol::SignerSet::normalized(
        0,
        (0..3).map(|i| (L1Address::from(eth_addr(&eth_key(i)).0), 10)),
    )
    .unwrap();
    assert_eq!(set.nonce, 0);
    assert_eq!(set.signers.len(), 3);
    for (m, (s, p)) in expected
        .members()
        .iter()
        .zip(set.signers.iter().zip(&set.powers))
    {
        assert_eq!(m.address.0 .0, s.0);
        assert_eq!(m.power, *p);
    }
}

#[test]
fn bad_duplicate_and_foreign_confirmations_are_refused() {
    let (mut chain, digest) = with_batch();
    // Validator 0's operator sends validator 1's key's signature: recovers to another address.
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::confirm_batch(1, sign(&eth_key(1), digest)),
    );
    assert_eq!(
        code(&out),
        Code::BadBatchSignature,
        "{}",
        out.tx_results[0].log
    );
    assert!(out.tx_results[0].log.contains("recovers to"));
    // A signature over another digest recovers to somebody else too.
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::confirm_batch(1, sign(&eth_key(0), [7; 32])),
    );
    assert_eq!(code(&out), Code::BadBatchSignature);
    // The high-s twin of a good signature.
    let good = sign(&eth_key(0), digest);
    let s = U256::from_be_slice(&good[32..64]);
    let mut high = good;
    high[32..64].copy_from_slice(&(bridge_protocol::SECP256K1_N - s).to_be_bytes::<32>());
    high[64] = if good[64] == 27 { 28 } else { 27 };
    let out = run(&mut chain, &operator_key(0), Msg::confirm_batch(1, high));
    assert_eq!(code(&out), Code::BadBatchSignature);
    assert!(
        out.tx_results[0].log.contains("low-s"),
        "{}",
        out.tx_results[0].log
    );
    // Not a validator; unknown batch.
    let out = run(&mut chain, &user_key(0), Msg::confirm_batch(1, good));
    assert_eq!(code(&out), Code::NotValidator);
    let out = run(&mut chain, &operator_key(0), Msg::confirm_batch(2, good));
    assert_eq!(code(&out), Code::UnknownBatch);
    // The good one counts once.
    let out = run(&mut chain, &operator_key(0), Msg::confirm_batch(1, good));
    assert_all_ok(&out);
    let out = run(&mut chain, &operator_key(0), Msg::confirm_batch(1, good));
    assert_eq!(code(&out), Code::DuplicateConfirmation);
    assert_eq!(batch(&chain, 1).unwrap().signatures.len(), 1);
}

#[test]
fn exactly_two_thirds_is_not_ready_more_is() {
    let (mut chain, digest) = with_batch();
    let set: L1SignerSet = query(&chain, Route::BridgeL1SignerSet).unwrap();
    for i in 0..3u8 {
        let out = run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_batch(1, sign(&eth_key(i), digest)),
        );
        assert_all_ok(&out);
        let ready = events(&out, "batch_ready");
        let b = batch(&chain, 1).unwrap();
        if i < 2 {
            assert!(ready.is_empty(), "{} of 3 equal signers", i + 1);
            assert!(!b.ready);
        } else {
            assert_eq!(ready.len(), 1);
            assert_eq!(ready[0].get("nonce"), Some("1"));
            assert!(b.ready);
        }
    }
    // The signatures come in the signer set's order, each recovering to its member.
    let b = batch(&chain, 1).unwrap();
    let indices: Vec<u32> = b.signatures.iter().map(|s| s.signer_index).collect();
    assert_eq!(indices, vec![0, 1, 2]);
    for s in &b.signatures {
        assert_eq!(set.signers[s.signer_index as usize], s.signer);
        let recovered = bridge_protocol::recover_signer(B256::from(digest), &s.signature).unwrap();
        assert_eq!(recovered.0 .0, s.signer.0);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Withdraw {
        user: u8,
        amount: u128,
        fee: u128,
    },
    Cancel {
        user: u8,
        id: u64,
    },
    Advance(u8),
    /// The validator attests that L1 executed the outstanding batch.
    Execute,
    /// The validator attests that the outstanding batch timed out on L1.
    TimeOut,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2u8, 1..400u128, 0..20u128).prop_map(|(user, amount, fee)| Op::Withdraw {
            user,
            amount,
            fee
        }),
        (0..2u8, 1..12u64).prop_map(|(user, id)| Op::Cancel { user, id }),
        (1..6u8).prop_map(Op::Advance),
        Just(Op::Execute),
        Just(Op::TimeOut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Wrapped supply plus what queued and batched withdrawals hold (amount + fee) stays what
    /// was deposited; no withdrawal is in two batches; every batched one says so.
    #[test]
    fn withdrawals_conserve_value(ops in proptest::collection::vec(op_strategy(), 1..25)) {
        let mut chain = bridged(&[10], 3, 4);
        deposit(&mut chain, 1, 1, user(0), 2_000);
        deposit(&mut chain, 1, 2, user(1), 2_000);
        for op in ops {
            match op.clone() {
                Op::Withdraw { user: u, amount, fee } => {
                    run(&mut chain, &user_key(u), Msg::withdraw(eth(), amount, fee, TO));
                }
                Op::Cancel { user: u, id } => {
                    run(&mut chain, &user_key(u), Msg::cancel_withdrawal(id));
                }
                Op::Advance(n) => {
                    for _ in 0..n {
                        chain.block(&[]);
                    }
                }
                Op::Execute | Op::TimeOut => {
                    let outstanding: Option<u64> = chain.read(state_key::bridge::OUTSTANDING_BATCH);
                    if let Some(nonce) = outstanding {
                        let b = batch(&chain, nonce).unwrap();
                        let outcome = if matches!(op, Op::Execute) {
                            executed(&b, vec![Release::Paid; b.withdrawals.len()])
                        } else {
                            BatchOutcome::TimedOut { l1_block: 9, l1_time: b.timeout }
                        };
                        let out = run(&mut chain, &operator_key(0), Msg::attest_batch(nonce, outcome));
                        assert_all_ok(&out);
                    }
                }
            }
            let count: u64 = chain.read(state_key::bridge::WITHDRAWAL_COUNT).unwrap_or(0);
            let (mut held, mut paid) = (0u128, 0u128);
            for id in 1..=count {
                let w = withdrawal(&chain, id);
                if w.state.is_executed() {
                    paid += w.amount + w.fee;
                } else if !matches!(w.state, WithdrawalState::Cancelled { .. }) {
                    held += w.amount + w.fee;
                }
            }
            // Nothing created or lost: what was deposited is on the sidechain, in flight, or
            // paid out on L1.
            prop_assert_eq!(eth_supply(&chain) + held + paid, 4_000);
            // The chain's in-flight counter is exactly what waits for L1.
            let in_flight: u128 = query(&chain, Route::BridgeInFlight(ETHER)).unwrap_or(0);
            prop_assert_eq!(in_flight, held);
            prop_assert_eq!(
                eth_balance(&chain, &user(0)) + eth_balance(&chain, &user(1)),
                eth_supply(&chain)
            );
            let last: u64 = chain.read(state_key::bridge::LAST_BATCH_NONCE).unwrap_or(0);
            let mut released = std::collections::BTreeSet::new();
            for nonce in 1..=last {
                let b = batch(&chain, nonce).unwrap();
                prop_assert!(b.withdrawals.len() <= 3);
                let executed = matches!(
                    b.settled.as_ref().map(|s| &s.outcome),
                    Some(BatchOutcome::Executed(_))
                );
                for e in &b.withdrawals {
                    let state = withdrawal(&chain, e.id).state;
                    if executed {
                        // Released by exactly one executed batch: this one.
                        prop_assert!(released.insert(e.id), "withdrawal {} released twice", e.id);
                        let in_this = matches!(state, WithdrawalState::Released { nonce: n, .. } if n == nonce);
                        prop_assert!(in_this, "withdrawal {} is {:?}", e.id, state);
                    } else if b.settled.is_none() {
                        prop_assert_eq!(state, WithdrawalState::InBatch { nonce });
                    }
                }
            }
            for id in 1..=count {
                let state = withdrawal(&chain, id).state;
                if state.is_executed() {
                    prop_assert!(released.contains(&id), "withdrawal {} released by no batch", id);
                }
            }
        }
    }
}

#[test]
fn a_full_queue_refuses_more_and_batches_stop_at_the_contracts_cap() {
    use sidechain_types::bridge::{MAX_BATCH_SIZE, MAX_QUEUED_PER_TOKEN};
    let mut chain = funded(1_000_000, MAX_BATCH_SIZE, 1_000_000);
    let total = MAX_QUEUED_PER_TOKEN + MAX_BATCH_SIZE as usize;
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(64);
        let msgs = (0..n)
            .map(|_| Msg::withdraw(eth(), 10, 0, TO))
            .collect::<Vec<_>>();
        let nonce = chain.account(&user(0)).nonce;
        let tx = build_signed(&user_key(0), CHAIN_ID, nonce, 1, msgs)
            .unwrap()
            .encode();
        assert_all_ok(&chain.block(&[tx]));
        sent += n;
    }
    // The first 256 went into batch 1 (the contract's cap); 1,024 wait in the queue.
    let b = batch(&chain, 1).unwrap();
    assert_eq!(b.withdrawals.len(), MAX_BATCH_SIZE as usize);
    let out = run(&mut chain, &user_key(0), Msg::withdraw(eth(), 10, 0, TO));
    assert_eq!(
        code(&out),
        Code::WithdrawalQueueFull,
        "{}",
        out.tx_results[0].log
    );
    assert_eq!(eth_supply(&chain), 1_000_000 - 10 * total as u128);
}

/// An execution of `b` with these releases, in L1 block 500 by transaction 0xee...
fn executed(b: &OutgoingBatch, releases: Vec<Release>) -> BatchOutcome {
    assert_eq!(releases.len(), b.withdrawals.len());
    BatchOutcome::Executed(ExecutedBatch {
        l1_block: 500,
        l1_tx_hash: [0xee; 32],
        submitter: EthAddress([0x55; 20]),
        releases,
    })
}

/// Three validators of power 10, user 0 holding 1,000 wei, three withdrawals (fees 1, 3, 2)
/// cut into batch 1 and confirmed by all three validators.
fn ready_batch_of_three() -> Chain {
    let mut chain = bridged(&[10, 10, 10], 3, 1);
    deposit(&mut chain, 3, 1, user(0), 1_000);
    let tx = build_signed(
        &user_key(0),
        CHAIN_ID,
        chain.account(&user(0)).nonce,
        1,
        vec![
            Msg::withdraw(eth(), 100, 1, TO),
            Msg::withdraw(eth(), 200, 3, EthAddress([0x45; 20])),
            Msg::withdraw(eth(), 300, 2, EthAddress([0x46; 20])),
        ],
    )
    .unwrap()
    .encode();
    assert_all_ok(&chain.block(&[tx]));
    let b = batch(&chain, 1).unwrap();
    assert_eq!(
        b.withdrawals.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![2, 3, 1],
        "highest fee first"
    );
    let digest = protocol_digest(&params(&chain), &b);
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_batch(1, sign(&eth_key(i), digest)),
        ));
    }
    assert!(batch(&chain, 1).unwrap().ready);
    chain
}

#[test]
fn an_execution_attested_by_more_than_two_thirds_releases_defers_and_delays() {
    let mut chain = ready_batch_of_three();
    let supply = eth_supply(&chain);
    let b = batch(&chain, 1).unwrap();
    let outcome = executed(
        &b,
        vec![
            Release::Paid,
            Release::Deferred,
            Release::Delayed {
                release_id: 7,
                executable_at: 1_800_000_000,
            },
        ],
    );
    // A release list that does not fit the batch, and a timeout before the timeout, are refused.
    let short = executed(
        &OutgoingBatch {
            withdrawals: b.withdrawals[..1].to_vec(),
            ..b.clone()
        },
        vec![Release::Paid],
    );
    let out = run(&mut chain, &operator_key(0), Msg::attest_batch(1, short));
    assert_eq!(
        code(&out),
        Code::InvalidAttestation,
        "{}",
        out.tx_results[0].log
    );
    let early = BatchOutcome::TimedOut {
        l1_block: 9,
        l1_time: b.timeout - 1,
    };
    let out = run(&mut chain, &operator_key(0), Msg::attest_batch(1, early));
    assert_eq!(code(&out), Code::InvalidAttestation);
    let out = run(
        &mut chain,
        &user_key(0),
        Msg::attest_batch(1, outcome.clone()),
    );
    assert_eq!(code(&out), Code::NotValidator);
    // Two of three (exactly 2/3) settle nothing.
    for i in 0..2u8 {
        let out = run(
            &mut chain,
            &operator_key(i),
            Msg::attest_batch(1, outcome.clone()),
        );
        assert_all_ok(&out);
        assert!(events(&out, "batch_executed").is_empty());
    }
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(1, outcome.clone()),
    );
    assert_eq!(code(&out), Code::DuplicateAttestation);
    let timed_out = BatchOutcome::TimedOut {
        l1_block: 9,
        l1_time: b.timeout,
    };
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(1, timed_out.clone()),
    );
    assert_eq!(
        code(&out),
        Code::InvalidAttestation,
        "one outcome per validator"
    );
    assert!(batch(&chain, 1).unwrap().settled.is_none());
    // The third settles it in its block.
    let out = run(
        &mut chain,
        &operator_key(2),
        Msg::attest_batch(1, outcome.clone()),
    );
    assert_all_ok(&out);
    let ev = events(&out, "batch_executed");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].get("released"), Some("1"));
    assert_eq!(ev[0].get("deferred"), Some("1"));
    assert_eq!(ev[0].get("delayed"), Some("1"));
    assert!(matches!(
        withdrawal(&chain, 2).state,
        WithdrawalState::Released {
            nonce: 1,
            l1_block: 500,
            ..
        }
    ));
    assert!(matches!(
        withdrawal(&chain, 3).state,
        WithdrawalState::Deferred { nonce: 1, .. }
    ));
    assert!(matches!(
        withdrawal(&chain, 1).state,
        WithdrawalState::Delayed {
            nonce: 1,
            release_id: 7,
            executable_at: 1_800_000_000,
            ..
        }
    ));
    let settled = batch(&chain, 1).unwrap();
    assert_eq!(settled.settled.unwrap().outcome, outcome);
    assert!(settled.attestations.is_empty());
    assert_eq!(
        chain.read::<u64>(state_key::bridge::OUTSTANDING_BATCH),
        None
    );
    assert_eq!(
        chain.read::<u64>(state_key::bridge::LAST_BATCH_NONCE),
        Some(1)
    );
    assert_eq!(
        eth_supply(&chain),
        supply,
        "burned at withdrawal, not again"
    );
    // Settled: no second settlement, no late timeout.
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(1, timed_out),
    );
    assert_eq!(code(&out), Code::InvalidAttestation);
    let listed: Vec<OutgoingBatch> = chain_query(&chain, Route::BridgeBatches);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].nonce, 1);
}

/// A component query (several keys), as the node answers it.
fn chain_query<T: borsh::BorshDeserialize>(chain: &Chain, route: Route) -> T {
    let bytes = sidechain_app::query::assemble(&chain.state, &route)
        .unwrap()
        .unwrap();
    borsh::from_slice(&bytes).unwrap()
}

#[test]
fn a_timed_out_batch_requeues_its_withdrawals_and_its_nonce_carries_the_next_batch_once() {
    let mut chain = ready_batch_of_three();
    let first = batch(&chain, 1).unwrap();
    let timed_out = BatchOutcome::TimedOut {
        l1_block: 77,
        l1_time: first.timeout + 5,
    };
    // An execution seen by one validator (a minority) does not stop the others' timeout...
    // but cannot happen on L1 together with it (ADR 17): here only the majority counts.
    for i in 0..3u8 {
        let out = run(
            &mut chain,
            &operator_key(i),
            Msg::attest_batch(1, timed_out.clone()),
        );
        assert_all_ok(&out);
        if i == 2 {
            let ev = events(&out, "batch_timed_out");
            assert_eq!(ev.len(), 1);
            assert_eq!(ev[0].get("requeued"), Some("3"));
            // Back in the queue, overdue: the same block cuts the next batch with nonce 1.
            let cut = events(&out, "batch_cut");
            assert_eq!(cut.len(), 1);
            assert_eq!(cut[0].get("nonce"), Some("1"));
        }
    }
    let kept: OutgoingBatch = chain.read(&state_key::bridge::timed_out_batch(1)).unwrap();
    assert_eq!(kept.withdrawals, first.withdrawals);
    assert!(matches!(
        kept.settled.unwrap().outcome,
        BatchOutcome::TimedOut { .. }
    ));
    let second = batch(&chain, 1).unwrap();
    assert!(second.settled.is_none() && second.signatures.is_empty() && !second.ready);
    assert!(second.timeout > first.timeout, "a fresh timeout");
    assert_eq!(second.withdrawals, first.withdrawals);
    for id in 1..=3 {
        assert_eq!(
            withdrawal(&chain, id).state,
            WithdrawalState::InBatch { nonce: 1 }
        );
    }
    // Signed again over the new digest, then executed: each withdrawal released once.
    let digest = protocol_digest(&params(&chain), &second);
    assert_ne!(digest, protocol_digest(&params(&chain), &first));
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_batch(1, sign(&eth_key(i), digest)),
        ));
    }
    let outcome = executed(&second, vec![Release::Paid; 3]);
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::attest_batch(1, outcome.clone()),
        ));
    }
    for id in 1..=3 {
        assert!(matches!(
            withdrawal(&chain, id).state,
            WithdrawalState::Released { nonce: 1, .. }
        ));
    }
    assert_eq!(
        chain.read::<u64>(state_key::bridge::OUTSTANDING_BATCH),
        None
    );
    assert!(batch(&chain, 2).is_none(), "nothing left to batch");
}

#[test]
fn a_requeued_withdrawal_can_be_cancelled() {
    let mut chain = bridged(&[10], 1, 1);
    deposit(&mut chain, 1, 1, user(0), 1_000);
    assert_all_ok(&run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), 100, 5, TO),
    ));
    let b = batch(&chain, 1).unwrap();
    // The cancel and the timeout land in one block: the timeout settles at the end of the
    // block, after the cancel was refused (still in a batch).
    let out = run(&mut chain, &user_key(0), Msg::cancel_withdrawal(1));
    assert_eq!(code(&out), Code::WithdrawalNotQueued);
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(
            1,
            BatchOutcome::TimedOut {
                l1_block: 3,
                l1_time: b.timeout,
            },
        ),
    );
    assert_all_ok(&out);
    // Re-batched at once (max wait 1 block); a requeue followed by a re-cut leaves it in batch 1.
    assert_eq!(
        withdrawal(&chain, 1).state,
        WithdrawalState::InBatch { nonce: 1 }
    );
    let b2 = batch(&chain, 1).unwrap();
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(
            1,
            BatchOutcome::TimedOut {
                l1_block: 4,
                l1_time: b2.timeout,
            },
        ),
    );
    assert_all_ok(&out);
    // With a longer wait it stays requeued and its owner may take it back.
    let mut chain = bridged(&[10], 1, 1);
    deposit(&mut chain, 1, 1, user(0), 1_000);
    assert_all_ok(&run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), 100, 5, TO),
    ));
    assert_all_ok(&run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), 50, 0, TO),
    ));
    // Withdrawal 2 waits behind batch 1; time batch 1 out: both are due, the higher fee first.
    let b = batch(&chain, 1).unwrap();
    assert_eq!(b.withdrawals[0].id, 1);
    assert_all_ok(&run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(
            1,
            BatchOutcome::TimedOut {
                l1_block: 3,
                l1_time: b.timeout,
            },
        ),
    ));
    let b = batch(&chain, 1).unwrap();
    assert_eq!(
        b.withdrawals[0].id, 1,
        "the requeued one goes first again (higher fee)"
    );
    assert!(withdrawal(&chain, 2).state.is_queued());
    assert_all_ok(&run(&mut chain, &user_key(0), Msg::cancel_withdrawal(2)));
    assert_eq!(eth_balance(&chain, &user(0)), 1_000 - 105);
}

fn remove(i: u8) -> ValidatorChange {
    ValidatorChange {
        name: format!("val{i}"),
        consensus_key: validator_key(i).verification_key().to_bytes(),
        power: 0,
        operator: addr(&operator_key(i)),
        eth_address: eth_addr(&eth_key(i)),
    }
}

/// Validators 0, 1, 2 of four remove validator 3 (30 of 40 approve).
fn remove_validator_3(chain: &mut Chain) -> BlockOutput {
    let mut txs = vec![send(
        chain,
        &operator_key(0),
        Msg::propose_validator_change(remove(3)),
    )];
    for i in 1..3u8 {
        txs.push(send(chain, &operator_key(i), Msg::vote_validator_change(0)));
    }
    let out = chain.block(&txs);
    assert_all_ok(&out);
    out
}

fn signer_set_digest(p: &BridgeParams, next: &L1SignerSet) -> [u8; 32] {
    let domain = bridge_protocol::Domain::new(
        p.l1_chain_id,
        L1Address::from(p.contract.0),
        B256::from(p.bridge_id),
    );
    let members = next
        .signers
        .iter()
        .zip(&next.powers)
        .map(|(a, p)| bridge_protocol::Member {
            address: L1Address::from(a.0),
            power: *p,
        })
        .collect();
    let set = bridge_protocol::SignerSet::from_normalized(next.nonce, members).unwrap();
    domain.signer_set_digest(&set).0
}

#[test]
fn the_l1_signer_set_follows_a_removed_validator_and_batches_are_signed_again() {
    let mut chain = bridged(&[10, 10, 10, 10], 1, 1);
    deposit(&mut chain, 4, 1, user(0), 1_000);
    assert_all_ok(&run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), 100, 5, TO),
    ));
    let b = batch(&chain, 1).unwrap();
    let digest = protocol_digest(&params(&chain), &b);
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_batch(1, sign(&eth_key(i), digest)),
        ));
    }
    assert!(batch(&chain, 1).unwrap().ready);
    assert_eq!(batch(&chain, 1).unwrap().signer_set_nonce, 0);

    let out = remove_validator_3(&mut chain);
    let created = events(&out, "signer_set_created");
    assert_eq!(
        created.len(),
        1,
        "the removal produces the next L1 set in its block"
    );
    let update: SignerSetUpdate = query(&chain, Route::BridgeSignerSet(1)).unwrap();
    assert_eq!(update.signed_by, 0);
    assert_eq!(update.status, SignerSetStatus::Signing);
    assert_eq!(update.set.signers.len(), 3);
    assert!(!update.set.signers.contains(&eth_addr(&eth_key(3))));
    let total = update.set.powers.iter().sum::<u64>();
    assert!(
        total <= 1u64 << 32 && total > bridge_protocol::POWER_THRESHOLD,
        "normalized to 2^32: {total}"
    );
    // Nothing more is produced while it is open.
    assert!(events(&chain.block(&[]), "signer_set_created").is_empty());

    // The set L1 holds (four members) signs it; the removed validator cannot.
    let digest = signer_set_digest(&params(&chain), &update.set);
    assert_eq!(
        digest,
        sidechain_app::bridge::l1::signer_set_digest(&params(&chain), &update.set)
    );
    let out = run(
        &mut chain,
        &operator_key(3),
        Msg::confirm_signer_set(1, sign(&eth_key(3), digest)),
    );
    assert_eq!(code(&out), Code::NotValidator);
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::confirm_signer_set(2, sign(&eth_key(0), digest)),
    );
    assert_eq!(code(&out), Code::UnknownSignerSet);
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::confirm_signer_set(1, sign(&eth_key(1), digest)),
    );
    assert_eq!(code(&out), Code::BadBatchSignature);
    // Attesting before it is ready is refused: L1 cannot have it.
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_signer_set(1, SignerSetOutcome::Active),
    );
    assert_eq!(code(&out), Code::InvalidAttestation);
    for i in 0..3u8 {
        let out = run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_signer_set(1, sign(&eth_key(i), digest)),
        );
        assert_all_ok(&out);
        // 2 of 4 L1 members is not enough; 3 of 4 is.
        assert_eq!(
            events(&out, "signer_set_ready").len(),
            usize::from(i == 2),
            "after {}",
            i + 1
        );
    }
    // Pending behind the contract's delay, then active.
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::attest_signer_set(
                1,
                SignerSetOutcome::Pending {
                    activates_at: 1_900_000_000,
                },
            ),
        ));
    }
    let update: SignerSetUpdate = query(&chain, Route::BridgeSignerSet(1)).unwrap();
    assert!(matches!(
        update.status,
        SignerSetStatus::Pending {
            activates_at: 1_900_000_000,
            ..
        }
    ));
    let l1: L1SignerSet = query(&chain, Route::BridgeL1SignerSet).unwrap();
    assert_eq!(l1.nonce, 0, "pending: L1 still checks the old set");
    for i in 0..3u8 {
        let out = run(
            &mut chain,
            &operator_key(i),
            Msg::attest_signer_set(1, SignerSetOutcome::Active),
        );
        assert_all_ok(&out);
        if i == 1 {
            // 2 of the 3 remaining validators: more than 2/3 of 30? 20 is not.
            assert!(events(&out, "signer_set_settled").is_empty());
        }
    }
    let l1: L1SignerSet = query(&chain, Route::BridgeL1SignerSet).unwrap();
    assert_eq!(l1, update.set);
    let update: SignerSetUpdate = query(&chain, Route::BridgeSignerSet(1)).unwrap();
    assert!(matches!(update.status, SignerSetStatus::Active { .. }));
    // The outstanding batch was signed for set 0: it is signed again for set 1.
    let b = batch(&chain, 1).unwrap();
    assert_eq!(b.signer_set_nonce, 1);
    assert!(b.signatures.is_empty() && !b.ready);
    let digest = protocol_digest(&params(&chain), &b);
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_batch(1, sign(&eth_key(i), digest)),
        ));
    }
    let b = batch(&chain, 1).unwrap();
    assert!(b.ready);
    assert_eq!(
        b.signatures
            .iter()
            .map(|s| s.signer)
            .collect::<Vec<_>>()
            .len(),
        3
    );
    for s in &b.signatures {
        assert_eq!(l1.signers[s.signer_index as usize], s.signer);
    }
    // Settled: nothing more to sign or attest, and no new update (the sets agree).
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::attest_signer_set(1, SignerSetOutcome::Active),
    );
    assert_eq!(code(&out), Code::InvalidAttestation);
    assert!(events(&chain.block(&[]), "signer_set_created").is_empty());
    let all: Vec<SignerSetUpdate> = chain_query(&chain, Route::BridgeSignerSets);
    assert_eq!(all.len(), 1);
}

#[test]
fn a_cancelled_signer_set_update_is_followed_by_the_next_nonce() {
    let mut chain = bridged(&[10, 10, 10, 10], 1, 1);
    remove_validator_3(&mut chain);
    let update: SignerSetUpdate = query(&chain, Route::BridgeSignerSet(1)).unwrap();
    let digest = signer_set_digest(&params(&chain), &update.set);
    for i in 0..3u8 {
        assert_all_ok(&run(
            &mut chain,
            &operator_key(i),
            Msg::confirm_signer_set(1, sign(&eth_key(i), digest)),
        ));
    }
    let mut last = None;
    for i in 0..3u8 {
        last = Some(run(
            &mut chain,
            &operator_key(i),
            Msg::attest_signer_set(1, SignerSetOutcome::Cancelled),
        ));
        assert_all_ok(last.as_ref().unwrap());
    }
    let out = last.unwrap();
    assert_eq!(
        events(&out, "signer_set_settled")[0].get("status"),
        Some("cancelled")
    );
    // The same block produces nonce 2 (the validators still differ from what L1 holds).
    assert_eq!(
        events(&out, "signer_set_created")[0].get("nonce"),
        Some("2")
    );
    let next: SignerSetUpdate = query(&chain, Route::BridgeSignerSet(2)).unwrap();
    assert_eq!(next.set.signers, update.set.signers);
    assert_eq!(next.signed_by, 0);
    let l1: L1SignerSet = query(&chain, Route::BridgeL1SignerSet).unwrap();
    assert_eq!(l1.nonce, 0);
}

#[test]
fn refunds_owed_go_out_first_in_a_batch_and_leave_the_queue_when_paid() {
    let mut chain = funded(1_000, 3, 5);
    // A deposit beyond 128 bits cannot be minted: it is owed back to its sender.
    let mut huge = L1Amount::ZERO;
    huge.0[0] = 1;
    let claim = DepositClaim {
        nonce: 2,
        token: ETHER,
        sender: EthAddress([0x77; 20]),
        recipient: user(1),
        amount: huge,
        l1_block: 200,
        l1_tx_hash: [2; 32],
        log_index: 0,
    };
    assert_all_ok(&run(
        &mut chain,
        &user_key(0),
        Msg::withdraw(eth(), 100, 1, TO),
    ));
    assert!(batch(&chain, 1).is_none(), "not due yet");
    let out = run(
        &mut chain,
        &operator_key(0),
        Msg::claim_deposits(vec![claim]),
    );
    assert_all_ok(&out);
    assert_eq!(events(&out, "deposit_refund_owed").len(), 1);
    // The refund makes its token due at once and goes first.
    let b = batch(&chain, 1).unwrap();
    assert_eq!(b.withdrawals.len(), 2);
    assert!(b.withdrawals[0].refund);
    assert_eq!(b.withdrawals[0].amount, huge);
    assert_eq!(b.withdrawals[0].to, EthAddress([0x77; 20]));
    assert!(!b.withdrawals[1].refund);
    assert_eq!(b.withdrawals[1].id, 1);
    assert_eq!(b.fee, 1, "refunds pay no fee");
    let refund: sidechain_types::Refund = query(&chain, Route::BridgeRefund(0)).unwrap();
    assert_eq!(
        refund.state,
        sidechain_types::RefundState::InBatch { nonce: 1 }
    );
    // The digest covers the 2^248 amount as the contract's uint256.
    let digest = protocol_digest(&params(&chain), &b);
    assert_all_ok(&run(
        &mut chain,
        &operator_key(0),
        Msg::confirm_batch(1, sign(&eth_key(0), digest)),
    ));
    assert_all_ok(&run(
        &mut chain,
        &operator_key(0),
        Msg::attest_batch(1, executed(&b, vec![Release::Paid; 2])),
    ));
    let refund: sidechain_types::Refund = query(&chain, Route::BridgeRefund(0)).unwrap();
    assert_eq!(
        refund.state,
        sidechain_types::RefundState::Paid {
            nonce: 1,
            l1_block: 500
        }
    );
    assert_eq!(chain.read::<u64>(state_key::bridge::REFUNDS_HEAD), Some(1));
    assert!(matches!(
        withdrawal(&chain, 1).state,
        WithdrawalState::Released { .. }
    ));
    // Nothing is owed any more: no batch follows.
    chain.block(&[]);
    assert!(batch(&chain, 2).is_none());
}
