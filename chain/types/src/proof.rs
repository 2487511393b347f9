//! Verification of state proofs against an app hash (the Jellyfish Merkle Tree root).

use jmt::{proof::SparseMerkleProof, KeyHash, RootHash};
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("proof bytes are not a JMT proof: {0}")]
    Malformed(String),
    #[error("proof does not match app hash {app_hash}: {reason}")]
    Mismatch { app_hash: String, reason: String },
}

/// Key hash the tree uses for a state key.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Sha256>(key)
}

/// Checks that `key` holds `value` (or is absent when `value` is `None`) in the state whose
/// root is `app_hash`.
pub fn verify(
    app_hash: &[u8; 32],
    key: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> Result<(), ProofError> {
    let proof: SparseMerkleProof<Sha256> =
        borsh::from_slice(proof).map_err(|e| ProofError::Malformed(e.to_string()))?;
    proof
        .verify(RootHash(*app_hash), key_hash(key), value)
        .map_err(|e| ProofError::Mismatch {
            app_hash: hex::encode_upper(app_hash),
            reason: e.to_string(),
        })
}
