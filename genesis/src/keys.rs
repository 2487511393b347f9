//! The keys a validator needs, in the file formats their readers expect:
//!
//! - CometBFT's node key (`config/node_key.json`, p2p identity) and validator key
//!   (`config/priv_validator_key.json`, signs votes), ed25519, in CometBFT's amino-JSON shape;
//!   the validator's sign state (`data/priv_validator_state.json`) starts at height 0;
//! - the relayer's sidechain account (the validator's `operator`), a key file written through
//!   `sidechain-client`'s [`Keystore`], so the `sidechain` CLI can sign with it;
//! - the Ethereum bridge key (secp256k1) the validator signs withdrawal batches with.

use std::{fs, io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ed25519_consensus::SigningKey;
use serde::{Deserialize, Serialize};
use sidechain_client::Keystore;
use sidechain_types::Address;
use sidechain_types::EthAddress;

use crate::{Error, Result};

/// Amino type names CometBFT writes in its key files and genesis.
pub const PUBKEY_TYPE: &str = "tendermint/PubKeyEd25519";
pub const PRIVKEY_TYPE: &str = "tendermint/PrivKeyEd25519";

/// Name of the operator key inside each node's relayer home.
pub const OPERATOR_KEY_NAME: &str = "operator";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TypedKey {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// `config/node_key.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeKeyFile {
    pub priv_key: TypedKey,
}

/// `config/priv_validator_key.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivValidatorKeyFile {
    pub address: String,
    pub pub_key: TypedKey,
    pub priv_key: TypedKey,
}

/// `data/priv_validator_state.json` before the first vote. CometBFT writes heights as strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivValidatorState {
    pub height: String,
    pub round: i32,
    pub step: i8,
}

impl Default for PrivValidatorState {
    fn default() -> Self {
        PrivValidatorState {
            height: "0".into(),
            round: 0,
            step: 0,
        }
    }
}

/// An ed25519 key as CometBFT uses it (node identity or consensus key).
#[derive(Clone)]
pub struct ConsensusKey(SigningKey);

impl std::fmt::Debug for ConsensusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConsensusKey({})", self.pub_key_base64())
    }
}

impl ConsensusKey {
    pub fn generate() -> Self {
        ConsensusKey(SigningKey::new(rand_core::OsRng))
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        ConsensusKey(SigningKey::from(seed))
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.0.verification_key().to_bytes()
    }

    pub fn pub_key_base64(&self) -> String {
        B64.encode(self.public_key())
    }

    /// CometBFT's address of an ed25519 key: the first 20 bytes of SHA-256 of the public key.
    pub fn address_bytes(&self) -> [u8; 20] {
        cometbft_address(&self.public_key())
    }

    /// The validator address as CometBFT prints it (upper-case hex).
    pub fn validator_address(&self) -> String {
        hex::encode_upper(self.address_bytes())
    }

    /// The p2p node id (lower-case hex of the address) peers use in `id@host:port`.
    pub fn node_id(&self) -> String {
        hex::encode(self.address_bytes())
    }

    /// CometBFT stores the private key as seed followed by public key, base64.
    fn private_base64(&self) -> String {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(self.0.as_bytes());
        bytes.extend_from_slice(&self.public_key());
        B64.encode(bytes)
    }

    pub fn pub_key_json(&self) -> TypedKey {
        TypedKey {
            kind: PUBKEY_TYPE.into(),
            value: self.pub_key_base64(),
        }
    }

    fn priv_key_json(&self) -> TypedKey {
        TypedKey {
            kind: PRIVKEY_TYPE.into(),
            value: self.private_base64(),
        }
    }

    pub fn node_key_file(&self) -> NodeKeyFile {
        NodeKeyFile {
            priv_key: self.priv_key_json(),
        }
    }

    pub fn priv_validator_key_file(&self) -> PrivValidatorKeyFile {
        PrivValidatorKeyFile {
            address: self.validator_address(),
            pub_key: self.pub_key_json(),
            priv_key: self.priv_key_json(),
        }
    }
}

/// CometBFT's address of an ed25519 public key.
pub fn cometbft_address(public_key: &[u8; 32]) -> [u8; 20] {
    let digest = sidechain_types::sha256(public_key);
    let mut out = [0u8; 20];
    out.copy_from_slice(&digest[..20]);
    out
}

/// A secp256k1 key for the Ethereum side of the bridge.
#[derive(Clone)]
pub struct EthKey(k256::ecdsa::SigningKey);

impl std::fmt::Debug for EthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EthKey({})", self.address_hex())
    }
}

/// `bridge/eth_key.json` in a node's relayer home.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EthKeyFile {
    /// `0x`-prefixed, EIP-55 checksummed address.
    pub address: String,
    /// `0x`-prefixed hex of the 32-byte secret scalar.
    pub private_key: String,
}

