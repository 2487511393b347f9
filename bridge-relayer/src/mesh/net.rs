//! The network task: owns the libp2p swarm, applies the registry to the admission gate, checks
//! and records received messages, publishes heartbeats and intents, and keeps dialing the
//! configured peers.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use libp2p::{
    gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode},
    noise,
    swarm::{
        dial_opts::{DialOpts, PeerCondition},
        DialError, ListenError, NetworkBehaviour, SwarmEvent,
    },
    tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};
use sidechain_types::EthAddress;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{
    admission::{Admission, Gate, Member, Registry},
    message::{self, Body, Refusal, MAX_MESSAGE_BYTES},
    metrics::MeshMetrics,
    now_ms, Command, Settings, State, LIVE_HEARTBEATS,
};

/// Time a connection with no traffic stays open; heartbeats flow far more often.
const IDLE_CONNECTION: Duration = Duration::from_secs(3_600);
/// Most time to wait for the listener to bind at start.
const LISTEN_WAIT: Duration = Duration::from_secs(10);
/// Most items with intents held at once; intents for further items are dropped (a peer
/// announcing far more items than the bridge can have open is faulty). The real number is a
/// handful: one outstanding batch and a few signer-set updates.
const MAX_OPEN_ITEMS: usize = 4_096;
/// The longest wait between reads of the registry before the first one succeeds.
const FIRST_READ_RETRY: Duration = Duration::from_secs(1);
/// Intents and heartbeats seen are forgotten after this many milliseconds without news.
const RETAIN_MS: u64 = 30 * 60 * 1_000;

/// The swarm's behaviours: the gate first, so a refused peer never reaches gossipsub.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    gate: Gate,
    gossipsub: gossipsub::Behaviour,
}

/// Builds the swarm, binds the listener, and spawns the task; returns the bound addresses.
pub(crate) async fn spawn(
    settings: Settings,
    registry: Arc<dyn Registry>,
    state: Arc<Mutex<State>>,
    metrics: MeshMetrics,
    commands: mpsc::UnboundedReceiver<Command>,
) -> Result<Vec<Multiaddr>, super::MeshError> {
    use super::MeshError;
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        .validate_messages()
        // the signed protobuf frame around a message adds its key, signature and topic
        .max_transmit_size(MAX_MESSAGE_BYTES.saturating_mul(4))
        .heartbeat_interval(Duration::from_millis(500))
        .build()
        .map_err(|e| MeshError::Setup(format!("gossipsub configuration: {e}")))?;
    let gossipsub = gossipsub::Behaviour::new(
        MessageAuthenticity::Signed(settings.keypair.clone()),
        gossip_config,
    )
    .map_err(|e| MeshError::Setup(format!("gossipsub: {e}")))?;
    let mut swarm = SwarmBuilder::with_existing_identity(settings.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| MeshError::Setup(format!("noise: {e}")))?
        .with_behaviour(|_| Behaviour {
            gate: Gate::default(),
            gossipsub,
        })
        .map_err(|e| MeshError::Setup(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION))
        .build();
    let topic = IdentTopic::new(message::topic_name(&settings.chain_id));
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .map_err(|e| MeshError::Setup(format!("subscribe to {topic}: {e}")))?;
    swarm
        .listen_on(settings.listen.clone())
        .map_err(|e| MeshError::Listen {
            addr: settings.listen.clone(),
            reason: error_chain(&e),
        })?;
    let bound = tokio::time::timeout(LISTEN_WAIT, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
                SwarmEvent::ListenerClosed { reason: Err(e), .. }
                | SwarmEvent::ListenerError { error: e, .. } => return Err(error_chain(&e)),
                _ => {}
            }
        }
    })
    .await
    .map_err(|_| "no address was bound in time".to_string())
    .and_then(|r| r)
    .map_err(|reason| MeshError::Listen {
        addr: settings.listen.clone(),
        reason,
    })?;
    let mut addrs: Vec<Multiaddr> = swarm.listeners().cloned().collect();
    if addrs.is_empty() {
        addrs.push(bound);
    }
    info!(peer_id = %swarm.local_peer_id(), listen = ?addrs, topic = %topic, "mesh listening");
    let (members_tx, members_rx) = mpsc::channel(1);
    tokio::spawn(read_registry(
        registry,
        settings.registry_refresh,
        members_tx,
    ));
    let task = Task {
        swarm,
        topic,
        settings,
        state,
        metrics,
        blacklisted: BTreeSet::new(),
        last_heartbeat_ms: 0,
        // assumed until the first read, so that a relayer outside the set says so once
        member: true,
    };
    tokio::spawn(task.run(commands, members_rx));
    Ok(addrs)
}

