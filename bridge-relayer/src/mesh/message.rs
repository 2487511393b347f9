//! What relayers gossip: JSON envelopes carrying a protocol version and either a heartbeat or
//! an intent. gossipsub signs each message with the author's libp2p key (the validator's
//! operator key) and checks the signature on receipt; [`decode`] then checks the content. Input
//! from the network is never trusted: every failure is a [`Refusal`], never a panic.

use serde::{Deserialize, Serialize};
use sidechain_types::EthAddress;

use super::intent::{Item, Kind};

/// The version of the messages this build speaks; others are refused.
pub const PROTOCOL_VERSION: u16 = 1;
/// Largest message accepted or sent, in bytes (a heartbeat is about 350).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// Longest software version string in a heartbeat, in bytes.
pub const MAX_VERSION_LEN: usize = 64;
/// How far a message's timestamp may be from the receiver's clock, in milliseconds, before it
/// is refused as stale (a replay) or from the future (a broken clock).
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1_000;

/// The gossipsub topic of a sidechain's relayers: one per chain id.
pub fn topic_name(chain_id: &str) -> String {
    format!("sidechain-bridge/{chain_id}/v1")
}

/// A relayer's periodic report of where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The sender's Ethereum (bridge key) address, which names it in intents.
    pub relayer: EthAddress,
    /// The highest L1 block final enough for it to act on (confirmation depth or `finalized`).
    pub l1_finalized_head: u64,
    /// The latest sidechain height it has seen.
    pub sidechain_height: u64,
    /// The last deposit nonce its validator has claimed.
    pub last_claimed_deposit_nonce: u64,
    /// Work it knows is waiting (deposits to claim, batches and signer sets to sign or send).
    pub pending_work: u64,
    /// Its software version (`bridge-relayer` crate version).
    pub version: String,
    /// When it was sent, Unix milliseconds on the sender's clock.
    pub at_unix_ms: u64,
}

/// "I am about to pay for this L1 transaction" (see [`super::intent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub kind: Kind,
    /// The batch or signer-set nonce.
    pub nonce: u64,
    /// The sender's Ethereum (bridge key) address: the account that would pay the gas.
    pub relayer: EthAddress,
    /// When it was sent, Unix milliseconds on the sender's clock.
    pub at_unix_ms: u64,
}

impl Intent {
    pub fn item(&self) -> Item {
        Item {
            kind: self.kind,
            nonce: self.nonce,
        }
    }
}

/// The message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    Heartbeat(Heartbeat),
    Intent(Intent),
}

impl Body {
    /// The sender's Ethereum address, as the message claims it.
    pub fn relayer(&self) -> &EthAddress {
        match self {
            Body::Heartbeat(h) => &h.relayer,
            Body::Intent(i) => &i.relayer,
        }
    }

    fn at_unix_ms(&self) -> u64 {
        match self {
            Body::Heartbeat(h) => h.at_unix_ms,
            Body::Intent(i) => i.at_unix_ms,
        }
    }
}

/// What goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub protocol: u16,
    pub body: Body,
}

/// Why a received message was not used; the label is the metric's `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the author is not a current validator's operator")]
    NotValidator,
    #[error("the message is unsigned or its author is not an ed25519 key")]
    Unsigned,
    #[error("the message is {0} bytes, more than {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("the message does not decode: {0}")]
    Malformed(String),
    #[error("protocol version {0} is not {PROTOCOL_VERSION}")]
    Version(u16),
    #[error("the timestamp is {0} ms away from this relayer's clock")]
    Stale(u64),
    #[error("the relayer address {claimed} is not the one registered for the author's validator ({registered})")]
    WrongAddress {
        claimed: EthAddress,
        registered: EthAddress,
    },
}

impl Refusal {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::NotValidator => "not_validator",
            Refusal::Unsigned => "unsigned",
            Refusal::TooLarge(_) => "too_large",
            Refusal::Malformed(_) => "malformed",
            Refusal::Version(_) => "version",
            Refusal::Stale(_) => "stale",
            Refusal::WrongAddress { .. } => "wrong_address",
        }
    }
}

