//! Behaviour of the state machine without CometBFT: transfers, fees, nonces, overflow, funds,
//! validator-set proposals, and the mempool's view of pending transactions.

mod harness;

use base64::Engine as _;
use harness::*;
use sidechain_app::{BlockOutput, Writes};
use sidechain_types::{
    state::Proposal, state_key, tx::build_signed, Address, Code, Denom, Fee, Msg, TxBody,
    ValidatorChange, ValidatorInfo,
};

fn fee_of(tx: &sidechain_types::SignedTx) -> u128 {
    tx.body.fee.amount
}

#[test]
fn transfer_moves_funds_and_charges_the_fee_to_the_pool() {
    let alice = key(1);
    let bob = addr(&key(2));
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let before = total_supply(&chain.state);
    let tx = transfer_tx(&alice, 0, bob, 400);
    let out = chain.block(&[tx.encode()]);
    assert_eq!(
        out.tx_results[0].code,
        Code::Ok,
        "{}",
        out.tx_results[0].log
    );
    assert_eq!(chain.balance(&bob), 400);
    assert_eq!(chain.balance(&addr(&alice)), 1_000_000 - 400 - fee_of(&tx));
    assert_eq!(chain.balance(&Address::module("fee_pool")), fee_of(&tx));
    assert_eq!(chain.account(&addr(&alice)).nonce, 1);
    assert_eq!(
        total_supply(&chain.state),
        before,
        "transfers and fees conserve supply"
    );
    let kinds: Vec<_> = out.tx_results[0]
        .events
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["tx", "transfer"]);
    let tx_event = &out.tx_results[0].events[0];
    assert_eq!(
        tx_event.get("signer"),
        Some(addr(&alice).to_string().as_str())
    );
    assert_eq!(
        tx_event.get("fee"),
        Some(format!("{}side", fee_of(&tx)).as_str())
    );
    let transfer = &out.tx_results[0].events[1];
    assert_eq!(transfer.get("to"), Some(bob.to_string().as_str()));
    assert_eq!(transfer.get("amount"), Some("400side"));
    assert_eq!(transfer.get("from"), None, "the sender is tx.signer");
}

#[test]
fn fee_below_minimum_gas_price_is_rejected_without_state_change() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let good = transfer_tx(&alice, 0, addr(&key(2)), 1);
    let body = TxBody {
        fee: Fee {
            amount: good.body.fee.gas_limit as u128 - 1,
            ..good.body.fee
        },
        ..good.body.clone()
    };
    let cheap = body.sign(&alice);
    let state_before = chain.state.clone();
    let out = chain.block(&[cheap.encode()]);
    assert_eq!(out.tx_results[0].code, Code::FeeTooLow);
    assert!(
        out.tx_results[0].log.contains("minimum gas price"),
        "{}",
        out.tx_results[0].log
    );
    let changed: Vec<_> = out
        .writes
        .keys()
        .filter(|k| k.as_slice() != state_key::app::LAST_HEIGHT)
        .collect();
    assert!(changed.is_empty(), "a rejected tx wrote {changed:?}");
    assert_eq!(chain.account(&addr(&alice)), {
        let s: Writes = state_before;
        borsh::from_slice(&s[&state_key::bank::account(&addr(&alice))].clone().unwrap()).unwrap()
    });
}

#[test]
fn gas_limit_below_requirement_is_rejected() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let good = transfer_tx(&alice, 0, addr(&key(2)), 1);
    let body = TxBody {
        fee: Fee {
            amount: 1_000_000,
            gas_limit: 10,
        },
        ..good.body
    };
    let out = chain.check(&body.sign(&alice).encode());
    assert_eq!(out.code, Code::GasLimitTooLow);
}

