//! The withdrawal half of the bridge end to end, with real geth, the deployed `Bridge` and its
//! test token, 4 validators and their 4 relayers started by `testnet up`: a deposit of TST is
//! minted, part of it is withdrawn with a sidechain `Withdraw`, the chain cuts a batch, every
//! relayer confirms it with its bridge key, exactly one relayer submits it to L1 (one L1
//! transaction from all relayer addresses together), the relayers attest the execution and the
//! withdrawal ends `released`: the L1 recipient holds the amount, the submitter the fee, the
//! wrapped supply fell by amount + fee, and the L1 bridge always held at least the wrapped
//! supply plus what was in flight.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use common::{serial, Net};
use sidechain_client::{Client, Keystore, SendOptions};
use sidechain_types::{bridge::wrapped_denom, BatchOutcome, EthAddress, Msg, Release, Withdrawal};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

struct L1 {
    provider: DynProvider,
    bridge: Address,
    tst: Address,
}

impl L1 {
    fn of(net: &Net) -> L1 {
        let l1 = &net.status["l1"];
        let rpc = l1["rpc"].as_str().expect("l1.rpc");
        L1 {
            provider: ProviderBuilder::new()
                .connect_http(rpc.parse().expect("url"))
                .erased(),
            bridge: l1["bridge"]
                .as_str()
                .expect("bridge")
                .parse()
                .expect("bridge"),
            tst: l1["tokens"]["TST"]
                .as_str()
                .expect("TST")
                .parse()
                .expect("TST address"),
        }
    }

    fn balance(&self, rt: &tokio::runtime::Runtime, owner: Address) -> U256 {
        rt.block_on(bridge_contracts::user::balance_of(
            &self.provider,
            self.tst,
            owner,
        ))
        .expect("L1 balance")
    }

    fn tx_count(&self, rt: &tokio::runtime::Runtime, who: Address) -> u64 {
        rt.block_on(async { self.provider.get_transaction_count(who).await })
            .expect("eth_getTransactionCount")
    }
}