/// Encodes `body` for the wire.
pub fn encode(body: Body) -> Vec<u8> {
    let envelope = Envelope {
        protocol: PROTOCOL_VERSION,
        body,
    };
    // Serializing these plain structs to JSON cannot fail; an empty message would be refused
    // by every receiver, which is the safe outcome if it ever did.
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// Decodes and checks a message received at `now_ms` (Unix milliseconds, the receiver's
/// clock): size, JSON shape, protocol version, timestamp within [`MAX_CLOCK_SKEW_MS`], and a
/// version string of at most [`MAX_VERSION_LEN`] bytes.
pub fn decode(bytes: &[u8], now_ms: u64) -> Result<Body, Refusal> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Refusal::TooLarge(bytes.len()));
    }
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if envelope.protocol != PROTOCOL_VERSION {
        return Err(Refusal::Version(envelope.protocol));
    }
    let skew = envelope.body.at_unix_ms().abs_diff(now_ms);
    if skew > MAX_CLOCK_SKEW_MS {
        return Err(Refusal::Stale(skew));
    }
    if let Body::Heartbeat(h) = &envelope.body {
        if h.version.len() > MAX_VERSION_LEN {
            return Err(Refusal::Malformed(format!(
                "the version string is {} bytes, more than {MAX_VERSION_LEN}",
                h.version.len()
            )));
        }
    }
    Ok(envelope.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(at: u64) -> Body {
        Body::Heartbeat(Heartbeat {
            relayer: EthAddress([7; 20]),
            l1_finalized_head: 100,
            sidechain_height: 55,
            last_claimed_deposit_nonce: 3,
            pending_work: 2,
            version: "0.1.0".into(),
            at_unix_ms: at,
        })
    }

    #[test]
    fn round_trips() {
        let now = 1_700_000_000_000;
        let hb = heartbeat(now);
        assert_eq!(decode(&encode(hb.clone()), now), Ok(hb));
        let intent = Body::Intent(Intent {
            kind: Kind::UpdateSignerSet,
            nonce: 4,
            relayer: EthAddress([9; 20]),
            at_unix_ms: now,
        });
        let bytes = encode(intent.clone());
        assert!(String::from_utf8_lossy(&bytes).contains("update_signer_set"));
        assert_eq!(decode(&bytes, now + 1_000), Ok(intent));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let now = 1_700_000_000_000;
        assert_eq!(
            decode(b"not json", now).map_err(|e| e.label()),
            Err("malformed")
        );
        assert_eq!(
            decode(&[b' '; MAX_MESSAGE_BYTES + 1], now).map_err(|e| e.label()),
            Err("too_large")
        );
        let stale = encode(heartbeat(now - MAX_CLOCK_SKEW_MS - 1));
        assert_eq!(decode(&stale, now).map_err(|e| e.label()), Err("stale"));
        let mut v: serde_json::Value = serde_json::from_slice(&encode(heartbeat(now))).unwrap();
        v["protocol"] = 2.into();
        let other = serde_json::to_vec(&v).unwrap();
        assert_eq!(decode(&other, now), Err(Refusal::Version(2)));
        v["protocol"] = 1.into();
        v["body"]["extra"] = 1.into();
        let extra = serde_json::to_vec(&v).unwrap();
        assert_eq!(decode(&extra, now).map_err(|e| e.label()), Err("malformed"));
        let mut long = heartbeat(now);
        if let Body::Heartbeat(h) = &mut long {
            h.version = "x".repeat(MAX_VERSION_LEN + 1);
        }
        assert_eq!(
            decode(&encode(long), now).map_err(|e| e.label()),
            Err("malformed")
        );
        // arbitrary bytes never panic
        for len in 0..64u8 {
            let junk: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(len))
                .collect();
            assert!(decode(&junk, now).is_err());
        }
    }

    #[test]
    fn the_topic_names_the_chain() {
        assert_eq!(
            topic_name("sidechain-local"),
            "sidechain-bridge/sidechain-local/v1"
        );
    }
}
