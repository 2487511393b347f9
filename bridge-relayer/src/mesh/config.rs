//! The optional `[mesh]` section of `relayer.toml`; without it the relayer runs without the
//! mesh and sends in the chain's turn order.
//!
//! ```toml
//! [mesh]
//! listen = "/ip4/127.0.0.1/tcp/26676"
//! peers = ["/ip4/127.0.0.1/tcp/26686/p2p/12D3KooW..."]   # other validators' relayers
//! heartbeat_secs = 2
//! intent_window_ms = 2000
//! takeover_secs = 60
//! registry_refresh_secs = 15
//! ```

use std::time::Duration;

use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use super::intent::Rules;

/// The section as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshConfig {
    /// Where this relayer listens for other relayers: a multiaddr with an IP (or DNS name) and
    /// a TCP port, such as `/ip4/0.0.0.0/tcp/26676`.
    pub listen: String,
    /// Other relayers to dial at start and whenever they are disconnected, each with its peer
    /// id: `/ip4/10.0.0.2/tcp/26676/p2p/12D3KooW...`. Peers that dial in are admitted too, if
    /// they are current validators' relayers.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Seconds between heartbeats (1 to 60). A peer is live while its last heartbeat is at most
    /// three heartbeats old.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Milliseconds after an item's first intent during which intents are collected before
    /// anyone sends (100 to 60,000); longer than gossip takes to reach every relayer.
    #[serde(default = "default_intent_window_ms")]
    pub intent_window_ms: u64,
    /// Seconds each relayer in the ranking gives the one before it to land an L1 transaction
    /// before taking over (1 to 3,600); longer than an L1 transaction takes to be mined.
    #[serde(default = "default_takeover_secs")]
    pub takeover_secs: u64,
    /// Seconds between reads of the validator registry (1 to 3,600); a removed validator's
    /// relayer is dropped within this time.
    #[serde(default = "default_registry_refresh_secs")]
    pub registry_refresh_secs: u64,
}

fn default_heartbeat_secs() -> u64 {
    2
}
fn default_intent_window_ms() -> u64 {
    2_000
}
fn default_takeover_secs() -> u64 {
    60
}
fn default_registry_refresh_secs() -> u64 {
    15
}

impl MeshConfig {
    /// A section listening on `listen` with `peers` and every other field at its default.
    pub fn new(listen: String, peers: Vec<String>) -> Self {
        MeshConfig {
            listen,
            peers,
            heartbeat_secs: default_heartbeat_secs(),
            intent_window_ms: default_intent_window_ms(),
            takeover_secs: default_takeover_secs(),
            registry_refresh_secs: default_registry_refresh_secs(),
        }
    }
}

/// The section's checked values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub listen: Multiaddr,
    /// Each bootstrap peer's id and address.
    pub peers: Vec<(PeerId, Multiaddr)>,
    pub heartbeat: Duration,
    pub rules: Rules,
    pub registry_refresh: Duration,
}

impl MeshConfig {
    /// Checks every field; an error names the field (`mesh.listen`, ...) and the fix.
    pub fn parse(&self) -> Result<Parsed, (String, String)> {
        let bad = |field: &str, reason: String| (format!("mesh.{field}"), reason);
        let listen: Multiaddr = self.listen.parse().map_err(|e| {
            bad(
                "listen",
                format!(
                    "`{}` is not a multiaddr ({e}); give one like /ip4/0.0.0.0/tcp/26676",
                    self.listen
                ),
            )
        })?;
        check_tcp(&listen, false).map_err(|r| bad("listen", r))?;
        let mut peers = Vec::new();
        for (i, text) in self.peers.iter().enumerate() {
            let field = format!("peers[{i}]");
            let addr: Multiaddr = text.parse().map_err(|e| {
                bad(
                    &field,
                    format!(
                        "`{text}` is not a multiaddr ({e}); give one like /ip4/10.0.0.2/tcp/26676/p2p/12D3KooW..."
                    ),
                )
            })?;
            let peer = check_tcp(&addr, true)
                .map_err(|r| bad(&field, r))?
                .ok_or_else(|| {
                    bad(
                        &field,
                        format!(
                            "`{text}` names no peer id; end it with /p2p/<peer id of that relayer>"
                        ),
                    )
                })?;
            if super::admission::ed25519_public_key(&peer).is_none() {
                return Err(bad(
                    &field,
                    format!("peer id {peer} is not an ed25519 key, so it cannot be a validator's relayer"),
                ));
            }
            peers.push((peer, addr));
        }
        if !(1..=60).contains(&self.heartbeat_secs) {
            return Err(bad(
                "heartbeat_secs",
                format!("is {}; give 1 to 60 seconds", self.heartbeat_secs),
            ));
        }
        if !(100..=60_000).contains(&self.intent_window_ms) {
            return Err(bad(
                "intent_window_ms",
                format!(
                    "is {}; give 100 to 60000 milliseconds",
                    self.intent_window_ms
                ),
            ));
        }
        if !(1..=3_600).contains(&self.takeover_secs) {
            return Err(bad(
                "takeover_secs",
                format!("is {}; give 1 to 3600 seconds", self.takeover_secs),
            ));
        }
        if !(1..=3_600).contains(&self.registry_refresh_secs) {
            return Err(bad(
                "registry_refresh_secs",
                format!("is {}; give 1 to 3600 seconds", self.registry_refresh_secs),
            ));
        }
        Ok(Parsed {
            listen,
            peers,
            heartbeat: Duration::from_secs(self.heartbeat_secs),
            rules: Rules {
                window_ms: self.intent_window_ms,
                takeover_ms: self.takeover_secs.saturating_mul(1_000),
            },
            registry_refresh: Duration::from_secs(self.registry_refresh_secs),
        })
    }
}

