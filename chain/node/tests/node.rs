//! The node's ABCI methods over a real RocksDB store, without CometBFT: the handshake after a
//! restart, crash before commit, proofs, CheckTx sequencing, and the metrics endpoint.

use base64::Engine;
use ed25519_consensus::SigningKey;
use sidechain_app::{BlockInfo, CheckKind};
use sidechain_store::Store;
use sidechain_types::{
    proof, query, state_key, tx::build_signed, Account, Address, Code, Denom, Msg,
};
use sidechaind::{metrics::Metrics, node::Node};

const CHAIN: &str = "node-test";

/// Block `height`, with a block time that rises with it.
fn at(height: u64) -> BlockInfo {
    BlockInfo {
        height,
        time_secs: 1_700_000_000 + height,
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from([seed; 32])
}

fn addr(k: &SigningKey) -> Address {
    Address::from_pubkey(&k.verification_key().to_bytes())
}

fn app_state() -> (Vec<u8>, Vec<([u8; 32], u64)>) {
    let val = key(50);
    let json = serde_json::json!({
        "native_denom": "side",
        "accounts": [{ "address": addr(&key(1)).to_string(), "balances": [{ "denom": "side", "amount": "1000000000" }] }],
        "validators": [{
            "name": "v0",
            "pub_key": base64::engine::general_purpose::STANDARD.encode(val.verification_key().to_bytes()),
            "power": 10,
            "operator": addr(&key(60)).to_string(),
            "eth_address": format!("0x{}", "ab".repeat(20)),
        }],
    });
    (
        serde_json::to_vec(&json).unwrap(),
        vec![(val.verification_key().to_bytes(), 10)],
    )
}

fn open(dir: &std::path::Path) -> Node {
    Node::new(Store::open(dir).unwrap(), Metrics::new())
}

/// A node past genesis and one empty block.
fn started(dir: &std::path::Path) -> Node {
    started_with(dir, Metrics::new())
}

/// [`started`], reporting to `metrics`.
fn started_with(dir: &std::path::Path, metrics: Metrics) -> Node {
    let (state, vals) = app_state();
    let mut node = Node::new(Store::open(dir).unwrap(), metrics);
    node.init_chain(CHAIN, &state, &vals).unwrap();
    node.finalize_block(at(1), &[] as &[Vec<u8>]).unwrap();
    node.commit().unwrap();
    node
}

fn transfer(nonce: u64, amount: u128) -> Vec<u8> {
    let msg = Msg::transfer(addr(&key(2)), Denom::new("side").unwrap(), amount);
    build_signed(&key(1), CHAIN, nonce, 1, vec![msg])
        .unwrap()
        .encode()
}

#[test]
fn restart_reports_the_last_commit_and_replays_to_the_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (state, vals) = app_state();
    let (hash2, staged3) = {
        let mut node = open(dir.path());
        assert_eq!(node.info(), (0, vec![]), "a fresh node asks for InitChain");
        node.init_chain(CHAIN, &state, &vals).unwrap();
        node.finalize_block(at(1), &[transfer(0, 5)]).unwrap();
        node.commit().unwrap();
        node.finalize_block(at(2), &[transfer(1, 7)]).unwrap();
        let c = node.commit().unwrap();
        // Block 3 is executed but the process dies before Commit.
        let staged = node
            .finalize_block(at(3), &[transfer(2, 9)])
            .unwrap()
            .app_hash;
        (c.app_hash, staged)
    };
    let mut node = open(dir.path());
    assert_eq!(node.info(), (2, hash2.to_vec()));
    // CometBFT replays block 3: same result.
    assert_eq!(
        node.finalize_block(at(3), &[transfer(2, 9)])
            .unwrap()
            .app_hash,
        staged3
    );
    node.commit().unwrap();
    let a = node.query(query::ACCOUNT, addr(&key(2)).as_bytes(), 0, false);
    let acct: Account = borsh::from_slice(&a.value).unwrap();
    assert_eq!(
        acct.balance(&Denom::new("side").unwrap()),
        5 + 7 + 9,
        "each transfer applied once"
    );
}

