//! Withdrawals under faults, end to end on the local stack (geth, the deployed `Bridge`, 4
//! validators and their relayers started by `testnet up`):
//!
//! * a batch whose L1 timeout passes while the guardian has paused the bridge is attested as
//!   timed out, its withdrawal is batched again under the same nonce, and once the admin
//!   unpauses it is released exactly once, and no relayer paid gas while the bridge was paused;
//! * the L1 signer set follows `testnet add-validator` (applied at once) and
//!   `remove-validator` (enough moved power to meet the contract's delay: pending, then
//!   activated by a relayer), and batches signed by each new set execute;
//! * the relayer that submits a batch, SIGKILLed after broadcasting its L1 transaction and
//!   before its receipt, is restarted: exactly one release and one L1 transaction.
//!
//! * the relayer's ops commands on a live network: `pending` shows a deposit held at half the
//!   power while two relayers are down, `status` shows both chains, the deposit nonces and the
//!   invariant, `clear --from-block` claims the missed deposit so that it is minted, `keys show`
//!   names the registered bridge key, `status` sees the 3 mesh peers; `health-check` names
//!   each broken condition.
//!
//! The conservation invariant of `testnet status` (L1 locked >= wrapped supply + in flight)
//! is checked at every sample.

mod common;

use std::{future::IntoFuture, time::Duration};

use alloy::{primitives::U256, providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use common::{
    bridge::{self as b, L1},
    serial, wait_for, Net,
};
use sidechain_client::Client;
use sidechain_types::{bridge::wrapped_denom, query::Route, state_key, EthAddress, OutgoingBatch};

fn tst_denom(l1: &L1) -> String {
    wrapped_denom(&EthAddress(l1.token("TST").into_array())).to_string()
}

/// Deposits 1000 TST to a new account `alice` (funded with native tokens for fees) and waits
/// for the mint.
fn fund_alice(net: &Net, l1: &L1) -> String {
    let alice = net.new_account("alice");
    // Native tokens for her transaction fees.
    net.transfer(&net.rpc_of("node0"), &net.faucet(), &alice, "10000000");
    let v = b::deposit(net, &l1.token("TST").to_string(), "1000", &alice, true);
    assert_eq!(v["state"], "minted", "{v}");
    alice
}

/// L1 transactions sent by every relayer's bridge key so far.
fn relayer_txs(net: &Net, l1: &L1) -> u64 {
    b::relayer_keys(net)
        .iter()
        .map(|(_, a)| l1.tx_count(*a))
        .sum()
}

/// `BatchExecuted` logs of batch `nonce` on L1.
fn executions(l1: &L1, nonce: u64) -> usize {
    let filter = Filter::new()
        .address(l1.bridge)
        .event_signature(bridge_contracts::Bridge::BatchExecuted::SIGNATURE_HASH)
        .topic1(U256::from(nonce))
        .from_block(0);
    l1.block_on(async { l1.provider.get_logs(&filter).await })
        .expect("eth_getLogs")
        .len()
}

#[test]
fn a_batch_that_times_out_while_the_bridge_is_paused_is_requeued_and_released_once() {
    let _serial = serial();
    let net = Net::up_with_l1(4, 24_700, &["--batch-timeout-secs", "60"]);
    let l1 = L1::of(&net);
    let client = Client::new(&net.rpc_of("node0")).expect("client");
    fund_alice(&net, &l1);

    // The guardian pauses the bridge; then alice withdraws.
    let guardian = l1.signing(l1.guardian());
    l1.block_on(async {
        bridge_contracts::Bridge::new(l1.bridge, &guardian)
            .pause()
            .send()
            .await
            .expect("pause")
            .get_receipt()
            .await
            .expect("pause receipt")
    });
    assert!(l1
        .block_on(l1.contract().paused().call().into_future())
        .expect("paused"));
    let txs_before = relayer_txs(&net, &l1);
    let to = l1.token_holder("TST");
    let id = b::withdraw(&net, "alice", &tst_denom(&l1), 300, 5, to);
    let s = b::wait_withdrawal(&net, id, "in_batch", Duration::from_secs(60));
    let nonce = s["batch_nonce"].as_u64().expect("batch nonce");
    let first: OutgoingBatch = l1
        .block_on(client.batch(nonce))
        .expect("query")
        .expect("batch");

    // The batch becomes ready but cannot execute: relayers simulate, see the pause and send
    // nothing. Once L1 time passes its timeout, it is attested timed out and cut again with
    // the same nonce and a fresh timeout.
    let second: OutgoingBatch = wait_for(
        "the batch to time out and be cut again",
        Duration::from_secs(240),
        || {
            let timed_out = l1
                .block_on(client.query_raw(&Route::Raw(state_key::bridge::timed_out_batch(nonce))))
                .expect("query");
            if timed_out.is_empty() {
                b::assert_invariant(&net);
                return None;
            }
            l1.block_on(client.batch(nonce)).expect("query")
        },
    );
    assert_eq!(second.nonce, nonce, "the nonce is used again");
    assert!(second.timeout > first.timeout, "with a fresh timeout");
    assert_eq!(second.withdrawals, first.withdrawals);
    assert_eq!(executions(&l1, nonce), 0);
    assert_eq!(
        relayer_txs(&net, &l1),
        txs_before,
        "no relayer paid gas for a batch the paused bridge would refuse"
    );

    // The admin unpauses: the same withdrawal is released, once.
    let admin = l1.signing(l1.admin());
    l1.block_on(async {
        bridge_contracts::Bridge::new(l1.bridge, &admin)
            .unpause()
            .send()
            .await
            .expect("unpause")
            .get_receipt()
            .await
            .expect("unpause receipt")
    });
    let s = b::wait_withdrawal(&net, id, "released", Duration::from_secs(180));
    assert_eq!(s["batch_nonce"], nonce);
    assert_eq!(l1.balance(l1.token("TST"), to), U256::from(301u64));
    assert_eq!(executions(&l1, nonce), 1);
    assert_eq!(l1.locked(l1.token("TST")), U256::from(1000u64 - 305));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        relayer_txs(&net, &l1) - txs_before,
        1,
        "one L1 transaction for the batch, after the unpause"
    );
    assert_eq!(executions(&l1, nonce), 1);
    b::assert_invariant(&net);
}