/// A counter of a relayer's /metrics, labels included in `series` (`name{labels}`); 0 when
/// absent.
fn metric(net: &Net, node: &str, series: &str) -> f64 {
    let Some(url) = Net::node(&net.status, node)["relayer"]["metrics"].as_str() else {
        return 0.0;
    };
    let hostport = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(&hostport) else {
        return 0.0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(s, "GET /metrics HTTP/1.0\r\nHost: {hostport}\r\n\r\n").is_err() {
        return 0.0;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.lines()
        .filter(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_withdrawal_is_signed_submitted_once_attested_and_released() {
    let _serial = serial();
    let net = Net::up_with_l1(4, 24_600, &[]);
    let rt = runtime();
    let l1 = L1::of(&net);
    let rpc = net.rpc_of("node0");
    let client = Client::new(&rpc).expect("client");
    let denom = wrapped_denom(&EthAddress(l1.tst.into_array()));

    // The relayers' bridge keys were funded with ether for gas.
    let relayers: Vec<Address> = net
        .names()
        .iter()
        .map(|n| {
            Net::node(&net.status, n)["eth_address"]
                .as_str()
                .expect("eth_address")
                .parse()
                .expect("eth address")
        })
        .collect();
    assert_eq!(relayers.len(), 4);
    for r in &relayers {
        let wei = rt
            .block_on(async { l1.provider.get_balance(*r).await })
            .expect("balance");
        assert!(wei > U256::ZERO, "bridge key {r} has no ether for gas");
    }

    // Deposit 1000 TST to alice.
    let alice = net.new_account("alice");
    let tst_hex = format!("{}", l1.tst);
    let v = net.cli_json(
        &rpc,
        &[
            "bridge", "deposit", "--token", &tst_hex, "--amount", "1000", "--to", &alice, "--json",
            "--wait",
        ],
    );
    assert_eq!(v["denom"], denom.as_str(), "{v}");
    let supply = |rt: &tokio::runtime::Runtime| rt.block_on(client.supply(&denom)).expect("supply");
    assert_eq!(supply(&rt), 1000);
    let locked_before = l1.balance(&rt, l1.bridge);
    assert_eq!(locked_before, U256::from(1000u64));

    // Withdraw 400 (fee 10) to a fresh L1 account.
    let recipient = PrivateKeySigner::random().address();
    let nonces_before: Vec<u64> = relayers.iter().map(|r| l1.tx_count(&rt, *r)).collect();
    let tokens_before: Vec<U256> = relayers.iter().map(|r| l1.balance(&rt, *r)).collect();
    let (key, _) = Keystore::open(std::path::Path::new(&net.client_home()))
        .signing_key("alice")
        .expect("alice's key");
    let sent = rt
        .block_on(client.sign_and_send(
            &key,
            vec![Msg::withdraw(
                denom.clone(),
                400,
                10,
                EthAddress(recipient.into_array()),
            )],
            &SendOptions::timeout(Duration::from_secs(60)),
        ))
        .expect("withdraw sent");
    assert!(sent.succeeded(), "withdraw failed: {:?}", sent.outcome);
    assert_eq!(supply(&rt), 590, "amount + fee burned");
    let id = (1..=10)
        .find(|id| {
            rt.block_on(client.withdrawal(*id))
                .ok()
                .flatten()
                .is_some_and(|w: Withdrawal| w.to.0 == recipient.into_array())
        })
        .expect("the withdrawal's record");

    // Until it is released: the bridge always holds the supply plus what is in flight.
    let started = Instant::now();
    let w = loop {
        let w = rt
            .block_on(client.withdrawal(id))
            .expect("query")
            .expect("record");
        let in_flight = if w.state.is_executed() { 0 } else { 410u64 };
        let locked = l1.balance(&rt, l1.bridge);
        let s = supply(&rt);
        assert!(
            locked >= U256::from(s) + U256::from(in_flight),
            "conservation broken: L1 locks {locked}, supply {s}, in flight {in_flight} ({})",
            w.state.name()
        );
        if w.state.name() == "released" {
            break w;
        }
        assert!(
            !matches!(w.state.name(), "deferred" | "delayed" | "cancelled"),
            "unexpected state {:?}",
            w.state
        );
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "withdrawal {id} not released within 240 s; it is {:?}; batches: {:?}",
            w.state,
            rt.block_on(client.batches())
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let sidechain_types::WithdrawalState::Released { nonce, .. } = w.state else {
        unreachable!("released above");
    };

    // The batch settled as executed, paid the entry, and names the submitter.
    let batch = rt
        .block_on(client.batch(nonce))
        .expect("query")
        .expect("batch record");
    let settled = batch.settled.as_ref().expect("settled");
    let BatchOutcome::Executed(exec) = &settled.outcome else {
        panic!("batch {nonce} settled as {:?}", settled.outcome);
    };
    assert_eq!(exec.releases, vec![Release::Paid]);
    let submitter = Address::from(exec.submitter.0);
    assert!(
        relayers.contains(&submitter),
        "the submitter {submitter} is no relayer's bridge key"
    );

    // L1: the recipient got the amount, the submitter the fee, the bridge lost both.
    assert_eq!(l1.balance(&rt, recipient), U256::from(400u64));
    for (r, before) in relayers.iter().zip(&tokens_before) {
        let now = l1.balance(&rt, *r);
        let expected = if *r == submitter {
            *before + U256::from(10u64)
        } else {
            *before
        };
        assert_eq!(now, expected, "TST of relayer {r}");
    }
    assert_eq!(l1.balance(&rt, l1.bridge), U256::from(590u64));
    assert_eq!(supply(&rt), 590);

    // Exactly one L1 transaction from all relayers together: the submission. Wait a little
    // more: a relayer that would submit twice would do it now.
    std::thread::sleep(Duration::from_secs(5));
    let sent_txs: u64 = relayers
        .iter()
        .zip(&nonces_before)
        .map(|(r, before)| l1.tx_count(&rt, *r) - before)
        .sum();
    assert_eq!(
        sent_txs, 1,
        "L1 transactions sent by relayers for one batch"
    );
    let submitted: f64 = net
        .names()
        .iter()
        .map(|n| {
            metric(
                &net,
                n,
                "relayer_l1_txs_total{kind=\"submit_batch\",result=\"ok\"}",
            )
        })
        .sum();
    assert_eq!(submitted, 1.0, "relayer_l1_txs_total of submit_batch");
    let confirmations: f64 = net
        .names()
        .iter()
        .map(|n| metric(&net, n, "relayer_confirmations_sent_total{kind=\"batch\"}"))
        .sum();
    assert!(
        confirmations >= 3.0,
        "at least 3 of 4 relayers confirmed the batch: {confirmations}"
    );
    let attested: f64 = net
        .names()
        .iter()
        .map(|n| {
            metric(
                &net,
                n,
                "relayer_attestations_sent_total{kind=\"batch_executed\"}",
            )
        })
        .sum();
    assert!(attested >= 3.0, "attestations of the execution: {attested}");
    assert!(
        rt.block_on(client.outstanding_batch())
            .expect("query")
            .is_none(),
        "no batch outstanding after settlement"
    );
}
