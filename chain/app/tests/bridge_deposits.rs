//! Deposits from L1: validators' claims, the >2/3 tally, minting strictly in nonce order,
//! misbehaviour, refunds owed for what cannot be minted, and the bounds on what claims may
//! make the chain keep.

mod harness;

use harness::*;
use proptest::prelude::*;
use sidechain_app::BlockOutput;
use sidechain_types::{
    bridge::{wrapped_denom, ETHER, MAX_PENDING_DEPOSITS_AHEAD},
    genesis::GenesisBridge,
    query::Route,
    state_key,
    tx::build_signed,
    Address, Code, DepositClaim, DepositRecord, DepositState, EthAddress, GenesisState, L1Amount,
    Misbehaviour, Msg, Refund, RefundState, ValidatorChange, WrappedToken,
};

const TOKEN: EthAddress = EthAddress([0x77; 20]);

fn with_bridge(mut g: GenesisState) -> GenesisState {
    g.bridge = GenesisBridge {
        l1_chain_id: 1337,
        contract: Some("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".into()),
        bridge_id: Some(format!("0x{}", "ab".repeat(32))),
        deploy_block: 1,
        confirmations: 2,
        ..GenesisBridge::default()
    };
    g
}

/// A bridged chain with validators of these powers (operators `operator_key(i)`).
fn bridged(powers: &[u64]) -> Chain {
    let mut g = genesis(powers.len() as u8, &[(addr(&key(1)), 1_000_000)]);
    for (v, p) in g.validators.iter_mut().zip(powers) {
        v.power = *p;
    }
    Chain::new(with_bridge(g))
}

fn recipient(i: u8) -> Address {
    addr(&key(50 + i))
}

fn claim(nonce: u64, amount: u128) -> DepositClaim {
    DepositClaim {
        nonce,
        token: ETHER,
        sender: EthAddress([0x22; 20]),
        recipient: recipient(0),
        amount: L1Amount::from_u128(amount),
        l1_block: 100 + nonce,
        l1_tx_hash: [nonce as u8; 32],
        log_index: 0,
    }
}

fn op(i: u8) -> Address {
    addr(&operator_key(i))
}

/// Validator `i`'s operator claims `claims`, at its next account nonce.
fn claim_tx(chain: &Chain, i: u8, claims: Vec<DepositClaim>) -> Vec<u8> {
    claim_tx_at(i, chain.account(&op(i)).nonce, claims)
}

fn claim_tx_at(i: u8, nonce: u64, claims: Vec<DepositClaim>) -> Vec<u8> {
    build_signed(
        &operator_key(i),
        CHAIN_ID,
        nonce,
        1,
        vec![Msg::claim_deposits(claims)],
    )
    .unwrap()
    .encode()
}

fn assert_all_ok(out: &BlockOutput) {
    for r in &out.tx_results {
        assert_eq!(r.code, Code::Ok, "{}", r.log);
    }
}

fn eth_balance(chain: &Chain, a: &Address) -> u128 {
    chain.account(a).balance(&wrapped_denom(&ETHER))
}

fn supply(chain: &Chain, token: &EthAddress) -> Option<u128> {
    chain.read(&state_key::bank::supply(&wrapped_denom(token)))
}

fn record(chain: &Chain, nonce: u64) -> Option<DepositRecord> {
    chain.read(&state_key::bridge::deposit(nonce))
}

fn last_applied(chain: &Chain) -> u64 {
    chain.read(state_key::bridge::LAST_APPLIED).unwrap()
}

/// The answer to a route as the node gives it: the single key, or the component's assembly.
fn query(chain: &Chain, route: Route) -> Vec<u8> {
    match route.state_key() {
        Some(k) => chain.state.get(&k).cloned().flatten().unwrap_or_default(),
        None => sidechain_app::query::assemble(&chain.state, &route)
            .unwrap()
            .unwrap(),
    }
}

fn events_of<'a>(out: &'a BlockOutput, kind: &str) -> Vec<&'a sidechain_types::Event> {
    out.tx_results
        .iter()
        .flat_map(|r| r.events.iter())
        .chain(out.events.iter())
        .filter(|e| e.kind == kind)
        .collect()
}

