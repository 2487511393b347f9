//! Proven queries against a fake node that serves a value with a matching Merkle proof: the
//! value is believed only when the header carrying the app hash verifies from the client's
//! trust anchor (the genesis validators, or a trusted header), never on the node's word.
//!
//! The fake answers CometBFT's JSON-RPC over HTTP (`status`, `abci_query`, `commit`,
//! `validators`) from a chain built here with tendermint-rs types: real ed25519 validator
//! keys, headers, and commits signed over CometBFT's canonical vote bytes.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ed25519_consensus::SigningKey;
use jmt::{mock::MockTreeStore, JellyfishMerkleTree};
use serde_json::{json, Value};
use sha2::Sha256;
use sidechain_client::{Client, Error, TrustAnchor};
use sidechain_types::{
    proof::key_hash,
    query::{Route, PROOF_OP_TYPE},
    Account, Address, Denom,
};
use tendermint::{
    block::{self, parts, signed_header::SignedHeader, Commit, CommitSig, Header},
    chain,
    hash::AppHash,
    validator, vote, Hash, PublicKey, Signature, Time,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const CHAIN_ID: &str = "fake-chain";
/// The fake's latest committed state; the app hash of it is in the header of the next block.
const STATE_HEIGHT: u64 = 4;
const HEADER_HEIGHT: u64 = STATE_HEIGHT + 1;
/// Genesis' balance of the queried account, and the balance a dishonest node claims.
const REAL_BALANCE: u128 = 10;
const FORGED_BALANCE: u128 = 1_000_000_000;

/// A validator: its key, and its entry in a validator set.
struct Val {
    key: SigningKey,
    info: validator::Info,
}

fn val(seed: u8, power: u64) -> Val {
    let key = SigningKey::from([seed; 32]);
    let pk = PublicKey::from_raw_ed25519(&key.verification_key().to_bytes()).unwrap();
    let info = validator::Info::new(pk, vote::Power::try_from(power).unwrap());
    Val { key, info }
}

fn set(vals: &[&Val]) -> validator::Set {
    validator::Set::new(vals.iter().map(|v| v.info.clone()).collect(), None)
}

/// How the commit of a block is signed.
#[derive(Clone, Copy)]
enum Signing<'a> {
    /// Each of these validators signs (in the block's validator set order).
    By(&'a [&'a Val]),
    /// Every validator of the set appears to sign, with 64 random-looking bytes.
    Garbage,
}

/// One block of the fake chain: its signed header and its validator set.
struct Block {
    signed_header: SignedHeader,
    validators: validator::Set,
}

fn block_time(base: Time, height: u64) -> Time {
    base.checked_add(Duration::from_secs(height)).unwrap()
}

/// The block at `height`, validated by `vals`, handing over to `next`, carrying `app_hash`.
fn block(
    base: Time,
    height: u64,
    vals: &validator::Set,
    next: &validator::Set,
    app_hash: [u8; 32],
    signing: Signing<'_>,
) -> Block {
    let time = block_time(base, height);
    let height = block::Height::try_from(height).unwrap();
    let header = Header {
        version: block::header::Version { block: 11, app: 0 },
        chain_id: chain::Id::try_from(CHAIN_ID.to_string()).unwrap(),
        height,
        time,
        last_block_id: None,
        last_commit_hash: None,
        data_hash: None,
        validators_hash: vals.hash(),
        next_validators_hash: next.hash(),
        consensus_hash: Hash::Sha256([7; 32]),
        app_hash: AppHash::try_from(app_hash.to_vec()).unwrap(),
        last_results_hash: None,
        evidence_hash: None,
        proposer_address: vals.validators()[0].address,
    };
    let block_id = block::Id {
        hash: header.hash(),
        part_set_header: parts::Header::new(1, Hash::Sha256([9; 32])).unwrap(),
    };
    let signatures = vals
        .validators()
        .iter()
        .enumerate()
        .map(|(index, info)| match signing {
            Signing::Garbage => CommitSig::BlockIdFlagCommit {
                validator_address: info.address,
                timestamp: time,
                signature: Signature::new([0xAB; 64]).unwrap(),
            },
            Signing::By(signers) => match signers.iter().find(|s| s.info.address == info.address) {
                Some(signer) => commit_sig(signer, index, height, time, block_id),
                None => CommitSig::BlockIdFlagAbsent,
            },
        })
        .collect();
    let commit = Commit {
        height,
        round: block::Round::default(),
        block_id,
        signatures,
    };
    Block {
        signed_header: SignedHeader::new(header, commit).unwrap(),
        validators: vals.clone(),
    }
}

