//! The relayer mesh in-process: relayers on 127.0.0.1 ephemeral ports, a validator set held in
//! memory ([`SharedRegistry`]) instead of a chain.
//!
//! - four relayers see each other, and for each item exactly one decides to pay; when that one
//!   stops, exactly one other takes over;
//! - a relayer whose key is not a validator's is refused, and a removed validator's relayer is
//!   dropped.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bridge_relayer::mesh::{
    admission::{keypair_from_secret, operator_of},
    intent::priority,
    Decision, Item, Kind, Member, Mesh, MeshMetrics, Rules, Settings, SharedRegistry,
};
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use sidechain_types::{Address, EthAddress};

const HEARTBEAT: Duration = Duration::from_millis(300);
const RULES: Rules = Rules {
    window_ms: 500,
    takeover_ms: 2_000,
};

/// The validator set entry of the relayer with key seed `seed`.
fn member(seed: u8) -> Member {
    let key = ed25519_consensus::SigningKey::from([seed; 32]);
    Member {
        operator: Address::from_pubkey(&key.verification_key().to_bytes()),
        eth_address: EthAddress([seed; 20]),
    }
}

async fn start(seed: u8, registry: &SharedRegistry, peers: Vec<(PeerId, Multiaddr)>) -> Mesh {
    let settings = Settings {
        keypair: keypair_from_secret([seed; 32]).expect("ed25519 seed"),
        relayer: EthAddress([seed; 20]),
        chain_id: "mesh-test".into(),
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
        peers,
        heartbeat: HEARTBEAT,
        rules: RULES,
        registry_refresh: Duration::from_millis(200),
    };
    Mesh::start(settings, Arc::new(registry.clone()), MeshMetrics::default())
        .await
        .expect("mesh starts")
}

/// Where `mesh` can be dialed.
fn dial_addr(mesh: &Mesh) -> (PeerId, Multiaddr) {
    let addr = mesh
        .listen_addrs()
        .first()
        .cloned()
        .expect("a bound address")
        .with(Protocol::P2p(mesh.peer_id()));
    (mesh.peer_id(), addr)
}

/// Starts one relayer per seed, each dialing all started before it (a full mesh).
async fn start_all(seeds: &[u8], registry: &SharedRegistry) -> Vec<Mesh> {
    let mut meshes: Vec<Mesh> = Vec::new();
    for seed in seeds {
        let peers = meshes.iter().map(dial_addr).collect();
        meshes.push(start(*seed, registry, peers).await);
    }
    meshes
}