#[test]
fn exactly_two_thirds_mints_nothing_and_more_mints_once() {
    let mut chain = bridged(&[10, 10, 10]);
    let c = claim(1, 500);
    let out = chain.block(&[
        claim_tx(&chain, 0, vec![c.clone()]),
        claim_tx(&chain, 1, vec![c.clone()]),
    ]);
    assert_all_ok(&out);
    let claims = events_of(&out, "deposit_claim");
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[1].get("power"), Some("20"));
    assert_eq!(claims[1].get("total_power"), Some("30"));
    assert_eq!(claims[1].get("nonce"), Some("1"));
    assert!(
        events_of(&out, "deposit_applied").is_empty(),
        "20 of 30 is exactly 2/3"
    );
    assert_eq!(eth_balance(&chain, &recipient(0)), 0);
    assert_eq!(last_applied(&chain), 0);
    let pending = record(&chain, 1).unwrap();
    assert_eq!(pending.state, DepositState::Pending);
    assert_eq!(pending.tallies.len(), 1);
    let mut voters = vec![op(0), op(1)];
    voters.sort();
    assert_eq!(pending.tallies[0].validators, voters);
    assert_eq!(pending.tallies[0].content_hash, c.content_hash());

    let out = chain.block(&[claim_tx(&chain, 2, vec![c.clone()])]);
    assert_all_ok(&out);
    let applied = events_of(&out, "deposit_applied");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].get("nonce"), Some("1"));
    assert_eq!(applied[0].get("denom"), Some("l1/eth"));
    assert_eq!(applied[0].get("amount"), Some("500"));
    assert_eq!(
        applied[0].get("height"),
        Some(chain.height.to_string().as_str())
    );
    assert_eq!(
        applied[0].get("l1_tx_hash"),
        Some(format!("0x{}", "01".repeat(32)).as_str())
    );
    assert_eq!(eth_balance(&chain, &recipient(0)), 500);
    assert_eq!(supply(&chain, &ETHER), Some(500));
    let done = record(&chain, 1).unwrap();
    assert_eq!(
        done.state,
        DepositState::Minted {
            height: chain.height
        }
    );
    assert_eq!(done.claim, Some(c.clone()));
    assert!(done.tallies.is_empty());
    assert_eq!(last_applied(&chain), 1);
    // The token is registered once, by key and in the index.
    let token: WrappedToken = borsh::from_slice(&query(&chain, Route::BridgeToken(ETHER))).unwrap();
    assert_eq!(
        token,
        WrappedToken {
            denom: wrapped_denom(&ETHER),
            token: ETHER,
            first_deposit_nonce: 1
        }
    );
    let tokens: Vec<WrappedToken> = borsh::from_slice(&query(&chain, Route::BridgeTokens)).unwrap();
    assert_eq!(tokens, vec![token]);
    let denom_owner: EthAddress = chain
        .read(&state_key::bridge::denom(&wrapped_denom(&ETHER)))
        .unwrap();
    assert_eq!(denom_owner, ETHER);
    // Later blocks mint nothing more.
    let out = chain.block(&[]);
    assert!(events_of(&out, "deposit_applied").is_empty());
    assert_eq!(eth_balance(&chain, &recipient(0)), 500);
    let r: DepositRecord = borsh::from_slice(&query(&chain, Route::BridgeDeposit(1))).unwrap();
    assert_eq!(r, done);
    let n: u64 = borsh::from_slice(&query(&chain, Route::BridgeLastApplied)).unwrap();
    assert_eq!(n, 1);
    assert!(query(&chain, Route::BridgeDeposit(2)).is_empty());
}