/// The checkpoint the contract holds equals the hash of the set the chain says L1 holds.
fn assert_checkpoint_matches(l1: &L1, client: &Client) -> sidechain_types::L1SignerSet {
    let set = l1
        .block_on(client.l1_signer_set())
        .expect("query")
        .expect("a bridge");
    let abi: bridge_contracts::Bridge::SignerSet =
        sidechain_app::bridge::l1::signer_set_to_abi(&set).into();
    let c = l1.contract();
    let hash = l1
        .block_on(c.signerSetHash(abi).call().into_future())
        .expect("signerSetHash");
    let checkpoint = l1
        .block_on(c.signerSetCheckpoint().call().into_future())
        .expect("checkpoint");
    assert_eq!(
        hash, checkpoint,
        "the chain's L1 set {set:?} is not the one L1 holds"
    );
    set
}

#[test]
fn the_l1_signer_set_follows_added_and_removed_validators_through_the_contracts_delay() {
    let _serial = serial();
    let net = Net::up_with_l1(4, 24_800, &[]);
    let l1 = L1::of(&net);
    let client = Client::new(&net.rpc_of("node0")).expect("client");
    fund_alice(&net, &l1);
    let denom = tst_denom(&l1);
    assert_eq!(assert_checkpoint_matches(&l1, &client).nonce, 0);

    // Updates that move 1/3 of the power (summed since the last delayed one) wait 20 s.
    let admin = l1.signing(l1.admin());
    l1.block_on(async {
        bridge_contracts::Bridge::new(l1.bridge, &admin)
            .setDelays(20, 0)
            .send()
            .await
            .expect("setDelays")
            .get_receipt()
            .await
            .expect("receipt")
    });

    // A fifth validator of equal power moves 1/5: applied at once.
    net.testnet_ok(&["add-validator", "--name", "node4"]);
    // Every bridge key that may pay for anything below, node4's included.
    let payers = b::relayer_keys(&net);
    assert!(payers.iter().any(|(n, _)| n == "node4"), "{payers:?}");
    let set = wait_for(
        "L1 to hold the five-member set",
        Duration::from_secs(180),
        || {
            let set = l1.block_on(client.l1_signer_set()).ok()??;
            (set.nonce == 1).then_some(set)
        },
    );
    assert_eq!(set.signers.len(), 5);
    assert_checkpoint_matches(&l1, &client);
    let update = l1
        .block_on(client.signer_set_update(1))
        .expect("query")
        .expect("update 1");
    assert_eq!(update.status.name(), "active");
    // A batch signed by the new set executes.
    let to = l1.token_holder("TST");
    let id = b::withdraw(&net, "alice", &denom, 100, 1, to);
    let s = b::wait_withdrawal(&net, id, "released", Duration::from_secs(180));
    let batch = l1
        .block_on(client.batch(s["batch_nonce"].as_u64().expect("nonce")))
        .expect("query")
        .expect("batch");
    assert_eq!(batch.signer_set_nonce, 1);
    assert_eq!(l1.balance(l1.token("TST"), to), U256::from(101u64));

    // Removing it again moves another 1/5: 2/5 since deployment, so the contract delays it.
    net.testnet_ok(&["remove-validator", "node4"]);
    let set = wait_for(
        "L1 to hold the four-member set again",
        Duration::from_secs(240),
        || {
            let set = l1.block_on(client.l1_signer_set()).ok()??;
            (set.nonce == 2).then_some(set)
        },
    );
    assert_eq!(set.signers.len(), 4);
    assert_checkpoint_matches(&l1, &client);
    // On L1: accepted as pending (activatesAt in the future), then activated by a relayer.
    let updated = l1
        .block_on(async {
            l1.provider
                .get_logs(
                    &Filter::new()
                        .address(l1.bridge)
                        .event_signature(bridge_contracts::Bridge::SignerSetUpdated::SIGNATURE_HASH)
                        .topic1(U256::from(2))
                        .from_block(0),
                )
                .await
        })
        .expect("logs");
    assert_eq!(updated.len(), 1);
    let u = updated[0]
        .log_decode::<bridge_contracts::Bridge::SignerSetUpdated>()
        .expect("decode");
    let block = updated[0].block_number.expect("block");
    let at = l1
        .block_on(async { l1.provider.get_block_by_number(block.into()).await })
        .expect("block")
        .expect("block")
        .header
        .timestamp;
    assert!(
        u.inner.data.activatesAt >= U256::from(at + 20),
        "the update waited out the delay: activates at {} (accepted at {at})",
        u.inner.data.activatesAt
    );
    let activated = l1
        .block_on(async {
            l1.provider
                .get_logs(
                    &Filter::new()
                        .address(l1.bridge)
                        .event_signature(
                            bridge_contracts::Bridge::SignerSetActivated::SIGNATURE_HASH,
                        )
                        .topic1(U256::from(2))
                        .from_block(0),
                )
                .await
        })
        .expect("logs");
    assert_eq!(activated.len(), 1);
    assert!(activated[0].block_number.expect("block") > block);
    // And a batch signed by the four-member set executes.
    let to = l1.token_holder("TST");
    let id = b::withdraw(&net, "alice", &denom, 50, 1, to);
    let s = b::wait_withdrawal(&net, id, "released", Duration::from_secs(180));
    let batch = l1
        .block_on(client.batch(s["batch_nonce"].as_u64().expect("nonce")))
        .expect("query")
        .expect("batch");
    assert_eq!(batch.signer_set_nonce, 2);
    assert_eq!(l1.balance(l1.token("TST"), to), U256::from(51u64));
    b::assert_invariant(&net);

    // Exactly one payer: each item (2 signer-set updates, 1 activation, every batch) cost one
    // L1 transaction from all the relayers' bridge keys together.
    let batches = l1
        .block_on(l1.contract().lastBatchNonce().call().into_future())
        .expect("lastBatchNonce");
    let sent: u64 = payers.iter().map(|(_, a)| l1.tx_count(*a)).sum();
    assert_eq!(
        sent,
        3 + batches,
        "{sent} L1 transactions from the relayers for 2 updates, 1 activation and {batches} batches"
    );
}