/// `signer`'s precommit for `block_id`, signed over CometBFT's canonical vote bytes.
fn commit_sig(
    signer: &Val,
    index: usize,
    height: block::Height,
    time: Time,
    block_id: block::Id,
) -> CommitSig {
    let vote = vote::Vote {
        vote_type: vote::Type::Precommit,
        height,
        round: block::Round::default(),
        block_id: Some(block_id),
        timestamp: Some(time),
        validator_address: signer.info.address,
        validator_index: vote::ValidatorIndex::try_from(index).unwrap(),
        signature: None,
        extension: Vec::new(),
        extension_signature: None,
    };
    let sign_bytes = vote.into_signable_vec(chain::Id::try_from(CHAIN_ID.to_string()).unwrap());
    let signature = signer.key.sign(&sign_bytes);
    CommitSig::BlockIdFlagCommit {
        validator_address: signer.info.address,
        timestamp: time,
        signature: Signature::new(signature.to_bytes()).unwrap(),
    }
}

/// The queried account, and a state tree holding it with `balance` (plus a neighbour).
struct State {
    address: Address,
    key: Vec<u8>,
    value: Vec<u8>,
    root: [u8; 32],
    proof: Vec<u8>,
}

fn denom() -> Denom {
    Denom::new("side".to_string()).unwrap()
}

fn state_with(balance: u128) -> State {
    let address = Address::from_pubkey(&[5; 32]);
    let key = Route::Account(address).state_key().unwrap();
    let account = Account {
        nonce: 3,
        balances: [(denom(), balance)].into_iter().collect(),
    };
    let value = borsh::to_vec(&account).unwrap();
    let neighbour = Route::Account(Address::from_pubkey(&[6; 32]))
        .state_key()
        .unwrap();
    let store = MockTreeStore::default();
    let tree = JellyfishMerkleTree::<_, Sha256>::new(&store);
    let (root, batch) = tree
        .put_value_set(
            [
                (key_hash(&key), Some(value.clone())),
                (key_hash(&neighbour), Some(vec![1, 2, 3])),
            ],
            STATE_HEIGHT,
        )
        .unwrap();
    store.write_tree_update_batch(batch).unwrap();
    let (got, proof) = tree.get_with_proof(key_hash(&key), STATE_HEIGHT).unwrap();
    assert_eq!(got.as_deref(), Some(value.as_slice()));
    State {
        address,
        key,
        value,
        root: root.0,
        proof: borsh::to_vec(&proof).unwrap(),
    }
}

/// What the fake node serves.
struct Chain {
    state: State,
    /// Blocks by height, each with its validator set (`/validators?height=h`).
    blocks: BTreeMap<u64, Block>,
    /// Validator sets of heights past the last block (the next block's).
    later_validators: BTreeMap<u64, validator::Set>,
    /// `/status` calls so far: even ones say the state height, odd ones the header height.
    status_calls: AtomicU64,
}

/// Builds the fake chain: blocks 1..=HEADER_HEIGHT, block `h` validated by `sets(h)`, the
/// last one (carrying `state`'s root) signed as `last`.
fn chain(
    base: Time,
    state: State,
    sets: impl Fn(u64) -> (Vec<&'static Val>, Vec<&'static Val>),
    last: Signing<'_>,
) -> Chain {
    let mut blocks = BTreeMap::new();
    for h in 1..=HEADER_HEIGHT {
        let (vals, next) = sets(h);
        let app_hash = if h == HEADER_HEIGHT {
            state.root
        } else {
            [h as u8; 32]
        };
        let signing = if h == HEADER_HEIGHT {
            last
        } else {
            Signing::By(&vals)
        };
        blocks.insert(
            h,
            block(base, h, &set(&vals), &set(&next), app_hash, signing),
        );
    }
    let (_, next) = sets(HEADER_HEIGHT);
    Chain {
        state,
        blocks,
        later_validators: [(HEADER_HEIGHT + 1, set(&next))].into_iter().collect(),
        status_calls: AtomicU64::new(0),
    }
}