#[test]
fn a_later_nonce_waits_for_the_earlier_and_both_apply_in_order_in_one_block() {
    let mut chain = bridged(&[10, 10, 10, 10]);
    let mut c2 = claim(2, 7);
    c2.token = TOKEN;
    c2.recipient = recipient(2);
    let txs: Vec<_> = (0..3)
        .map(|i| claim_tx(&chain, i, vec![c2.clone()]))
        .collect();
    let out = chain.block(&txs);
    assert_all_ok(&out);
    assert!(
        events_of(&out, "deposit_applied").is_empty(),
        "nonce 2 waits for nonce 1"
    );
    assert_eq!(last_applied(&chain), 0);
    assert_eq!(
        chain.account(&recipient(2)).balance(&wrapped_denom(&TOKEN)),
        0
    );
    for i in 0..3 {
        let n: u64 = borsh::from_slice(&query(&chain, Route::BridgeLastClaimed(op(i)))).unwrap();
        assert_eq!(n, 2);
    }
    assert!(query(&chain, Route::BridgeLastClaimed(op(3))).is_empty());

    // Nonce 1 arrives (validator 3 also catches up on 2, in one message).
    let c1 = claim(1, 3);
    let txs = vec![
        claim_tx(&chain, 0, vec![c1.clone()]),
        claim_tx(&chain, 1, vec![c1.clone()]),
        claim_tx(&chain, 3, vec![c1.clone(), c2.clone()]),
    ];
    let out = chain.block(&txs);
    assert_all_ok(&out);
    let applied: Vec<_> = events_of(&out, "deposit_applied")
        .iter()
        .map(|e| e.get("nonce").unwrap().to_string())
        .collect();
    assert_eq!(applied, ["1", "2"]);
    assert_eq!(last_applied(&chain), 2);
    assert_eq!(eth_balance(&chain, &recipient(0)), 3);
    assert_eq!(
        chain.account(&recipient(2)).balance(&wrapped_denom(&TOKEN)),
        7
    );
    assert_eq!(supply(&chain, &TOKEN), Some(7));
    let tokens: Vec<WrappedToken> = borsh::from_slice(&query(&chain, Route::BridgeTokens)).unwrap();
    assert_eq!(
        tokens
            .iter()
            .map(|t| (t.token, t.first_deposit_nonce))
            .collect::<Vec<_>>(),
        [(ETHER, 1), (TOKEN, 2)]
    );
    assert_eq!(
        tokens[1].denom.as_str(),
        format!("l1/0x{}", "77".repeat(20))
    );
}

#[test]
fn conflicting_claims_are_recorded_and_only_the_first_counts() {
    let mut chain = bridged(&[10, 10, 10, 10]);
    let good = claim(1, 100);
    let mut bad = good.clone();
    bad.amount = L1Amount::from_u128(1_000_000);
    // Validator 0 claims the bad content first, then the good one; 1 and 2 claim the good.
    let out = chain.block(&[claim_tx(&chain, 0, vec![bad.clone()])]);
    assert_all_ok(&out);
    let out = chain.block(&[
        claim_tx(&chain, 0, vec![good.clone()]),
        claim_tx(&chain, 1, vec![good.clone()]),
        claim_tx(&chain, 2, vec![good.clone()]),
    ]);
    assert_all_ok(&out);
    let m = events_of(&out, "bridge_misbehaviour");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].get("validator"), Some(op(0).to_string().as_str()));
    assert_eq!(m[0].get("nonce"), Some("1"));
    // 20 of 40 for the good content (validator 0's second claim does not count).
    assert!(events_of(&out, "deposit_applied").is_empty());
    let recorded: Vec<Misbehaviour> =
        borsh::from_slice(&query(&chain, Route::BridgeMisbehaviour)).unwrap();
    assert_eq!(
        recorded,
        vec![Misbehaviour {
            validator: op(0),
            nonce: 1,
            first: bad.content_hash(),
            conflicting: good.content_hash(),
            height: 2
        }]
    );
    let r = record(&chain, 1).unwrap();
    assert_eq!(r.tallies.len(), 2);
    // The same conflict again is recorded once; the same claim again is a no-op.
    let out = chain.block(&[
        claim_tx(&chain, 0, vec![good.clone()]),
        claim_tx(&chain, 1, vec![good.clone()]),
    ]);
    assert_all_ok(&out);
    assert!(events_of(&out, "bridge_misbehaviour").is_empty());
    assert!(events_of(&out, "deposit_claim").is_empty());
    assert_eq!(record(&chain, 1).unwrap(), r);
    // Validator 3 tips the good content over 2/3.
    let out = chain.block(&[claim_tx(&chain, 3, vec![good.clone()])]);
    assert_eq!(events_of(&out, "deposit_applied").len(), 1);
    assert_eq!(eth_balance(&chain, &recipient(0)), 100);
    assert_eq!(record(&chain, 1).unwrap().claim, Some(good));
    assert_eq!(
        chain.read::<u64>(&state_key::bridge::misbehaved(1, &op(0))),
        None,
        "the mark is dropped once applied"
    );
    let still: Vec<Misbehaviour> =
        borsh::from_slice(&query(&chain, Route::BridgeMisbehaviour)).unwrap();
    assert_eq!(still.len(), 1, "the record stays");
}

