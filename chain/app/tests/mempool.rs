//! The mempool mirror without RocksDB: admission over a running overlay, the signature cache,
//! replay after a commit, and the per-block accumulators a failed message rolls back.

mod harness;

use ed25519_consensus::SigningKey;
use harness::*;
use sidechain_app::{BlockInfo, CheckKind, Mempool};
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
            "bad nonce",
            signed(&alice, CHAIN_ID, 9, None, vec![pay(&key(2), 1)]),
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
