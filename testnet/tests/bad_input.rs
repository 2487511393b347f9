//! Bad input to `genesis` and `testnet up` gives an error that names the problem and the fix,
//! and leaves nothing half-written.

mod common;

use std::{fs, net::TcpListener, path::Path};

use common::{bin, run, text};

/// Every entry of `dir`: after a refused generation it must hold nothing but the spec.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn refused(spec: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("spec.toml");
    fs::write(&spec_path, spec).unwrap();
    let out_dir = dir.path().join("net");
    let out = run(
        &bin("genesis"),
        &[
            "new",
            "--out",
            out_dir.to_str().unwrap(),
            "--config",
            spec_path.to_str().unwrap(),
        ],
    );
    assert!(
        !out.status.success(),
        "genesis accepted bad input:\n{spec}\n{}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for e in expected {
        assert!(stderr.contains(e), "error lacks `{e}`:\n{}", text(&out));
    }
    assert_eq!(
        entries(dir.path()),
        ["spec.toml"],
        "something was written for:\n{spec}"
    );
}

#[test]
fn genesis_rejects_duplicate_validators_zero_power_and_malformed_keys_writing_nothing() {
    let _serial = common::serial();
    refused(
        "base_port = 24000\n[[validators]]\nname = \"a\"\n[[validators]]\nname = \"a\"\n",
        &["validators[1].name", "duplicate validator `a`"],
    );
    refused(
        "base_port = 24000\n[[validators]]\nname = \"a\"\npower = 0\n",
        &["validators[0].power", "power 0"],
    );
    refused(
        "base_port = 24000\n[[validators]]\nname = \"a\"\n[[accounts]]\naddress = \"side1qqqqinvalid\"\nbalances = [{ denom = \"side\", amount = \"5\" }]\n",
        &["accounts[0].address", "not a bech32 address"],
    );
    refused(
        "base_port = 24000\n[[validators]]\nname = \"a\"\n[[accounts]]\npub_key = \"00112233\"\nbalances = [{ denom = \"side\", amount = \"5\" }]\n",
        &["accounts[0].pub_key", "holds 4 bytes"],
    );
    refused(
        "base_port = 24000\nvalidator_count = 3\n[[validators]]\nname = \"a\"\n",
        &["unknown field `validator_count`"],
    );
    refused(
        "base_port = 24000\n[[validators]]\nname = \"a\"\n[[accounts]]\npub_key = \"zz\"\nbalances = [{ denom = \"side\", amount = \"1\" }]\n",
        &["accounts[0].pub_key", "not hex"],
    );
}

#[test]
fn genesis_validate_names_malformed_keys_and_duplicates_in_a_genesis_file() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let out = run(
        &bin("genesis"),
        &[
            "new",
            "--out",
            net.to_str().unwrap(),
            "--validators",
            "2",
            "--base-port",
            "24100",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let path = net.join("genesis.json");
    let good: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let ok = run(
        &bin("genesis"),
        &["validate", path.to_str().unwrap(), "--json"],
    );
    assert!(ok.status.success(), "{}", text(&ok));

    let check = |doc: serde_json::Value, expected: &str| {
        let bad = dir.path().join("bad.json");
        fs::write(&bad, serde_json::to_vec(&doc).unwrap()).unwrap();
        let out = run(&bin("genesis"), &["validate", bad.to_str().unwrap()]);
        assert!(!out.status.success(), "accepted: {doc}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "error lacks `{expected}`:\n{}",
            text(&out)
        );
    };
    let mut doc = good.clone();
    doc["app_state"]["validators"][0]["pub_key"] = "not-base64!".into();
    check(doc, "not base64");
    let mut doc = good.clone();
    doc["app_state"]["validators"][1]["pub_key"] =
        good["app_state"]["validators"][0]["pub_key"].clone();
    check(doc, "duplicate consensus key");
    let mut doc = good.clone();
    doc["app_state"]["validators"][0]["power"] = 0.into();
    check(doc, "power must be positive");
    let mut doc = good.clone();
    doc["app_state"]["validators"][0]["operator"] = "side1broken".into();
    check(doc, "side1broken");
    let mut doc = good;
    doc["validators"][0]["power"] = "99".into();
    check(doc, "differ from app_state.validators");
}

#[test]
fn a_port_in_use_is_named_with_the_fix_and_nothing_is_written() {
    let _serial = common::serial();
    let base = 25_400u16;
    let held = TcpListener::bind(("127.0.0.1", base + 11)).expect("test port free");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("net");

    let out = run(
        &bin("genesis"),
        &[
            "new",
            "--out",
            home.to_str().unwrap(),
            "--validators",
            "2",
            "--base-port",
            &base.to_string(),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {}", base + 11))
            && stderr.contains("rpc of node1")
            && stderr.contains("--base-port"),
        "{}",
        text(&out)
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));

    let out = run(
        &bin("testnet"),
        &[
            "up",
            "--detach",
            "--home",
            home.to_str().unwrap(),
            "--validators",
            "2",
            "--base-port",
            &base.to_string(),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {}", base + 11)) && stderr.contains("--base-port"),
        "{}",
        text(&out)
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    drop(held);
}