#[test]
fn replayed_nonce_is_rejected_in_the_same_and_a_later_block() {
    let alice = key(1);
    let bob = addr(&key(2));
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let tx = transfer_tx(&alice, 0, bob, 10).encode();
    let out = chain.block(&[tx.clone(), tx.clone()]);
    assert_eq!(out.tx_results[0].code, Code::Ok);
    assert_eq!(out.tx_results[1].code, Code::BadNonce);
    assert!(
        out.tx_results[1].log.contains("expects nonce 1"),
        "{}",
        out.tx_results[1].log
    );
    let out = chain.block(&[tx]);
    assert_eq!(out.tx_results[0].code, Code::BadNonce);
    assert_eq!(chain.balance(&bob), 10, "applied exactly once");
    let skipped = transfer_tx(&alice, 5, bob, 10);
    assert_eq!(chain.check(&skipped.encode()).code, Code::BadNonce);
}

#[test]
fn insufficient_funds_for_amount_or_fee_changes_nothing_but_fee_and_nonce() {
    let alice = key(1);
    let bob = addr(&key(2));
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 100_000)]));
    // Cannot pay the amount: fee is taken, nonce rises, transfer does not happen.
    let tx = transfer_tx(&alice, 0, bob, 1_000_000);
    let out = chain.block(&[tx.encode()]);
    assert_eq!(out.tx_results[0].code, Code::InsufficientFunds);
    // The message names the balance the account held, and the fee apart.
    let log = &out.tx_results[0].log;
    assert!(log.contains("holds 100000 side"), "{log}");
    assert!(
        log.contains(&format!("fee of {} side", fee_of(&tx))),
        "{log}"
    );
    assert_eq!(chain.balance(&bob), 0);
    assert_eq!(chain.balance(&addr(&alice)), 100_000 - fee_of(&tx));
    assert_eq!(chain.account(&addr(&alice)).nonce, 1);
    // The mempool admits nothing that would fail.
    assert_eq!(
        chain
            .check(&transfer_tx(&alice, 1, bob, 1_000_000).encode())
            .code,
        Code::InsufficientFunds
    );
    // Cannot pay the fee at all: nothing changes.
    let poor = key(9);
    let mut chain = Chain::new(genesis(1, &[(addr(&poor), 10)]));
    let out = chain.block(&[transfer_tx(&poor, 0, bob, 1).encode()]);
    assert_eq!(out.tx_results[0].code, Code::InsufficientFunds);
    assert!(out.tx_results[0].log.contains("cannot pay the fee"));
    assert_eq!(chain.account(&addr(&poor)).nonce, 0);
    assert_eq!(chain.balance(&addr(&poor)), 10);
}

#[test]
fn overflowing_recipient_balance_or_fee_is_rejected() {
    let alice = key(1);
    let whale = addr(&key(2));
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    // Give the whale a full balance directly, then try to add to it.
    let mut whale_acct = chain.account(&whale);
    whale_acct.balances.insert(side(), u128::MAX);
    chain.state.insert(
        state_key::bank::account(&whale),
        Some(borsh::to_vec(&whale_acct).unwrap()),
    );
    let tx = transfer_tx(&alice, 0, whale, 5);
    let out = chain.check(&tx.encode());
    assert_eq!(out.code, Code::AmountOverflow, "{}", out.log);
    let out = chain.block(&[tx.encode()]);
    assert_eq!(out.tx_results[0].code, Code::AmountOverflow);
    assert_eq!(chain.balance(&whale), u128::MAX, "nothing was added");
    assert_eq!(
        chain.check(&transfer_tx(&alice, 1, whale, 0).encode()).code,
        Code::InvalidMessage,
        "zero amounts are refused"
    );
    // A fee whose gas limit x minimum price overflows.
    let mut g = genesis(1, &[(addr(&alice), 1_000_000)]);
    g.params.min_gas_price = u128::MAX / 2;
    let mut chain = Chain::new(g);
    let body = TxBody {
        fee: Fee {
            amount: u128::MAX,
            gas_limit: u64::MAX,
        },
        ..tx.body.clone()
    };
    assert_eq!(
        chain.check(&body.sign(&alice).encode()).code,
        Code::AmountOverflow
    );
}

