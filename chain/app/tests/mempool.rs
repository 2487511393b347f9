//! The mempool mirror without RocksDB: admission over a running overlay, the signature cache,
//! replay after a commit, transactions held for a nonce gap, proposals, and the per-block
//! accumulators a failed message rolls back.

mod harness;

use ed25519_consensus::SigningKey;
use harness::*;
use sidechain_app::{
    mempool::{MAX_HELD_PER_ACCOUNT, MAX_NONCE_GAP, PROPOSAL_TX_OVERHEAD},
    BlockInfo, CheckKind, Mempool, TxOutcome,
};
use sidechain_types::{tx::build_signed, Code, Msg, SignedTx, TxBody, ValidatorChange};

/// A transaction paying the fee it needs, or `fee` when given.
fn signed(
    key: &SigningKey,
    chain_id: &str,
    nonce: u64,
    fee: Option<u128>,
    msgs: Vec<Msg>,
) -> SignedTx {
    let mut tx = build_signed(key, chain_id, nonce, 1, msgs).unwrap();
    if let Some(fee) = fee {
        tx = TxBody {
            fee: sidechain_types::Fee {
                amount: fee,
                gas_limit: tx.body.fee.gas_limit,
            },
            ..tx.body
        }
        .sign(key);
    }
    tx
}

/// `tx` with its signature spoiled (one bit of `s` flipped).
fn forged(mut tx: SignedTx) -> SignedTx {
    tx.signature[40] ^= 1;
    tx
}

fn pay(to: &SigningKey, amount: u128) -> Msg {
    Msg::transfer(addr(to), side(), amount)
}

fn hash(tx: &SignedTx) -> [u8; 32] {
    sidechain_types::sha256(&tx.encode())
}

fn next(chain: &Chain) -> BlockInfo {
    at(chain.height + 1)
}

#[test]
fn a_bad_signature_is_never_cached_as_verified_whatever_check_rejects_it_first() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    chain.block(&[]);
    let faults: Vec<(&str, SignedTx)> = vec![
        (
            "wrong chain id",
            signed(&alice, "other-chain", 0, None, vec![pay(&key(2), 1)]),
        ),
        (
            "nonce beyond the holding gap",
            signed(
                &alice,
                CHAIN_ID,
                MAX_NONCE_GAP + 1,
                None,
                vec![pay(&key(2), 1)],
            ),
        ),
        (
            "fee too low",
            signed(&alice, CHAIN_ID, 0, Some(1), vec![pay(&key(2), 1)]),
        ),
        ("no messages", signed(&alice, CHAIN_ID, 0, None, vec![])),
        (
            "insufficient funds",
            signed(
                &alice,
                CHAIN_ID,
                0,
                None,
                vec![pay(&key(2), 10u128.pow(30))],
            ),
        ),
        (
            "zero amount",
            signed(&alice, CHAIN_ID, 0, None, vec![pay(&key(2), 0)]),
        ),
        (
            "fine otherwise",
            signed(&alice, CHAIN_ID, 0, None, vec![pay(&key(2), 1)]),
        ),
    ];
    for batched in [false, true] {
        let mut mempool = Mempool::new(100);
        let txs: Vec<(Vec<u8>, CheckKind)> = faults
            .iter()
            .map(|(_, tx)| (forged(tx.clone()).encode(), CheckKind::New))
            .collect();
        let outcomes = if batched {
            mempool.check_txs(&chain.state, next(&chain), &txs).unwrap()
        } else {
            txs.iter()
                .flat_map(|t| {
                    mempool
                        .check_txs(&chain.state, next(&chain), std::slice::from_ref(t))
                        .unwrap()
                })
                .collect()
        };
        for ((what, tx), outcome) in faults.iter().zip(&outcomes) {
            assert_ne!(outcome.code, Code::Ok, "{what}");
            assert!(
                !mempool.is_verified(&hash(&forged(tx.clone()))),
                "{what} (batched: {batched}): a bad signature was cached as verified"
            );
        }
        assert!(mempool.is_empty());
        // The same transactions signed properly: their signatures are cached as verified
        // whatever else rejects them.
        let good: Vec<(Vec<u8>, CheckKind)> = faults
            .iter()
            .map(|(_, tx)| (tx.encode(), CheckKind::New))
            .collect();
        let outcomes = mempool
            .check_txs(&chain.state, next(&chain), &good)
            .unwrap();
        for ((what, tx), outcome) in faults.iter().zip(&outcomes) {
            assert!(mempool.is_verified(&hash(tx)), "{what}: {outcome:?}");
        }
        assert_eq!(mempool.len(), 1, "only the fine transaction is admitted");
    }
}