impl EthKey {
    pub fn generate() -> Self {
        EthKey(k256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }

    pub fn from_bytes(secret: &[u8; 32]) -> Result<Self> {
        k256::ecdsa::SigningKey::from_slice(secret)
            .map(EthKey)
            .map_err(|_| {
                Error::Input("the Ethereum secret key is not a valid secp256k1 scalar".into())
            })
    }

    /// The key's Ethereum address (keccak-256 of the uncompressed public key without its 0x04
    /// tag; the last 20 bytes).
    pub fn address(&self) -> EthAddress {
        let point = self.0.verifying_key().to_encoded_point(false);
        let mut xy = [0u8; 64];
        xy.copy_from_slice(&point.as_bytes()[1..]);
        EthAddress::from_public_key_xy(&xy)
    }

    /// The address, EIP-55 checksummed.
    pub fn address_hex(&self) -> String {
        self.address().to_string()
    }

    pub fn file(&self) -> EthKeyFile {
        EthKeyFile {
            address: self.address_hex(),
            private_key: format!("0x{}", hex::encode(self.0.to_bytes())),
        }
    }
}

/// Writes `value` as pretty JSON to a new file readable by its owner only.
pub fn write_private_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::io(path, e.into()))?;
    write_private(path, &json)
}

/// Writes `bytes` to a new file with mode 0600 (refusing to overwrite one).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// The keys of one validator node, generated fresh.
#[derive(Debug, Clone)]
pub struct NodeKeys {
    pub node_key: ConsensusKey,
    pub validator_key: ConsensusKey,
    pub operator_key: SigningKey,
    pub eth_key: EthKey,
}

impl NodeKeys {
    pub fn generate() -> Self {
        NodeKeys {
            node_key: ConsensusKey::generate(),
            validator_key: ConsensusKey::generate(),
            operator_key: SigningKey::new(rand_core::OsRng),
            eth_key: EthKey::generate(),
        }
    }

    pub fn operator_address(&self) -> Address {
        Address::from_pubkey(&self.operator_key.verification_key().to_bytes())
    }

    /// Writes every key file of the node: CometBFT's under `cometbft_home`, the operator key
    /// into the keystore of `relayer_home`, and the bridge key to `relayer_home/bridge/`.
    pub fn write(&self, cometbft_home: &Path, relayer_home: &Path) -> Result<()> {
        write_private_json(
            &cometbft_home.join("config/node_key.json"),
            &self.node_key.node_key_file(),
        )?;
        write_private_json(
            &cometbft_home.join("config/priv_validator_key.json"),
            &self.validator_key.priv_validator_key_file(),
        )?;
        write_private_json(
            &cometbft_home.join("data/priv_validator_state.json"),
            &PrivValidatorState::default(),
        )?;
        Keystore::open(relayer_home)
            .import(OPERATOR_KEY_NAME, &self.operator_key)
            .map_err(|e| Error::Keystore(e.to_string()))?;
        write_private_json(
            &relayer_home.join("bridge/eth_key.json"),
            &self.eth_key.file(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eth_address_matches_known_vector() {
        // The well-known first account of Hardhat/Anvil's default mnemonic.
        let secret: [u8; 32] =
            hex::decode("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap()
                .try_into()
                .unwrap();
        let key = EthKey::from_bytes(&secret).unwrap();
        assert_eq!(
            key.address_hex(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn consensus_key_files_have_cometbft_shape() {
        let key = ConsensusKey::from_seed([7; 32]);
        let file = key.priv_validator_key_file();
        assert_eq!(file.address.len(), 40);
        assert_eq!(file.address, file.address.to_uppercase());
        assert_eq!(file.pub_key.kind, PUBKEY_TYPE);
        let private = B64.decode(&file.priv_key.value).unwrap();
        assert_eq!(private.len(), 64);
        assert_eq!(&private[..32], &[7; 32]);
        assert_eq!(&private[32..], &key.public_key());
        assert_eq!(key.node_id(), file.address.to_lowercase());
    }

    #[test]
    fn key_files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = NodeKeys::generate();
        keys.write(&dir.path().join("cometbft"), &dir.path().join("relayer"))
            .unwrap();
        for f in [
            "cometbft/config/node_key.json",
            "cometbft/config/priv_validator_key.json",
            "cometbft/data/priv_validator_state.json",
            "relayer/keys/operator.json",
            "relayer/bridge/eth_key.json",
        ] {
            let mode = fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        assert!(keys
            .write(&dir.path().join("cometbft"), &dir.path().join("relayer"))
            .is_err());
        let stored = Keystore::open(&dir.path().join("relayer"))
            .show(OPERATOR_KEY_NAME)
            .unwrap();
        assert_eq!(stored.address, keys.operator_address());
    }
}