#[test]
fn unknown_denom_wrong_chain_and_bad_signature_are_rejected() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let msg = Msg::transfer(addr(&key(2)), Denom::new("nosuch").unwrap(), 1);
    let tx = build_signed(&alice, CHAIN_ID, 0, 1, vec![msg]).unwrap();
    let out = chain.check(&tx.encode());
    assert_eq!(out.code, Code::UnknownDenom, "{}", out.log);

    let tx = build_signed(&alice, "other-chain", 0, 1, vec![]).unwrap();
    assert_eq!(chain.check(&tx.encode()).code, Code::WrongChainId);

    let mut tx = transfer_tx(&alice, 0, addr(&key(2)), 1);
    tx.signature[0] ^= 1;
    assert_eq!(chain.check(&tx.encode()).code, Code::BadSignature);
    let out = chain.block(&[tx.encode()]);
    assert_eq!(out.tx_results[0].code, Code::BadSignature);

    assert_eq!(chain.check(b"\x01\x02garbage").code, Code::Decode);
    assert_eq!(chain.check(&vec![0u8; 70_000]).code, Code::TxTooLarge);
    assert!(
        chain.mempool.is_empty(),
        "rejections leave the mempool overlay untouched"
    );
}

#[test]
fn empty_and_oversized_message_lists_are_invalid() {
    let alice = key(1);
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), u128::from(u64::MAX))]));
    let tx = build_signed(&alice, CHAIN_ID, 0, 1, vec![]).unwrap();
    assert_eq!(chain.check(&tx.encode()).code, Code::InvalidMessage);
    let msgs = vec![Msg::transfer(addr(&key(2)), side(), 1); 65];
    let tx = build_signed(&alice, CHAIN_ID, 0, 1, msgs).unwrap();
    assert_eq!(chain.check(&tx.encode()).code, Code::InvalidMessage);
}

#[test]
fn a_failing_message_rolls_back_earlier_messages_of_the_same_tx() {
    let alice = key(1);
    let bob = addr(&key(2));
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let msgs = vec![
        Msg::transfer(bob, side(), 100),
        Msg::transfer(bob, side(), 10_000_000),
    ];
    let tx = build_signed(&alice, CHAIN_ID, 0, 1, msgs).unwrap();
    let out = chain.block(&[tx.encode()]);
    assert_eq!(out.tx_results[0].code, Code::InsufficientFunds);
    assert!(out.tx_results[0].log.starts_with("message 1"));
    assert_eq!(chain.balance(&bob), 0, "message 0 was rolled back");
}

#[test]
fn mempool_admits_consecutive_nonces_and_tracks_spent_balance() {
    let alice = key(1);
    let bob = addr(&key(2));
    let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
    let txs: Vec<_> = (0..5)
        .map(|n| transfer_tx(&alice, n, bob, 100_000))
        .collect();
    for tx in &txs {
        let out = chain.check(&tx.encode());
        assert_eq!(out.code, Code::Ok, "nonce {}: {}", tx.body.nonce, out.log);
    }
    // The sixth would overdraw once the five pending ones are counted.
    let sixth = transfer_tx(&alice, 5, bob, 500_000);
    assert_eq!(chain.check(&sixth.encode()).code, Code::InsufficientFunds);
    // Same nonce twice in the mempool.
    assert_eq!(chain.check(&txs[4].encode()).code, Code::BadNonce);
    let out = chain.block(&txs.iter().map(|t| t.encode()).collect::<Vec<_>>());
    assert!(out.tx_results.iter().all(|r| r.code == Code::Ok));
    assert_eq!(chain.balance(&bob), 500_000);
    // After the commit the overlay is reset and the next nonce is 5.
    assert_eq!(
        chain.check(&transfer_tx(&alice, 5, bob, 1).encode()).code,
        Code::Ok
    );
}

fn change(i: u8, power: u64) -> ValidatorChange {
    ValidatorChange {
        name: format!("val{i}"),
        consensus_key: validator_key(i).verification_key().to_bytes(),
        power,
        operator: addr(&operator_key(i)),
        eth_address: sidechain_types::EthAddress([i + 1; 20]),
    }
}

