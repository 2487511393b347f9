//! The relayer mesh: the validators' relayers find each other over libp2p (gossipsub over TCP
//! with noise and yamux), admit only current validators' relayers, gossip heartbeats and
//! submission intents, and agree on which one relayer pays the gas of each L1 transaction
//! (ADR 18).
//!
//! - [`admission`]: a relayer's libp2p identity is its validator's operator ed25519 key, so a
//!   peer id names an operator address; only current validators' relayers are admitted, and a
//!   removed validator's relayer is dropped when the registry is next read.
//! - [`message`]: the gossiped heartbeats and intents (signed by gossipsub with the author's
//!   key, refused unless the author is admitted and names its registered Ethereum address).
//! - [`intent`]: the pure "exactly one payer" rule.
//! - [`config`]: the optional `[mesh]` section of `relayer.toml`.
//! - [`metrics`]: the `relayer_mesh_*` series.
//!
//! # Using it from the submission code
//!
//! For each item ready to be sent to L1 (a batch with enough signatures, a ready signer-set
//! update, a pending signer set whose delay has passed), on every pass of the withdrawal loop,
//! while the item is still not done on L1:
//!
//! ```ignore
//! use bridge_relayer::mesh::Kind;
//! // 1. the chain's turn order, used when the mesh has no live peer (outbound::is_my_turn)
//! let my_turn = outbound::is_my_turn(nonce, ready_height, height, l1_set, &me);
//! // 2. announce the intent (idempotent; re-gossiped at most once per heartbeat) and decide
//! let decision = match &relayer.mesh {
//!     Some(mesh) => mesh.should_submit(Kind::SubmitBatch, nonce, my_turn),
//!     None => bridge_relayer::mesh::Decision::Fallback { my_turn },
//! };
//! // 3. send only if told so; otherwise check again on the next pass
//! if decision.send() { /* simulate, then send the L1 transaction */ }
//! // 4. once the chain records the item's L1 outcome, forget it
//! if let Some(mesh) = &relayer.mesh { mesh.done(Kind::SubmitBatch, nonce) }
//! ```
//!
//! Only relayers that could send the item (members of the signer set L1 holds) should call
//! [`Mesh::should_submit`]: the call announces an intent, and an announcing relayer is a
//! candidate. A relayer that decided to send and failed (a simulated revert, say) may ask again;
//! the answer stays the same until the ranking changes. [`crate::outbound::TxKind`] converts
//! into [`Kind`] with `.into()`.
//!
//! For `status`: [`Mesh::peers`] (admitted peers connected), [`Mesh::peer_statuses`] (each peer's
//! last heartbeat and whether it is live), and [`Mesh::set_status`] feeds this relayer's own
//! heartbeat.

pub mod admission;
pub mod config;
pub mod intent;
pub mod message;
pub mod metrics;
mod net;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use libp2p::{identity::Keypair, Multiaddr, PeerId};
use sidechain_types::{Address, EthAddress};
use tokio::sync::mpsc;

pub use admission::{ChainRegistry, Member, Registry, SharedRegistry};
pub use intent::{Decision, Item, Kind, Rules};
pub use message::Heartbeat;
pub use metrics::MeshMetrics;

/// Heartbeats a peer may miss before it counts as gone.
pub const LIVE_HEARTBEATS: u32 = 3;

/// Why the mesh could not start.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The operator key cannot serve as a libp2p identity.
    #[error("the mesh identity: {0}")]
    Key(String),
    /// The listen address could not be bound.
    #[error(
        "cannot listen on mesh.listen = {addr}: {reason}; pick a free port or fix the address"
    )]
    Listen { addr: Multiaddr, reason: String },
    /// libp2p could not build its transport or gossipsub.
    #[error("cannot start the mesh: {0}")]
    Setup(String),
    /// The configuration or the operator key file.
    #[error(transparent)]
    Relayer(#[from] crate::Error),
}