fn leak(v: Val) -> &'static Val {
    Box::leak(Box::new(v))
}

/// Three honest validators (the trusted genesis set) and three of an attacker.
fn validators() -> (Vec<&'static Val>, Vec<&'static Val>) {
    let honest = vec![leak(val(1, 10)), leak(val(2, 10)), leak(val(3, 10))];
    let attacker = vec![leak(val(11, 10)), leak(val(12, 10)), leak(val(13, 10))];
    (honest, attacker)
}

fn recent() -> Time {
    Time::now().checked_sub(Duration::from_secs(600)).unwrap()
}

/// A genesis document trusting `vals`, written into `dir`.
fn genesis_file(dir: &tempfile::TempDir, vals: &[&Val]) -> PathBuf {
    let doc = json!({
        "genesis_time": "2024-01-01T00:00:00Z",
        "chain_id": CHAIN_ID,
        "initial_height": "1",
        "consensus_params": {},
        "validators": vals.iter().map(|v| json!({
            "address": v.info.address.to_string(),
            "pub_key": {
                "type": "tendermint/PubKeyEd25519",
                "value": B64.encode(v.key.verification_key().to_bytes()),
            },
            "power": v.info.power().to_string(),
            "name": "validator",
        })).collect::<Vec<_>>(),
        "app_hash": "",
        "app_state": {},
    });
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

// ---- the fake node ----

async fn serve(chain: Chain) -> String {
    let chain = Arc::new(chain);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let chain = chain.clone();
            tokio::spawn(async move {
                let body = read_body(&mut socket).await;
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let result = answer(&chain, &request);
                let body = json!({"jsonrpc": "2.0", "id": request["id"], "result": result});
                let body = body.to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
                let mut rest = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest))
                    .await;
            });
        }
    });
    url
}

/// One HTTP request's body (as many bytes as its Content-Length says).
async fn read_body(socket: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).to_ascii_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return data[end + 4..end + 4 + length].to_vec();
            }
        }
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return Vec::new(),
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

