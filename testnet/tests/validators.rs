//! `testnet add-validator` and `remove-validator`: a fifth node joins a running four-validator
//! network, becomes a validator through an on-chain proposal, signs commits, and leaves again.

mod common;

use std::time::Duration;

use common::{height_of, rpc, wait_for, Net};

const LONG: Duration = Duration::from_secs(300);

/// Whether the commit of block `h` carries a signature of `address`.
fn signed_commit(url: &str, h: u64, address: &str) -> Option<bool> {
    let commit = rpc(url, &format!("/commit?height={h}"))?;
    let sigs = commit["signed_header"]["commit"]["signatures"]
        .as_array()?
        .clone();
    Some(sigs.iter().any(|s| {
        s["validator_address"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case(address))
            && s["block_id_flag"] == 2
    }))
}

fn set_power(url: &str, address: &str) -> Option<u64> {
    let set = rpc(url, "/validators?per_page=100")?;
    let found = set["validators"]
        .as_array()?
        .iter()
        .find(|v| {
            v["address"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(address))
        })
        .cloned();
    Some(
        found
            .and_then(|v| v["voting_power"].as_str().and_then(|p| p.parse().ok()))
            .unwrap_or(0),
    )
}

#[test]
fn a_fifth_node_joins_becomes_a_validator_signs_commits_and_can_be_removed() {
    let _serial = common::serial();
    let mut net = Net::up(4, 23_000);
    let rpc0 = net.rpc_of("node0");

    let out = net.testnet_ok(&["add-validator", "--json"]);
    let added = common::json_of(&out);
    assert_eq!(added["name"], "node4", "{added}");
    assert_eq!(added["power"], 10, "{added}");
    let address = added["validator_address"]
        .as_str()
        .expect("validator_address")
        .to_string();
    let approvals = added["approved_by"].as_array().map(Vec::len).unwrap_or(0);
    assert!(
        approvals >= 3,
        "applied with fewer than 3 of 4 approvals: {added}"
    );

    // CometBFT's set and the application's registry both hold it.
    assert_eq!(set_power(&rpc0, &address), Some(10));
    let registry = net
        .cli_json(&rpc0, &["query", "validators", "--json"])
        .to_string();
    assert!(
        registry.contains(added["operator"].as_str().unwrap()),
        "registry lacks node4: {registry}"
    );
    let st = net.status();
    let node4 = Net::node(&st, "node4").clone();
    assert_eq!(node4["running"], true, "{node4}");
    assert_eq!(node4["voting_power"], 10, "{node4}");

    // Its signatures appear in commits.
    let from = height_of(&rpc0).expect("height");
    wait_for("a commit signed by node4", LONG, || {
        let top = height_of(&rpc0)?;
        (from..top)
            .rev()
            .take(10)
            .any(|h| signed_commit(&rpc0, h, &address) == Some(true))
            .then_some(())
    });
    // node4 agrees with the others.
    let top = height_of(&rpc0).expect("height");
    let node4_rpc = node4["rpc"].as_str().unwrap().to_string();
    wait_for("node4 to follow", LONG, || {
        height_of(&node4_rpc).filter(|h| *h >= top)
    });
    net.status = st;
    net.assert_same_app_hashes(&["node0", "node4"], top.saturating_sub(5).max(1), top);

    // And it can be removed again; the chain goes on without it.
    let out = net.testnet_ok(&["remove-validator", "node4", "--json"]);
    let removed = common::json_of(&out);
    assert_eq!(removed["name"], "node4", "{removed}");
    assert_eq!(set_power(&rpc0, &address), Some(0));
    let after = height_of(&rpc0).expect("height");
    wait_for("blocks after the removal", LONG, || {
        height_of(&rpc0).filter(|h| *h >= after + 3)
    });
    let top = height_of(&rpc0).expect("height");
    assert_eq!(
        signed_commit(&rpc0, top - 1, &address),
        Some(false),
        "a removed validator still signs"
    );
    assert_eq!(Net::node(&net.status(), "node4")["voting_power"], 0);
}
