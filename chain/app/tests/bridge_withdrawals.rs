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
    Address, BridgeParams, Code, Denom, DepositClaim, EthAddress, GenesisState, L1Amount,
    L1SignerSet, Msg, OutgoingBatch, Withdrawal, WithdrawalState,
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
    Withdraw { user: u8, amount: u128, fee: u128 },
    Cancel { user: u8, id: u64 },
    Advance(u8),
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
            match op {
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
            }
            let count: u64 = chain.read(state_key::bridge::WITHDRAWAL_COUNT).unwrap_or(0);
            let mut held = 0u128;
            for id in 1..=count {
                let w = withdrawal(&chain, id);
                if !matches!(w.state, WithdrawalState::Cancelled { .. }) {
                    held += w.amount + w.fee;
                }
            }
            prop_assert_eq!(eth_supply(&chain) + held, 4_000);
            prop_assert_eq!(
                eth_balance(&chain, &user(0)) + eth_balance(&chain, &user(1)),
                eth_supply(&chain)
            );
            let last: u64 = chain.read(state_key::bridge::LAST_BATCH_NONCE).unwrap_or(0);
            let mut seen = std::collections::BTreeSet::new();
            for nonce in 1..=last {
                let b = batch(&chain, nonce).unwrap();
                prop_assert!(b.withdrawals.len() <= 3);
                for e in &b.withdrawals {
                    prop_assert!(seen.insert(e.id), "withdrawal {} in two batches", e.id);
                    prop_assert_eq!(withdrawal(&chain, e.id).state, WithdrawalState::InBatch { nonce });
                }
            }
            for id in 1..=count {
                if let WithdrawalState::InBatch { .. } = withdrawal(&chain, id).state {
                    prop_assert!(seen.contains(&id));
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