/// The author and body of a received message, if its author (`source`, whose signature
/// gossipsub has already checked) is admitted, the content decodes ([`message::decode`] at
/// `now`, Unix ms) and it names the Ethereum address registered for the author's validator.
pub(crate) fn check_message(
    admission: &Admission,
    source: Option<PeerId>,
    data: &[u8],
    now: u64,
) -> Result<(PeerId, Body), Refusal> {
    let author = source.ok_or(Refusal::Unsigned)?;
    let registered = admission
        .admit(&author)
        .map_err(|_| Refusal::NotValidator)?;
    let body = message::decode(data, now)?;
    if *body.relayer() != registered {
        return Err(Refusal::WrongAddress {
            claimed: *body.relayer(),
            registered,
        });
    }
    Ok((author, body))
}

/// An error with its sources, `: `-separated (libp2p's transport errors print nothing
/// themselves and keep the cause in `source`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = err.source();
    }
    if parts.is_empty() {
        "unknown error".into()
    } else {
        parts.join(": ")
    }
}

/// Reads the registry every `every` and hands each answer to the task, until the task ends.
/// Until the first answer (a node still starting) it asks every [`FIRST_READ_RETRY`] at most,
/// since no peer is admitted before it.
async fn read_registry(
    registry: Arc<dyn Registry>,
    every: Duration,
    out: mpsc::Sender<Vec<Member>>,
) {
    let mut read_once = false;
    let mut failures = 0u32;
    loop {
        if out.is_closed() {
            return;
        }
        match registry.members().await {
            Ok(members) => {
                read_once = true;
                if out.send(members).await.is_err() {
                    return;
                }
            }
            Err(e) if read_once => {
                warn!(error = %e, "mesh: cannot read the validator registry; keeping the last set")
            }
            // a node still starting or syncing: say it once, then retry quietly
            Err(e) if failures == 0 => {
                failures += 1;
                warn!(error = %e, "mesh: cannot read the validator registry yet; no peer is admitted until it answers (retrying every second)")
            }
            Err(e) => debug!(error = %e, "mesh: the validator registry does not answer yet"),
        }
        let wait = if read_once {
            every
        } else {
            every.min(FIRST_READ_RETRY)
        };
        tokio::time::sleep(wait).await;
    }
}

struct Task {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    settings: Settings,
    state: Arc<Mutex<State>>,
    metrics: MeshMetrics,
    /// Peers dropped because their validator left (gossipsub ignores them too).
    blacklisted: BTreeSet<PeerId>,
    /// When the last heartbeat was published (Unix ms).
    last_heartbeat_ms: u64,
    /// Whether this relayer's own validator was in the set last read.
    member: bool,
}