/// Only CometBFT died after our FinalizeBlock(H) answer and before Commit(H): the restarted
/// CometBFT handshakes (Info still reports H-1) and sends FinalizeBlock(H) again to the
/// still-running node, which answers as before instead of stopping on a sequence error.
#[test]
fn a_finalize_block_repeated_for_the_staged_height_gets_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (state, vals) = app_state();
    let mut node = open(dir.path());
    node.init_chain(CHAIN, &state, &vals).unwrap();
    // Block 1 (staged together with genesis).
    let first = node.finalize_block(at(1), &[transfer(0, 5)]).unwrap();
    assert_eq!(node.info(), (0, vec![]));
    let again = node.finalize_block(at(1), &[transfer(0, 5)]).unwrap();
    assert_eq!(again.app_hash, first.app_hash);
    assert_eq!(again.output.tx_results, first.output.tx_results);
    // A different block for height 1 cannot replace it (genesis shares its staged batch).
    assert!(node.finalize_block(at(1), &[transfer(0, 6)]).is_err());
    node.commit().unwrap();
    // Block 2, repeated.
    let first = node.finalize_block(at(2), &[transfer(1, 7)]).unwrap();
    assert_eq!(node.info().0, 1);
    let again = node.finalize_block(at(2), &[transfer(1, 7)]).unwrap();
    assert_eq!(again.app_hash, first.app_hash);
    // Another block for the staged height 2 replaces the staged one.
    let other = node.finalize_block(at(2), &[transfer(1, 8)]).unwrap();
    assert_ne!(other.app_hash, first.app_hash);
    node.commit().unwrap();
    let a = node.query(query::ACCOUNT, addr(&key(2)).as_bytes(), 0, false);
    let acct: Account = borsh::from_slice(&a.value).unwrap();
    assert_eq!(
        acct.balance(&Denom::new("side").unwrap()),
        5 + 8,
        "each committed transfer applied once"
    );
    // A fresh node replaying the same blocks reaches the same state.
    let dir2 = tempfile::tempdir().unwrap();
    let mut fresh = open(dir2.path());
    fresh.init_chain(CHAIN, &state, &vals).unwrap();
    fresh.finalize_block(at(1), &[transfer(0, 5)]).unwrap();
    fresh.commit().unwrap();
    fresh.finalize_block(at(2), &[transfer(1, 8)]).unwrap();
    assert_eq!(fresh.commit().unwrap().app_hash, node.committed().app_hash);
}

#[test]
fn crash_before_the_first_commit_starts_over_from_init_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (state, vals) = app_state();
    let first = {
        let mut node = open(dir.path());
        node.init_chain(CHAIN, &state, &vals).unwrap();
        node.finalize_block(at(1), &[] as &[Vec<u8>])
            .unwrap()
            .app_hash
    };
    let mut node = open(dir.path());
    assert_eq!(node.info(), (0, vec![]));
    node.init_chain(CHAIN, &state, &vals).unwrap();
    assert_eq!(
        node.finalize_block(at(1), &[] as &[Vec<u8>])
            .unwrap()
            .app_hash,
        first
    );
}

#[test]
fn genesis_validators_must_match_cometbft_and_sequence_errors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = app_state();
    let mut node = open(dir.path());
    let err = node
        .init_chain(CHAIN, &state, &[([9u8; 32], 10)])
        .unwrap_err();
    assert!(
        err.to_string().contains("differ from app_state.validators"),
        "{err}"
    );
    let err = node.init_chain(CHAIN, b"{not json", &[]).unwrap_err();
    assert!(err.to_string().contains("not valid genesis JSON"), "{err}");
    let (state, vals) = app_state();
    node.init_chain(CHAIN, &state, &vals).unwrap();
    assert!(
        node.finalize_block(at(5), &[] as &[Vec<u8>]).is_err(),
        "heights must follow on"
    );
    assert!(
        node.commit().is_err(),
        "nothing to commit before FinalizeBlock"
    );
}