#[test]
fn claims_from_a_non_validator_are_refused_and_change_nothing_but_the_fee() {
    let mut chain = bridged(&[10, 10, 10]);
    let outsider = key(1);
    let tx = build_signed(
        &outsider,
        CHAIN_ID,
        0,
        1,
        vec![Msg::claim_deposits(vec![claim(1, 5)])],
    )
    .unwrap();
    let check = chain.check(&tx.encode());
    assert_eq!(check.code, Code::NotValidator);
    assert!(
        check.log.contains(&addr(&outsider).to_string()),
        "{}",
        check.log
    );
    assert!(check.log.contains("operator"), "{}", check.log);
    let out = chain.block(&[tx.encode()]);
    assert_eq!(out.tx_results[0].code, Code::NotValidator);
    assert!(
        out.writes.keys().all(|k| !k.starts_with(b"bridge/")),
        "{:?}",
        out.writes.keys()
    );
    assert_eq!(record(&chain, 1), None);
}

#[test]
fn a_chain_without_a_bridge_refuses_claims() {
    let mut chain = Chain::new(genesis(1, &[]));
    let out = chain.block(&[claim_tx(&chain, 0, vec![claim(1, 5)])]);
    assert_eq!(out.tx_results[0].code, Code::BridgeNotConfigured);
    assert!(out.writes.keys().all(|k| !k.starts_with(b"bridge/")));
}

#[test]
fn malformed_claim_lists_are_refused_with_invalid_claim() {
    let mut chain = bridged(&[10]);
    for claims in [
        vec![],
        vec![claim(2, 1), claim(1, 1)],
        vec![claim(0, 1)],
        vec![claim(1, 0)],
    ] {
        assert_eq!(
            chain.check(&claim_tx(&chain, 0, claims)).code,
            Code::InvalidClaim
        );
    }
    let mut nobody = claim(1, 1);
    nobody.recipient = Address([0; 20]);
    assert_eq!(
        chain.check(&claim_tx(&chain, 0, vec![nobody])).code,
        Code::InvalidClaim
    );
}

fn remove(i: u8) -> ValidatorChange {
    ValidatorChange {
        name: format!("val{i}"),
        consensus_key: validator_key(i).verification_key().to_bytes(),
        power: 0,
        operator: op(i),
        eth_address: EthAddress([i + 1; 20]),
    }
}

#[test]
fn a_validator_removed_mid_tally_no_longer_counts() {
    let mut chain = bridged(&[10, 10, 10, 10]);
    let c = claim(1, 9);
    let out = chain.block(&[
        claim_tx(&chain, 0, vec![c.clone()]),
        claim_tx(&chain, 3, vec![c.clone()]),
    ]);
    assert_all_ok(&out);
    // Validators 0, 1, 2 remove validator 3 (30 of 40 approve).
    let out = chain.block(&[
        build_signed(
            &operator_key(0),
            CHAIN_ID,
            chain.account(&op(0)).nonce,
            1,
            vec![Msg::propose_validator_change(remove(3))],
        )
        .unwrap()
        .encode(),
        build_signed(
            &operator_key(1),
            CHAIN_ID,
            chain.account(&op(1)).nonce,
            1,
            vec![Msg::vote_validator_change(0)],
        )
        .unwrap()
        .encode(),
        build_signed(
            &operator_key(2),
            CHAIN_ID,
            chain.account(&op(2)).nonce,
            1,
            vec![Msg::vote_validator_change(0)],
        )
        .unwrap()
        .encode(),
    ]);
    assert_all_ok(&out);
    assert_eq!(out.validator_updates.len(), 1);
    // With validator 3 still counted, 1's claim would make 30 of 40; without it 20 of 30.
    let out = chain.block(&[claim_tx(&chain, 1, vec![c.clone()])]);
    assert_all_ok(&out);
    assert_eq!(events_of(&out, "deposit_claim")[0].get("power"), Some("20"));
    assert!(
        events_of(&out, "deposit_applied").is_empty(),
        "exactly 2/3 of the current set"
    );
    assert_eq!(eth_balance(&chain, &recipient(0)), 0);
    // The removed validator's claims are refused now.
    let out = chain.block(&[claim_tx(&chain, 3, vec![claim(2, 1)])]);
    assert_eq!(out.tx_results[0].code, Code::NotValidator);
    let out = chain.block(&[claim_tx(&chain, 2, vec![c.clone()])]);
    assert_eq!(events_of(&out, "deposit_applied").len(), 1);
    assert_eq!(eth_balance(&chain, &recipient(0)), 9);
}

