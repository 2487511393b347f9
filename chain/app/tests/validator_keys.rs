//! Who signs for a validator: a proposal keeps an existing validator's operator account and
//! bridge key (a "yes" on what reads as a re-weight never hands them to someone else); only the
//! validator's own operator rotates them; proposals show old and new side by side.

mod harness;

use harness::*;
use sidechain_app::BlockOutput;
use sidechain_types::{
    state_key, tx::build_signed, Address, Code, EthAddress, Event, Msg, Proposal, ValidatorChange,
    ValidatorInfo,
};

/// Validator `i` as the harness's genesis makes it, at `power`.
fn change(i: u8, power: u64) -> ValidatorChange {
    ValidatorChange {
        name: format!("val{i}"),
        consensus_key: key_of(i),
        power,
        operator: addr(&operator_key(i)),
        eth_address: eth_of(i),
    }
}

fn key_of(i: u8) -> [u8; 32] {
    validator_key(i).verification_key().to_bytes()
}

fn eth_of(i: u8) -> EthAddress {
    EthAddress([i + 1; 20])
}

/// A transaction from `signer` at its committed nonce.
fn tx_from(chain: &Chain, signer: &ed25519_consensus::SigningKey, msg: Msg) -> Vec<u8> {
    build_signed(
        signer,
        CHAIN_ID,
        chain.account(&addr(signer)).nonce,
        1,
        vec![msg],
    )
    .unwrap()
    .encode()
}

/// A block of one transaction; returns the block's output.
fn send(chain: &mut Chain, signer: &ed25519_consensus::SigningKey, msg: Msg) -> BlockOutput {
    let tx = tx_from(chain, signer, msg);
    chain.block(&[tx])
}

fn registry(chain: &Chain) -> Vec<ValidatorInfo> {
    chain.read(state_key::validators::SET).unwrap()
}

fn open_proposals(chain: &Chain) -> Vec<Proposal> {
    sidechain_app::validators::state::open_proposals(&chain.state).unwrap()
}

fn event<'a>(out: &'a BlockOutput, kind: &str) -> &'a Event {
    out.tx_results
        .iter()
        .flat_map(|r| &r.events)
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {:?}", out.tx_results))
}

/// The block failed its one transaction with `code`, wrote nothing under the validators'
/// prefix, and changed the registry and the open proposals not at all.
fn assert_refused_changing_nothing(
    chain: &Chain,
    out: &BlockOutput,
    code: Code,
    before: &(Vec<ValidatorInfo>, Vec<Proposal>),
    what: &str,
) {
    assert_eq!(
        out.tx_results[0].code, code,
        "{what}: {}",
        out.tx_results[0].log
    );
    let touched: Vec<_> = out
        .writes
        .keys()
        .filter(|k| k.starts_with(state_key::validators::PREFIX))
        .collect();
    assert!(touched.is_empty(), "{what}: wrote {touched:?}");
    assert!(out.validator_updates.is_empty(), "{what}");
    assert_eq!(registry(chain), before.0, "{what}");
    assert_eq!(open_proposals(chain), before.1, "{what}");
}

fn snapshot(chain: &Chain) -> (Vec<ValidatorInfo>, Vec<Proposal>) {
    (registry(chain), open_proposals(chain))
}

/// The fault of issue 10 item 6: the same key, name and power with another operator and bridge
/// address read as a re-weight. Refused at proposal time, whichever of the two differs, even
/// when the proposer alone would approve it.
#[test]
fn a_re_weight_that_swaps_the_operator_or_bridge_key_is_refused_and_changes_nothing() {
    let attacker = addr(&key(66));
    let attacker_eth = EthAddress([0x66; 20]);
    for validators in [4, 1] {
        let mut chain = Chain::new(genesis(validators, &[]));
        let target = validators - 1;
        let mut both = change(target, 10);
        both.operator = attacker;
        both.eth_address = attacker_eth;
        let mut operator_only = change(target, 10);
        operator_only.operator = attacker;
        let mut eth_only = change(target, 10);
        eth_only.eth_address = attacker_eth;
        for (what, c, needles) in [
            ("both", both, &["operator", "eth address"][..]),
            ("operator only", operator_only, &["operator"][..]),
            ("eth address only", eth_only, &["eth address"][..]),
        ] {
            let what = format!("{validators} validator(s), {what}");
            let tx = tx_from(&chain, &operator_key(0), Msg::propose_validator_change(c));
            assert_eq!(
                chain.check(&tx).code,
                Code::IdentityChangeNeedsRotation,
                "{what}: the mempool refuses it"
            );
            let before = snapshot(&chain);
            let out = chain.block(&[tx]);
            assert_refused_changing_nothing(
                &chain,
                &out,
                Code::IdentityChangeNeedsRotation,
                &before,
                &what,
            );
            let log = &out.tx_results[0].log;
            assert!(log.contains("rotate_validator_keys"), "{what}: {log}");
            for needle in needles {
                assert!(log.contains(needle), "{what}: {log}");
            }
        }
    }
}

