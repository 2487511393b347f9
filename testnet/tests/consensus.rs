//! Four validators under real CometBFT: agreement, crashes of one and of two nodes, a paused
//! node. Each test starts its own network on its own ports and stops it when done or failed.

mod common;

use std::time::Duration;

use common::{height_of, rpc, wait_for, Net};

const LONG: Duration = Duration::from_secs(240);
const ALL: [&str; 4] = ["node0", "node1", "node2", "node3"];

fn max_height(net: &Net, nodes: &[&str]) -> u64 {
    nodes
        .iter()
        .filter_map(|n| height_of(&net.rpc_of(n)))
        .max()
        .unwrap_or(0)
}

fn block_hash(url: &str, h: u64) -> Option<String> {
    rpc(url, &format!("/block?height={h}"))?["block_id"]["hash"]
        .as_str()
        .map(str::to_string)
}

#[test]
fn four_validators_reach_height_10_with_identical_app_hashes() {
    let _serial = common::serial();
    let net = Net::up(4, 22_000);
    let st = net.status();
    assert_eq!(st["nodes"].as_array().map(Vec::len), Some(4));
    for n in ALL {
        let node = Net::node(&st, n);
        assert_eq!(node["running"], true, "{node}");
        assert_eq!(node["voting_power"], 10, "{node}");
        assert!(node["pid"].as_u64().is_some(), "{node}");
    }
    // Header h + 1 carries the app hash after block h; compare through height 10.
    net.wait_all_at(&ALL, 11, LONG);
    net.assert_same_app_hashes(&ALL, 1, 11);
    let st = net.status();
    let hashes: Vec<_> = ALL
        .iter()
        .map(|n| Net::node(&st, n)["app_hash"].clone())
        .collect();
    assert!(
        hashes
            .iter()
            .all(|h| h.as_str().is_some_and(|s| s.len() == 64)),
        "{hashes:?}"
    );
}

#[test]
fn one_of_four_killed_blocks_continue_and_after_restart_it_catches_up_and_agrees() {
    let _serial = common::serial();
    let net = Net::up(4, 22_200);
    net.wait_all_at(&ALL, 3, LONG);
    net.testnet_ok(&["kill", "node3"]);
    let st = net.status();
    assert_eq!(Net::node(&st, "node3")["running"], false, "{st}");
    assert_eq!(
        Net::node(&st, "node3")["pid"],
        serde_json::Value::Null,
        "{st}"
    );

    let live = ["node0", "node1", "node2"];
    let at_kill = max_height(&net, &live);
    net.wait_all_at(&live, at_kill + 4, LONG);

    net.testnet_ok(&["restart", "node3"]);
    let target = max_height(&net, &live);
    net.wait_all_at(&ALL, target + 1, LONG);
    assert_eq!(Net::node(&net.status(), "node3")["running"], true);
    net.assert_same_app_hashes(&ALL, 1, target + 1);
}

