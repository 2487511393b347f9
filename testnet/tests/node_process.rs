//! The sidechain node under real CometBFT, driven through the user CLI: transfers, balances,
//! a verified proof, and a node whose two processes are SIGKILLed in the middle of a stream of
//! transfers.

mod common;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{wait_for, Net};

const LONG: Duration = Duration::from_secs(180);

#[test]
fn transfers_through_the_cli_move_balances_and_the_account_proof_verifies() {
    let _serial = common::serial();
    let net = Net::up(1, 21_000);
    let rpc = net.rpc_of("node0");
    let denom = net.denom();
    let alice = net.new_account("alice");
    let bob = net.new_account("bob");

    let sent = net.transfer(&rpc, &net.faucet(), &alice, "1000000");
    assert_eq!(sent["code"], 0, "{sent}");
    assert!(sent["height"].as_u64().unwrap_or(0) >= 1, "{sent}");
    assert_eq!(sent["hash"].as_str().map(str::len), Some(64), "{sent}");
    assert_eq!(net.balance(&rpc, &alice), 1_000_000);

    let sent = net.transfer(&rpc, "alice", &bob, "1234");
    assert_eq!(sent["code"], 0, "{sent}");
    assert_eq!(net.balance(&rpc, &bob), 1234);
    let alice_left = net.balance(&rpc, &alice);
    assert!(
        alice_left < 1_000_000 - 1234,
        "alice paid no fee: {alice_left}"
    );

    // The committed transaction is found by hash.
    let hash = sent["hash"].as_str().unwrap();
    let found = net.cli_json(&rpc, &["query", "tx", hash, "--json"]);
    assert_eq!(found["code"], 0, "{found}");
    // And by the indexed recipient, through CometBFT's tx_search; amounts are not indexed.
    let search = |query: &str| {
        common::rpc(&rpc, &format!("/tx_search?query=%22{query}%22"))
            .and_then(|r| r["total_count"].as_str().map(str::to_owned))
    };
    assert_eq!(
        search(&format!("transfer.to=%27{bob}%27")).as_deref(),
        Some("1")
    );
    assert_eq!(
        search(&format!("tx.signer=%27{alice}%27")).as_deref(),
        Some("1")
    );
    assert_eq!(
        search("transfer.amount=%271234side%27").as_deref(),
        Some("0")
    );

    // Spending more than the balance is refused with a non-zero exit.
    let out = net.cli(
        &rpc,
        &[
            "tx", "transfer", "--from", "bob", "--to", &alice, "--amount", "99999999", "--denom",
            &denom, "--json",
        ],
    );
    assert!(
        !out.status.success(),
        "overspend accepted:\n{}",
        common::text(&out)
    );
    assert_eq!(net.balance(&rpc, &bob), 1234);

    // A proven query: the CLI proves the latest committed state and checks the proof against
    // the app hash in the next block's header.
    let bob_height = sent["height"].as_u64().expect("height of bob's transfer");
    wait_for("two blocks after bob's transfer", LONG, || {
        common::height_of(&rpc).filter(|h| *h >= bob_height + 2)
    });
    let proven = net.cli_json(&rpc, &["query", "account", &bob, "--prove", "--json"]);
    assert_eq!(proven["proof"]["verified"], true, "{proven}");
    assert_eq!(proven["nonce"], 0, "{proven}");
    let amount = proven["balances"]
        .as_array()
        .and_then(|b| b.iter().find(|c| c["denom"] == denom.as_str()))
        .map(|c| c["amount"].clone());
    assert_eq!(amount, Some("1234".into()), "{proven}");
    let proof_height = proven["proof"]["height"].as_u64().expect("proof height");
    let header_hash = common::header_app_hash(&rpc, proof_height + 1).expect("header");
    assert_eq!(
        proven["proof"]["app_hash"].as_str().map(str::to_uppercase),
        Some(header_hash.to_uppercase())
    );
}