fn op_tx(chain: &Chain, i: u8, msg: Msg) -> Vec<u8> {
    let a = addr(&operator_key(i));
    build_signed(
        &operator_key(i),
        CHAIN_ID,
        chain.account(&a).nonce,
        1,
        vec![msg],
    )
    .unwrap()
    .encode()
}

#[test]
fn validator_joins_only_after_more_than_two_thirds_approve() {
    let mut chain = Chain::new(genesis(4, &[]));
    let out = chain.block(&[op_tx(
        &chain,
        0,
        Msg::propose_validator_change(change(4, 10)),
    )]);
    assert_eq!(
        out.tx_results[0].code,
        Code::Ok,
        "{}",
        out.tx_results[0].log
    );
    assert!(out.validator_updates.is_empty(), "1 of 4 is not enough");
    let out = chain.block(&[op_tx(&chain, 1, Msg::vote_validator_change(0))]);
    assert!(
        out.validator_updates.is_empty(),
        "2 of 4 (exactly 1/2) is not enough"
    );
    let again = chain.block(&[op_tx(&chain, 1, Msg::vote_validator_change(0))]);
    assert_eq!(
        again.tx_results[0].code,
        Code::InvalidProposal,
        "double vote"
    );
    let out = chain.block(&[op_tx(&chain, 2, Msg::vote_validator_change(0))]);
    assert_eq!(out.tx_results[0].code, Code::Ok);
    assert_eq!(
        out.validator_updates,
        vec![(validator_key(4).verification_key().to_bytes(), 10)]
    );
    let vals: Vec<ValidatorInfo> = chain.read(state_key::validators::SET).unwrap();
    assert_eq!(vals.len(), 5);
    let open: Vec<Proposal> =
        sidechain_app::validators::state::open_proposals(&chain.state).unwrap();
    assert!(open.is_empty());
    assert!(out.tx_results[0]
        .events
        .iter()
        .any(|e| e.kind == "validator_update"));
}

#[test]
fn removal_and_reweighting_follow_the_same_rule_and_outsiders_are_refused() {
    let mut chain = Chain::new(genesis(4, &[(addr(&key(1)), 1_000_000)]));
    let outsider = build_signed(
        &key(1),
        CHAIN_ID,
        0,
        1,
        vec![Msg::propose_validator_change(change(3, 0))],
    )
    .unwrap()
    .encode();
    assert_eq!(
        chain.block(&[outsider]).tx_results[0].code,
        Code::Unauthorized
    );
    chain.block(&[op_tx(
        &chain,
        0,
        Msg::propose_validator_change(change(3, 0)),
    )]);
    chain.block(&[op_tx(&chain, 1, Msg::vote_validator_change(0))]);
    let out = chain.block(&[op_tx(&chain, 2, Msg::vote_validator_change(0))]);
    assert_eq!(
        out.validator_updates,
        vec![(validator_key(3).verification_key().to_bytes(), 0)]
    );
    let vals: Vec<ValidatorInfo> = chain.read(state_key::validators::SET).unwrap();
    assert_eq!(vals.len(), 3);
    // The removed validator's operator has lost its voice.
    let out = chain.block(&[op_tx(
        &chain,
        3,
        Msg::propose_validator_change(change(0, 50)),
    )]);
    assert_eq!(out.tx_results[0].code, Code::Unauthorized);
    // Re-weighting with 3 validators needs all 3 (2 of 3 is exactly 2/3).
    chain.block(&[op_tx(
        &chain,
        0,
        Msg::propose_validator_change(change(0, 15)),
    )]);
    let out = chain.block(&[op_tx(&chain, 1, Msg::vote_validator_change(1))]);
    assert!(out.validator_updates.is_empty());
    let out = chain.block(&[op_tx(&chain, 2, Msg::vote_validator_change(1))]);
    assert_eq!(
        out.validator_updates,
        vec![(validator_key(0).verification_key().to_bytes(), 15)]
    );
}