#[test]
fn two_of_four_killed_halt_without_fork_then_resume_and_apply_each_transfer_once() {
    let _serial = common::serial();
    let net = Net::up(4, 22_400);
    let rpc0 = net.rpc_of("node0");
    let denom = net.denom();
    let faucet = net.faucet();
    let to = net.new_account("receiver");
    let send = |amount: &str, timeout: &str| {
        net.cli(
            &rpc0,
            &[
                "tx",
                "transfer",
                "--from",
                &faucet,
                "--to",
                &to,
                "--amount",
                amount,
                "--denom",
                &denom,
                "--timeout",
                timeout,
                "--json",
            ],
        )
    };

    let before = send("7", "60");
    assert!(before.status.success(), "{}", common::text(&before));

    net.testnet_ok(&["kill", "node2"]);
    net.testnet_ok(&["kill", "node3"]);
    let live = ["node0", "node1"];
    // A block in flight may still finish; after that the height must stay put.
    let halted = wait_for("the halt to settle", LONG, || {
        let a = max_height(&net, &live);
        std::thread::sleep(Duration::from_secs(3));
        (max_height(&net, &live) == a).then_some(a)
    });
    // Sent while halted: accepted into the mempool, not committed.
    let during = send("13", "5");
    assert!(
        !during.status.success(),
        "committed without a quorum:\n{}",
        common::text(&during)
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        max_height(&net, &live),
        halted,
        "blocks were produced by half of the voting power"
    );
    assert_eq!(net.balance(&rpc0, &to), 7);
    // No fork: the two live nodes hold the same block at every height.
    for h in 1..=halted {
        assert_eq!(
            block_hash(&rpc0, h),
            block_hash(&net.rpc_of("node1"), h),
            "fork at height {h}"
        );
    }

    net.testnet_ok(&["restart", "node2"]);
    net.testnet_ok(&["restart", "node3"]);
    net.wait_all_at(&ALL, halted + 3, LONG);
    wait_for("the transfer sent during the halt to commit", LONG, || {
        (net.balance(&rpc0, &to) == 20).then_some(())
    });

    let after = send("11", "60");
    assert!(after.status.success(), "{}", common::text(&after));
    assert_eq!(net.balance(&rpc0, &to), 7 + 13 + 11);
    let faucet_addr = net.status()["faucet_address"].as_str().unwrap().to_string();
    assert_eq!(net.account(&rpc0, &faucet_addr)["nonce"], 3);
    let top = max_height(&net, &ALL);
    net.wait_all_at(&ALL, top, LONG);
    net.assert_same_app_hashes(&ALL, 1, top);
    for h in 1..=top {
        let first = block_hash(&rpc0, h);
        for n in &ALL[1..] {
            assert_eq!(
                block_hash(&net.rpc_of(n), h),
                first,
                "{n} differs at height {h}"
            );
        }
    }
}

#[test]
fn a_paused_node_catches_up_after_resume() {
    let _serial = common::serial();
    let net = Net::up(4, 22_600);
    net.wait_all_at(&ALL, 3, LONG);
    net.testnet_ok(&["pause", "node1"]);
    let st = net.status();
    assert_eq!(Net::node(&st, "node1")["state"], "paused", "{st}");
    let live = ["node0", "node2", "node3"];
    let at_pause = max_height(&net, &live);
    net.wait_all_at(&live, at_pause + 6, LONG);
    assert!(
        height_of(&net.rpc_of("node1")).is_none(),
        "a stopped process answered RPC"
    );

    net.testnet_ok(&["resume", "node1"]);
    let target = max_height(&net, &live);
    net.wait_all_at(&["node1"], target, LONG);
    assert_eq!(Net::node(&net.status(), "node1")["state"], "running");
    net.assert_same_app_hashes(&ALL, 1, target);
}

/// Signed transfers of the faucet, `amount`s to `to`, from nonce `first` on.
fn signed_transfers(net: &Net, to: &str, first: u64, amounts: &[u128]) -> Vec<Vec<u8>> {
    let store = sidechain_client::Keystore::open(std::path::Path::new(&net.client_home()));
    let (key, _) = store.signing_key(&net.faucet()).expect("faucet key");
    let chain_id = net.status["chain_id"]
        .as_str()
        .expect("chain id")
        .to_string();
    let denom = sidechain_types::Denom::new(net.denom()).expect("denom");
    let to: sidechain_types::Address = to.parse().expect("address");
    let params = net.cli_json(&net.rpc_of("node0"), &["query", "params", "--json"]);
    let gas_price: u128 = match &params["min_gas_price"] {
        serde_json::Value::String(s) => s.parse().expect("gas price"),
        v => u128::from(v.as_u64().expect("gas price")),
    };
    amounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            sidechain_types::tx::build_signed(
                &key,
                &chain_id,
                first + i as u64,
                gas_price,
                vec![sidechain_types::Msg::transfer(to, denom.clone(), *a)],
            )
            .expect("tx")
            .encode()
        })
        .collect()
}