#[test]
fn both_processes_killed_during_a_stream_of_transfers_restart_and_apply_each_once() {
    let _serial = common::serial();
    let net = Arc::new(Net::up(1, 21_100));
    let rpc = net.rpc_of("node0");
    let denom = net.denom();
    let sender = net.new_account("sender");
    let receiver = net.new_account("receiver");
    let funded = 10_000_000u128;
    let sent = net.transfer(&rpc, &net.faucet(), &sender, &funded.to_string());
    assert_eq!(sent["code"], 0);

    const TRANSFERS: u64 = 24;
    const AMOUNT: u128 = 100;
    let confirmed = Arc::new(AtomicU64::new(0));
    let stream = {
        let (net, rpc, denom, receiver, confirmed, sender) = (
            net.clone(),
            rpc.clone(),
            denom.clone(),
            receiver.clone(),
            confirmed.clone(),
            sender.clone(),
        );
        std::thread::spawn(move || {
            // Send until the sender's committed nonce shows every transfer applied. After a
            // failure (node down) the nonce tells whether the last one made it; the chain refuses
            // a replayed nonce, so nothing is sent twice.
            let start = std::time::Instant::now();
            loop {
                let nonce = match net.cli(&rpc, &["query", "account", &sender, "--json"]) {
                    out if out.status.success() => {
                        common::json_of(&out)["nonce"].as_u64().unwrap_or(0)
                    }
                    _ => {
                        assert!(start.elapsed() < LONG, "node never came back");
                        std::thread::sleep(Duration::from_millis(300));
                        continue;
                    }
                };
                confirmed.store(nonce, Ordering::SeqCst);
                if nonce >= TRANSFERS {
                    return nonce;
                }
                assert!(start.elapsed() < LONG * 2, "stream stuck at nonce {nonce}");
                let _ = net.cli(
                    &rpc,
                    &[
                        "tx",
                        "transfer",
                        "--from",
                        "sender",
                        "--to",
                        &receiver,
                        "--amount",
                        &AMOUNT.to_string(),
                        "--denom",
                        &denom,
                        "--timeout",
                        "10",
                        "--json",
                    ],
                );
            }
        })
    };

    wait_for("a few transfers before the crash", LONG, || {
        (confirmed.load(Ordering::SeqCst) >= 4).then_some(())
    });
    let before = common::height_of(&rpc).expect("height before kill");
    net.testnet_ok(&["kill", "node0"]);
    let st = net.status();
    assert_eq!(Net::node(&st, "node0")["running"], false, "{st}");
    assert!(
        common::height_of(&rpc).is_none(),
        "RPC still answers after kill"
    );
    net.testnet_ok(&["restart", "node0"]);

    let final_nonce = stream.join().expect("stream thread");
    assert_eq!(final_nonce, TRANSFERS);
    wait_for("blocks after the restart", LONG, || {
        common::height_of(&rpc).filter(|h| *h > before + 2)
    });

    // Exactly once: the receiver holds one AMOUNT per nonce, and the sender paid for exactly
    // TRANSFERS transfers (every transfer has the same size, hence the same fee).
    assert_eq!(net.balance(&rpc, &receiver), u128::from(TRANSFERS) * AMOUNT);
    let account = net.account(&rpc, &sender);
    assert_eq!(account["nonce"], TRANSFERS, "{account}");
    let fee_paid = funded - u128::from(TRANSFERS) * AMOUNT - net.balance(&rpc, &sender);
    assert_eq!(
        fee_paid % u128::from(TRANSFERS),
        0,
        "fees {fee_paid} are not {TRANSFERS} equal fees"
    );
    assert!(fee_paid > 0);
    let receiver_account = net.account(&rpc, &receiver);
    assert_eq!(receiver_account["nonce"], 0, "{receiver_account}");
}

#[test]
fn down_then_up_resumes_the_same_chain_and_a_different_shape_is_refused() {
    let _serial = common::serial();
    let net = Net::up(1, 21_200);
    let rpc = net.rpc_of("node0");
    let carol = net.new_account("carol");
    let sent = net.transfer(&rpc, &net.faucet(), &carol, "4242");
    let at = sent["height"].as_u64().expect("height");

    net.testnet_ok(&["down"]);
    let st = net.status();
    assert_eq!(Net::node(&st, "node0")["running"], false, "{st}");
    assert!(common::height_of(&rpc).is_none(), "RPC answers after down");

    let out = net.testnet(&["up", "--detach", "--validators", "3"]);
    assert!(
        !out.status.success(),
        "a 3-validator up over a 1-validator home was accepted"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("testnet reset"),
        "{}",
        common::text(&out)
    );

    net.testnet_ok(&["up", "--detach"]);
    wait_for("blocks after the second up", LONG, || {
        common::height_of(&rpc).filter(|h| *h > at + 1)
    });
    assert_eq!(net.balance(&rpc, &carol), 4242);
}

/// Only CometBFT dies, at arbitrary moments (including between FinalizeBlock and Commit), and
/// only it is restarted: the still-running `sidechaind` answers the new handshake and any
/// repeated FinalizeBlock, so the same application process keeps serving and the chain goes on.
/// Also `kill` then `restart`, the README's own sequence, back to back: the node's own ports
/// are free when `kill` returns.
#[test]
fn cometbft_alone_killed_and_restarted_keeps_the_same_app_process_serving() {
    let _serial = common::serial();
    let net = Net::up(1, 21_300);
    let rpc = net.rpc_of("node0");
    let app_pid = |st: &serde_json::Value| Net::node(st, "node0")["app_pid"].as_u64();
    let first_app = app_pid(&net.status()).expect("sidechaind pid");
    let dave = net.new_account("dave");
    for round in 0..6u64 {
        let before = wait_for("a block", LONG, || common::height_of(&rpc));
        // Vary the moment within the block interval.
        std::thread::sleep(Duration::from_millis(137 * round));
        net.testnet_ok(&["kill", "node0", "--process", "cometbft"]);
        let st = net.status();
        assert_eq!(Net::node(&st, "node0")["state"], "partial", "{st}");
        assert_eq!(
            app_pid(&st),
            Some(first_app),
            "sidechaind died with CometBFT"
        );
        net.testnet_ok(&["restart", "node0", "--process", "cometbft"]);
        wait_for("blocks after restarting CometBFT", LONG, || {
            common::height_of(&rpc).filter(|h| *h > before + 1)
        });
        assert_eq!(
            app_pid(&net.status()),
            Some(first_app),
            "round {round}: the application process was replaced"
        );
    }
    let sent = net.transfer(&rpc, &net.faucet(), &dave, "77");
    assert_eq!(sent["code"], 0, "{sent}");
    assert_eq!(net.balance(&rpc, &dave), 77);
    // kill && restart of the whole node, back to back, many times: never a port "in use".
    for round in 0..5 {
        net.testnet_ok(&["kill", "node0"]);
        let out = net.testnet(&["restart", "node0"]);
        assert!(
            out.status.success(),
            "round {round}: restart right after kill failed:\n{}",
            common::text(&out)
        );
    }
    let h = wait_for("blocks after the restarts", LONG, || {
        common::height_of(&rpc)
    });
    wait_for("the chain to go on", LONG, || {
        common::height_of(&rpc).filter(|x| *x > h + 1)
    });
    assert_eq!(net.balance(&rpc, &dave), 77);
}
