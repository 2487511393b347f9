//! The deposit half of the bridge end to end, with real geth, the deployed `Bridge` and test
//! tokens, 4 validators (CometBFT + sidechaind) and 4 relayers, all started by `testnet up`:
//! deposits are minted exactly once, in nonce order, to the right recipient in the right
//! denom, with 3 of 4 relayers, across relayer crashes, and never before the confirmation
//! depth; the L1 bridge always holds at least the wrapped supply.

mod common;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use common::{
    bin,
    bridge::{deposit, metric, L1},
    json_of, run, serial, text, wait_for, Net,
};
use serde_json::Value;

fn denom_of(token: Address) -> String {
    if token == Address::ZERO {
        "l1/eth".into()
    } else {
        format!("l1/0x{}", hex::encode(token.as_slice()))
    }
}

fn balance_in(net: &Net, address: &str, denom: &str) -> u128 {
    let v = net.cli_json(
        &net.rpc_of("node0"),
        &["query", "balance", address, "--denom", denom, "--json"],
    );
    v["amount"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("bad balance {v}"))
}

fn supply_of(net: &Net, denom: &str) -> u128 {
    let v = net.cli_json(&net.rpc_of("node0"), &["query", "supply", denom, "--json"]);
    v["amount"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("bad supply {v}"))
}

/// Per token: the L1 bridge holds at least the sidechain's wrapped supply.
fn assert_conserved(net: &Net, l1: &L1, tokens: &[Address]) {
    for t in tokens {
        let supply = supply_of(net, &denom_of(*t));
        let locked = l1.locked(*t);
        assert!(
            locked >= U256::from(supply),
            "conservation broken for {t}: L1 locks {locked}, sidechain supply {supply}"
        );
    }
}

fn bridge_status(net: &Net, nonce: u64) -> Value {
    net.cli_json(
        &net.rpc_of("node0"),
        &["bridge", "status", &nonce.to_string(), "--json"],
    )
}

