//! The withdrawal half of the bridge end to end, with real geth, the deployed `Bridge` and its
//! test token, 4 validators and their 4 relayers started by `testnet up`: a deposit of TST is
//! minted, part of it is withdrawn with a sidechain `Withdraw`, the chain cuts a batch, the
//! relayers confirm it with their bridge keys, exactly one relayer submits it to L1 (one L1
//! transaction from all relayer addresses together), the relayers attest the execution and the
//! withdrawal ends `released`: the L1 recipient holds the amount, the submitter the fee, the
//! wrapped supply fell by amount + fee, and the L1 bridge always held at least the wrapped
//! supply plus what was in flight. A second withdrawal goes to a fresh L1 address, whose token
//! balance slot the transfer creates (about 124,000 gas on this geth, within the contract's
//! 300,000 transfer gas): it is paid, not deferred.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use common::{serial, Net};
use sidechain_client::{Client, Keystore, SendOptions};
use sidechain_types::{
    bridge::wrapped_denom, BatchOutcome, EthAddress, Msg, Release, Withdrawal, WithdrawalState,
};

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
            provider: bridge_contracts::rpc::reader(rpc).expect("L1 provider"),
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

    fn claimable(&self, rt: &tokio::runtime::Runtime, who: Address) -> U256 {
        rt.block_on(async {
            bridge_contracts::Bridge::new(self.bridge, &self.provider)
                .claimable(self.tst, who)
                .call()
                .await
        })
        .expect("claimable")
    }

    fn last_batch_nonce(&self, rt: &tokio::runtime::Runtime) -> u64 {
        rt.block_on(async {
            bridge_contracts::Bridge::new(self.bridge, &self.provider)
                .lastBatchNonce()
                .call()
                .await
        })
        .expect("lastBatchNonce")
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

/// Sends a withdrawal of `amount` (+ `fee`) of `denom` from `key` to `to`; returns its id.
fn withdraw(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    key: &ed25519_consensus::SigningKey,
    denom: &sidechain_types::Denom,
    amount: u128,
    fee: u128,
    to: Address,
) -> u64 {
    let sent = rt
        .block_on(client.sign_and_send(
            key,
            vec![Msg::withdraw(
                denom.clone(),
                amount,
                fee,
                EthAddress(to.into_array()),
            )],
            &SendOptions::timeout(Duration::from_secs(60)),
        ))
        .expect("withdraw sent");
    assert!(sent.succeeded(), "withdraw failed: {:?}", sent.outcome);
    (1..=100)
        .find(|id| {
            rt.block_on(client.withdrawal(*id))
                .ok()
                .flatten()
                .is_some_and(|w: Withdrawal| w.to.0 == to.into_array())
        })
        .expect("the withdrawal's record")
}

/// Waits until withdrawal `id` (of `amount + fee`) is executed on L1 and its outcome attested,
/// checking after every poll that the L1 bridge holds at least the wrapped supply plus what is
/// in flight. Returns the final record.
fn wait_executed(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    l1: &L1,
    denom: &sidechain_types::Denom,
    id: u64,
    amount_and_fee: u64,
) -> Withdrawal {
    let started = Instant::now();
    loop {
        let w = rt
            .block_on(client.withdrawal(id))
            .expect("query")
            .expect("record");
        // In flight: burned on the sidechain, not yet paid by L1. The bridge's balance is read
        // before L1's batch nonce, so an execution between the two reads only makes the check
        // stricter.
        let locked = l1.balance(rt, l1.bridge);
        let paid_on_l1 = match w.state {
            WithdrawalState::InBatch { nonce } => l1.last_batch_nonce(rt) >= nonce,
            ref s => s.is_executed(),
        };
        let in_flight = if paid_on_l1 { 0 } else { amount_and_fee };
        let supply = rt.block_on(client.supply(denom)).expect("supply");
        assert!(
            locked >= U256::from(supply) + U256::from(in_flight),
            "conservation broken: L1 locks {locked}, supply {supply}, in flight {in_flight} ({})",
            w.state.name()
        );
        if w.state.is_executed() {
            return w;
        }
        assert!(
            !matches!(w.state.name(), "cancelled" | "requeued"),
            "unexpected state {:?}",
            w.state
        );
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "withdrawal {id} not executed within 240 s; it is {:?}; batches: {:?}",
            w.state,
            rt.block_on(client.batches())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The settled execution of batch `nonce`.
fn execution(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    nonce: u64,
) -> sidechain_types::ExecutedBatch {
    let batch = rt
        .block_on(client.batch(nonce))
        .expect("query")
        .expect("batch record");
    let settled = batch.settled.expect("settled");
    match settled.outcome {
        BatchOutcome::Executed(e) => e,
        other => panic!("batch {nonce} settled as {other:?}"),
    }
}

fn batch_of(state: &WithdrawalState) -> u64 {
    match state {
        WithdrawalState::Released { nonce, .. }
        | WithdrawalState::Deferred { nonce, .. }
        | WithdrawalState::Delayed { nonce, .. } => *nonce,
        other => panic!("not executed: {other:?}"),
    }
}

fn sum_metric(net: &Net, series: &str) -> f64 {
    net.names().iter().map(|n| metric(net, n, series)).sum()
}

#[test]
fn withdrawals_are_signed_submitted_once_attested_and_paid_also_to_a_fresh_address() {
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

    // Deposit 1000 TST to alice, who also gets native tokens for her transaction fees.
    let alice = net.new_account("alice");
    net.transfer(&rpc, &net.faucet(), &alice, "10000000");
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
    assert_eq!(l1.balance(&rt, l1.bridge), U256::from(1000u64));
    let (key, _) = Keystore::open(std::path::Path::new(&net.client_home()))
        .signing_key("alice")
        .expect("alice's key");

    // 1. Withdraw 400 (fee 10) to an L1 account that already holds 1 TST (a transfer to it
    //    fits the contract's transfer gas).
    let recipient = PrivateKeySigner::random().address();
    let faucet_key = bridge_contracts::user::read_key_file(std::path::Path::new(
        net.status["l1"]["faucet_key_file"]
            .as_str()
            .expect("faucet key file"),
    ))
    .expect("faucet key");
    let wallet =
        bridge_contracts::rpc::signing(net.status["l1"]["rpc"].as_str().expect("rpc"), faucet_key)
            .expect("wallet");
    rt.block_on(async {
        bridge_contracts::TestToken::new(l1.tst, &wallet)
            .mint(recipient, U256::from(1u64))
            .send()
            .await
            .expect("mint sent")
            .get_receipt()
            .await
            .expect("mint mined")
    });
    let nonces_before: Vec<u64> = relayers.iter().map(|r| l1.tx_count(&rt, *r)).collect();
    let tokens_before: Vec<U256> = relayers.iter().map(|r| l1.balance(&rt, *r)).collect();
    let id = withdraw(&rt, &client, &key, &denom, 400, 10, recipient);
    assert_eq!(supply(&rt), 590, "amount + fee burned");
    let w = wait_executed(&rt, &client, &l1, &denom, id, 410);
    assert_eq!(w.state.name(), "released", "{:?}", w.state);
    let exec = execution(&rt, &client, batch_of(&w.state));
    assert_eq!(exec.releases, vec![Release::Paid]);
    let submitter = Address::from(exec.submitter.0);
    assert!(
        relayers.contains(&submitter),
        "the submitter {submitter} is no relayer's bridge key"
    );
    assert_eq!(l1.balance(&rt, recipient), U256::from(401u64));
    for (r, before) in relayers.iter().zip(&tokens_before) {
        let expected = if *r == submitter {
            *before + U256::from(10u64)
        } else {
            *before
        };
        assert_eq!(l1.balance(&rt, *r), expected, "TST of relayer {r}");
    }
    assert_eq!(l1.balance(&rt, l1.bridge), U256::from(590u64));
    assert_eq!(supply(&rt), 590);

    // Exactly one L1 transaction from all relayers together: the submission. A relayer that
    // would submit twice would do it in the next few seconds.
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
    assert_eq!(
        sum_metric(
            &net,
            "relayer_l1_txs_total{kind=\"submit_batch\",result=\"ok\"}"
        ),
        1.0
    );
    let confirmations = sum_metric(&net, "relayer_confirmations_sent_total{kind=\"batch\"}");
    assert!(confirmations >= 3.0, "batch confirmations: {confirmations}");
    let attested = sum_metric(
        &net,
        "relayer_attestations_sent_total{kind=\"batch_executed\"}",
    );
    assert!(attested >= 3.0, "attestations of the execution: {attested}");
    assert!(
        rt.block_on(client.outstanding_batch())
            .expect("query")
            .is_none(),
        "no batch outstanding after settlement"
    );

    // 2. Withdraw 100 (fee 5) to a fresh L1 account: paid within the transfer gas.
    let fresh = PrivateKeySigner::random().address();
    let nonces_before: Vec<u64> = relayers.iter().map(|r| l1.tx_count(&rt, *r)).collect();
    let id = withdraw(&rt, &client, &key, &denom, 100, 5, fresh);
    assert_eq!(supply(&rt), 485);
    let w = wait_executed(&rt, &client, &l1, &denom, id, 105);
    assert_eq!(w.state.name(), "released", "{:?}", w.state);
    let exec = execution(&rt, &client, batch_of(&w.state));
    assert_eq!(exec.releases, vec![Release::Paid]);
    assert_eq!(l1.balance(&rt, fresh), U256::from(100u64));
    assert_eq!(l1.claimable(&rt, fresh), U256::ZERO, "nothing deferred");
    assert_eq!(
        l1.balance(&rt, l1.bridge),
        U256::from(485u64),
        "amount and fee left the bridge: it holds the wrapped supply"
    );
    std::thread::sleep(Duration::from_secs(5));
    let sent_txs: u64 = relayers
        .iter()
        .zip(&nonces_before)
        .map(|(r, before)| l1.tx_count(&rt, *r) - before)
        .sum();
    assert_eq!(
        sent_txs, 1,
        "L1 transactions sent by relayers for the second batch"
    );
    assert!(
        sum_metric(&net, "relayer_l1_gas_used_total{kind=\"submit_batch\"}") > 0.0,
        "gas used is counted"
    );
}
