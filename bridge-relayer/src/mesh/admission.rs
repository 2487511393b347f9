//! Who may join the mesh: only the relayers of current validators.
//!
//! A relayer's libp2p identity is its validator's operator ed25519 key. An ed25519 peer id
//! inlines the public key (an identity multihash of its protobuf encoding), and the noise
//! handshake proves the remote holds the matching secret key, so the remote's operator address
//! follows from its peer id alone: [`operator_of`] = [`Address::from_pubkey`] of that key. A
//! connection is admitted only when that address is the operator of a validator in the
//! registry ([`Gate`]); the registry is read again periodically ([`Registry`]) and peers whose
//! validator left are disconnected and refused from then on.

use std::{
    collections::{BTreeMap, VecDeque},
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use libp2p::{
    core::{transport::PortUse, Endpoint},
    identity::{Keypair, PublicKey},
    swarm::{
        dummy, CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
        THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};
use sidechain_types::{Address, EthAddress};

/// The multihash code of an inlined (identity) peer id.
const IDENTITY_MULTIHASH: u64 = 0;

/// The ed25519 public key a peer id inlines; `None` for a peer id of another key type or a
/// hashed one (which ed25519 keys never produce).
pub fn ed25519_public_key(peer: &PeerId) -> Option<[u8; 32]> {
    let hash = peer.as_ref();
    if hash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(hash.digest()).ok()?;
    Some(key.try_into_ed25519().ok()?.to_bytes())
}

/// The sidechain operator address of a peer: [`Address::from_pubkey`] of its ed25519 key.
pub fn operator_of(peer: &PeerId) -> Option<Address> {
    ed25519_public_key(peer).map(|k| Address::from_pubkey(&k))
}

/// The libp2p identity of the operator key whose 32-byte ed25519 secret (seed) is `secret`.
pub fn keypair_from_secret(secret: [u8; 32]) -> Result<Keypair, String> {
    Keypair::ed25519_from_bytes(secret)
        .map_err(|e| format!("the operator key is not a valid ed25519 secret: {e}"))
}

/// The peer id of the relayer whose operator public key is `public_key` (how `testnet` writes
/// the `[mesh] peers` lists).
pub fn peer_id_of(public_key: &[u8; 32]) -> Result<PeerId, String> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(public_key)
        .map_err(|e| format!("not an ed25519 public key: {e}"))?;
    Ok(PeerId::from_public_key(&PublicKey::from(key)))
}

/// A current validator as the mesh needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The validator's operator account (hash of the operator public key).
    pub operator: Address,
    /// The validator's registered Ethereum bridge address, which its relayer's intents and
    /// heartbeats must name.
    pub eth_address: EthAddress,
}

/// The future [`Registry::members`] returns.
pub type MembersFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Member>, String>> + Send + 'a>>;

/// Where the current validator set comes from: the chain in production ([`ChainRegistry`]), a
/// shared list in tests ([`SharedRegistry`]).
pub trait Registry: Send + Sync + 'static {
    /// The current validators; an error (the chain unreachable, say) keeps the last set.
    fn members(&self) -> MembersFuture<'_>;
}

/// The validator registry of the sidechain (`client.validators()`).
#[derive(Debug, Clone)]
pub struct ChainRegistry(pub sidechain_client::Client);

impl Registry for ChainRegistry {
    fn members(&self) -> MembersFuture<'_> {
        Box::pin(async move {
            let validators = self.0.validators().await.map_err(|e| e.to_string())?;
            Ok(validators
                .into_iter()
                .map(|v| Member {
                    operator: v.operator,
                    eth_address: v.eth_address,
                })
                .collect())
        })
    }
}

/// A validator list held in memory and changed by its owner (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct SharedRegistry(Arc<Mutex<Vec<Member>>>);

impl SharedRegistry {
    pub fn new(members: Vec<Member>) -> Self {
        SharedRegistry(Arc::new(Mutex::new(members)))
    }

    /// Replaces the list.
    pub fn set(&self, members: Vec<Member>) {
        if let Ok(mut m) = self.0.lock() {
            *m = members;
        }
    }

    /// Removes the validator with operator `operator`.
    pub fn remove(&self, operator: &Address) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|v| v.operator != *operator);
        }
    }
}

impl Registry for SharedRegistry {
    fn members(&self) -> MembersFuture<'_> {
        let members = self
            .0
            .lock()
            .map(|m| m.clone())
            .map_err(|_| "the shared registry's lock is poisoned".to_string());
        Box::pin(async move { members })
    }
}