#[test]
fn admitted_transactions_chain_nonces_and_leave_once_a_block_includes_them() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    chain.block(&[]);
    let mut mempool = Mempool::new(100);
    let txs: Vec<SignedTx> = (0..3)
        .map(|n| signed(&alice, CHAIN_ID, n, None, vec![pay(&key(2), 10)]))
        .collect();
    let reqs: Vec<(Vec<u8>, CheckKind)> =
        txs.iter().map(|t| (t.encode(), CheckKind::New)).collect();
    let outcomes = mempool
        .check_txs(&chain.state, next(&chain), &reqs)
        .unwrap();
    assert!(outcomes.iter().all(|o| o.code == Code::Ok), "{outcomes:?}");
    assert_eq!(mempool.len(), 3);
    // A duplicate nonce is refused against the overlay, not the committed state.
    let dup = signed(&alice, CHAIN_ID, 1, None, vec![pay(&key(3), 10)]);
    let o = mempool
        .check_txs(
            &chain.state,
            next(&chain),
            &[(dup.encode(), CheckKind::New)],
        )
        .unwrap();
    assert_eq!(o[0].code, Code::BadNonce);

    // FinalizeBlock takes the verdicts once; the block includes the first transaction.
    let hashes: Vec<[u8; 32]> = txs.iter().map(hash).collect();
    assert_eq!(mempool.take_verified(&hashes), vec![true, true, true]);
    assert_eq!(mempool.take_verified(&hashes), vec![false, false, false]);
    mempool.block_staged([hashes[0]]);
    chain.block(&[txs[0].encode()]);
    mempool.rebase(&chain.state, next(&chain)).unwrap();
    assert_eq!(mempool.len(), 2);
    // The waiting ones were replayed on the new state: nonce 3 follows them.
    let n3 = signed(&alice, CHAIN_ID, 3, None, vec![pay(&key(2), 10)]);
    let o = mempool
        .check_txs(&chain.state, next(&chain), &[(n3.encode(), CheckKind::New)])
        .unwrap();
    assert_eq!(o[0].code, Code::Ok);
    assert_eq!(mempool.reset(), 3);
    assert!(mempool.is_empty());
}

#[test]
fn nothing_is_admitted_before_the_first_block_commits_and_the_limit_holds() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let tx = signed(&alice, CHAIN_ID, 0, None, vec![pay(&key(2), 1)]);
    let mut mempool = Mempool::new(1);
    let o = mempool
        .check_txs(&chain.state, next(&chain), &[(tx.encode(), CheckKind::New)])
        .unwrap();
    assert_eq!(o[0].code, Code::MempoolFull);
    chain.block(&[]);
    let second = signed(&alice, CHAIN_ID, 1, None, vec![pay(&key(2), 1)]);
    let o = mempool
        .check_txs(
            &chain.state,
            next(&chain),
            &[
                (tx.encode(), CheckKind::New),
                (second.encode(), CheckKind::New),
            ],
        )
        .unwrap();
    assert_eq!((o[0].code, o[1].code), (Code::Ok, Code::MempoolFull));
}

#[test]
fn a_failed_message_rolls_back_its_validator_change_and_the_fee_stays_in_the_block_fees() {
    // One validator: its operator's proposal applies at once. A later message of the same
    // transaction fails, so the change (and with it any validator update) goes with the rest of
    // the messages' effects, while the fee the ante added to the block's fees accumulator
    // reaches the pool.
    let mut chain = Chain::new(genesis(1, &[]));
    chain.block(&[]);
    let op = operator_key(0);
    let newcomer = ValidatorChange {
        name: "val9".into(),
        consensus_key: validator_key(9).verification_key().to_bytes(),
        power: 1,
        operator: addr(&operator_key(9)),
        eth_address: sidechain_types::EthAddress([9; 20]),
    };
    let nonce = chain.account(&addr(&op)).nonce;
    let failing = build_signed(
        &op,
        CHAIN_ID,
        nonce,
        1,
        vec![
            Msg::propose_validator_change(newcomer.clone()),
            pay(&key(2), 10u128.pow(30)),
        ],
    )
    .unwrap();
    let fee = failing.body.fee.amount;
    let pool = sidechain_types::Address::module(sidechain_app::bank::FEE_POOL);
    let pool_before = chain.balance(&pool);
    let out = chain.block(&[failing.encode()]);
    assert_eq!(out.tx_results[0].code, Code::InsufficientFunds);
    assert!(
        out.validator_updates.is_empty(),
        "{:?}",
        out.validator_updates
    );
    let set =
        sidechain_app::validators::state::set(&sidechain_app::Overlay::new(&chain.state)).unwrap();
    assert_eq!(set.len(), 1);
    // The fee, taken by the ante, stays taken and reaches the pool.
    assert_eq!(chain.balance(&pool), pool_before + fee);

    // The same proposal alone applies, and its update is returned once.
    let ok = build_signed(
        &op,
        CHAIN_ID,
        nonce + 1,
        1,
        vec![Msg::propose_validator_change(newcomer)],
    )
    .unwrap();
    let out = chain.block(&[ok.encode()]);
    assert_eq!(out.tx_results[0].code, Code::Ok);
    assert_eq!(
        out.validator_updates,
        vec![(validator_key(9).verification_key().to_bytes(), 1)]
    );
}