#[test]
fn deposits_mint_exactly_once_in_the_right_denom_and_survive_a_stopped_relayer() {
    let _serial = serial();
    let net = Net::up_with_l1(4, 24_000, &[]);
    let l1 = L1::of(&net);
    for n in net.names() {
        let r = &Net::node(&net.status, &n)["relayer"];
        assert_eq!(r["running"], true, "relayer of {n} is not running: {r}");
        assert!(
            r["pid"].as_u64().is_some(),
            "relayer of {n} has no pid: {r}"
        );
    }
    let alice = net.new_account("alice");
    let tst = l1.token("TST");
    let fee = l1.token("FEE");
    let all = [tst, fee, Address::ZERO];

    // An ERC-20 deposit: approve + deposit, minted once to alice in l1/0x<token>.
    let tst_hex = format!("{tst}");
    let v = deposit(&net, &tst_hex, "1000", "alice", true);
    assert_eq!(v["denom"], denom_of(tst), "{v}");
    assert!(v["height"].as_u64().is_some(), "{v}");
    assert!(
        v["l1_tx_hash"].as_str().is_some_and(|h| h.len() == 66),
        "{v}"
    );
    let first_nonce = v["nonce"].as_u64().expect("nonce");
    assert_eq!(balance_in(&net, &alice, &denom_of(tst)), 1000);
    assert_conserved(&net, &l1, &all);

    // Ether.
    let v = deposit(&net, "eth", "5000000000000000", &alice, true);
    assert_eq!(v["denom"], "l1/eth", "{v}");
    assert_eq!(balance_in(&net, &alice, "l1/eth"), 5_000_000_000_000_000);
    assert_conserved(&net, &l1, &all);

    // A fee-on-transfer token (1% fee): the mint is what the bridge received.
    let fee_hex = format!("{fee}");
    let v = deposit(&net, &fee_hex, "10000", &alice, true);
    assert_eq!(v["amount"], "9900", "{v}");
    assert_eq!(balance_in(&net, &alice, &denom_of(fee)), 9900);
    assert_conserved(&net, &l1, &all);

    // The status of each deposit says minted, with the scriptable fields.
    let s = bridge_status(&net, first_nonce);
    assert_eq!(s["state"], "minted", "{s}");
    assert_eq!(s["amount"], "1000", "{s}");
    assert_eq!(s["denom"], denom_of(tst), "{s}");
    assert!(
        s["attested_power"].as_u64().is_some() && s["total_power"].as_u64().is_some(),
        "{s}"
    );

    // Exactly once: a few more blocks change nothing.
    let h = common::height_of(&net.rpc_of("node0")).expect("height");
    net.wait_all_at(&["node0"], h + 3, Duration::from_secs(60));
    assert_eq!(balance_in(&net, &alice, &denom_of(tst)), 1000);
    assert_eq!(supply_of(&net, &denom_of(tst)), 1000);

    // One relayer stopped: 3 of 4 (30 of 40 power) still mint.
    net.testnet_ok(&["kill", "node3", "--process", "relayer"]);
    let st = net.status();
    assert_eq!(Net::node(&st, "node3")["relayer"]["running"], false);
    assert_eq!(Net::node(&st, "node3")["state"], "partial");
    let v = deposit(&net, &tst_hex, "250", &alice, true);
    let nonce = v["nonce"].as_u64().expect("nonce");
    assert_eq!(balance_in(&net, &alice, &denom_of(tst)), 1250);

    // Restarted, it resumes from the chain's record: nothing applied is claimed again, and
    // the next deposit is claimed by it too.
    net.testnet_ok(&["restart", "node3", "--process", "relayer"]);
    wait_for(
        "node3's relayer to report healthy",
        Duration::from_secs(60),
        || metric(&net, "node3", "relayer_next_deposit_nonce").filter(|n| *n as u64 == nonce + 1),
    );
    assert_eq!(
        metric(&net, "node3", "relayer_claims_sent_total"),
        Some(0.0)
    );
    let v = deposit(&net, &tst_hex, "1", &alice, true);
    assert_eq!(v["nonce"].as_u64(), Some(nonce + 1));
    wait_for(
        "node3's relayer to claim the new deposit",
        Duration::from_secs(60),
        || metric(&net, "node3", "relayer_claims_sent_total").filter(|n| *n >= 1.0),
    );
    assert_eq!(balance_in(&net, &alice, &denom_of(tst)), 1251);
    assert_conserved(&net, &l1, &all);

    // Bad input: clear errors, no L1 transaction.
    let before = l1.deposit_nonce();
    for (args, needle) in [
        (
            vec![
                "--token",
                "0x00000000000000000000000000000000000000aa",
                "--amount",
                "5",
                "--to",
                "alice",
            ],
            "does not accept",
        ),
        (
            vec!["--token", "eth", "--amount", "0", "--to", "alice"],
            "more than 0",
        ),
        (
            vec!["--token", "eth", "--amount", "12x", "--to", "alice"],
            "--amount",
        ),
        (
            vec![
                "--token",
                "eth",
                "--amount",
                "5",
                "--to",
                "side1notanaddress",
            ],
            "--to",
        ),
        (
            vec!["--token", "0x1234", "--amount", "5", "--to", "alice"],
            "--token",
        ),
    ] {
        let mut all_args = vec!["bridge", "deposit"];
        all_args.extend(args.iter());
        let out = net.cli(&net.rpc_of("node0"), &all_args);
        assert!(
            !out.status.success(),
            "{all_args:?} succeeded:\n{}",
            text(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle),
            "{all_args:?}: error does not mention {needle}:\n{err}"
        );
    }
    assert_eq!(l1.deposit_nonce(), before, "a refused deposit reached L1");

    // A relayer config that does not match: each gets a clear error naming the fix.
    let relayer_home = net.home.join("nodes/node0/relayer");
    let good = std::fs::read_to_string(relayer_home.join("relayer.toml")).expect("relayer.toml");
    let scratch = tempfile::tempdir().expect("tempdir");
    let copy_keys = |dir: &std::path::Path| {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).expect("keys dir");
        let src = relayer_home.join("keys/operator.json");
        std::fs::copy(&src, keys.join("operator.json")).expect("copy key");
    };
    copy_keys(scratch.path());
    let l1_chain_id = net.status["l1"]["chain_id"].as_u64().expect("chain id");
    for (name, edit, needle) in [
        (
            "wrong chain id",
            good.replace(&format!("chain_id = {l1_chain_id}"), "chain_id = 999"),
            "chain id",
        ),
        (
            "contract without code",
            good.replace(
                &net.status["l1"]["bridge"].as_str().unwrap().to_string(),
                "0x00000000000000000000000000000000000000aa",
            ),
            "no contract",
        ),
        (
            "unreachable L1",
            good.replace(&l1.rpc, "http://127.0.0.1:9"),
            "cannot reach",
        ),
    ] {
        assert_ne!(edit, good, "{name}: the edit changed nothing");
        std::fs::write(scratch.path().join("relayer.toml"), &edit).expect("write");
        let home = scratch.path().to_str().expect("utf-8");
        let out = run(
            &bin("bridge-relayer"),
            &["config", "validate", "--online", "--json", "--home", home],
        );
        assert!(
            !out.status.success(),
            "{name}: validate passed:\n{}",
            text(&out)
        );
        let v = json_of(&out);
        assert_eq!(v["ok"], false, "{name}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{name}: {v}"
        );
    }
    std::fs::write(scratch.path().join("relayer.toml"), &good).expect("write");
    let out = run(
        &bin("bridge-relayer"),
        &[
            "config",
            "validate",
            "--online",
            "--home",
            scratch.path().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "the real config does not validate:\n{}",
        text(&out)
    );
}