#[test]
fn proven_queries_verify_against_the_committed_root() {
    let dir = tempfile::tempdir().unwrap();
    let (state, vals) = app_state();
    let mut node = open(dir.path());
    node.init_chain(CHAIN, &state, &vals).unwrap();
    node.finalize_block(at(1), &[transfer(0, 42)]).unwrap();
    let root = node.commit().unwrap().app_hash;
    let a = node.query(query::ACCOUNT, addr(&key(2)).as_bytes(), 1, true);
    assert_eq!(a.code, 0, "{}", a.log);
    assert_eq!(a.key, state_key::bank::account(&addr(&key(2))));
    proof::verify(&root, &a.key, Some(&a.value), a.proof.as_ref().unwrap()).unwrap();
    let bad = node.query(query::ACCOUNT, b"short", 0, false);
    assert_ne!(bad.code, 0);
    assert!(bad.log.contains("20 address bytes"));
    let unknown = node.query("/nope", b"", 0, false);
    assert!(unknown.log.contains("unknown query path"));
    let future = node.query(query::PARAMS, b"", 99, false);
    assert!(future.log.contains("not committed yet"));
}

#[test]
fn checktx_accepts_consecutive_nonces_and_keeps_waiting_ones_across_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = started(dir.path());
    for n in 0..3 {
        assert_eq!(
            node.check_tx(&transfer(n, 1), CheckKind::New).unwrap().code,
            Code::Ok
        );
    }
    assert_eq!(
        node.check_tx(&transfer(1, 1), CheckKind::New).unwrap().code,
        Code::BadNonce
    );
    assert_eq!(node.mempool_len(), 3);
    // A block includes nonce 0 only: nonces 1 and 2 are still waiting, replayed on the new
    // state, so the next new nonce is 3 (CometBFT does not recheck them).
    node.finalize_block(at(2), &[transfer(0, 1)]).unwrap();
    node.commit().unwrap();
    assert_eq!(node.mempool_len(), 2);
    assert_eq!(
        node.check_tx(&transfer(1, 1), CheckKind::New).unwrap().code,
        Code::BadNonce
    );
    assert_eq!(
        node.check_tx(&transfer(3, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
    // If CometBFT rechecks anyway, waiting transactions pass and used nonces fail.
    assert_eq!(
        node.check_tx(&transfer(2, 1), CheckKind::Recheck)
            .unwrap()
            .code,
        Code::Ok
    );
    assert_eq!(
        node.check_tx(&transfer(0, 1), CheckKind::Recheck)
            .unwrap()
            .code,
        Code::BadNonce
    );
    node.finalize_block(at(3), &[transfer(1, 1), transfer(2, 1), transfer(3, 1)])
        .unwrap();
    node.commit().unwrap();
    assert_eq!(node.mempool_len(), 0);
    assert_eq!(
        node.check_tx(&transfer(4, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
}

#[test]
fn a_waiting_transaction_that_a_block_made_invalid_leaves_the_mempool() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = started(dir.path());
    // Admitted here: nonce 0 moving almost everything, then nonce 1.
    let big = transfer(0, 999_000_000);
    assert_eq!(node.check_tx(&big, CheckKind::New).unwrap().code, Code::Ok);
    assert_eq!(
        node.check_tx(&transfer(1, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
    // Another validator's block used nonce 0 for a different transaction.
    node.finalize_block(at(2), &[transfer(0, 2)]).unwrap();
    node.commit().unwrap();
    // `big` now has a used nonce, and nonce 1 is replayed on the new state and still valid.
    assert_eq!(node.mempool_len(), 1);
    assert_eq!(
        node.check_tx(&big, CheckKind::Recheck).unwrap().code,
        Code::BadNonce
    );
    assert_eq!(
        node.check_tx(&transfer(2, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
}

#[test]
fn a_batch_of_checktx_gives_the_verdicts_of_one_by_one_checks() {
    let mut forged = sidechain_types::SignedTx::decode(&transfer(2, 1)).unwrap();
    forged.signature[3] ^= 0x10;
    let batch: Vec<(Vec<u8>, CheckKind)> = vec![
        (transfer(0, 1), CheckKind::New),
        (transfer(1, 1), CheckKind::New),
        (forged.encode(), CheckKind::New),
        (b"not a transaction".to_vec(), CheckKind::New),
        (transfer(2, 1), CheckKind::New),
        (transfer(2, 1), CheckKind::New),
        (transfer(3, 1), CheckKind::New),
        (transfer(4, 1), CheckKind::New),
    ];
    let one_dir = tempfile::tempdir().unwrap();
    let mut one = started(one_dir.path()).with_mempool_limit(4);
    let expected: Vec<Code> = batch
        .iter()
        .map(|(tx, kind)| one.check_tx(tx, *kind).unwrap().code)
        .collect();
    assert_eq!(
        expected,
        [
            Code::Ok,
            Code::Ok,
            Code::BadSignature,
            Code::Decode,
            Code::Ok,
            Code::BadNonce,
            Code::Ok,
            Code::MempoolFull
        ]
    );
    let batch_dir = tempfile::tempdir().unwrap();
    let mut batched = started(batch_dir.path()).with_mempool_limit(4);
    let got: Vec<Code> = batched
        .check_txs(&batch)
        .unwrap()
        .into_iter()
        .map(|a| a.code)
        .collect();
    assert_eq!(got, expected);
    assert_eq!(batched.mempool_len(), 4);
}

#[test]
fn a_reset_mempool_frees_the_nonces_of_forgotten_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = started(dir.path());
    assert_eq!(
        node.check_tx(&transfer(0, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
    // CometBFT restarted and lost its mempool: the same nonce must be accepted again.
    assert_eq!(node.reset_mempool(), 1);
    assert_eq!(node.mempool_len(), 0);
    assert_eq!(
        node.check_tx(&transfer(0, 5), CheckKind::New).unwrap().code,
        Code::Ok
    );
}

#[test]
fn the_node_refuses_new_transactions_beyond_its_mempool_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = started(dir.path()).with_mempool_limit(2);
    for n in 0..2 {
        assert_eq!(
            node.check_tx(&transfer(n, 1), CheckKind::New).unwrap().code,
            Code::Ok
        );
    }
    let full = node.check_tx(&transfer(2, 1), CheckKind::New).unwrap();
    assert_eq!(full.code, Code::MempoolFull);
    assert!(full.log.contains("next block"), "{}", full.log);
    node.finalize_block(at(2), &[transfer(0, 1), transfer(1, 1)])
        .unwrap();
    node.commit().unwrap();
    assert_eq!(
        node.check_tx(&transfer(2, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
}

#[tokio::test]
async fn metrics_endpoint_serves_the_node_series() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = Metrics::new();
    m.height.set(7);
    m.checktx
        .get_or_create(&sidechaind::metrics::CodeLabel { code: "bad_nonce" })
        .inc();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(m.serve(listener));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(body.contains("sidechain_block_height 7"), "{body}");
    assert!(
        body.contains("sidechain_checktx_total{code=\"bad_nonce\"} 1"),
        "{body}"
    );
    assert!(body.contains("# HELP sidechain_commit_seconds"), "{body}");
}

#[tokio::test]
async fn health_endpoint_says_starting_until_the_node_serves_then_ok_with_the_height() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = Metrics::new();
    m.height.set(7);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(m.clone().serve(listener));
    let get = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        text
    };
    let starting = get("/health").await;
    assert!(
        starting.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{starting}"
    );
    assert!(starting.contains("not listening yet"), "{starting}");
    m.set_serving();
    let ok = get("/health").await;
    assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
    assert!(ok.ends_with(r#"{"height":7,"status":"ok"}"#), "{ok}");
    let other = get("/").await;
    assert!(other.starts_with("HTTP/1.1 404 Not Found"), "{other}");
}

#[test]
fn two_fresh_nodes_fed_the_same_blocks_reach_the_same_app_hash_at_every_height() {
    let (state, vals) = app_state();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, mut b) = (open(da.path()), open(db.path()));
    let (ga, _) = a.init_chain(CHAIN, &state, &vals).unwrap();
    let (gb, _) = b.init_chain(CHAIN, &state, &vals).unwrap();
    assert_eq!(ga, gb);
    let mut nonce = 0;
    let mut hashes = Vec::new();
    for height in 1..=12u64 {
        // A mix of good transfers, a replay, an overdraft and garbage.
        let mut txs = vec![transfer(nonce, u128::from(height)), transfer(nonce + 1, 3)];
        nonce += 2;
        txs.push(transfer(nonce - 1, 3));
        txs.push(transfer(nonce, 10_000_000_000));
        nonce += 1;
        txs.push(vec![height as u8; 40]);
        let fa = a.finalize_block(at(height), &txs).unwrap();
        let fb = b.finalize_block(at(height), &txs).unwrap();
        assert_eq!(fa.app_hash, fb.app_hash, "height {height}");
        let codes: Vec<_> = fa.output.tx_results.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            fb.output
                .tx_results
                .iter()
                .map(|r| r.code)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            codes[..4],
            [Code::Ok, Code::Ok, Code::BadNonce, Code::InsufficientFunds]
        );
        assert_eq!(a.commit().unwrap(), b.commit().unwrap());
        hashes.push(fa.app_hash);
    }
    hashes.dedup();
    assert_eq!(
        hashes.len(),
        12,
        "every block changes the state, so every app hash differs"
    );
}

#[test]
fn recheck_repeats_state_checks_but_not_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (state, vals) = app_state();
    let mut node = open(dir.path());
    node.init_chain(CHAIN, &state, &vals).unwrap();
    node.finalize_block(at(1), &[transfer(0, 1)]).unwrap();
    node.commit().unwrap();
    // A stale nonce fails on recheck too.
    assert_eq!(
        node.check_tx(&transfer(0, 1), CheckKind::Recheck)
            .unwrap()
            .code,
        Code::BadNonce
    );
    // A forged signature is caught when the transaction first arrives.
    let mut forged = sidechain_types::SignedTx::decode(&transfer(1, 1)).unwrap();
    forged.signature[5] ^= 0x40;
    assert_eq!(
        node.check_tx(&forged.encode(), CheckKind::New)
            .unwrap()
            .code,
        Code::BadSignature
    );
    assert_eq!(
        node.check_tx(&transfer(1, 1), CheckKind::Recheck)
            .unwrap()
            .code,
        Code::Ok
    );
}

#[test]
fn signatures_checked_in_checktx_are_trusted_only_for_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = started(dir.path());
    let good = transfer(0, 1);
    assert_eq!(node.check_tx(&good, CheckKind::New).unwrap().code, Code::Ok);
    // A proposer's forged variant of the same transfer is still caught in the block.
    let mut forged = sidechain_types::SignedTx::decode(&good).unwrap();
    forged.body.fee.amount += 1;
    let out = node
        .finalize_block(at(2), &[forged.encode(), good.clone()])
        .unwrap();
    let codes: Vec<_> = out.output.tx_results.iter().map(|r| r.code).collect();
    assert_eq!(codes, [Code::BadSignature, Code::Ok]);
}

/// The server clones the services for every connection: a clone changes nothing, and only an
/// explicit new connection empties the node's mempool view (a new CometBFT process).
#[test]
fn cloning_a_service_has_no_side_effect_and_a_new_connection_resets_the_mempool() {
    use sidechaind::abci::{Handle, Mempool};
    let dir = tempfile::tempdir().unwrap();
    let mut node = started(dir.path());
    assert_eq!(
        node.check_tx(&transfer(0, 1), CheckKind::New).unwrap().code,
        Code::Ok
    );
    let handle = Handle::new(node);
    let service = Mempool::new(handle.clone());
    let clones: Vec<Mempool> = (0..4).map(|_| service.clone()).collect();
    assert_eq!(handle.mempool_len(), 1, "cloning emptied the mempool");
    clones[1].connection_opened();
    assert_eq!(handle.mempool_len(), 0);
}

/// CometBFT follows pipelined CheckTx requests with Flush requests. The server answers every
/// request in order, answers a Flush in its place without waiting to read on, and so a CheckTx
/// sent after a Flush still joins the batch that is forming.
#[tokio::test]
async fn the_abci_server_answers_in_order_and_keeps_reading_past_a_flush() {
    use prost::Message;
    use sidechaind::{
        abci::{Consensus, Handle, Info, Mempool, Snapshot},
        server::{serve_connection, Services},
    };
    use tendermint_proto::v0_38::abci as pb;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    let handle = Handle::new(started_with(dir.path(), metrics.clone()));
    let services = Services {
        consensus: Consensus(handle.clone()),
        // Long enough that both CheckTx requests arrive while the batch forms.
        mempool: Mempool::new(handle.clone()).with_batch_wait(std::time::Duration::from_secs(1)),
        info: Info(handle.clone()),
        snapshot: Snapshot,
    };
    let (client, server) = tokio::io::duplex(1 << 16);
    let (server_read, server_write) = tokio::io::split(server);
    let served = tokio::spawn(serve_connection(services, server_read, server_write));

    let check = |tx: Vec<u8>| {
        pb::request::Value::CheckTx(pb::RequestCheckTx {
            tx: tx.into(),
            r#type: 0,
        })
    };
    let flush = || pb::request::Value::Flush(pb::RequestFlush {});
    let requests = [
        check(transfer(0, 5)),
        flush(),
        check(transfer(1, 5)),
        flush(),
        pb::request::Value::Echo(pb::RequestEcho {
            message: "still here".into(),
        }),
        flush(),
    ];
    let mut wire = Vec::new();
    for value in requests {
        pb::Request { value: Some(value) }
            .encode_length_delimited(&mut wire)
            .unwrap();
    }
    let (mut read, mut write) = tokio::io::split(client);
    write.write_all(&wire).await.unwrap();

    let mut got = Vec::new();
    let mut buf = Vec::new();
    while got.len() < 6 {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), read.read(&mut chunk))
            .await
            .expect("the server answers within 10 s")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(rsp) = pb::Response::decode_length_delimited(&buf[..]) {
            let used = rsp.encoded_len();
            let used = used + prost::length_delimiter_len(used);
            buf.drain(..used);
            got.push(rsp.value.expect("a response value"));
        }
    }
    use pb::response::Value as V;
    let kinds: Vec<&str> = got
        .iter()
        .map(|v| match v {
            V::CheckTx(c) if c.code == 0 => "checktx ok",
            V::CheckTx(_) => "checktx refused",
            V::Flush(_) => "flush",
            V::Echo(e) if e.message == "still here" => "echo",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "checktx ok",
            "flush",
            "checktx ok",
            "flush",
            "echo",
            "flush"
        ]
    );
    // Both transactions were checked in one batch.
    let rendered = metrics.render();
    assert!(
        rendered.contains("sidechain_checktx_batch_txs_count 1\n"),
        "{rendered}"
    );
    drop((read, write));
    served.await.unwrap().unwrap();
}