/// The registry at approval time is what counts: a re-weight proposed with the validator's
/// identity then is refused once the validator has rotated its keys.
#[test]
fn a_proposal_is_refused_at_approval_if_the_validators_keys_rotated_meanwhile() {
    let mut chain = Chain::new(genesis(4, &[(addr(&key(60)), 1_000_000)]));
    assert!(send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(change(3, 15))
    )
    .tx_results[0]
        .is_ok());
    assert!(
        send(&mut chain, &operator_key(1), Msg::vote_validator_change(0)).tx_results[0].is_ok()
    );
    let out = send(
        &mut chain,
        &operator_key(3),
        Msg::rotate_validator_keys(key_of(3), addr(&key(60)), EthAddress([0x60; 20])),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    let rotated = registry(&chain);
    // The third approval carries 30 of 40: enough, but the change would undo the rotation.
    let out = send(&mut chain, &operator_key(2), Msg::vote_validator_change(0));
    assert_eq!(
        out.tx_results[0].code,
        Code::IdentityChangeNeedsRotation,
        "{}",
        out.tx_results[0].log
    );
    assert!(out.validator_updates.is_empty());
    assert_eq!(registry(&chain), rotated);
}

#[test]
fn a_re_weight_and_a_removal_with_unchanged_identity_still_apply() {
    // val0 holds all the power: its proposals apply at once.
    let mut chain = Chain::new(genesis(1, &[]));
    let out = send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(change(5, 1)),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    let out = send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(change(5, 2)),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    assert_eq!(out.validator_updates, vec![(key_of(5), 2)]);
    let update = event(&out, "validator_update");
    assert_eq!(
        update.get("old_operator"),
        update.get("new_operator"),
        "a re-weight hands nothing over"
    );
    // A removal hands nothing to anyone: the operator and eth address it names do not matter.
    let mut removal = change(5, 0);
    removal.operator = addr(&key(66));
    let out = send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(removal),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    assert_eq!(out.validator_updates, vec![(key_of(5), 0)]);
    let proposal = event(&out, "validator_proposal");
    assert_eq!(
        proposal.get("old_operator"),
        Some(addr(&operator_key(5)).to_string().as_str())
    );
    assert_eq!(proposal.get("new_operator"), Some("-"));
    assert_eq!(proposal.get("new_eth_address"), Some("-"));
    assert_eq!(registry(&chain).len(), 1);
}