/// CheckTx of new transactions, in one batch.
fn check_new(mempool: &mut Mempool, chain: &Chain, txs: &[&SignedTx]) -> Vec<TxOutcome> {
    let reqs: Vec<(Vec<u8>, CheckKind)> =
        txs.iter().map(|t| (t.encode(), CheckKind::New)).collect();
    mempool.check_txs(&chain.state, next(chain), &reqs).unwrap()
}

/// Commits a block of `txs` (proposed by any validator) and rebases the mirror on it.
fn commit(mempool: &mut Mempool, chain: &mut Chain, txs: &[&SignedTx]) {
    let raw: Vec<Vec<u8>> = txs.iter().map(|t| t.encode()).collect();
    mempool.block_staged(raw.iter().map(|t| sidechain_types::sha256(t)));
    let out = chain.block(&raw);
    assert!(
        out.tx_results.iter().all(|r| r.is_ok()),
        "{:?}",
        out.tx_results
    );
    mempool.rebase(&chain.state, next(chain)).unwrap();
}

/// The proposal over `candidates` with room for everything.
fn propose(mempool: &mut Mempool, chain: &Chain, candidates: &[&SignedTx]) -> Vec<usize> {
    let raw: Vec<Vec<u8>> = candidates.iter().map(|t| t.encode()).collect();
    mempool
        .proposal(&chain.state, next(chain), &raw, usize::MAX)
        .unwrap()
}

/// Alice's transfers of 10 to key 2, nonces `0..n`.
fn transfers(alice: &SigningKey, n: u64) -> Vec<SignedTx> {
    (0..n)
        .map(|nonce| signed(alice, CHAIN_ID, nonce, None, vec![pay(&key(2), 10)]))
        .collect()
}

fn funded_chain(alice: &SigningKey) -> Chain {
    let mut chain = Chain::new(genesis(1, &[(addr(alice), 1_000_000_000)]));
    chain.block(&[]);
    chain
}

#[test]
fn a_nonce_ahead_is_held_until_the_gap_fills_then_both_are_proposed_in_nonce_order() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let txs = transfers(&alice, 2);
    let o = check_new(&mut mempool, &chain, &[&txs[1]]);
    assert_eq!(o[0].code, Code::Ok, "{}", o[0].log);
    assert!(o[0].log.contains("held until nonce 0"), "{}", o[0].log);
    assert_eq!((mempool.len(), mempool.held_len()), (0, 1));
    assert!(mempool.is_held(&hash(&txs[1])));
    // Held, so not proposed.
    assert!(propose(&mut mempool, &chain, &[&txs[1]]).is_empty());
    // A recheck of a held transaction is answered from the mirror.
    let o = mempool
        .check_txs(
            &chain.state,
            next(&chain),
            &[(txs[1].encode(), CheckKind::Recheck)],
        )
        .unwrap();
    assert_eq!(o[0].code, Code::Ok);

    let o = check_new(&mut mempool, &chain, &[&txs[0]]);
    assert_eq!(o[0].code, Code::Ok, "{}", o[0].log);
    assert_eq!((mempool.len(), mempool.held_len()), (2, 0));
    // CometBFT lists them in arrival order; the proposal runs them in nonce order.
    assert_eq!(
        propose(&mut mempool, &chain, &[&txs[1], &txs[0]]),
        vec![1, 0]
    );
}