impl Task {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut members: mpsc::Receiver<Vec<Member>>,
    ) {
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Publish(bytes)) => self.publish(bytes),
                    Some(Command::Stop) | None => break,
                },
                Some(list) = members.recv() => self.apply_members(&list),
                _ = heartbeat.tick() => self.tick(),
                event = self.swarm.select_next_some() => self.on_event(event),
            }
        }
        info!("mesh stopped");
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    fn publish(&mut self, bytes: Vec<u8>) {
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(self.topic.clone(), bytes)
        {
            Ok(_) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                debug!("mesh: no peer to gossip to yet")
            }
            Err(e) => warn!(error = %e, "mesh: cannot publish"),
        }
    }

    /// Applies a fresh validator list: the gate refuses and closes peers no longer in it.
    fn apply_members(&mut self, list: &[Member]) {
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        let first = self.with_state(|s| s.members.is_empty()).unwrap_or(false);
        let behaviour = self.swarm.behaviour_mut();
        let dropped = behaviour.gate.set_members(list, connected.iter());
        for peer in &dropped {
            behaviour.gossipsub.blacklist_peer(peer);
            self.blacklisted.insert(*peer);
            self.metrics.connections_refused.inc();
            warn!(%peer, "mesh: dropping a peer whose validator left the set");
        }
        let readmitted: Vec<PeerId> = self
            .blacklisted
            .iter()
            .filter(|p| behaviour.gate.admission().admit(p).is_ok())
            .copied()
            .collect();
        for peer in readmitted {
            behaviour.gossipsub.remove_blacklisted_peer(&peer);
            self.blacklisted.remove(&peer);
        }
        let eths: BTreeSet<EthAddress> = list.iter().map(|m| m.eth_address).collect();
        self.with_state(|s| {
            for p in &dropped {
                s.connected.remove(p);
            }
            s.heartbeats.retain(|eth, _| eths.contains(eth));
            s.members = eths;
        });
        self.metrics.peers.set(self.peer_count());
        let me = *self.swarm.local_peer_id();
        let member = self.swarm.behaviour().gate.admission().admit(&me).is_ok();
        if member != self.member {
            if member {
                info!("mesh: this relayer's validator is in the set; joining the mesh");
            } else {
                warn!("mesh: this relayer's validator is not in the validator set; the other relayers refuse it, so it does not dial them until it is");
            }
            self.member = member;
        }
        if first {
            self.dial_peers();
        }
    }

    fn peer_count(&self) -> i64 {
        self.with_state(|s| i64::try_from(s.connected.len()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn tick(&mut self) {
        self.send_heartbeat();
        self.dial_peers();
        let now = now_ms();
        let live_ms = u64::try_from(self.settings.heartbeat.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(u64::from(LIVE_HEARTBEATS));
        let me = self.settings.relayer;
        let live = self
            .with_state(|s| {
                s.heartbeats
                    .retain(|_, (_, seen, _)| now.saturating_sub(*seen) <= RETAIN_MS);
                s.intents.retain(|_, by| {
                    by.values()
                        .any(|seen| now.saturating_sub(*seen) <= RETAIN_MS)
                });
                let intents = &s.intents;
                s.announced.retain(|item, _| intents.contains_key(item));
                s.counted.retain(|item| intents.contains_key(item));
                s.heartbeats
                    .iter()
                    .filter(|(eth, (_, seen, _))| {
                        **eth != me && now.saturating_sub(*seen) <= live_ms
                    })
                    .count()
            })
            .unwrap_or(0);
        self.metrics
            .live_peers
            .set(i64::try_from(live).unwrap_or(i64::MAX));
        self.metrics.peers.set(self.peer_count());
    }

    fn send_heartbeat(&mut self) {
        let now = now_ms();
        let Some(local) = self.with_state(|s| s.local) else {
            return;
        };
        self.last_heartbeat_ms = now;
        let bytes = message::encode(Body::Heartbeat(message::Heartbeat {
            relayer: self.settings.relayer,
            l1_finalized_head: local.l1_finalized_head,
            sidechain_height: local.sidechain_height,
            last_claimed_deposit_nonce: local.last_claimed_deposit_nonce,
            pending_work: local.pending_work,
            version: env!("CARGO_PKG_VERSION").to_string(),
            at_unix_ms: now,
        }));
        self.publish(bytes);
    }

    /// Dials each configured peer that is admitted and not connected (or being dialed), as
    /// long as this relayer's own validator is in the set (the others would refuse it).
    fn dial_peers(&mut self) {
        let me = *self.swarm.local_peer_id();
        if self.swarm.behaviour().gate.admission().admit(&me).is_err() {
            return;
        }
        let peers = self.settings.peers.clone();
        for (peer, addr) in peers {
            if peer == me
                || self.swarm.is_connected(&peer)
                || self
                    .swarm
                    .behaviour()
                    .gate
                    .admission()
                    .admit(&peer)
                    .is_err()
            {
                continue;
            }
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                debug!(%peer, %addr, error = %error_chain(&e), "mesh: dial not started");
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let admitted = self.swarm.behaviour().gate.admission().admit(&peer_id);
                match admitted {
                    Ok(eth) => {
                        let new = self
                            .with_state(|s| s.connected.insert(peer_id, eth).is_none())
                            .unwrap_or(false);
                        if new {
                            info!(peer = %peer_id, relayer = %eth, addr = %endpoint.get_remote_address(), "mesh: peer connected");
                        }
                    }
                    Err(e) => {
                        // the gate refuses these before they are established; close anyway
                        warn!(error = %e, "mesh: closing a connection of a peer not admitted");
                        let _ = self.swarm.disconnect_peer_id(peer_id);
                    }
                }
                self.metrics.peers.set(self.peer_count());
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                if num_established == 0 {
                    let was = self
                        .with_state(|s| s.connected.remove(&peer_id).is_some())
                        .unwrap_or(false);
                    if was {
                        info!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "mesh: peer disconnected");
                    }
                }
                self.metrics.peers.set(self.peer_count());
            }
            SwarmEvent::IncomingConnectionError {
                error: ListenError::Denied { cause },
                send_back_addr,
                ..
            } => {
                self.metrics.connections_refused.inc();
                info!(from = %send_back_addr, reason = %error_chain(&cause), "mesh: refused a connection");
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id,
                error: DialError::Denied { cause },
                ..
            } => {
                self.metrics.connections_refused.inc();
                debug!(peer = ?peer_id, reason = %error_chain(&cause), "mesh: not dialing a peer that is not admitted");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(peer = ?peer_id, error = %error_chain(&error), "mesh: dial failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let now = now_ms();
                let verdict = self.check(&message, now);
                let acceptance = match verdict {
                    Ok((author, body)) => {
                        self.record(author, body, now);
                        MessageAcceptance::Accept
                    }
                    Err(refusal) => {
                        self.metrics.refused(refusal.label());
                        debug!(from = %propagation_source, author = ?message.source, reason = %refusal, "mesh: refused a message");
                        match refusal {
                            Refusal::Stale(_) | Refusal::Version(_) => MessageAcceptance::Ignore,
                            _ => MessageAcceptance::Reject,
                        }
                    }
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
            }
            gossipsub::Event::Subscribed { peer_id, .. } => {
                // a peer that just joined learns at once that this relayer is live
                debug!(peer = %peer_id, "mesh: peer subscribed");
                if now_ms().saturating_sub(self.last_heartbeat_ms) >= 200 {
                    self.send_heartbeat();
                }
            }
            _ => {}
        }
    }

    /// The author and body of a message ([`check_message`] against the current set).
    fn check(&self, message: &gossipsub::Message, now: u64) -> Result<(PeerId, Body), Refusal> {
        check_message(
            self.swarm.behaviour().gate.admission(),
            message.source,
            &message.data,
            now,
        )
    }

    fn record(&self, author: PeerId, body: Body, now: u64) {
        let me = self.settings.relayer;
        self.with_state(|s| match body {
            Body::Heartbeat(h) => {
                if h.relayer != me {
                    s.heartbeats.insert(h.relayer, (h, now, author));
                }
            }
            Body::Intent(i) => {
                if i.relayer == me {
                    return;
                }
                if !s.intents.contains_key(&i.item()) && s.intents.len() >= MAX_OPEN_ITEMS {
                    self.metrics.refused("overflow");
                    return;
                }
                let by: &mut BTreeMap<EthAddress, u64> = s.intents.entry(i.item()).or_default();
                by.entry(i.relayer).or_insert(now);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::{
        admission::keypair_from_secret,
        intent::Kind,
        message::{encode, Intent},
    };

    #[test]
    fn messages_are_used_only_from_admitted_authors_naming_their_registered_address() {
        let author = keypair_from_secret([5; 32])
            .expect("seed")
            .public()
            .to_peer_id();
        let stranger = keypair_from_secret([6; 32])
            .expect("seed")
            .public()
            .to_peer_id();
        let eth = EthAddress([5; 20]);
        let admission = Admission::new(&[Member {
            operator: crate::mesh::admission::operator_of(&author).expect("ed25519"),
            eth_address: eth,
        }]);
        let now = 1_700_000_000_000;
        let intent = |relayer| {
            encode(Body::Intent(Intent {
                kind: Kind::SubmitBatch,
                nonce: 1,
                relayer,
                at_unix_ms: now,
            }))
        };
        let ok = check_message(&admission, Some(author), &intent(eth), now).expect("admitted");
        assert_eq!(ok.0, author);
        let label = |r: Result<(PeerId, Body), Refusal>| r.map(|_| ()).map_err(|e| e.label());
        assert_eq!(
            label(check_message(&admission, None, &intent(eth), now)),
            Err("unsigned")
        );
        assert_eq!(
            label(check_message(&admission, Some(stranger), &intent(eth), now)),
            Err("not_validator")
        );
        assert_eq!(
            label(check_message(
                &admission,
                Some(author),
                &intent(EthAddress([9; 20])),
                now
            )),
            Err("wrong_address")
        );
        assert_eq!(
            label(check_message(&admission, Some(author), b"{", now)),
            Err("malformed")
        );
    }
}
