//! Signing with a bridge key, for relayers and tests. The digests themselves, the EIP-712 domain
//! and signature recovery are the protocol crate's (re-exported here under their old paths):
//! this module only adds what needs a private key (alloy's `PrivateKeySigner`) and the binding's
//! `Bridge::*` types.

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;

pub use bridge_protocol::{
    batch_hash, recover_signer, signer_set_hash, Domain, DOMAIN_NAME, DOMAIN_VERSION,
};

use crate::{Bridge, Error, Result, SignerSet};

/// The checkpoint (EIP-712 struct hash) of a signer set as the binding holds it, without any
/// validation: what `Bridge.signerSetHash(set)` returns.
pub fn abi_signer_set_hash(set: &Bridge::SignerSet) -> B256 {
    bridge_protocol::abi_signer_set_hash(&set.clone().into())
}

/// Converts a 65-byte secp256k1 signature by the member at `index` into the contract struct
/// (`v` = 27 + parity, a high `s` replaced by its low twin; see
/// [`bridge_protocol::to_contract_signature`]).
pub fn to_contract_signature(
    index: usize,
    signature: &alloy::primitives::Signature,
) -> Bridge::Signature {
    bridge_protocol::to_contract_signature(index, signature).into()
}

/// Signs the 32-byte `digest` with a bridge key and places the signature at the key's index in
/// `set`. Errors: [`bridge_protocol::Error::NotAMember`] (as [`Error::Protocol`]) when the key's
/// address is not in `set`, [`Error::InvalidParam`] when the key cannot sign.
pub fn sign(set: &SignerSet, key: &PrivateKeySigner, digest: B256) -> Result<Bridge::Signature> {
    let index = set
        .index_of(key.address())
        .ok_or(bridge_protocol::Error::NotAMember(key.address()))?;
    let signature = key
        .sign_hash_sync(&digest)
        .map_err(|e| Error::InvalidParam {
            field: "key",
            reason: e.to_string(),
        })?;
    Ok(to_contract_signature(index, &signature))
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