/// A background stream of deposits of 1..=n base units of TST to one recipient.
fn deposit_stream(net: &Net, token: &str, to: &str, n: u64) -> Child {
    let home = net.client_home();
    let node = net.rpc_of("node0");
    let script = (1..=n)
        .map(|i| {
            format!(
                "{} --home {home} --node {node} bridge deposit --token {token} --amount {i} --to {to} --json || exit 1",
                bin("sidechain").display()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Command::new("bash")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("deposit stream")
}

#[test]
fn relayers_killed_at_random_still_mint_every_deposit_once_in_nonce_order() {
    let _serial = serial();
    let net = Net::up_with_l1(4, 24_200, &[]);
    let l1 = L1::of(&net);
    let bob = net.new_account("bob");
    let tst = l1.token("TST");
    let start = l1.deposit_nonce();
    const N: u64 = 50;
    let mut stream = deposit_stream(&net, &format!("{tst}"), &bob, N);

    // A fixed pseudo-random schedule of SIGKILLs and restarts of the relayers.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let names = net.names();
    let mut kills = 0;
    let started = Instant::now();
    while stream.try_wait().expect("poll stream").is_none() {
        if started.elapsed() > Duration::from_secs(600) {
            let _ = stream.kill();
            panic!("the {N} deposits were not all sent within 600 s");
        }
        let node = &names[(next() % names.len() as u64) as usize];
        let _ = net.testnet(&["kill", node, "--process", "relayer"]);
        kills += 1;
        std::thread::sleep(Duration::from_millis(300 + next() % 1500));
        net.testnet_ok(&["restart", node, "--process", "relayer"]);
        std::thread::sleep(Duration::from_millis(200 + next() % 1000));
    }
    let status = stream.wait().expect("stream");
    assert!(status.success(), "the deposit stream failed");
    assert!(kills >= 3, "only {kills} relayer kills happened");
    assert_eq!(l1.deposit_nonce(), start + N);

    let denom = denom_of(tst);
    let total: u128 = (1..=u128::from(N)).sum();
    wait_for(
        "every deposit to be minted",
        Duration::from_secs(240),
        || (balance_in(&net, &bob, &denom) == total).then_some(()),
    );
    let mut last_height = 0;
    for i in 1..=N {
        let s = bridge_status(&net, start + i);
        assert_eq!(s["state"], "minted", "{s}");
        assert_eq!(
            s["amount"],
            i.to_string(),
            "deposit {} carries the wrong amount: {s}",
            start + i
        );
        let h = s["height"].as_u64().expect("height");
        assert!(
            h >= last_height,
            "deposit {} minted at {h}, before its predecessor at {last_height}",
            start + i
        );
        last_height = h;
    }
    // Exactly once: the supply is the sum, and stays it.
    let h = common::height_of(&net.rpc_of("node0")).expect("height");
    net.wait_all_at(&["node0"], h + 3, Duration::from_secs(60));
    assert_eq!(balance_in(&net, &bob, &denom), total);
    assert_eq!(supply_of(&net, &denom), total);
    assert!(l1.locked(tst) >= U256::from(total));
}

#[test]
fn nothing_is_claimed_before_the_confirmation_depth_and_a_reorg_below_it_mints_only_the_final_chain(
) {
    let _serial = serial();
    let depth = 6u64;
    let net = Net::up_with_l1(4, 24_400, &["--confirmations", &depth.to_string()]);
    let l1 = L1::of(&net);
    let carol = net.new_account("carol");

    // Depth: while the deposit's block has fewer than `depth` blocks on top, no validator has
    // claimed it.
    let v = deposit(&net, "eth", "7000", &carol, false);
    let nonce = v["nonce"].as_u64().expect("nonce");
    let block = v["l1_block"].as_u64().expect("block");
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "deposit {nonce} was not minted within 180 s: {}",
            bridge_status(&net, nonce)
        );
        let s = bridge_status(&net, nonce);
        let head = l1.head();
        if s["state"] == "minted" {
            break;
        }
        if s["attested_power"].as_u64().unwrap_or(0) > 0 {
            assert!(
                head >= block + depth,
                "deposit {nonce} of block {block} was claimed at L1 head {head}, before {depth} confirmations"
            );
        } else if head < block + depth {
            assert_eq!(s["state"], "awaiting_confirmations", "{s}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(balance_in(&net, &carol, "l1/eth"), 7000);

    // Reorg below the depth: deposit, rewind L1 to before its block at once, deposit again.
    let v = deposit(&net, "eth", "1111", &carol, false);
    let reorged_block = v["l1_block"].as_u64().expect("block");
    let reorged_nonce = v["nonce"].as_u64().expect("nonce");
    let hash_at = |n: u64| {
        l1.block_on(async {
            l1.provider
                .get_block_by_number(n.into())
                .await
                .expect("block")
                .map(|b| b.header.hash)
        })
    };
    let before = hash_at(reorged_block).expect("the deposit's block");
    l1.block_on(async {
        l1.provider
            .raw_request::<_, Value>(
                "debug_setHead".into(),
                (format!("0x{:x}", reorged_block - 1),),
            )
            .await
            .expect("debug_setHead")
    });
    let v = deposit(&net, "eth", "2222", &carol, false);
    let after_nonce = v["nonce"].as_u64().expect("nonce");
    // Whatever the final chain holds at each nonce is what gets minted, once.
    wait_for(
        "the final chain's deposits to be minted",
        Duration::from_secs(120),
        || (bridge_status(&net, after_nonce)["state"] == "minted").then_some(()),
    );
    let mut expected = 7000u128;
    for n in reorged_nonce..=after_nonce {
        let s = bridge_status(&net, n);
        assert_eq!(s["state"], "minted", "{s}");
        let amount: u128 = s["amount"]
            .as_str()
            .expect("amount")
            .parse()
            .expect("amount");
        expected += amount;
        // The minted content is the one in the final L1 chain.
        let logs = l1.block_on(async {
            let filter = alloy::rpc::types::Filter::new()
                .address(l1.bridge)
                .event_signature(<bridge_contracts::Bridge::Deposit as alloy::sol_types::SolEvent>::SIGNATURE_HASH)
                .topic1(U256::from(n))
                .from_block(0);
            l1.provider.get_logs(&filter).await.expect("logs")
        });
        assert_eq!(
            logs.len(),
            1,
            "nonce {n} appears {} times in the final chain",
            logs.len()
        );
        assert_eq!(
            s["l1_tx_hash"].as_str().map(str::to_lowercase),
            logs[0]
                .transaction_hash
                .map(|h| h.to_string().to_lowercase()),
            "nonce {n} was minted from a transaction that is not in the final chain"
        );
    }
    assert_eq!(balance_in(&net, &carol, "l1/eth"), expected);
    assert_eq!(supply_of(&net, "l1/eth"), expected);
    assert_ne!(
        hash_at(reorged_block),
        Some(before),
        "the L1 was not rewound: block {reorged_block} is the same as before debug_setHead"
    );
    let _ = &l1.key_file;
}