/// The order one validator sees 200 consecutive transfers sent round-robin to 4 validators:
/// in every round of 4 its own arrives first, then the 3 gossiped from the others.
fn round_robin_arrival(validator: u64, n: u64) -> Vec<u64> {
    let mut order = Vec::new();
    for round in 0..n / 4 {
        order.push(round * 4 + validator);
        order.extend((0..4).filter(|v| *v != validator).map(|v| round * 4 + v));
    }
    order
}

#[test]
fn two_hundred_nonces_in_scrambled_orders_are_all_admitted_and_proposed_in_nonce_order() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let txs = transfers(&alice, 200);
    // Each of 4 validators in its round-robin order, plus nonces reversed in chunks of 20.
    let mut orders: Vec<Vec<u64>> = (0..4).map(|v| round_robin_arrival(v, 200)).collect();
    orders.push((0..10).flat_map(|c| (c * 20..c * 20 + 20).rev()).collect());
    for order in orders {
        let mut mempool = Mempool::new(1_000);
        let arrivals: Vec<&SignedTx> = order.iter().map(|n| &txs[*n as usize]).collect();
        // CheckTx batches of 7 requests.
        for batch in arrivals.chunks(7) {
            let o = check_new(&mut mempool, &chain, batch);
            assert!(o.iter().all(|o| o.code == Code::Ok), "{o:?}");
        }
        assert_eq!((mempool.len(), mempool.held_len()), (200, 0));
        let picked = propose(&mut mempool, &chain, &arrivals);
        let nonces: Vec<u64> = picked.iter().map(|i| order[*i]).collect();
        assert_eq!(nonces, (0..200).collect::<Vec<_>>());
        // And the block runs them all.
        let block: Vec<Vec<u8>> = picked.iter().map(|i| arrivals[*i].encode()).collect();
        let mut fork = Chain {
            state: chain.state.clone(),
            height: chain.height,
            mempool: Default::default(),
            genesis: chain.genesis.clone(),
        };
        let out = fork.block(&block);
        assert!(out.tx_results.iter().all(|r| r.is_ok()));
        assert_eq!(fork.account(&addr(&alice)).nonce, 200);
    }
}

#[test]
fn a_nonce_beyond_the_gap_is_refused_with_bad_nonce_naming_the_bound() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let mut mempool = Mempool::new(1_000);
    let far = signed(
        &alice,
        CHAIN_ID,
        MAX_NONCE_GAP + 1,
        None,
        vec![pay(&key(2), 1)],
    );
    let edge = signed(&alice, CHAIN_ID, MAX_NONCE_GAP, None, vec![pay(&key(2), 1)]);
    let o = check_new(&mut mempool, &chain, &[&far, &edge]);
    assert_eq!(o[0].code, Code::BadNonce);
    assert!(
        o[0].log.contains(&format!("at most {MAX_NONCE_GAP}")),
        "{}",
        o[0].log
    );
    assert_eq!(o[1].code, Code::Ok, "{}", o[1].log);
    assert_eq!(mempool.held_len(), 1);
}

#[test]
fn at_most_max_held_per_account_are_held_and_a_held_nonce_is_not_held_twice() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let mut mempool = Mempool::new(1_000);
    let held: Vec<SignedTx> = (1..=MAX_HELD_PER_ACCOUNT as u64)
        .map(|n| signed(&alice, CHAIN_ID, n, None, vec![pay(&key(2), 1)]))
        .collect();
    let o = check_new(&mut mempool, &chain, &held.iter().collect::<Vec<_>>());
    assert!(o.iter().all(|o| o.code == Code::Ok));
    assert_eq!(mempool.held_len(), MAX_HELD_PER_ACCOUNT);
    // One more distinct nonce for the account is refused (with both bounds at 128 the gap
    // bound trips first), and so is another transaction with a held nonce.
    let more = signed(
        &alice,
        CHAIN_ID,
        MAX_HELD_PER_ACCOUNT as u64 + 1,
        None,
        vec![pay(&key(2), 1)],
    );
    let twin = signed(&alice, CHAIN_ID, 5, None, vec![pay(&key(3), 1)]);
    let o = check_new(&mut mempool, &chain, &[&more, &twin]);
    assert_ne!(o[0].code, Code::Ok);
    assert_eq!(o[1].code, Code::BadNonce);
    assert!(o[1].log.contains("already held"), "{}", o[1].log);
    assert_eq!(mempool.held_len(), MAX_HELD_PER_ACCOUNT);
    // Another account is not affected.
    let bob = key(2);
    let o = check_new(
        &mut mempool,
        &chain,
        &[&signed(&bob, CHAIN_ID, 1, None, vec![pay(&alice, 1)])],
    );
    assert_eq!(o[0].code, Code::Ok, "{}", o[0].log);
    // Held transactions count against the limit.
    let mut small = Mempool::new(2);
    let o = check_new(&mut small, &chain, &[&held[0], &held[1], &held[2]]);
    assert_eq!(
        o.iter().map(|o| o.code).collect::<Vec<_>>(),
        vec![Code::Ok, Code::Ok, Code::MempoolFull]
    );
}

