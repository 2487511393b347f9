//! The validator's Ethereum bridge key (`l1.bridge_key`): the secp256k1 key whose address the
//! sidechain registered for the validator and the L1 signer set lists. It signs batch and
//! signer-set digests (confirmations) and pays the gas of the L1 transactions this relayer
//! sends (`submitBatch`, `updateSignerSet`, `activateSignerSet`).
//!
//! The file is the JSON genesis writes (`{"address": "0x…", "private_key": "0x…"}`, mode 0600,
//! `bridge/eth_key.json` in the relayer home by default).

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use alloy::{
    primitives::{Signature, B256},
    signers::{local::PrivateKeySigner, SignerSync},
};
use serde::Deserialize;
use sidechain_types::EthAddress;

use crate::{Error, Result};

/// The key file's fields (genesis' `EthKeyFile`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// `0x`-prefixed address (EIP-55 checksummed or not).
    address: String,
    /// `0x`-prefixed hex of the 32-byte secret scalar.
    private_key: String,
}

/// A loaded bridge key. Its `Debug` shows the address and the file, never the secret.
#[derive(Clone)]
pub struct BridgeKey {
    signer: PrivateKeySigner,
    address: EthAddress,
    path: PathBuf,
}

impl std::fmt::Debug for BridgeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeKey")
            .field("address", &self.address)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl BridgeKey {
    /// Reads and checks the key file at `path`: readable by its owner only, the JSON of
    /// genesis' key file, a valid secp256k1 secret, and an `address` field equal to the key's
    /// own address. Errors are [`Error::Config`] naming `l1.bridge_key` (with `config` as the
    /// file the field lives in) and the fix.
    pub fn load(path: &Path, config: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Config {
            path: config.to_path_buf(),
            field: "l1.bridge_key".into(),
            reason: format!("{}: {reason}", path.display()),
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            bad(format!(
                "cannot read it ({e}); point l1.bridge_key at the validator's Ethereum bridge key (genesis writes bridge/eth_key.json in the relayer home)"
            ))
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "is readable by others (mode {mode:o}); run `chmod 600` on it"
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "is not a bridge key file ({e}); it holds {{\"address\": \"0x…\", \"private_key\": \"0x…\"}}"
            ))
        })?;
        let signer = bridge_contracts::user::parse_key(&file.private_key)
            .map_err(|e| bad(format!("private_key: {e}")))?;
        let declared: EthAddress = file
            .address
            .parse()
            .map_err(|e| bad(format!("address: {e}")))?;
        let address = EthAddress(signer.address().into_array());
        if declared != address {
            return Err(bad(format!(
                "its address field says {declared} but the private key's address is {address}; the file is damaged or mixed up"
            )));
        }
        Ok(BridgeKey {
            signer,
            address,
            path: path.to_path_buf(),
        })
    }

    /// The key's Ethereum address.
    pub fn address(&self) -> EthAddress {
        self.address
    }

    /// Where the key was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The alloy signer (to pay for L1 transactions).
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// Signs a 32-byte digest: `r ‖ s ‖ v` with a low `s` and `v` = 27 or 28, what the
    /// sidechain's `ConfirmBatch` and `ConfirmSignerSet` carry and the contract accepts.
    pub fn sign_digest(&self, digest: [u8; 32]) -> Result<[u8; 65]> {
        let signature = self
            .signer
            .sign_hash_sync(&B256::from(digest))
            .map_err(|e| Error::Key {
                path: self.path.clone(),
                reason: format!("cannot sign: {e}"),
            })?;
        Ok(to_rsv(&signature))
    }
}

/// `r ‖ s ‖ v` of `signature` as the contract takes it: a high `s` is replaced by its low twin
/// (same signer) and `v` = 27 + y-parity (`bridge_protocol::to_contract_signature`'s rule).
pub fn to_rsv(signature: &Signature) -> [u8; 65] {
    let c = bridge_contracts::protocol::to_contract_signature(0, signature);
    let mut out = [0u8; 65];
    out[..32].copy_from_slice(c.r.as_slice());
    out[32..64].copy_from_slice(c.s.as_slice());
    out[64] = c.v;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    fn key_json(key: &PrivateKeySigner, address: &str) -> String {
        serde_json::json!({
            "address": address,
            "private_key": format!("0x{}", hex::encode(key.to_bytes())),
        })
        .to_string()
    }

    fn reason_of(r: Result<BridgeKey>) -> String {
        match r {
            Err(Error::Config { field, reason, .. }) => {
                assert_eq!(field, "l1.bridge_key");
                reason
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_key_loads_and_signs_what_the_protocol_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = PrivateKeySigner::random();
        let p = write(
            dir.path(),
            "k.json",
            &key_json(&key, &key.address().to_checksum(None)),
            0o600,
        );
        let loaded = BridgeKey::load(&p, Path::new("relayer.toml")).expect("load");
        assert_eq!(loaded.address().0, key.address().into_array());
        for seed in 0u8..20 {
            let digest = [seed; 32];
            let sig = loaded.sign_digest(digest).expect("sign");
            assert!(sig[64] == 27 || sig[64] == 28);
            let who = bridge_contracts::protocol::recover_signer(B256::from(digest), &sig)
                .expect("the protocol's rules accept it");
            assert_eq!(who, key.address());
        }
    }

    #[test]
    fn bad_key_files_are_refused_naming_the_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = PrivateKeySigner::random();
        let other = PrivateKeySigner::random();
        let cfg = Path::new("relayer.toml");
        assert!(
            reason_of(BridgeKey::load(&dir.path().join("missing.json"), cfg))
                .contains("cannot read")
        );
        let p = write(
            dir.path(),
            "open.json",
            &key_json(&key, &key.address().to_string()),
            0o644,
        );
        assert!(reason_of(BridgeKey::load(&p, cfg)).contains("chmod 600"));
        let p = write(dir.path(), "garbage.json", "not json", 0o600);
        assert!(reason_of(BridgeKey::load(&p, cfg)).contains("not a bridge key file"));
        let p = write(
            dir.path(),
            "mixed.json",
            &key_json(&key, &other.address().to_string()),
            0o600,
        );
        assert!(reason_of(BridgeKey::load(&p, cfg)).contains("damaged or mixed up"));
        let p = write(
            dir.path(),
            "zero.json",
            &serde_json::json!({"address": key.address().to_string(), "private_key": format!("0x{}", "00".repeat(32))}).to_string(),
            0o600,
        );
        assert!(reason_of(BridgeKey::load(&p, cfg)).contains("private_key"));
    }
}