#[test]
fn rotation_by_the_current_operator_hands_over_voting_and_rotation() {
    let new_op = key(60);
    let newer_op = key(61);
    let mut chain = Chain::new(genesis(
        4,
        &[(addr(&new_op), 1_000_000), (addr(&newer_op), 1_000_000)],
    ));
    let new_eth = EthAddress([0x60; 20]);
    let out = send(
        &mut chain,
        &operator_key(1),
        Msg::rotate_validator_keys(key_of(1), addr(&new_op), new_eth),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    assert!(
        out.validator_updates.is_empty(),
        "the power is unchanged: CometBFT hears nothing"
    );
    let rotated = event(&out, "validator_keys_rotated");
    let old_op = addr(&operator_key(1)).to_string();
    let new_op_text = addr(&new_op).to_string();
    let old_eth_text = eth_of(1).to_string();
    let new_eth_text = new_eth.to_string();
    for (k, v) in [
        ("name", "val1"),
        ("consensus_key", hex::encode(key_of(1)).as_str()),
        ("old_operator", old_op.as_str()),
        ("new_operator", new_op_text.as_str()),
        ("old_eth_address", old_eth_text.as_str()),
        ("new_eth_address", new_eth_text.as_str()),
    ] {
        assert_eq!(rotated.get(k), Some(v), "{k} in {rotated:?}");
    }
    let val1 = registry(&chain)
        .into_iter()
        .find(|v| v.consensus_key == key_of(1))
        .unwrap();
    assert_eq!(
        (val1.operator, val1.eth_address, val1.power),
        (addr(&new_op), new_eth, 10)
    );

    // The old operator has lost its voice: it cannot propose, vote or rotate.
    let out = send(
        &mut chain,
        &operator_key(1),
        Msg::propose_validator_change(change(4, 10)),
    );
    assert_eq!(out.tx_results[0].code, Code::Unauthorized);
    assert!(send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(change(4, 10))
    )
    .tx_results[0]
        .is_ok());
    let out = send(&mut chain, &operator_key(1), Msg::vote_validator_change(0));
    assert_eq!(out.tx_results[0].code, Code::Unauthorized);
    let out = send(
        &mut chain,
        &operator_key(1),
        Msg::rotate_validator_keys(key_of(1), addr(&operator_key(1)), eth_of(1)),
    );
    assert_eq!(out.tx_results[0].code, Code::NotValidatorOperator);

    // The new operator votes as val1: with val2, the proposal reaches 30 of 40.
    let out = send(&mut chain, &new_op, Msg::vote_validator_change(0));
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    assert!(out.validator_updates.is_empty(), "20 of 40 is not enough");
    let out = send(&mut chain, &operator_key(2), Msg::vote_validator_change(0));
    assert_eq!(out.validator_updates, vec![(key_of(4), 10)]);

    // And it rotates on, keeping the bridge key while changing the operator.
    let out = send(
        &mut chain,
        &new_op,
        Msg::rotate_validator_keys(key_of(1), addr(&newer_op), new_eth),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
    let rotated = event(&out, "validator_keys_rotated");
    assert_eq!(
        rotated.get("old_eth_address"),
        rotated.get("new_eth_address")
    );
    let val1 = registry(&chain)
        .into_iter()
        .find(|v| v.consensus_key == key_of(1))
        .unwrap();
    assert_eq!(val1.operator, addr(&newer_op));
}

#[test]
fn rotation_signed_by_anyone_else_is_refused_and_changes_nothing_but_the_fee() {
    let stranger = key(7);
    let mut chain = Chain::new(genesis(4, &[(addr(&stranger), 1_000_000)]));
    let rotation = Msg::rotate_validator_keys(key_of(1), addr(&key(66)), EthAddress([0x66; 20]));
    for (what, signer) in [
        ("another validator's operator", operator_key(0)),
        ("a random account", stranger),
    ] {
        let who = addr(&signer);
        let (balance, nonce) = (chain.balance(&who), chain.account(&who).nonce);
        let tx = build_signed(&signer, CHAIN_ID, nonce, 1, vec![rotation.clone()]).unwrap();
        let fee = tx.body.fee.amount;
        assert_eq!(
            chain.check(&tx.encode()).code,
            Code::NotValidatorOperator,
            "{what}: the mempool refuses it"
        );
        let before = snapshot(&chain);
        let out = chain.block(&[tx.encode()]);
        assert_refused_changing_nothing(&chain, &out, Code::NotValidatorOperator, &before, what);
        assert!(
            out.tx_results[0].log.contains("only that account"),
            "{what}: {}",
            out.tx_results[0].log
        );
        assert_eq!(
            chain.balance(&who),
            balance - fee,
            "{what}: the fee is paid"
        );
        assert_eq!(chain.account(&who).nonce, nonce + 1, "{what}");
    }
}

#[test]
fn rotation_to_a_zero_taken_or_module_key_is_refused_with_its_code() {
    let mut chain = Chain::new(genesis(4, &[]));
    let fresh_op = addr(&key(66));
    let fresh_eth = EthAddress([0x66; 20]);
    let fee_pool = Address::module(sidechain_app::bank::FEE_POOL);
    let cases = [
        (
            "zero eth address",
            Msg::rotate_validator_keys(key_of(1), fresh_op, EthAddress::ZERO),
            Code::ZeroEthAddress,
        ),
        (
            "another validator's eth address",
            Msg::rotate_validator_keys(key_of(1), fresh_op, eth_of(2)),
            Code::EthAddressTaken,
        ),
        (
            "another validator's operator",
            Msg::rotate_validator_keys(key_of(1), addr(&operator_key(2)), fresh_eth),
            Code::OperatorTaken,
        ),
        (
            "a module account",
            Msg::rotate_validator_keys(key_of(1), fee_pool, fresh_eth),
            Code::ModuleOperator,
        ),
        (
            "a key not in the set",
            Msg::rotate_validator_keys(key_of(9), fresh_op, fresh_eth),
            Code::UnknownValidator,
        ),
        (
            "no change at all",
            Msg::rotate_validator_keys(key_of(1), addr(&operator_key(1)), eth_of(1)),
            Code::InvalidMessage,
        ),
    ];
    for (what, msg, code) in cases {
        let tx = tx_from(&chain, &operator_key(1), msg);
        assert_eq!(
            chain.check(&tx).code,
            code,
            "{what}: the mempool refuses it"
        );
        let before = snapshot(&chain);
        let out = chain.block(&[tx]);
        assert_refused_changing_nothing(&chain, &out, code, &before, what);
    }
    // Changing just one of the two is fine: the validator's own values are not "taken".
    let out = send(
        &mut chain,
        &operator_key(1),
        Msg::rotate_validator_keys(key_of(1), addr(&operator_key(1)), fresh_eth),
    );
    assert!(out.tx_results[0].is_ok(), "{:?}", out.tx_results[0]);
}

#[test]
fn proposal_events_and_records_carry_old_and_new_operator_and_eth_address() {
    let mut chain = Chain::new(genesis(4, &[]));
    // A new validator: no old values.
    let out = send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(change(4, 10)),
    );
    let e = event(&out, "validator_proposal");
    let new_op = addr(&operator_key(4)).to_string();
    let new_eth = eth_of(4).to_string();
    assert_eq!(e.get("old_operator"), Some("-"));
    assert_eq!(e.get("old_eth_address"), Some("-"));
    assert_eq!(e.get("new_operator"), Some(new_op.as_str()));
    assert_eq!(e.get("new_eth_address"), Some(new_eth.as_str()));
    // A re-weight: old and new are the registry's values.
    let out = send(
        &mut chain,
        &operator_key(0),
        Msg::propose_validator_change(change(2, 12)),
    );
    let e = event(&out, "validator_proposal");
    let op2 = addr(&operator_key(2)).to_string();
    let eth2 = eth_of(2).to_string();
    for k in ["old_operator", "new_operator"] {
        assert_eq!(e.get(k), Some(op2.as_str()), "{k}");
    }
    for k in ["old_eth_address", "new_eth_address"] {
        assert_eq!(e.get(k), Some(eth2.as_str()), "{k}");
    }

    // The records, and the JSON `query proposals` prints.
    let open = open_proposals(&chain);
    assert_eq!(open.len(), 2);
    assert_eq!(
        (open[0].old_operator, open[0].old_eth_address),
        (None, None)
    );
    assert_eq!(
        (open[1].old_operator, open[1].old_eth_address),
        (Some(addr(&operator_key(2))), Some(eth_of(2)))
    );
    let json = serde_json::to_value(&open).unwrap();
    assert_eq!(json[0]["old_operator"], serde_json::Value::Null);
    assert_eq!(json[0]["new_operator"], new_op.as_str());
    assert_eq!(json[0]["new_eth_address"], new_eth.as_str());
    assert_eq!(json[1]["old_operator"], op2.as_str());
    assert_eq!(json[1]["new_operator"], op2.as_str());
    assert_eq!(json[1]["old_eth_address"], eth2.as_str());
    assert_eq!(json[1]["new_eth_address"], eth2.as_str());
    assert!(json[1]["approvals"][0].is_string(), "approvals stay hex");

    // The update event when it applies says the same.
    send(&mut chain, &operator_key(1), Msg::vote_validator_change(1));
    let out = send(&mut chain, &operator_key(2), Msg::vote_validator_change(1));
    let e = event(&out, "validator_update");
    assert_eq!(e.get("old_operator"), Some(op2.as_str()));
    assert_eq!(e.get("new_eth_address"), Some(eth2.as_str()));
}