/// The node whose relayer log shows a broadcast `submitBatch` after `skip` lines, and the
/// transaction hash.
fn broadcast_in_logs(net: &Net, names: &[String]) -> Option<(String, String)> {
    for n in names {
        let path = std::path::Path::new(net.home_str())
            .join("nodes")
            .join(n)
            .join("logs/relayer.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            if line.contains("broadcast L1 transaction") && line.contains("submit_batch") {
                let tx = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("tx="))
                    .map(|t| t.trim_matches('"').to_string())?;
                return Some((n.clone(), tx));
            }
        }
    }
    None
}

#[test]
fn a_submitter_killed_after_broadcasting_pays_once_and_the_batch_is_released_once() {
    let _serial = serial();
    // Slow L1 blocks (4 s) leave a window between broadcast and receipt.
    let net = Net::up_with_l1(4, 24_900, &["--l1-block-period", "4"]);
    let l1 = L1::of(&net);
    let client = Client::new(&net.rpc_of("node0")).expect("client");
    fund_alice(&net, &l1);
    let names = net.names();
    let txs_before = relayer_txs(&net, &l1);
    let to = l1.token_holder("TST");
    let id = b::withdraw(&net, "alice", &tst_denom(&l1), 200, 3, to);

    let (node, tx) = wait_for(
        "a relayer to broadcast submitBatch",
        Duration::from_secs(120),
        || broadcast_in_logs(&net, &names),
    );
    net.testnet_ok(&["kill", &node, "--process", "relayer"]);
    let hash: alloy::primitives::B256 = tx.parse().expect("tx hash");
    let pending = l1
        .block_on(async { l1.provider.get_transaction_receipt(hash).await })
        .expect("receipt query")
        .is_none();
    eprintln!(
        "killed {node}'s relayer after broadcasting {tx}; receipt pending at the kill: {pending}"
    );
    std::thread::sleep(Duration::from_secs(2));
    net.testnet_ok(&["restart", &node, "--process", "relayer"]);

    let s = b::wait_withdrawal(&net, id, "released", Duration::from_secs(180));
    let nonce = s["batch_nonce"].as_u64().expect("nonce");
    assert_eq!(
        s["l1_tx_hash"].as_str().map(str::to_lowercase),
        Some(tx.to_lowercase())
    );
    assert_eq!(l1.balance(l1.token("TST"), to), U256::from(201u64));
    // Give every relayer time to (wrongly) submit again.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(executions(&l1, nonce), 1);
    let sent = relayer_txs(&net, &l1) - txs_before;
    eprintln!("L1 transactions from relayer addresses for batch {nonce}: {sent}");
    assert_eq!(
        sent, 1,
        "one L1 transaction for the batch, none paid for nothing"
    );
    let batch = l1
        .block_on(client.batch(nonce))
        .expect("query")
        .expect("batch");
    assert!(batch.settled.is_some());
    b::assert_invariant(&net);
}

