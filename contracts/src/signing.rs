//! EIP-712 digests that the signer set signs, exactly as `Bridge.sol` computes them, and a
//! helper that turns bridge-key signatures into the contract's `Signature` structs.
//!
//! Domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)`
//! with name `"SidechainBridge"`, version `"1"` and salt = the bridge id. Messages:
//! `Batch(address token,uint256 nonce,uint256 timeout,uint256 fee,address[] recipients,uint256[] amounts)`
//! and `SignerSet(uint256 nonce,address[] signers,uint256[] powers)`. The struct hash of a
//! signer set is also the checkpoint the contract stores.

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::SolValue;

use crate::{Bridge, Error, Result, SignerSet};

pub const DOMAIN_NAME: &str = "SidechainBridge";
pub const DOMAIN_VERSION: &str = "1";
const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)";
const SIGNER_SET_TYPE: &str = "SignerSet(uint256 nonce,address[] signers,uint256[] powers)";
const BATCH_TYPE: &str =
    "Batch(address token,uint256 nonce,uint256 timeout,uint256 fee,address[] recipients,uint256[] amounts)";

/// Binds a signature to one deployment: chain id, contract address and bridge id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    pub chain_id: u64,
    pub verifying_contract: Address,
    pub bridge_id: B256,
}

impl Domain {
    pub fn new(chain_id: u64, verifying_contract: Address, bridge_id: B256) -> Self {
        Self {
            chain_id,
            verifying_contract,
            bridge_id,
        }
    }

    /// The EIP-712 domain separator (what `Bridge.domainSeparator()` returns).
    pub fn separator(&self) -> B256 {
        keccak256(
            (
                keccak256(DOMAIN_TYPE),
                keccak256(DOMAIN_NAME),
                keccak256(DOMAIN_VERSION),
                U256::from(self.chain_id),
                self.verifying_contract,
                self.bridge_id,
            )
                .abi_encode(),
        )
    }

    /// `keccak256(0x1901 ‖ separator ‖ struct_hash)`.
    pub fn typed_digest(&self, struct_hash: B256) -> B256 {
        let mut bytes = Vec::with_capacity(66);
        bytes.extend_from_slice(&[0x19, 0x01]);
        bytes.extend_from_slice(self.separator().as_slice());
        bytes.extend_from_slice(struct_hash.as_slice());
        keccak256(bytes)
    }

    /// What the active signer set signs to release `batch`.
    pub fn batch_digest(&self, batch: &Bridge::Batch) -> B256 {
        self.typed_digest(batch_hash(batch))
    }

    /// What the active signer set signs to hand over to `next`.
    pub fn signer_set_digest(&self, next: &SignerSet) -> B256 {
        self.typed_digest(signer_set_hash(next))
    }
}

fn hash_addresses(addresses: &[Address]) -> B256 {
    let mut bytes = Vec::with_capacity(addresses.len() * 32);
    for a in addresses {
        bytes.extend_from_slice(B256::left_padding_from(a.as_slice()).as_slice());
    }
    keccak256(bytes)
}

fn hash_words(words: &[U256]) -> B256 {
    let mut bytes = Vec::with_capacity(words.len() * 32);
    for w in words {
        bytes.extend_from_slice(&w.to_be_bytes::<32>());
    }
    keccak256(bytes)
}

/// The checkpoint of an ABI signer set (no validation).
pub fn abi_signer_set_hash(set: &Bridge::SignerSet) -> B256 {
    keccak256(
        (
            keccak256(SIGNER_SET_TYPE),
            set.nonce,
            hash_addresses(&set.signers),
            hash_words(&set.powers),
        )
            .abi_encode(),
    )
}

/// The checkpoint the contract stores for `set`.
pub fn signer_set_hash(set: &SignerSet) -> B256 {
    abi_signer_set_hash(&set.to_abi())
}

/// The EIP-712 struct hash of a batch.
pub fn batch_hash(batch: &Bridge::Batch) -> B256 {
    keccak256(
        (
            keccak256(BATCH_TYPE),
            batch.token,
            batch.nonce,
            batch.timeout,
            batch.fee,
            hash_addresses(&batch.recipients),
            hash_words(&batch.amounts),
        )
            .abi_encode(),
    )
}

/// Signs `digest` with a bridge key and places the signature at the key's index in `set`.
pub fn sign(set: &SignerSet, key: &PrivateKeySigner, digest: B256) -> Result<Bridge::Signature> {
    let index = set
        .index_of(key.address())
        .ok_or(Error::NotAMember(key.address()))?;
    let signature = key
        .sign_hash_sync(&digest)
        .map_err(|e| Error::InvalidParam {
            field: "key",
            reason: e.to_string(),
        })?;
    Ok(to_contract_signature(index, &signature))
}

/// Converts a 65-byte secp256k1 signature by the member at `index` into the contract struct.
/// The signer must produce low-s signatures (every RFC 6979 signer here does).
pub fn to_contract_signature(
    index: usize,
    signature: &alloy::primitives::Signature,
) -> Bridge::Signature {
    Bridge::Signature {
        signerIndex: U256::from(index),
        v: 27 + u8::from(signature.v()),
        r: B256::from(signature.r()),
        s: B256::from(signature.s()),
    }
}

/// Signs `digest` with every key and returns the signatures in the order the contract
/// requires (ascending signer index).
pub fn sign_all(
    set: &SignerSet,
    keys: &[PrivateKeySigner],
    digest: B256,
) -> Result<Vec<Bridge::Signature>> {
    let mut signatures = keys
        .iter()
        .map(|k| sign(set, k, digest))
        .collect::<Result<Vec<_>>>()?;
    signatures.sort_by_key(|s| s.signerIndex);
    Ok(signatures)
}
