//! The bridge component's wire types. Today: its parameters, fixed at genesis. The bridge's
//! messages and records join this module.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::eth::EthAddress;

/// Most withdrawals one batch may carry: the L1 contract executes at most 256 per batch.
pub const MAX_BATCH_SIZE: u32 = 256;
/// Deepest confirmation depth accepted, in L1 blocks (about 14 hours at 12 s a block).
pub const MAX_CONFIRMATIONS: u64 = 4_096;

/// Validated bridge parameters: which L1 deployment the sidechain is joined to and how batches
/// are cut. Built from genesis by [`crate::genesis::GenesisBridge::validate`], whose errors
/// name the field.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct BridgeParams {
    /// EIP-155 chain id of the L1 the bridge contract lives on (non-zero).
    pub l1_chain_id: u64,
    /// Address of the L1 `Bridge` contract (non-zero).
    pub contract: EthAddress,
    /// The contract's bridge id: the EIP-712 domain salt that binds signatures to this
    /// deployment (32 bytes, non-zero).
    #[serde(serialize_with = "ser_hex32")]
    pub bridge_id: [u8; 32],
    /// L1 block that holds the contract's creation: relayers read events from here on.
    pub deploy_block: u64,
    /// L1 blocks a deposit must be buried under before relayers claim it (1 to
    /// [`MAX_CONFIRMATIONS`]).
    pub confirmations: u64,
    /// Most withdrawals per batch (1 to [`MAX_BATCH_SIZE`]).
    pub batch_max_size: u32,
    /// Sidechain blocks the oldest queued withdrawal of a token may wait before a batch is cut
    /// even though it is not full (at least 1).
    pub batch_max_wait_blocks: u64,
    /// Seconds after the batch's creation (sidechain block time) at which L1 refuses to
    /// execute it (at least 60).
    pub batch_timeout_seconds: u64,
}

fn ser_hex32<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v)))
}

/// Messages of the bridge component. None exist yet: the deposit and withdrawal messages are
/// added here, and only here (plus their handlers in the bridge component). Variants are only
/// ever appended: the borsh tag is the variant's position.
///
/// While it has no variants its borsh encoding is written by hand (the derive needs one): every
/// tag is refused as undecodable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeMsg {}

impl BorshSerialize for BridgeMsg {
    fn serialize<W: std::io::Write>(&self, _writer: &mut W) -> std::io::Result<()> {
        match *self {}
    }
}

impl BorshDeserialize for BridgeMsg {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let tag = u8::deserialize_reader(reader)?;
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bridge message {tag} does not exist: this chain has no bridge messages yet"),
        ))
    }
}