#[test]
fn a_nonce_ahead_with_a_bad_signature_is_refused_not_held() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let tx = forged(signed(&alice, CHAIN_ID, 1, None, vec![pay(&key(2), 1)]));
    for batched in [false, true] {
        let mut mempool = Mempool::new(100);
        let other = signed(&key(5), CHAIN_ID, 0, None, vec![pay(&key(2), 1)]);
        let batch: Vec<&SignedTx> = if batched {
            vec![&tx, &other]
        } else {
            vec![&tx]
        };
        let o = check_new(&mut mempool, &chain, &batch);
        assert_eq!(o[0].code, Code::BadSignature, "{}", o[0].log);
        assert_eq!(mempool.held_len(), 0);
        assert!(!mempool.is_verified(&hash(&tx)));
    }
    // Nor one failing another check that reads no state.
    let mut mempool = Mempool::new(100);
    let wrong_chain = signed(&alice, "other-chain", 1, None, vec![pay(&key(2), 1)]);
    let o = check_new(&mut mempool, &chain, &[&wrong_chain]);
    assert_eq!(o[0].code, Code::WrongChainId);
    assert_eq!(mempool.held_len(), 0);
}

#[test]
fn a_nonce_another_transaction_used_is_refused_and_never_proposed() {
    let alice = key(1);
    let mut chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let first = signed(&alice, CHAIN_ID, 0, None, vec![pay(&key(2), 10)]);
    let rival = signed(&alice, CHAIN_ID, 0, None, vec![pay(&key(3), 10)]);
    let then = signed(&alice, CHAIN_ID, 1, None, vec![pay(&key(2), 10)]);
    let o = check_new(&mut mempool, &chain, &[&first, &rival, &then]);
    assert_eq!(
        o.iter().map(|o| o.code).collect::<Vec<_>>(),
        vec![Code::Ok, Code::BadNonce, Code::Ok]
    );
    // Another validator admitted the rival and its block commits it.
    commit(&mut mempool, &mut chain, &[&rival]);
    // CometBFT (recheck off) still lists `first`: it is not proposed; `then` follows the
    // committed nonce and is.
    assert_eq!(mempool.len(), 1);
    assert_eq!(propose(&mut mempool, &chain, &[&first, &then]), vec![1]);
    // With recheck on, CometBFT learns that `first` is dead (and removes it), `then` lives.
    let o = mempool
        .check_txs(
            &chain.state,
            next(&chain),
            &[
                (first.encode(), CheckKind::Recheck),
                (then.encode(), CheckKind::Recheck),
            ],
        )
        .unwrap();
    assert_eq!((o[0].code, o[1].code), (Code::BadNonce, Code::Ok));
}

#[test]
fn a_transaction_whose_funds_the_committed_block_spent_is_not_proposed() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    chain.block(&[]);
    let mut mempool = Mempool::new(100);
    let small = signed(&alice, CHAIN_ID, 0, None, vec![pay(&key(2), 10)]);
    let later = signed(&alice, CHAIN_ID, 1, None, vec![pay(&key(2), 100_000)]);
    let o = check_new(&mut mempool, &chain, &[&small, &later]);
    assert!(o.iter().all(|o| o.code == Code::Ok), "{o:?}");
    // The committed block spends almost everything with nonce 0.
    let fee = small.body.fee.amount;
    let big = signed(
        &alice,
        CHAIN_ID,
        0,
        None,
        vec![pay(&key(3), 1_000_000 - fee - 1_000)],
    );
    commit(&mut mempool, &mut chain, &[&big]);
    assert!(mempool.is_empty());
    assert!(propose(&mut mempool, &chain, &[&small, &later]).is_empty());
}

#[test]
fn an_admitted_transaction_missing_from_the_candidates_leaves_out_what_depends_on_it() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let txs = transfers(&alice, 3);
    // Unknown to the mirror and unable to pay its fee.
    let broke = signed(&key(7), CHAIN_ID, 0, None, vec![pay(&key(2), 1)]);
    let o = check_new(&mut mempool, &chain, &[&txs[0], &txs[1], &txs[2]]);
    assert!(o.iter().all(|o| o.code == Code::Ok));
    // CometBFT has not taken nonce 1 yet: nonce 2 cannot run without it.
    assert_eq!(
        propose(&mut mempool, &chain, &[&txs[0], &txs[2], &broke]),
        vec![0]
    );
}

