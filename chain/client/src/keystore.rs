//! Key files: one JSON file per key under `<home>/keys/`, readable by its owner only (0600),
//! in a directory only its owner can list (0700).

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use ed25519_consensus::SigningKey;
use serde::{Deserialize, Serialize};
use sidechain_types::Address;

use crate::{Error, Result};

/// What a key file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub name: String,
    pub address: Address,
    /// Hex of the ed25519 public key.
    pub public_key: String,
    /// Hex of the 32-byte ed25519 secret seed.
    pub secret_key: String,
}

/// Public facts about a key, as `keys list|show|add --json` print them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub address: Address,
    pub public_key: String,
}

/// The keys under one home directory.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

impl Keystore {
    /// The keystore of a client home (`<home>/keys`); nothing is created until a key is added.
    pub fn open(home: &Path) -> Self {
        Keystore {
            dir: home.join("keys"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Creates a new random key called `name`.
    pub fn add(&self, name: &str) -> Result<KeyInfo> {
        let key = SigningKey::new(rand_core::OsRng);
        self.import(name, &key)
    }

    /// Stores `key` under `name`; refuses to overwrite an existing key.
    pub fn import(&self, name: &str, key: &SigningKey) -> Result<KeyInfo> {
        validate_name(name)?;
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(&self.dir, e))?;
        let public_key = key.verification_key().to_bytes();
        let file = KeyFile {
            name: name.to_string(),
            address: Address::from_pubkey(&public_key),
            public_key: hex::encode(public_key),
            secret_key: hex::encode(key.as_bytes()),
        };
        let path = self.path(name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::KeyExists(name.to_string())
                } else {
                    Error::io(&path, e)
                }
            })?;
        let json = serde_json::to_vec_pretty(&file).map_err(|e| Error::io(&path, e.into()))?;
        f.write_all(&json)
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io(&path, e))?;
        Ok(info(&file))
    }

    /// Loads the signing key called `name`.
    pub fn signing_key(&self, name: &str) -> Result<(SigningKey, KeyInfo)> {
        let file = self.read(name)?;
        let bad = |reason: &str| Error::BadKeyFile {
            path: self.path(name),
            reason: reason.to_string(),
        };
        let seed: [u8; 32] = hex::decode(&file.secret_key)
            .map_err(|_| bad("secret_key is not hex"))?
            .try_into()
            .map_err(|_| bad("secret_key is not 32 bytes"))?;
        let key = SigningKey::from(seed);
        if Address::from_pubkey(&key.verification_key().to_bytes()) != file.address {
            return Err(bad("address does not belong to secret_key"));
        }
        Ok((key, info(&file)))
    }

    /// Public facts about the key called `name`.
    pub fn show(&self, name: &str) -> Result<KeyInfo> {
        Ok(self.signing_key(name)?.1)
    }

    /// Every key, sorted by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names.iter().map(|n| self.show(n)).collect()
    }

    fn read(&self, name: &str) -> Result<KeyFile> {
        validate_name(name)?;
        let path = self.path(name);
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoSuchKey {
                    name: name.to_string(),
                    dir: self.dir.clone(),
                }
            } else {
                Error::io(&path, e)
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::BadKeyFile {
            path,
            reason: e.to_string(),
        })
    }
}

fn info(file: &KeyFile) -> KeyInfo {
    KeyInfo {
        name: file.name.clone(),
        address: file.address,
        public_key: file.public_key.clone(),
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::BadKeyName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_keys_are_private_listed_and_not_overwritten() {
        let home = tempfile::tempdir().unwrap();
        let ks = Keystore::open(home.path());
        let alice = ks.add("alice").unwrap();
        let mode = fs::metadata(home.path().join("keys/alice.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(ks.add("alice"), Err(Error::KeyExists(_))));
        ks.add("bob").unwrap();
        let names: Vec<_> = ks.list().unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        let (key, shown) = ks.signing_key("alice").unwrap();
        assert_eq!(shown, alice);
        assert_eq!(
            Address::from_pubkey(&key.verification_key().to_bytes()),
            alice.address
        );
        assert!(matches!(ks.show("carol"), Err(Error::NoSuchKey { .. })));
        assert!(matches!(ks.add("../evil"), Err(Error::BadKeyName(_))));
    }
}