/// Why a connection was refused.
#[derive(Debug)]
pub struct NotAdmitted {
    pub peer: PeerId,
    /// The operator address its key hashes to (none: not an ed25519 key).
    pub operator: Option<Address>,
}

impl fmt::Display for NotAdmitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.operator {
            Some(op) => write!(
                f,
                "peer {} (operator {op}) is not a current validator's relayer",
                self.peer
            ),
            None => write!(
                f,
                "peer {} has no ed25519 key, so it cannot be a validator's relayer",
                self.peer
            ),
        }
    }
}

impl std::error::Error for NotAdmitted {}

/// The admission rule over a set of members, without I/O.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Operator → registered Ethereum address, of every current validator.
    members: BTreeMap<Address, EthAddress>,
}

impl Admission {
    pub fn new(members: &[Member]) -> Self {
        Admission {
            members: members
                .iter()
                .map(|m| (m.operator, m.eth_address))
                .collect(),
        }
    }

    /// The registered Ethereum address of `peer`'s validator, if `peer` is admitted.
    pub fn admit(&self, peer: &PeerId) -> Result<EthAddress, NotAdmitted> {
        let operator = operator_of(peer);
        operator
            .and_then(|op| self.members.get(&op).copied())
            .ok_or(NotAdmitted {
                peer: *peer,
                operator,
            })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// A network behaviour that refuses every connection (inbound, outbound, and dials) to a peer
/// the [`Admission`] rule does not admit, and closes the connections of peers that fall out of
/// it ([`Gate::set_members`]).
#[derive(Debug, Default)]
pub struct Gate {
    admission: Admission,
    close: VecDeque<PeerId>,
    waker: Option<Waker>,
}

impl Gate {
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Replaces the member set and closes the connections of each peer in `connected` that it
    /// no longer admits; returns those peers.
    pub fn set_members<'a>(
        &mut self,
        members: &[Member],
        connected: impl IntoIterator<Item = &'a PeerId>,
    ) -> Vec<PeerId> {
        self.admission = Admission::new(members);
        let dropped: Vec<PeerId> = connected
            .into_iter()
            .filter(|p| self.admission.admit(p).is_err())
            .copied()
            .collect();
        self.close.extend(dropped.iter().copied());
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        dropped
    }

    fn enforce(&self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        self.admission
            .admit(peer)
            .map(|_| ())
            .map_err(ConnectionDenied::new)
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.enforce(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = peer {
            self.enforce(&peer)?;
        }
        Ok(vec![])
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.enforce(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        if let Some(peer_id) = self.close.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::All,
            });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(seed: u8) -> Keypair {
        keypair_from_secret([seed; 32]).expect("ed25519 seed")
    }

    #[test]
    fn the_peer_id_yields_the_operator_address_of_the_sidechain_key() {
        let seed = [42u8; 32];
        let sidechain_key = ed25519_consensus::SigningKey::from(seed);
        let public = sidechain_key.verification_key().to_bytes();
        let peer = keypair(42).public().to_peer_id();
        assert_eq!(ed25519_public_key(&peer), Some(public));
        assert_eq!(operator_of(&peer), Some(Address::from_pubkey(&public)));
        assert_eq!(peer_id_of(&public), Ok(peer));
    }

    #[test]
    fn only_members_are_admitted() {
        let member = keypair(1).public().to_peer_id();
        let stranger = keypair(2).public().to_peer_id();
        let eth = EthAddress([1; 20]);
        let admission = Admission::new(&[Member {
            operator: operator_of(&member).expect("ed25519"),
            eth_address: eth,
        }]);
        assert_eq!(admission.admit(&member).ok(), Some(eth));
        let refused = admission.admit(&stranger).expect_err("not a member");
        assert!(refused.to_string().contains("not a current validator"));
        // a random peer id (not an ed25519 key) is refused without panicking
        let random = PeerId::random();
        assert!(admission.admit(&random).is_err());
        assert_eq!(operator_of(&random), None);
    }

    #[test]
    fn a_removed_member_is_closed() {
        let a = keypair(1).public().to_peer_id();
        let b = keypair(2).public().to_peer_id();
        let m = |p: &PeerId, e: u8| Member {
            operator: operator_of(p).expect("ed25519"),
            eth_address: EthAddress([e; 20]),
        };
        let mut gate = Gate::default();
        assert!(gate.set_members(&[m(&a, 1), m(&b, 2)], [&a, &b]).is_empty());
        assert_eq!(gate.set_members(&[m(&a, 1)], [&a, &b]), vec![b]);
        assert!(gate.enforce(&b).is_err());
        assert!(gate.enforce(&a).is_ok());
    }
}