#[test]
fn unapproved_proposals_expire() {
    let mut g = genesis(4, &[]);
    g.params.proposal_ttl_blocks = 2;
    let mut chain = Chain::new(g);
    chain.block(&[op_tx(
        &chain,
        0,
        Msg::propose_validator_change(change(4, 10)),
    )]);
    chain.block(&[]);
    chain.block(&[]);
    let out = chain.block(&[]);
    assert!(out
        .events
        .iter()
        .any(|e| e.get("status") == Some("expired")));
    let out = chain.block(&[op_tx(&chain, 1, Msg::vote_validator_change(0))]);
    assert_eq!(out.tx_results[0].code, Code::InvalidProposal);
}

#[test]
fn same_blocks_give_identical_writes_on_two_fresh_states() {
    let run = || {
        let alice = key(1);
        let mut chain = Chain::new(genesis(4, &[(addr(&alice), 10_000_000)]));
        let mut all = Vec::new();
        for n in 0..20u64 {
            let tx = transfer_tx(&alice, n, addr(&key((n % 7) as u8 + 2)), n as u128 + 1);
            all.push(chain.block(&[tx.encode(), b"junk".to_vec()]).writes);
        }
        (all, chain.state)
    };
    assert_eq!(run(), run());
}

/// A transaction from validator `i`'s operator with an explicit nonce, so several of one
/// operator's transactions can go into one block.
fn op_tx_at(i: u8, nonce: u64, msg: Msg) -> Vec<u8> {
    build_signed(&operator_key(i), CHAIN_ID, nonce, 1, vec![msg])
        .unwrap()
        .encode()
}

fn nonce_of(chain: &Chain, i: u8) -> u64 {
    chain.account(&addr(&operator_key(i))).nonce
}

fn key_of(i: u8) -> [u8; 32] {
    validator_key(i).verification_key().to_bytes()
}

/// One block of validator 0's operator proposing `changes`, in order, with consecutive nonces.
fn val0_proposes(chain: &mut Chain, changes: &[ValidatorChange]) -> BlockOutput {
    let n = nonce_of(chain, 0);
    let txs: Vec<Vec<u8>> = changes
        .iter()
        .zip(n..)
        .map(|(c, nonce)| op_tx_at(0, nonce, Msg::propose_validator_change(c.clone())))
        .collect();
    chain.block(&txs)
}

fn assert_all_ok(out: &BlockOutput) {
    assert!(
        out.tx_results.iter().all(|r| r.is_ok()),
        "{:?}",
        out.tx_results
    );
}

#[test]
fn adding_then_removing_a_key_in_one_block_gives_cometbft_no_update() {
    // One validator: its operator's proposals apply at once.
    let mut chain = Chain::new(genesis(1, &[]));
    let out = val0_proposes(&mut chain, &[change(5, 1), change(5, 0)]);
    assert_all_ok(&out);
    assert!(
        out.validator_updates.is_empty(),
        "a power-0 update for a key CometBFT never had halts it: {:?}",
        out.validator_updates
    );
    let vals: Vec<ValidatorInfo> = chain.read(state_key::validators::SET).unwrap();
    assert_eq!(vals.len(), 1);
}

/// A genesis of validators with these powers (val0 first).
fn genesis_with_powers(powers: &[u64]) -> sidechain_types::GenesisState {
    let mut g = genesis(powers.len() as u8, &[]);
    for (v, p) in g.validators.iter_mut().zip(powers) {
        v.power = *p;
    }
    g
}

#[test]
fn removing_then_re_adding_a_key_in_one_block_gives_its_net_change() {
    // val0 holds 10 of 11: its approval alone applies a change.
    let mut chain = Chain::new(genesis_with_powers(&[10, 1]));
    let out = val0_proposes(&mut chain, &[change(1, 0), change(1, 1)]);
    assert_all_ok(&out);
    assert!(
        out.validator_updates.is_empty(),
        "{:?}",
        out.validator_updates
    );
    // Removed and re-added at another power: one update with the new power.
    let out = val0_proposes(&mut chain, &[change(1, 0), change(1, 2)]);
    assert_all_ok(&out);
    assert_eq!(out.validator_updates, vec![(key_of(1), 2)]);
}