/// `bridge-relayer health-check --json` on a relayer home whose config is node0's with
/// `change` applied; returns (exit success, the names of the failed checks).
fn health_check(
    net: &Net,
    dir: &std::path::Path,
    extra: &[&str],
    change: impl FnOnce(&mut bridge_relayer::config::Config, &std::path::Path),
) -> (bool, Vec<String>) {
    let node0 = std::path::Path::new(net.home_str()).join("nodes/node0/relayer");
    let home = dir.join(format!(
        "h{}",
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    ));
    std::fs::create_dir_all(home.join("keys")).expect("home");
    std::fs::copy(
        node0.join("keys/operator.json"),
        home.join("keys/operator.json"),
    )
    .expect("key");
    let (mut config, _) =
        bridge_relayer::config::Config::load(&node0.join("relayer.toml")).expect("node0 config");
    change(&mut config, &home);
    config
        .save_new(&home.join("relayer.toml"))
        .expect("save config");
    let mut args = vec![
        "health-check",
        "--home",
        home.to_str().expect("utf-8"),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = common::run(&common::bin("bridge-relayer"), &args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("health-check printed no JSON ({e}): {}", common::text(&out)));
    let failed = v["failed"]
        .as_array()
        .expect("failed list")
        .iter()
        .map(|f| f.as_str().expect("name").to_string())
        .collect();
    assert_eq!(out.status.success(), v["ok"] == true, "{v}");
    (out.status.success(), failed)
}

/// `bridge-relayer <args> --home <node's relayer home> --json`, expected to succeed.
fn relayer_json(net: &Net, node: &str, args: &[&str]) -> serde_json::Value {
    let home = std::path::Path::new(net.home_str())
        .join("nodes")
        .join(node)
        .join("relayer");
    let mut all = args.to_vec();
    all.extend(["--home", home.to_str().expect("utf-8"), "--json"]);
    let out = common::ok(&common::bin("bridge-relayer"), &all);
    common::json_of(&out)
}

#[test]
fn relayer_ops_commands_and_health_check_on_a_live_network() {
    let _serial = serial();
    let net = Net::up_with_l1(4, 25_000, &[]);

    // Two of four relayers down: a deposit gathers half the power and waits.
    for node in ["node0", "node1"] {
        net.testnet_ok(&["kill", node, "--process", "relayer"]);
    }
    let bob = net.new_account("bob");
    let v = b::deposit(&net, "eth", "4321", &bob, false);
    let nonce = v["nonce"].as_u64().expect("nonce");
    let pending = wait_for(
        "the deposit to gather the claims of the two running relayers",
        Duration::from_secs(120),
        || {
            let p = relayer_json(&net, "node0", &["pending"]);
            let d = p["deposits"].as_array()?.first()?.clone();
            (d[1].as_u64()? > 0 && d[1].as_u64()? * 2 == d[2].as_u64()?).then_some(p)
        },
    );
    assert_eq!(pending["deposits"][0][0], nonce, "{pending}");
    assert_eq!(
        pending["deposits"].as_array().map(Vec::len),
        Some(1),
        "{pending}"
    );
    assert!(pending["batch"].is_null(), "{pending}");

    let s = relayer_json(&net, "node0", &["status"]);
    assert!(s["l1_head"].as_u64().expect("l1_head") > 0, "{s}");
    assert!(s["sidechain_height"].as_u64().expect("height") > 0, "{s}");
    assert_eq!(s["l1_deposit_nonce"], nonce, "{s}");
    assert_eq!(s["last_applied_deposit"], nonce - 1, "{s}");
    assert!(s["running"].is_null(), "node0's relayer is down: {s}");
    // Nothing is minted yet: no wrapped token, so no invariant term.
    assert_eq!(s["invariant"], serde_json::json!([]), "{s}");
    assert!(
        s["l1_gas_wei"]
            .as_str()
            .expect("gas")
            .parse::<u128>()
            .expect("wei")
            > 0
    );

    // clear: node0 scans L1 again and claims what it missed; 3 of 4 mint the deposit.
    let c = relayer_json(&net, "node0", &["clear", "--from-block", "0"]);
    assert_eq!(c["claimed"], 1, "{c}");
    wait_for(
        "the cleared deposit to be minted",
        Duration::from_secs(60),
        || {
            let s = relayer_json(&net, "node1", &["status"]);
            (s["last_applied_deposit"] == nonce).then_some(())
        },
    );
    let c = relayer_json(&net, "node0", &["clear", "--from-block", "0"]);
    assert_eq!(c["claimed"], 0, "nothing is claimed twice: {c}");
    let s = relayer_json(&net, "node0", &["status"]);
    let eth = s["invariant"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["denom"] == "l1/eth"))
        .unwrap_or_else(|| panic!("no l1/eth invariant term: {s}"));
    assert_eq!(eth["supply"], "4321", "{s}");
    assert_eq!(eth["holds"], true, "{s}");

    // keys show names the bridge key the chain registered for node0.
    let keys = relayer_json(&net, "node0", &["keys", "show"]);
    let registered = b::relayer_keys(&net)
        .into_iter()
        .find(|(n, _)| n == "node0")
        .expect("node0")
        .1;
    assert_eq!(
        keys["bridge_address"].as_str().map(str::to_lowercase),
        Some(registered.to_string().to_lowercase()),
        "{keys}"
    );

    // Back up (node1 without its local files: the signing log is gone, it resumes from the
    // chains): status shows the running relayer and its 3 mesh peers.
    let log = std::path::Path::new(net.home_str()).join("nodes/node1/relayer/bridge/signed.jsonl");
    if log.exists() {
        std::fs::remove_file(&log).expect("remove node1's signing log");
    }
    for node in ["node0", "node1"] {
        net.testnet_ok(&["restart", node, "--process", "relayer"]);
    }
    let s = wait_for(
        "node0's relayer to see its 3 mesh peers",
        Duration::from_secs(90),
        || {
            let s = relayer_json(&net, "node0", &["status"]);
            (s["mesh_peers"].as_f64() == Some(3.0)).then_some(s)
        },
    );
    assert!(s["running"].is_object(), "{s}");
    let v = b::deposit(&net, "eth", "99", &bob, false);
    let second = v["nonce"].as_u64().expect("nonce");
    wait_for(
        "node1, restarted without its files, to claim the next deposit",
        Duration::from_secs(90),
        || {
            let s = relayer_json(&net, "node1", &["status"]);
            (s["last_claimed_deposit"] == second && s["last_applied_deposit"] == second)
                .then_some(())
        },
    );
    assert_eq!(
        relayer_json(&net, "node1", &["status"])["last_claimed_deposit"],
        second
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, failed) = health_check(&net, dir.path(), &[], |_, _| {});
    assert!(
        ok && failed.is_empty(),
        "a healthy relayer fails: {failed:?}"
    );

    let (ok, failed) = health_check(&net, dir.path(), &[], |c, _| {
        c.l1.rpc = "http://127.0.0.1:1".into();
    });
    assert!(!ok);
    assert!(failed.contains(&"l1_reachable".to_string()), "{failed:?}");
    assert!(
        !failed.contains(&"operator_registered".to_string()),
        "{failed:?}"
    );

    let (ok, failed) = health_check(&net, dir.path(), &[], |c, _| c.l1.chain_id = 999);
    assert!(!ok);
    assert!(failed.contains(&"l1_chain_id".to_string()), "{failed:?}");
    assert!(!failed.contains(&"l1_reachable".to_string()), "{failed:?}");

    // Another contract (the test token has code but is not this bridge).
    let tst = net.status["l1"]["tokens"]["TST"]
        .as_str()
        .expect("TST")
        .to_string();
    let (ok, failed) = health_check(&net, dir.path(), &[], |c, _| c.l1.bridge = tst);
    assert!(!ok);
    assert!(failed.contains(&"l1_contract".to_string()), "{failed:?}");
    for fine in [
        "l1_reachable",
        "l1_chain_id",
        "operator_registered",
        "l1_gas_balance",
    ] {
        assert!(!failed.contains(&fine.to_string()), "{fine} in {failed:?}");
    }

    // A bridge key the chain never registered, which also has no ether for gas.
    let (ok, failed) = health_check(&net, dir.path(), &[], |c, home| {
        let key = home.join("bridge/eth_key.json");
        std::fs::create_dir_all(key.parent().expect("dir")).expect("dir");
        let k = alloy::signers::local::PrivateKeySigner::random();
        std::fs::write(
            &key,
            serde_json::json!({
                "address": k.address().to_string(),
                "private_key": format!("0x{}", hex::encode(k.to_bytes())),
            })
            .to_string(),
        )
        .expect("key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        c.l1.bridge_key = key;
    });
    assert!(!ok);
    assert!(
        failed.contains(&"bridge_key_registered".to_string()),
        "{failed:?}"
    );
    assert!(failed.contains(&"l1_gas_balance".to_string()), "{failed:?}");

    // A gas floor above what the (registered, funded) key holds.
    let (ok, failed) = health_check(
        &net,
        dir.path(),
        &["--min-gas-wei", "1000000000000000000000000"],
        |_, _| {},
    );
    assert!(!ok);
    assert_eq!(failed, vec!["l1_gas_balance".to_string()]);
}
