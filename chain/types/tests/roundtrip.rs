//! Every encoded type survives encode -> decode unchanged, and arbitrary bytes never panic the
//! decoder.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use sidechain_types::{
    state::Proposal, Account, Address, BridgeParams, Denom, EthAddress, Event, Fee, Msg, Params,
    SignedTx, TxBody, ValidatorChange, ValidatorInfo,
};
use sidechain_types::{DepositClaim, DepositRecord, DepositState, L1Amount, Tally};

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address)
}

fn denom() -> impl Strategy<Value = Denom> {
    "[a-z][a-z0-9/._-]{1,20}".prop_map(|s| Denom::new(s).unwrap())
}

fn change() -> impl Strategy<Value = ValidatorChange> {
    (
        "[a-z0-9]{1,16}",
        any::<[u8; 32]>(),
        any::<u64>(),
        address(),
        any::<[u8; 20]>(),
    )
        .prop_map(
            |(name, consensus_key, power, operator, eth_address)| ValidatorChange {
                name,
                consensus_key,
                power,
                operator,
                eth_address: EthAddress(eth_address),
            },
        )
}

fn deposit_claim() -> impl Strategy<Value = DepositClaim> {
    (
        any::<u64>(),
        any::<[u8; 20]>(),
        any::<[u8; 20]>(),
        address(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
    )
        .prop_map(
            |(nonce, token, sender, recipient, amount, l1_block, l1_tx_hash, log_index)| {
                DepositClaim {
                    nonce,
                    token: EthAddress(token),
                    sender: EthAddress(sender),
                    recipient,
                    amount: L1Amount(amount),
                    l1_block,
                    l1_tx_hash,
                    log_index,
                }
            },
        )
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        prop::collection::vec(deposit_claim(), 0..4).prop_map(Msg::claim_deposits),
        (address(), denom(), any::<u128>()).prop_map(|(to, denom, amount)| Msg::Bank(
            sidechain_types::BankMsg::Transfer { to, denom, amount }
        )),
        change().prop_map(|change| Msg::Validators(
            sidechain_types::ValidatorsMsg::ProposeValidatorChange { change }
        )),
        any::<u64>().prop_map(|proposal_id| Msg::Validators(
            sidechain_types::ValidatorsMsg::VoteValidatorChange { proposal_id }
        )),
        (any::<[u8; 32]>(), address(), any::<[u8; 20]>())
            .prop_map(|(key, op, eth)| { Msg::rotate_validator_keys(key, op, EthAddress(eth)) }),
    ]
}