#[test]
fn two_re_weights_in_one_block_give_one_update() {
    let mut chain = Chain::new(genesis(1, &[]));
    val0_proposes(&mut chain, &[change(5, 1)]);
    let out = val0_proposes(&mut chain, &[change(5, 2), change(5, 3)]);
    assert_all_ok(&out);
    assert_eq!(out.validator_updates, vec![(key_of(5), 3)]);
    // Re-weighting back to the start-of-block power in the same block: nothing to tell.
    let out = val0_proposes(&mut chain, &[change(5, 1), change(5, 3)]);
    assert!(
        out.validator_updates.is_empty(),
        "{:?}",
        out.validator_updates
    );
}

#[test]
fn removing_every_validator_in_one_block_is_refused_at_the_last_one() {
    let mut chain = Chain::new(genesis_with_powers(&[10, 1]));
    let out = val0_proposes(&mut chain, &[change(1, 0), change(0, 0)]);
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    assert_eq!(out.tx_results[1].code, Code::InvalidProposal);
    assert!(
        out.tx_results[1].log.contains("last validator"),
        "{}",
        out.tx_results[1].log
    );
    assert_eq!(out.validator_updates, vec![(key_of(1), 0)]);
    let vals: Vec<ValidatorInfo> = chain.read(state_key::validators::SET).unwrap();
    assert_eq!(vals.len(), 1);
}

/// Four validators of power 10; a proposal to add one of power 40 (whose node may not even
/// exist) would hand it half the power in one block: refused, whatever the approvals, with the
/// bound named. Changes within the bound still apply, and the bound counts the block's changes
/// together.
#[test]
fn one_block_cannot_move_a_third_of_the_power() {
    let mut chain = Chain::new(genesis(4, &[]));
    let n: Vec<u64> = (0..4).map(|i| nonce_of(&chain, i)).collect();
    let out = chain.block(&[
        op_tx_at(0, n[0], Msg::propose_validator_change(change(4, 40))),
        op_tx_at(1, n[1], Msg::vote_validator_change(0)),
        op_tx_at(2, n[2], Msg::vote_validator_change(0)),
    ]);
    assert_eq!(out.tx_results[2].code, Code::InvalidProposal);
    assert!(
        out.tx_results[2].log.contains("would move 40 of the 40")
            && out.tx_results[2]
                .log
                .contains("max_power_change_per_block_bps"),
        "{}",
        out.tx_results[2].log
    );
    assert!(out.validator_updates.is_empty());
    // 10 of 40 (25%) is within the default 30%; a second change in the same block would make
    // it 50% and is refused.
    let n: Vec<u64> = (0..4).map(|i| nonce_of(&chain, i)).collect();
    let out = chain.block(&[
        op_tx_at(0, n[0], Msg::propose_validator_change(change(4, 10))),
        op_tx_at(1, n[1], Msg::vote_validator_change(1)),
        op_tx_at(2, n[2], Msg::vote_validator_change(1)),
        op_tx_at(0, n[0] + 1, Msg::propose_validator_change(change(3, 0))),
        op_tx_at(1, n[1] + 1, Msg::vote_validator_change(2)),
        op_tx_at(2, n[2] + 1, Msg::vote_validator_change(2)),
        // With val4 in, the set holds 50: the fourth approval makes 40 of 50.
        op_tx_at(3, n[3], Msg::vote_validator_change(2)),
    ]);
    assert!(out.tx_results[2].is_ok(), "{:?}", out.tx_results[2]);
    assert_eq!(out.tx_results[6].code, Code::InvalidProposal);
    assert!(
        out.tx_results[6].log.contains("would move 20 of the 40"),
        "{}",
        out.tx_results[6].log
    );
    assert_eq!(out.validator_updates, vec![(key_of(4), 10)]);
    // The bound is a validated parameter.
    let mut g = genesis(1, &[]);
    g.params.max_power_change_per_block_bps = 3_334;
    let err = g.validate().unwrap_err().to_string();
    assert!(err.contains("max_power_change_per_block_bps"), "{err}");
}