/// Checks that `addr` is a host (IP or DNS name), a TCP port and, only if `peer_allowed`, a
/// trailing `/p2p/<peer id>`, which it returns.
fn check_tcp(addr: &Multiaddr, peer_allowed: bool) -> Result<Option<PeerId>, String> {
    let mut parts = addr.iter();
    match parts.next() {
        Some(
            Protocol::Ip4(_)
            | Protocol::Ip6(_)
            | Protocol::Dns(_)
            | Protocol::Dns4(_)
            | Protocol::Dns6(_),
        ) => {}
        _ => return Err(format!("`{addr}` does not start with /ip4, /ip6 or /dns")),
    }
    match parts.next() {
        Some(Protocol::Tcp(_)) => {}
        _ => return Err(format!("`{addr}` has no /tcp/<port> after the host")),
    }
    match parts.next() {
        None => Ok(None),
        Some(Protocol::P2p(peer)) if peer_allowed && parts.next().is_none() => Ok(Some(peer)),
        Some(Protocol::P2p(_)) if !peer_allowed => Err(format!(
            "`{addr}` ends with /p2p/...; the listen address takes no peer id"
        )),
        Some(other) => Err(format!(
            "`{addr}` has `{other}` after the TCP port; only /p2p/<peer id> may follow"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        super::super::admission::keypair_from_secret([3; 32])
            .expect("seed")
            .public()
            .to_peer_id()
    }

    #[test]
    fn a_good_section_parses() {
        let c = MeshConfig::new(
            "/ip4/127.0.0.1/tcp/4001".into(),
            vec![format!("/ip4/127.0.0.1/tcp/4002/p2p/{}", peer())],
        );
        let p = c.parse().expect("valid");
        assert_eq!(p.peers.len(), 1);
        assert_eq!(p.peers[0].0, peer());
        assert_eq!(p.rules.takeover_ms, 60_000);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Edit = Box<dyn Fn(&mut MeshConfig)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "mesh.listen",
                Box::new(|c| c.listen = "127.0.0.1:4001".into()),
            ),
            (
                "mesh.listen",
                Box::new(|c| c.listen = "/ip4/127.0.0.1/udp/4001".into()),
            ),
            (
                "mesh.listen",
                Box::new(|c| c.listen = format!("/ip4/127.0.0.1/tcp/1/p2p/{}", peer())),
            ),
            (
                "mesh.peers[0]",
                Box::new(|c| c.peers = vec!["/ip4/127.0.0.1/tcp/1".into()]),
            ),
            (
                "mesh.peers[0]",
                Box::new(|c| c.peers = vec!["nonsense".into()]),
            ),
            (
                "mesh.peers[1]",
                Box::new(|c| {
                    c.peers = vec![
                        format!("/ip4/127.0.0.1/tcp/1/p2p/{}", peer()),
                        format!("/ip4/127.0.0.1/tcp/2/p2p/{}", PeerId::random()),
                    ]
                }),
            ),
            ("mesh.heartbeat_secs", Box::new(|c| c.heartbeat_secs = 0)),
            (
                "mesh.intent_window_ms",
                Box::new(|c| c.intent_window_ms = 10),
            ),
            ("mesh.takeover_secs", Box::new(|c| c.takeover_secs = 0)),
            (
                "mesh.registry_refresh_secs",
                Box::new(|c| c.registry_refresh_secs = 0),
            ),
        ];
        for (field, edit) in cases {
            let mut c = MeshConfig::new("/ip4/127.0.0.1/tcp/4001".into(), vec![]);
            edit(&mut c);
            match c.parse() {
                Err((f, _)) => assert_eq!(f, field),
                Ok(_) => panic!("expected {field} to be refused"),
            }
        }
    }
}