/// Everything a mesh starts with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The validator's operator key as a libp2p identity ([`admission::keypair_from_secret`]).
    pub keypair: Keypair,
    /// This relayer's Ethereum (bridge key) address: names it in heartbeats and intents.
    pub relayer: EthAddress,
    /// The sidechain's chain id: the gossip topic is per chain.
    pub chain_id: String,
    pub listen: Multiaddr,
    /// Peers to dial (and re-dial while disconnected), each with its peer id.
    pub peers: Vec<(PeerId, Multiaddr)>,
    /// Time between heartbeats; a peer is live for [`LIVE_HEARTBEATS`] of them after its last.
    pub heartbeat: Duration,
    pub rules: Rules,
    /// Time between reads of the validator registry.
    pub registry_refresh: Duration,
}

impl Settings {
    /// Settings from the checked `[mesh]` section.
    pub fn new(
        parsed: config::Parsed,
        keypair: Keypair,
        relayer: EthAddress,
        chain_id: String,
    ) -> Self {
        Settings {
            keypair,
            relayer,
            chain_id,
            listen: parsed.listen,
            peers: parsed.peers,
            heartbeat: parsed.heartbeat,
            rules: parsed.rules,
            registry_refresh: parsed.registry_refresh,
        }
    }
}

/// Starts the mesh `config` asks for (none without a `[mesh]` section): the identity is the
/// operator key `sidechain.operator_key` in `home`, intents name `relayer` (the bridge key's
/// address), and the registry is the sidechain's validator set. `path` is the config file, for
/// errors.
pub async fn start_from_config(
    config: &crate::config::Config,
    home: &std::path::Path,
    path: &std::path::Path,
    relayer: EthAddress,
    metrics: MeshMetrics,
) -> Result<Option<Mesh>, MeshError> {
    let Some(section) = &config.mesh else {
        return Ok(None);
    };
    let parsed = section
        .parse()
        .map_err(|(field, reason)| crate::Error::Config {
            path: path.to_path_buf(),
            field,
            reason,
        })?;
    let (key, _) = crate::sidechain::load_operator_key(home, &config.sidechain.operator_key)?;
    let keypair = admission::keypair_from_secret(key.to_bytes()).map_err(MeshError::Key)?;
    let client =
        sidechain_client::Client::new(&config.sidechain.rpc).map_err(crate::Error::from)?;
    let settings = Settings::new(parsed, keypair, relayer, config.sidechain.chain_id.clone());
    Mesh::start(settings, Arc::new(ChainRegistry(client)), metrics)
        .await
        .map(Some)
}

/// What this relayer reports in its heartbeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalStatus {
    /// The highest L1 block final enough to act on.
    pub l1_finalized_head: u64,
    /// The latest sidechain height seen.
    pub sidechain_height: u64,
    /// The last deposit nonce this validator claimed.
    pub last_claimed_deposit_nonce: u64,
    /// Work waiting (deposits to claim, batches and signer sets to sign or send).
    pub pending_work: u64,
}

/// A connected peer as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub peer: PeerId,
    /// Its validator's operator address (from its key).
    pub operator: Option<Address>,
    /// Its validator's registered Ethereum address.
    pub relayer: EthAddress,
    /// Its last heartbeat, if any arrived.
    pub heartbeat: Option<Heartbeat>,
    /// Milliseconds since that heartbeat arrived.
    pub heartbeat_age_ms: Option<u64>,
    /// Whether the heartbeat is recent enough for the peer to count in the intent rule.
    pub live: bool,
}

/// What the network task and the handles share.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Connected, admitted peers → their validator's registered Ethereum address.
    pub connected: BTreeMap<PeerId, EthAddress>,
    /// Each relayer's last heartbeat, when it arrived (Unix ms, this clock) and from which peer.
    pub heartbeats: BTreeMap<EthAddress, (Heartbeat, u64, PeerId)>,
    /// Per item, each announcing relayer and when its intent was first seen (Unix ms).
    pub intents: BTreeMap<Item, BTreeMap<EthAddress, u64>>,
    /// Items this relayer announced → when it last gossiped the intent (Unix ms).
    pub announced: BTreeMap<Item, u64>,
    /// Items already counted in the won / taken-over metrics.
    pub counted: BTreeSet<Item>,
    /// The registered Ethereum addresses of current validators.
    pub members: BTreeSet<EthAddress>,
    pub local: LocalStatus,
    /// When the caller last read the sidechain height for `local`.
    pub height_read_at: Option<std::time::Instant>,
}