async fn until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each mesh's decision for `item` (every caller claims the fallback turn, which a live mesh
/// must ignore).
fn decisions(meshes: &[&Mesh], item: Item) -> Vec<Decision> {
    meshes
        .iter()
        .map(|m| m.should_submit(item.kind, item.nonce, true))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_relayers_see_each_other_and_exactly_one_pays() {
    let seeds = [1u8, 2, 3, 4];
    let registry = SharedRegistry::new(seeds.iter().map(|s| member(*s)).collect());
    let meshes = start_all(&seeds, &registry).await;
    until(
        "every relayer has 3 admitted, live peers",
        Duration::from_secs(20),
        || {
            meshes
                .iter()
                .all(|m| m.peers() == 3 && m.live_peers().len() == 3)
        },
    )
    .await;
    for m in &meshes {
        let statuses = m.peer_statuses();
        assert_eq!(statuses.len(), 3);
        assert!(statuses.iter().all(|s| s.live && s.heartbeat.is_some()));
    }

    let items: Vec<Item> = (1..=5)
        .map(|nonce| Item {
            kind: Kind::SubmitBatch,
            nonce,
        })
        .chain([
            Item {
                kind: Kind::UpdateSignerSet,
                nonce: 1,
            },
            Item {
                kind: Kind::ActivateSignerSet,
                nonce: 1,
            },
        ])
        .collect();
    for item in &items {
        for m in &meshes {
            m.announce(item.kind, item.nonce);
        }
    }
    // inside the window nobody sends
    let all: Vec<&Mesh> = meshes.iter().collect();
    assert!(decisions(&all, items[0]).iter().all(|d| !d.send()));
    tokio::time::sleep(Duration::from_millis(RULES.window_ms + 500)).await;
    for item in &items {
        let ds = decisions(&all, *item);
        let senders: Vec<usize> = (0..ds.len()).filter(|i| ds[*i].send()).collect();
        assert_eq!(senders.len(), 1, "{item:?}: {ds:?}");
        let expected = seeds
            .iter()
            .map(|s| EthAddress([*s; 20]))
            .min_by_key(|a| priority(*item, a))
            .expect("seeds");
        assert_eq!(meshes[senders[0]].relayer(), expected, "{item:?}");
        assert_eq!(ds[senders[0]], Decision::Send);
    }
    let won: u64 = meshes
        .iter()
        .map(|m| {
            ["submit_batch", "update_signer_set", "activate_signer_set"]
                .into_iter()
                .map(|kind| {
                    m.metrics()
                        .intents_won
                        .get_or_create(&bridge_relayer::mesh::metrics::IntentKindLabel { kind })
                        .get()
                })
                .sum::<u64>()
        })
        .sum();
    assert_eq!(won, items.len() as u64);

    // the winner of the first item stops after its intent: exactly one other takes over
    let item = items[0];
    let ds = decisions(&all, item);
    let winner = ds.iter().position(|d| d.send()).expect("a winner");
    meshes[winner].shutdown();
    let rest: Vec<&Mesh> = meshes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != winner)
        .map(|(_, m)| m)
        .collect();
    until(
        "the others see the winner gone",
        Duration::from_secs(10),
        || {
            rest.iter()
                .all(|m| m.peers() == 2 && m.live_peers().len() == 2)
        },
    )
    .await;
    let ds = decisions(&rest, item);
    let takers: Vec<&Decision> = ds.iter().filter(|d| d.send()).collect();
    assert_eq!(takers.len(), 1, "{ds:?}");
    assert_eq!(
        *takers[0],
        Decision::TakeOver {
            stalled: meshes[winner].relayer()
        }
    );
    for m in &meshes {
        m.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_is_refused_and_a_removed_validator_is_dropped() {
    let seeds = [11u8, 12, 13];
    let registry = SharedRegistry::new(seeds.iter().map(|s| member(*s)).collect());
    let meshes = start_all(&seeds, &registry).await;
    // seed 99 is no validator's key, but its own (wrong) registry says it is, so it keeps
    // dialing every member
    let stranger_view =
        SharedRegistry::new(seeds.iter().chain([&99]).map(|s| member(*s)).collect());
    let stranger = start(99, &stranger_view, meshes.iter().map(dial_addr).collect()).await;
    until(
        "the members see each other",
        Duration::from_secs(20),
        || {
            meshes
                .iter()
                .all(|m| m.peers() == 2 && m.live_peers().len() == 2)
        },
    )
    .await;
    until("the stranger is refused", Duration::from_secs(10), || {
        meshes
            .iter()
            .map(|m| m.metrics().connections_refused.get())
            .sum::<u64>()
            > 0
    })
    .await;
    // over a few heartbeats the stranger keeps dialing; nobody admits it or hears from it
    for _ in 0..10 {
        tokio::time::sleep(HEARTBEAT).await;
        assert!(
            meshes.iter().all(|m| m.peers() == 2),
            "a member admitted the stranger"
        );
        assert!(stranger.live_peers().is_empty());
        let stranger_id = stranger.peer_id();
        assert!(meshes
            .iter()
            .all(|m| m.peer_statuses().iter().all(|s| s.peer != stranger_id)));
    }

    // validator 13 leaves the set: its relayer is dropped by the others
    let removed = &meshes[2];
    let operator = operator_of(&removed.peer_id()).expect("ed25519 peer id");
    assert_eq!(operator, member(13).operator);
    let refused_before: u64 = meshes[..2]
        .iter()
        .map(|m| m.metrics().connections_refused.get())
        .sum();
    registry.remove(&operator);
    until(
        "the removed validator's relayer is dropped",
        Duration::from_secs(10),
        || {
            meshes[..2]
                .iter()
                .all(|m| m.peers() == 1 && m.live_peers().len() == 1)
                && removed.peers() == 0
        },
    )
    .await;
    // and it stays out (it no longer dials: its own registry says it left)
    tokio::time::sleep(HEARTBEAT * 4).await;
    assert!(meshes[..2].iter().all(|m| m.peers() == 1));
    let refused_after: u64 = meshes[..2]
        .iter()
        .map(|m| m.metrics().connections_refused.get())
        .sum();
    assert!(refused_after > refused_before);
    // the two left decide among themselves: exactly one pays
    for m in &meshes[..2] {
        m.announce(Kind::SubmitBatch, 9);
    }
    tokio::time::sleep(Duration::from_millis(RULES.window_ms + 500)).await;
    let left: Vec<&Mesh> = meshes[..2].iter().collect();
    let ds = decisions(
        &left,
        Item {
            kind: Kind::SubmitBatch,
            nonce: 9,
        },
    );
    assert_eq!(ds.iter().filter(|d| d.send()).count(), 1, "{ds:?}");
    for m in meshes.iter().chain([&stranger]) {
        m.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_an_error_that_says_why() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let registry = SharedRegistry::new(vec![member(1)]);
    let settings = Settings {
        keypair: keypair_from_secret([1; 32]).expect("ed25519 seed"),
        relayer: EthAddress([1; 20]),
        chain_id: "mesh-test".into(),
        listen: format!("/ip4/127.0.0.1/tcp/{port}")
            .parse()
            .expect("multiaddr"),
        peers: Vec::new(),
        heartbeat: HEARTBEAT,
        rules: RULES,
        registry_refresh: Duration::from_millis(200),
    };
    let err = Mesh::start(settings, Arc::new(registry), MeshMetrics::default())
        .await
        .expect_err("the port is taken");
    let text = err.to_string();
    assert!(text.contains(&port.to_string()), "{text}");
    assert!(text.to_lowercase().contains("in use"), "{text}");
}