/// `broadcast_tx_sync` of raw bytes; returns the CheckTx code.
fn broadcast(url: &str, tx: &[u8]) -> Option<u64> {
    let r = rpc(url, &format!("/broadcast_tx_sync?tx=0x{}", hex::encode(tx)))?;
    r["code"].as_u64()
}

/// Result codes of every transaction in blocks `from..=to`.
fn block_codes(url: &str, from: u64, to: u64) -> Vec<u64> {
    (from..=to)
        .flat_map(|h| {
            let r = wait_for(&format!("results of block {h}"), LONG, || {
                rpc(url, &format!("/block_results?height={h}"))
            });
            r["txs_results"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|t| t["code"].as_u64().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A client that fails over between RPC endpoints: 200 consecutive nonces sent round-robin to
/// 4 validators all commit (future nonces are held until the gap fills), and two transfers with
/// the same nonce sent to two validators at once put no free `bad_nonce` transaction in any
/// block (proposers only propose what still passes).
#[test]
fn nonces_spread_over_validators_all_commit_and_no_dead_transaction_is_proposed() {
    let _serial = common::serial();
    let net = Net::up(4, 22_800);
    let urls: Vec<String> = ALL.iter().map(|n| net.rpc_of(n)).collect();
    let erin = net.new_account("erin");
    let faucet_addr = net.status["faucet_address"]
        .as_str()
        .expect("faucet")
        .to_string();
    let first = net.account(&urls[0], &faucet_addr)["nonce"]
        .as_u64()
        .expect("nonce");
    let start_height = max_height(&net, &ALL);

    let amounts: Vec<u128> = (1..=200).collect();
    let txs = signed_transfers(&net, &erin, first, &amounts);
    for (i, tx) in txs.iter().enumerate() {
        let code = broadcast(&urls[i % urls.len()], tx);
        assert_eq!(
            code,
            Some(0),
            "CheckTx of nonce {} at node{}",
            first + i as u64,
            i % 4
        );
    }
    wait_for("all 200 transfers to commit", LONG, || {
        let nonce = net.account(&urls[0], &faucet_addr)["nonce"].as_u64()?;
        (nonce == first + 200).then_some(())
    });
    assert_eq!(net.balance(&urls[0], &erin), amounts.iter().sum::<u128>());

    // The same nonce, two contents, two validators at once.
    let next = first + 200;
    let a = signed_transfers(&net, &erin, next, &[1_000]);
    let b = signed_transfers(&net, &erin, next, &[2_000]);
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| broadcast(&urls[1], &a[0]));
        let hb = s.spawn(|| broadcast(&urls[2], &b[0]));
        (ha.join().expect("a"), hb.join().expect("b"))
    });
    assert!(
        ra == Some(0) || rb == Some(0),
        "neither was admitted: {ra:?} {rb:?}"
    );
    wait_for("one of the two to commit", LONG, || {
        let nonce = net.account(&urls[0], &faucet_addr)["nonce"].as_u64()?;
        (nonce == next + 1).then_some(())
    });
    let h = max_height(&net, &ALL);
    net.wait_all_at(&ALL, h + 4, LONG);
    let codes = block_codes(&urls[0], start_height + 1, h + 4);
    let bad_nonce = u64::from(sidechain_types::Code::BadNonce.value());
    let dead = codes.iter().filter(|c| **c == bad_nonce).count();
    assert_eq!(
        dead, 0,
        "{dead} transactions with a used nonce were proposed: {codes:?}"
    );
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 201, "{codes:?}");
    let balance = net.balance(&urls[0], &erin);
    let sum: u128 = amounts.iter().sum();
    assert!(
        balance == sum + 1_000 || balance == sum + 2_000,
        "{balance}"
    );
}