/// A command for the network task.
#[derive(Debug)]
pub(crate) enum Command {
    Publish(Vec<u8>),
    Stop,
}

/// A running mesh. Cheap to clone; the network task stops when [`Mesh::shutdown`] is called or
/// the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Mesh {
    state: Arc<Mutex<State>>,
    commands: mpsc::UnboundedSender<Command>,
    me: EthAddress,
    peer_id: PeerId,
    listen_addrs: Vec<Multiaddr>,
    rules: Rules,
    heartbeat: Duration,
    metrics: MeshMetrics,
}

/// Now, Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Mesh {
    /// Binds the listen address, subscribes to the chain's topic and starts the network task
    /// (dials the configured peers, reads `registry` every `settings.registry_refresh`, sends a
    /// heartbeat every `settings.heartbeat`). Returns once the listener is bound.
    pub async fn start(
        settings: Settings,
        registry: Arc<dyn Registry>,
        metrics: MeshMetrics,
    ) -> Result<Mesh, MeshError> {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let me = settings.relayer;
        let rules = settings.rules;
        let heartbeat = settings.heartbeat;
        let peer_id = settings.keypair.public().to_peer_id();
        let listen_addrs =
            net::spawn(settings, registry, state.clone(), metrics.clone(), rx).await?;
        Ok(Mesh {
            state,
            commands: tx,
            me,
            peer_id,
            listen_addrs,
            rules,
            heartbeat,
            metrics,
        })
    }

    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }

    /// This relayer's peer id (from the operator key).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// This relayer's Ethereum address, as its intents name it.
    pub fn relayer(&self) -> EthAddress {
        self.me
    }

    /// The addresses the listener is bound to (the real port when `listen` asked for port 0).
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    pub fn metrics(&self) -> &MeshMetrics {
        &self.metrics
    }

    /// Admitted peers connected right now.
    pub fn peers(&self) -> usize {
        self.lock().map(|s| s.connected.len()).unwrap_or(0)
    }

    /// Relayers (other than this one) whose last heartbeat is recent enough to count as live.
    pub fn live_peers(&self) -> BTreeSet<EthAddress> {
        self.lock()
            .map(|s| self.live_in(&s, now_ms()))
            .unwrap_or_default()
    }

    fn live_ms(&self) -> u64 {
        millis(self.heartbeat).saturating_mul(u64::from(LIVE_HEARTBEATS))
    }

    fn live_in(&self, s: &State, now: u64) -> BTreeSet<EthAddress> {
        let live_ms = self.live_ms();
        s.heartbeats
            .iter()
            .filter(|(eth, (_, seen, _))| {
                **eth != self.me && s.members.contains(*eth) && now.saturating_sub(*seen) <= live_ms
            })
            .map(|(eth, _)| *eth)
            .collect()
    }

    /// Each connected peer with its last heartbeat.
    pub fn peer_statuses(&self) -> Vec<PeerStatus> {
        let Some(s) = self.lock() else {
            return Vec::new();
        };
        let now = now_ms();
        let live = self.live_in(&s, now);
        s.connected
            .iter()
            .map(|(peer, eth)| {
                let hb = s.heartbeats.get(eth);
                PeerStatus {
                    peer: *peer,
                    operator: admission::operator_of(peer),
                    relayer: *eth,
                    heartbeat: hb.map(|(h, _, _)| h.clone()),
                    heartbeat_age_ms: hb.map(|(_, seen, _)| now.saturating_sub(*seen)),
                    live: live.contains(eth),
                }
            })
            .collect()
    }

    /// Sets what this relayer's next heartbeats report.
    pub fn set_status(&self, status: LocalStatus) {
        self.update_status(|s| *s = status);
    }

    /// Changes what this relayer's next heartbeats report.
    pub fn update_status(&self, f: impl FnOnce(&mut LocalStatus)) {
        if let Some(mut s) = self.lock() {
            f(&mut s.local);
        }
    }

    /// What this relayer's heartbeats report now.
    pub fn status(&self) -> LocalStatus {
        self.lock().map(|s| s.local).unwrap_or_default()
    }

    /// True at most once per heartbeat interval: whether to read the sidechain height again
    /// for the heartbeat (the caller then reads it and sets it with [`Mesh::update_status`]).
    pub fn height_refresh_due(&self) -> bool {
        let Some(mut s) = self.lock() else {
            return false;
        };
        let due = s
            .height_read_at
            .is_none_or(|t| t.elapsed() >= self.heartbeat);
        if due {
            s.height_read_at = Some(std::time::Instant::now());
        }
        due
    }

    /// The time between heartbeats.
    pub fn heartbeat_interval(&self) -> Duration {
        self.heartbeat
    }

    /// Announces this relayer's intent to send `(kind, nonce)`: records it and gossips it, again
    /// at most once per heartbeat interval while the item is not [`Mesh::done`] (so peers that
    /// joined late learn it too). Idempotent.
    pub fn announce(&self, kind: Kind, nonce: u64) {
        let item = Item { kind, nonce };
        let now = now_ms();
        let publish = {
            let Some(mut s) = self.lock() else {
                return;
            };
            s.intents
                .entry(item)
                .or_default()
                .entry(self.me)
                .or_insert(now);
            let due = s
                .announced
                .get(&item)
                .is_none_or(|last| now.saturating_sub(*last) >= millis(self.heartbeat));
            if due {
                s.announced.insert(item, now);
            }
            due
        };
        if publish {
            let bytes = message::encode(message::Body::Intent(message::Intent {
                kind,
                nonce,
                relayer: self.me,
                at_unix_ms: now,
            }));
            // The task is gone only after shutdown; nothing to gossip to then.
            let _ = self.commands.send(Command::Publish(bytes));
        }
    }

    /// Announces (see [`Mesh::announce`]) and decides whether this relayer sends `(kind,
    /// nonce)` now ([`intent::decide`]); `fallback_turn_is_mine` is the chain's turn order
    /// ([`crate::outbound::is_my_turn`]), used when no peer is live.
    pub fn should_submit(&self, kind: Kind, nonce: u64, fallback_turn_is_mine: bool) -> Decision {
        self.announce(kind, nonce);
        let item = Item { kind, nonce };
        let now = now_ms();
        let Some(mut s) = self.lock() else {
            return Decision::Fallback {
                my_turn: fallback_turn_is_mine,
            };
        };
        let live = self.live_in(&s, now);
        let intents: Vec<intent::Seen> = s
            .intents
            .get(&item)
            .map(|m| {
                m.iter()
                    .filter(|(eth, _)| **eth == self.me || s.members.contains(*eth))
                    .map(|(eth, seen)| intent::Seen {
                        relayer: *eth,
                        seen_at_ms: *seen,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let view = intent::View {
            me: &self.me,
            intents: &intents,
            live: &live,
            now_ms: now,
        };
        let decision = intent::decide(item, &view, &self.rules, fallback_turn_is_mine);
        let label = metrics::IntentKindLabel { kind: kind.label() };
        match decision {
            Decision::Send if s.counted.insert(item) => {
                self.metrics.intents_won.get_or_create(&label).inc();
                tracing::info!(kind = kind.label(), nonce, "mesh: won the intent; sending");
            }
            Decision::TakeOver { stalled } if s.counted.insert(item) => {
                self.metrics.intents_taken_over.get_or_create(&label).inc();
                tracing::warn!(kind = kind.label(), nonce, %stalled, "mesh: the winner has not landed the item; taking over");
            }
            _ => {}
        }
        decision
    }

    /// Forgets `(kind, nonce)` once its L1 outcome is recorded: no more re-announcing.
    pub fn done(&self, kind: Kind, nonce: u64) {
        let item = Item { kind, nonce };
        if let Some(mut s) = self.lock() {
            s.intents.remove(&item);
            s.announced.remove(&item);
            s.counted.remove(&item);
        }
    }

    /// Stops the network task (closing every connection). Further calls decide as if no peer
    /// were live once their heartbeats age out.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}