#[test]
fn a_proposal_stops_at_max_bytes_counting_the_framing() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let txs = transfers(&alice, 10);
    let o = check_new(&mut mempool, &chain, &txs.iter().collect::<Vec<_>>());
    assert!(o.iter().all(|o| o.code == Code::Ok));
    let raw: Vec<Vec<u8>> = txs.iter().map(|t| t.encode()).collect();
    let each = raw[0].len() + PROPOSAL_TX_OVERHEAD;
    assert!(raw.iter().all(|t| t.len() + PROPOSAL_TX_OVERHEAD == each));
    for (max, want) in [
        (0, 0),
        (each - 1, 0),
        (each, 1),
        (3 * each + 5, 3),
        (100 * each, 10),
    ] {
        let picked = mempool
            .proposal(&chain.state, next(&chain), &raw, max)
            .unwrap();
        assert_eq!(picked, (0..want).collect::<Vec<_>>(), "max_bytes {max}");
    }
}

#[test]
fn a_committed_block_that_fills_the_gap_promotes_the_held_transactions() {
    let alice = key(1);
    let mut chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let txs = transfers(&alice, 3);
    let o = check_new(&mut mempool, &chain, &[&txs[2], &txs[1]]);
    assert!(o.iter().all(|o| o.code == Code::Ok));
    assert_eq!(mempool.held_len(), 2);
    // Nonce 0 reached another validator, whose block commits it.
    commit(&mut mempool, &mut chain, &[&txs[0]]);
    assert_eq!((mempool.len(), mempool.held_len()), (2, 0));
    assert_eq!(
        propose(&mut mempool, &chain, &[&txs[2], &txs[1]]),
        vec![1, 0]
    );
    // A block that commits a held transaction's nonce from elsewhere drops it.
    let more = transfers(&alice, 6);
    let o = check_new(&mut mempool, &chain, &[&more[4]]);
    assert_eq!(o[0].code, Code::Ok);
    assert_eq!(mempool.held_len(), 1);
    let rival4 = signed(&alice, CHAIN_ID, 4, None, vec![pay(&key(3), 1)]);
    commit(
        &mut mempool,
        &mut chain,
        &[&txs[1], &txs[2], &more[3], &rival4],
    );
    assert_eq!((mempool.len(), mempool.held_len()), (0, 0));
}

#[test]
fn held_transactions_that_wait_too_long_are_forgotten() {
    let alice = key(1);
    let mut chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let txs = transfers(&alice, 2);
    check_new(&mut mempool, &chain, &[&txs[1]]);
    for _ in 0..=sidechain_app::mempool::ADMITTED_TX_BLOCKS {
        commit(&mut mempool, &mut chain, &[]);
    }
    assert_eq!(mempool.held_len(), 0);
    let o = check_new(&mut mempool, &chain, &[&txs[0]]);
    assert_eq!(o[0].code, Code::Ok);
    assert_eq!(mempool.len(), 1);
}

#[test]
fn after_a_reset_unknown_candidates_are_checked_on_the_spot() {
    let alice = key(1);
    let chain = funded_chain(&alice);
    let mut mempool = Mempool::new(100);
    let txs = transfers(&alice, 6);
    let o = check_new(&mut mempool, &chain, &[&txs[0], &txs[1], &txs[2]]);
    assert!(o.iter().all(|o| o.code == Code::Ok));
    mempool.reset();
    // CometBFT kept its list: nonces out of order, a forged one, one with a gap.
    let forged_tx = forged(txs[3].clone());
    let candidates = [&txs[2], &txs[1], &txs[0], &forged_tx, &txs[5]];
    assert_eq!(propose(&mut mempool, &chain, &candidates), vec![2, 1, 0]);
    // Their signatures are cached for FinalizeBlock.
    assert!(mempool.is_verified(&hash(&txs[1])));
    assert!(!mempool.is_verified(&hash(&forged_tx)));
    // Nothing before block 1 commits.
    let fresh = Chain::new(genesis(1, &[(addr(&alice), 1_000)]));
    let raw = vec![txs[0].encode()];
    assert!(mempool
        .proposal(&fresh.state, next(&fresh), &raw, usize::MAX)
        .unwrap()
        .is_empty());
}