fn param_height(request: &Value) -> u64 {
    let h = &request["params"]["height"];
    h.as_u64()
        .or_else(|| h.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(HEADER_HEIGHT)
}

fn answer(chain: &Chain, request: &Value) -> Value {
    match request["method"].as_str().unwrap_or_default() {
        "status" => {
            // A proven query asks twice: for the latest state, then for the next block.
            let calls = chain.status_calls.fetch_add(1, Ordering::SeqCst);
            status(if calls.is_multiple_of(2) {
                STATE_HEIGHT
            } else {
                HEADER_HEIGHT
            })
        }
        "abci_query" => {
            let s = &chain.state;
            json!({"response": {
                "code": 0, "log": "", "info": "", "index": "0",
                "key": B64.encode(&s.key),
                "value": B64.encode(&s.value),
                "proofOps": {"ops": [{
                    "type": PROOF_OP_TYPE,
                    "key": B64.encode(&s.key),
                    "data": B64.encode(&s.proof),
                }]},
                "height": STATE_HEIGHT.to_string(),
                "codespace": "",
            }})
        }
        "commit" => {
            let b = &chain.blocks[&param_height(request)];
            serde_json::to_value(tendermint_rpc::endpoint::commit::Response {
                signed_header: b.signed_header.clone(),
                canonical: true,
            })
            .unwrap()
        }
        "validators" => {
            let h = param_height(request);
            let set = chain
                .blocks
                .get(&h)
                .map(|b| &b.validators)
                .or_else(|| chain.later_validators.get(&h))
                .unwrap();
            serde_json::to_value(tendermint_rpc::endpoint::validators::Response::new(
                block::Height::try_from(h).unwrap(),
                set.validators().clone(),
                set.validators().len() as i32,
            ))
            .unwrap()
        }
        other => panic!("the fake node does not serve `{other}`"),
    }
}

fn status(height: u64) -> Value {
    let hash = "AB".repeat(32);
    json!({
        "node_info": {
            "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
            "id": "ab".repeat(20),
            "listen_addr": "tcp://127.0.0.1:26656",
            "network": CHAIN_ID,
            "version": "0.38.17",
            "channels": "40202122233038606100",
            "moniker": "fake",
            "other": {"tx_index": "on", "rpc_address": "tcp://127.0.0.1:26657"},
        },
        "sync_info": {
            "latest_block_hash": hash,
            "latest_app_hash": hash,
            "latest_block_height": height.to_string(),
            "latest_block_time": "2024-01-01T00:00:00Z",
            "earliest_block_hash": hash,
            "earliest_app_hash": hash,
            "earliest_block_height": "1",
            "earliest_block_time": "2024-01-01T00:00:00Z",
            "catching_up": false,
        },
        "validator_info": {
            "address": "AB".repeat(20),
            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": B64.encode([1u8; 32])},
            "voting_power": "0",
        },
    })
}

// ---- the tests ----

#[tokio::test]
async fn an_honest_node_s_value_verifies_from_the_genesis_validators() {
    let (honest, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis_file(&dir, &honest);
    let state = state_with(REAL_BALANCE);
    let address = state.address;
    let h = honest.clone();
    let c = chain(
        recent(),
        state,
        move |_| (h.clone(), h.clone()),
        Signing::By(&honest),
    );
    let url = serve(c).await;
    let client = Client::new(&url)
        .unwrap()
        .trusting(TrustAnchor::Genesis { path: genesis });
    let p = client.account_proven(&address).await.unwrap();
    assert_eq!(p.value.balance(&denom()), REAL_BALANCE);
    assert_eq!(p.value.nonce, 3);
    assert_eq!(p.height, STATE_HEIGHT);
    assert_eq!(p.trusted, "genesis");
}

#[tokio::test]
async fn a_forged_value_with_a_matching_proof_but_bad_signatures_is_refused() {
    let (honest, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis_file(&dir, &honest);
    let state = state_with(FORGED_BALANCE);
    let address = state.address;
    let h = honest.clone();
    let c = chain(
        recent(),
        state,
        move |_| (h.clone(), h.clone()),
        Signing::Garbage,
    );
    let url = serve(c).await;
    let client = Client::new(&url)
        .unwrap()
        .trusting(TrustAnchor::Genesis { path: genesis });
    let e = client.account_proven(&address).await.unwrap_err();
    assert!(matches!(e, Error::Proof(_)), "{e:?}");
    assert!(e.to_string().contains("bad signatures"), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_forged_value_signed_by_too_few_trusted_validators_is_refused() {
    let (honest, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis_file(&dir, &honest);
    let state = state_with(FORGED_BALANCE);
    let address = state.address;
    let h = honest.clone();
    // One of three equal validators signs: 1/3 of the power, not more than 1/3.
    let lone = [honest[0]];
    let c = chain(
        recent(),
        state,
        move |_| (h.clone(), h.clone()),
        Signing::By(&lone),
    );
    let url = serve(c).await;
    let client = Client::new(&url)
        .unwrap()
        .trusting(TrustAnchor::Genesis { path: genesis });
    let e = client.account_proven(&address).await.unwrap_err();
    assert!(matches!(e, Error::Proof(_)), "{e:?}");
    assert!(e.to_string().contains("not enough voting power"), "{e}");
}

#[tokio::test]
async fn a_header_correctly_signed_by_a_set_that_is_not_the_trusted_one_is_refused() {
    let (honest, attacker) = validators();
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis_file(&dir, &honest);

    // The attacker's whole chain: every header names the attacker's set and is signed by it.
    let state = state_with(FORGED_BALANCE);
    let address = state.address;
    let a = attacker.clone();
    let c = chain(
        recent(),
        state,
        move |_| (a.clone(), a.clone()),
        Signing::By(&attacker),
    );
    let url = serve(c).await;
    let client = Client::new(&url).unwrap().trusting(TrustAnchor::Genesis {
        path: genesis.clone(),
    });
    let e = client.account_proven(&address).await.unwrap_err();
    assert!(matches!(e, Error::Proof(_)), "{e:?}");
    assert!(e.to_string().contains("genesis validators"), "{e}");

    // Honest blocks up to the last, which names and is signed by the attacker's set: skipping
    // finds no trusted power behind it, and bisecting reaches the honest block before it,
    // whose validators did not hand over to the attacker's.
    let state = state_with(FORGED_BALANCE);
    let (h, a) = (honest.clone(), attacker.clone());
    let c = chain(
        recent(),
        state,
        move |height| {
            if height == HEADER_HEIGHT {
                (a.clone(), a.clone())
            } else {
                (h.clone(), h.clone())
            }
        },
        Signing::By(&attacker),
    );
    let url = serve(c).await;
    let client = Client::new(&url)
        .unwrap()
        .trusting(TrustAnchor::Genesis { path: genesis });
    let e = client.account_proven(&address).await.unwrap_err();
    assert!(matches!(e, Error::Proof(_)), "{e:?}");
    assert!(e.to_string().contains("validator set hash mismatch"), "{e}");
}

#[tokio::test]
async fn a_validator_set_handed_over_entirely_is_followed_by_bisection() {
    let (honest, successors) = validators();
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis_file(&dir, &honest);
    let state = state_with(REAL_BALANCE);
    let address = state.address;
    // The genesis set hands over to a disjoint one at height 3; no skip from block 1 can
    // reach the last block, so the client must verify the hand-over step by step.
    let (h, s) = (honest.clone(), successors.clone());
    let c = chain(
        recent(),
        state,
        move |height| match height {
            1 => (h.clone(), h.clone()),
            2 => (h.clone(), s.clone()),
            _ => (s.clone(), s.clone()),
        },
        Signing::By(&successors),
    );
    let url = serve(c).await;
    let client = Client::new(&url)
        .unwrap()
        .trusting(TrustAnchor::Genesis { path: genesis });
    let p = client.account_proven(&address).await.unwrap();
    assert_eq!(p.value.balance(&denom()), REAL_BALANCE);
}

#[tokio::test]
async fn a_trusted_header_anchors_verification_and_a_wrong_hash_is_refused() {
    let (honest, _) = validators();
    let state = state_with(REAL_BALANCE);
    let address = state.address;
    let h = honest.clone();
    let c = chain(
        recent(),
        state,
        move |_| (h.clone(), h.clone()),
        Signing::By(&honest),
    );
    let trusted_hash = c.blocks[&2].signed_header.header.hash();
    let url = serve(c).await;

    let anchor = TrustAnchor::header(2, &trusted_hash.to_string()).unwrap();
    let client = Client::new(&url).unwrap().trusting(anchor);
    let p = client.account_proven(&address).await.unwrap();
    assert_eq!(p.value.balance(&denom()), REAL_BALANCE);
    assert_eq!(p.trusted, "height 2");

    let anchor = TrustAnchor::header(2, &"CD".repeat(32)).unwrap();
    let client = Client::new(&url).unwrap().trusting(anchor);
    let e = client.account_proven(&address).await.unwrap_err();
    assert!(matches!(e, Error::Proof(_)), "{e:?}");
    assert!(e.to_string().contains("not the trusted"), "{e}");
}

#[tokio::test]
async fn an_anchor_older_than_the_trusting_period_is_refused() {
    let (honest, _) = validators();
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis_file(&dir, &honest);
    let state = state_with(REAL_BALANCE);
    let address = state.address;
    let h = honest.clone();
    let old = Time::now()
        .checked_sub(Duration::from_secs(15 * 24 * 60 * 60))
        .unwrap();
    let c = chain(
        old,
        state,
        move |_| (h.clone(), h.clone()),
        Signing::By(&honest),
    );
    let url = serve(c).await;
    let client = Client::new(&url)
        .unwrap()
        .trusting(TrustAnchor::Genesis { path: genesis });
    let e = client.account_proven(&address).await.unwrap_err();
    assert!(e.to_string().contains("too old"), "{e}");
    assert!(e.to_string().contains("--trust-height"), "{e}");
}

#[tokio::test]
async fn a_proven_query_without_a_trust_anchor_says_how_to_give_one() {
    let (honest, _) = validators();
    let state = state_with(REAL_BALANCE);
    let address = state.address;
    let h = honest.clone();
    let c = chain(
        recent(),
        state,
        move |_| (h.clone(), h.clone()),
        Signing::By(&honest),
    );
    let url = serve(c).await;
    let e = Client::new(&url)
        .unwrap()
        .account_proven(&address)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoTrustAnchor(_)), "{e:?}");
    assert!(e.to_string().contains("trusted_genesis"), "{e}");
    assert!(e.to_string().contains("--trust-height"), "{e}");
}