#[test]
fn unmintable_deposits_become_refunds_owed_and_nothing_halts() {
    let mut chain = bridged(&[10]);
    // 2^128: beyond any balance.
    let mut huge = claim(1, 0);
    huge.amount = "340282366920938463463374607431768211456".parse().unwrap();
    // u128::MAX fits; one more unit of the same token overflows the supply.
    let max = claim(2, u128::MAX);
    let mut one = claim(3, 1);
    one.recipient = recipient(3);
    let after = DepositClaim {
        token: TOKEN,
        recipient: recipient(4),
        ..claim(4, 5)
    };
    let out = chain.block(&[claim_tx(
        &chain,
        0,
        vec![huge.clone(), max.clone(), one.clone(), after.clone()],
    )]);
    assert_all_ok(&out);
    let owed = events_of(&out, "deposit_refund_owed");
    assert_eq!(
        owed.iter()
            .map(|e| e.get("nonce").unwrap())
            .collect::<Vec<_>>(),
        ["1", "3"]
    );
    assert_eq!(
        owed[0].get("amount"),
        Some("340282366920938463463374607431768211456")
    );
    assert_eq!(owed[0].get("refund"), Some("0"));
    assert_eq!(owed[1].get("refund"), Some("1"));
    assert_eq!(
        events_of(&out, "deposit_applied")
            .iter()
            .map(|e| e.get("nonce").unwrap())
            .collect::<Vec<_>>(),
        ["2", "4"]
    );
    assert_eq!(last_applied(&chain), 4);
    assert_eq!(supply(&chain, &ETHER), Some(u128::MAX));
    assert_eq!(eth_balance(&chain, &recipient(0)), u128::MAX);
    assert_eq!(eth_balance(&chain, &recipient(3)), 0);
    assert_eq!(
        chain.account(&recipient(4)).balance(&wrapped_denom(&TOKEN)),
        5
    );
    let r1 = record(&chain, 1).unwrap();
    assert!(
        matches!(&r1.state, DepositState::RefundOwed { reason, .. } if reason.contains("128 bits")),
        "{r1:?}"
    );
    assert_eq!(r1.state.name(), "refund_owed");
    assert!(
        matches!(&record(&chain, 3).unwrap().state, DepositState::RefundOwed { reason, .. } if reason.contains("supply"))
    );
    let refund: Refund = chain.read(&state_key::bridge::refund(1)).unwrap();
    assert_eq!(
        refund,
        Refund {
            id: 1,
            nonce: 3,
            token: ETHER,
            to: one.sender,
            amount: one.amount,
            height: chain.height,
            reason: refund.reason.clone(),
            state: refund.state.clone(),
        }
    );
    // Refunds owed go out in the next batch of their token, ahead of any withdrawal.
    assert!(
        matches!(refund.state, RefundState::InBatch { .. }),
        "{:?}",
        refund.state
    );
    assert_eq!(chain.read::<u64>(state_key::bridge::REFUNDS_TAIL), Some(2));
    // The chain goes on.
    let out = chain.block(&[claim_tx(&chain, 0, vec![claim(5, 1)])]);
    assert_eq!(
        events_of(&out, "deposit_refund_owed").len(),
        1,
        "nonce 5 overflows ether's supply too"
    );
}