/// Under ZIP-215 a small-order public key with the signature (R = the key, s = 0) verifies for
/// every message. Such a signer is refused before anything else, whatever it signs.
#[test]
fn a_small_order_key_that_verifies_anything_is_refused_as_signer_and_as_validator() {
    let alice = key(1);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak_address = sidechain_types::Address::from_pubkey(&identity);
    let mut chain = Chain::new(genesis(
        1,
        &[(addr(&alice), 1_000_000), (weak_address, 1_000_000)],
    ));
    // The forgery: any body, signature = key bytes ‖ 32 zero bytes.
    let body = sidechain_types::TxBody {
        chain_id: CHAIN_ID.into(),
        nonce: 0,
        fee: sidechain_types::Fee {
            amount: 1_000_000,
            gas_limit: 100_000,
        },
        msgs: vec![Msg::transfer(addr(&key(9)), side(), 1)],
    };
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&identity);
    let forged = sidechain_types::SignedTx {
        body,
        public_key: identity,
        signature,
    };
    assert!(
        forged.verify_signature(),
        "ZIP-215 accepts the forgery, which is why the key must be refused"
    );
    assert_eq!(chain.check(&forged.encode()).code, Code::WeakKey);
    let out = chain.block(&[forged.encode()]);
    assert_eq!(out.tx_results[0].code, Code::WeakKey);
    assert_eq!(chain.balance(&weak_address), 1_000_000, "nothing moved");

    // As a validator's consensus key in a proposal.
    let mut weak = change(5, 1);
    weak.consensus_key = identity;
    let n = nonce_of(&chain, 0);
    let out = chain.block(&[op_tx_at(0, n, Msg::propose_validator_change(weak))]);
    assert_eq!(out.tx_results[0].code, Code::WeakKey);
    assert!(out.validator_updates.is_empty());

    // And in genesis.
    let mut g = genesis(1, &[]);
    g.validators[0].pub_key = base64::engine::general_purpose::STANDARD.encode(identity);
    let err = g.validate().unwrap_err().to_string();
    assert!(err.contains("small order"), "{err}");
}

#[test]
fn a_zero_bridge_address_a_module_operator_or_another_validators_operator_is_refused() {
    let mut chain = Chain::new(genesis(1, &[]));
    let mut zero = change(5, 1);
    zero.eth_address = sidechain_types::EthAddress::ZERO;
    let mut module = change(5, 1);
    module.operator = sidechain_types::Address::module(sidechain_app::bank::FEE_POOL);
    let mut taken = change(5, 1);
    taken.operator = addr(&operator_key(0));
    let mut reused_eth = change(5, 1);
    reused_eth.eth_address = change(0, 1).eth_address;
    for (what, c, needle) in [
        ("zero eth address", zero, "zero address"),
        ("module operator", module, "module account"),
        ("another validator's operator", taken, "already runs"),
        (
            "another validator's eth address",
            reused_eth,
            "already belongs",
        ),
    ] {
        let n = nonce_of(&chain, 0);
        let out = chain.block(&[op_tx_at(0, n, Msg::propose_validator_change(c))]);
        assert_eq!(out.tx_results[0].code, Code::InvalidProposal, "{what}");
        assert!(
            out.tx_results[0].log.contains(needle),
            "{what}: {}",
            out.tx_results[0].log
        );
        assert!(out.validator_updates.is_empty(), "{what}");
    }
    let mut g = genesis(1, &[]);
    g.validators[0].operator = sidechain_types::Address::module(sidechain_app::bank::FEE_POOL);
    let err = g.validate().unwrap_err().to_string();
    assert!(err.contains("module account"), "{err}");
}