fn signed_tx() -> impl Strategy<Value = SignedTx> {
    (
        "[a-z0-9-]{1,20}",
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        prop::collection::vec(msg(), 0..5),
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(
            |(chain_id, nonce, amount, gas_limit, msgs, public_key, sig)| SignedTx {
                body: TxBody {
                    chain_id,
                    nonce,
                    fee: Fee { amount, gas_limit },
                    msgs,
                },
                public_key,
                signature: sig.try_into().unwrap(),
            },
        )
}

fn roundtrip<T: borsh::BorshSerialize + borsh::BorshDeserialize + PartialEq + std::fmt::Debug>(
    v: &T,
) {
    let bytes = borsh::to_vec(v).unwrap();
    let back: T = borsh::from_slice(&bytes).unwrap();
    assert_eq!(&back, v);
    assert_eq!(
        borsh::to_vec(&back).unwrap(),
        bytes,
        "encoding is canonical"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn l1_amount_decimal_and_borsh_roundtrip(bytes in any::<[u8; 32]>(), small in any::<u128>()) {
        let a = L1Amount(bytes);
        prop_assert_eq!(a.to_string().parse::<L1Amount>().unwrap(), a);
        roundtrip(&a);
        let s = L1Amount::from_u128(small);
        prop_assert_eq!(s.to_string(), small.to_string());
        prop_assert_eq!(s.to_u128(), Some(small));
        prop_assert_eq!(small.to_string().parse::<L1Amount>().unwrap(), s);
    }

    #[test]
    fn deposit_claim_and_record_roundtrip(c in deposit_claim(), height in any::<u64>(), v in address()) {
        roundtrip(&c);
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<DepositClaim>(&json).unwrap(), c.clone());
        for state in [DepositState::Pending, DepositState::Minted { height }, DepositState::RefundOwed { height, reason: "r".into() }] {
            roundtrip(&DepositRecord {
                nonce: c.nonce,
                state,
                claim: Some(c.clone()),
                tallies: vec![Tally { content_hash: c.content_hash(), claim: c.clone(), validators: vec![v] }],
            });
        }
    }

    #[test]
    fn signed_tx_roundtrips(tx in signed_tx()) {
        let bytes = tx.encode();
        prop_assert_eq!(SignedTx::decode(&bytes).unwrap(), tx);
    }

    #[test]
    fn account_roundtrips(nonce in any::<u64>(), balances in prop::collection::btree_map(denom(), any::<u128>(), 0..6)) {
        roundtrip(&Account { nonce, balances });
    }

    #[test]
    fn validator_info_and_proposal_roundtrip(c in change(), proposer in address(), approvals in prop::collection::btree_set(any::<[u8; 32]>(), 0..5), id in any::<u64>(), expires_at in any::<u64>(), old in prop::option::of((address(), any::<[u8; 20]>()))) {
        roundtrip(&ValidatorInfo { name: c.name.clone(), consensus_key: c.consensus_key, power: c.power, operator: c.operator, eth_address: c.eth_address });
        let (old_operator, old_eth_address) = match old {
            Some((op, eth)) => (Some(op), Some(EthAddress(eth))),
            None => (None, None),
        };
        roundtrip(&Proposal { id, change: c, proposer, approvals, expires_at, old_operator, old_eth_address });
    }

    #[test]
    fn params_event_bridge_roundtrip(p in any::<u128>(), m in any::<u32>(), t in any::<u64>(), kind in "[a-z_]{1,12}", attrs in prop::collection::vec(("[a-z]{1,5}", ".{0,10}"), 0..4), l1 in any::<u64>(), conf in any::<u64>()) {
        roundtrip(&Params { min_gas_price: p, max_msgs_per_tx: m, proposal_ttl_blocks: t, max_power_change_per_block_bps: m });
        roundtrip(&Event { kind, attributes: attrs });
        roundtrip(&BridgeParams {
            l1_chain_id: l1,
            contract: EthAddress([7; 20]),
            bridge_id: [9; 32],
            deploy_block: t,
            confirmations: conf,
            batch_max_size: m,
            batch_max_wait_blocks: t,
            batch_timeout_seconds: conf,
        });
    }

    #[test]
    fn address_text_roundtrips(a in address()) {
        prop_assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
    }

    #[test]
    fn eth_address_text_roundtrips_in_every_case(bytes in any::<[u8; 20]>()) {
        let a = EthAddress(bytes);
        let checksummed = a.to_string();
        prop_assert_eq!(checksummed.parse::<EthAddress>().unwrap(), a);
        prop_assert_eq!(checksummed.to_lowercase().parse::<EthAddress>().unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<EthAddress>(&json).unwrap(), a);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = SignedTx::decode(&bytes);
    }

    #[test]
    fn mutated_valid_txs_never_panic_the_decoder(tx in signed_tx(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = tx.encode();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let _ = SignedTx::decode(&bytes);
        bytes.truncate(i);
        prop_assert!(SignedTx::decode(&bytes).is_err(), "a truncated tx must not decode");
    }
}

#[test]
fn collections_used_in_state_are_ordered() {
    // BTreeMap/BTreeSet encodings are sorted, so two nodes always write the same bytes.
    let mut a = BTreeMap::new();
    a.insert(Denom::new("zz").unwrap(), 1u128);
    a.insert(Denom::new("aa").unwrap(), 2u128);
    let s: BTreeSet<[u8; 32]> = [[2u8; 32], [1u8; 32]].into_iter().collect();
    let bytes = borsh::to_vec(&(a, s)).unwrap();
    assert!(bytes.windows(2).any(|w| w == b"aa"));
    assert!(bytes.iter().position(|&b| b == b'a') < bytes.iter().position(|&b| b == b'z'));
}

#[test]
fn readme_code_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("<!-- codes:begin -->\n")
        .expect("README has the codes:begin marker")
        + 21;
    let end = readme
        .find("<!-- codes:end -->")
        .expect("README has the codes:end marker");
    assert_eq!(
        &readme[start..end],
        sidechain_types::codes::markdown_table(),
        "regenerate the README table from sidechain_types::codes::markdown_table()"
    );
}