#[test]
fn claims_for_applied_nonces_change_nothing_but_the_fee_and_far_ahead_claims_are_refused() {
    let mut chain = bridged(&[10, 10, 10, 10]);
    let c = claim(1, 40);
    let txs: Vec<_> = (0..3)
        .map(|i| claim_tx(&chain, i, vec![c.clone()]))
        .collect();
    assert_all_ok(&chain.block(&txs));
    assert_eq!(last_applied(&chain), 1);
    // Late, and even conflicting, claims of an applied nonce.
    let mut other = c.clone();
    other.amount = L1Amount::from_u128(41);
    for claims in [vec![c.clone()], vec![other]] {
        let before = chain.account(&op(3));
        let out = chain.block(&[claim_tx(&chain, 3, claims)]);
        assert_all_ok(&out);
        let touched: Vec<_> = out
            .writes
            .keys()
            .filter(|k| k.as_slice() != state_key::app::LAST_HEIGHT)
            .cloned()
            .collect();
        assert_eq!(
            touched,
            vec![
                state_key::bank::account(&op(3)),
                state_key::bank::account(&Address::module("fee_pool"))
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        assert_eq!(chain.account(&op(3)).nonce, before.nonce + 1);
    }
    assert_eq!(eth_balance(&chain, &recipient(0)), 40);
    // The window: last applied (1) + MAX_PENDING_DEPOSITS_AHEAD is the highest claimable.
    let edge = 1 + MAX_PENDING_DEPOSITS_AHEAD;
    let out = chain.block(&[claim_tx(&chain, 0, vec![claim(edge, 1)])]);
    assert_all_ok(&out);
    let out = chain.block(&[claim_tx(&chain, 0, vec![claim(2, 1), claim(edge + 1, 1)])]);
    assert_eq!(out.tx_results[0].code, Code::ClaimTooFarAhead);
    assert!(
        out.tx_results[0].log.contains(&format!("up to {edge}")),
        "{}",
        out.tx_results[0].log
    );
    assert_eq!(record(&chain, 2), None, "the whole message is refused");
    assert_eq!(record(&chain, edge + 1), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Four honest validators claim deposits 1..=K in any order, with repeats, split over
    /// blocks arbitrarily: each deposit applies exactly once, in nonce order, and the total
    /// minted equals the sum of the amounts.
    #[test]
    fn any_interleaving_of_honest_claims_applies_each_deposit_once_in_order(
        amounts in prop::collection::vec(1u128..1_000_000_000_000, 1..8),
        order in prop::collection::vec((0u8..4, 0usize..8, any::<bool>()), 0..40),
    ) {
        let k = amounts.len() as u64;
        let deposits: Vec<DepositClaim> = amounts.iter().enumerate().map(|(i, a)| {
            let mut c = claim(i as u64 + 1, *a);
            c.token = if i % 2 == 0 { ETHER } else { TOKEN };
            c.recipient = recipient(i as u8 % 3);
            c
        }).collect();
        // The shuffled claims, then every validator's full set, so every deposit is claimed.
        let mut submissions: Vec<(u8, u64, bool)> = order.iter().map(|(v, n, cut)| (*v, (*n as u64 % k) + 1, *cut)).collect();
        for v in 0..4u8 {
            for n in 1..=k {
                submissions.push((v, n, n == k && v == 3));
            }
        }
        let mut chain = bridged(&[10, 10, 10, 10]);
        let mut nonces: Vec<u64> = (0..4).map(|i| chain.account(&op(i)).nonce).collect();
        let mut applied = Vec::new();
        let mut block = Vec::new();
        let run = |chain: &mut Chain, block: &mut Vec<Vec<u8>>, applied: &mut Vec<u64>| {
            let out = chain.block(block);
            block.clear();
            for r in &out.tx_results {
                prop_assert_eq!(r.code, Code::Ok, "{}", &r.log);
            }
            for e in events_of(&out, "deposit_applied") {
                applied.push(e.get("nonce").unwrap().parse::<u64>().unwrap());
            }
            Ok(())
        };
        for (v, n, cut) in submissions {
            let i = usize::from(v);
            block.push(claim_tx_at(v, nonces[i], vec![deposits[(n - 1) as usize].clone()]));
            nonces[i] += 1;
            if cut {
                run(&mut chain, &mut block, &mut applied)?;
            }
        }
        run(&mut chain, &mut block, &mut applied)?;
        prop_assert_eq!(applied, (1..=k).collect::<Vec<_>>());
        prop_assert_eq!(last_applied(&chain), k);
        let mut minted = 0u128;
        for token in [ETHER, TOKEN] {
            minted += supply(&chain, &token).unwrap_or(0);
        }
        prop_assert_eq!(minted, amounts.iter().sum::<u128>());
        let held: u128 = (0..3).map(|i| {
            let a = chain.account(&recipient(i));
            a.balance(&wrapped_denom(&ETHER)) + a.balance(&wrapped_denom(&TOKEN))
        }).sum();
        prop_assert_eq!(held, minted);
        for n in 1..=k {
            let r = record(&chain, n).unwrap();
            prop_assert_eq!(r.state.name(), "minted");
            prop_assert_eq!(r.claim.as_ref(), Some(&deposits[(n - 1) as usize]));
        }
        prop_assert!(record(&chain, k + 1).is_none());
    }
}
