//! Layered state: a read-only base (committed storage) under an ordered overlay of writes.
//! Transactions execute in a child overlay that is merged on success and dropped on failure.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use sidechain_types::{state_key, Account, Address, Denom, Params, ValidatorInfo};

use crate::{AppError, Result, StorageError};

/// Read access to a state version.
pub trait StateRead {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
}

/// Pending writes: `None` deletes. A `BTreeMap`, so iteration order is the key order on every
/// node.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Writes layered over a base.
pub struct Overlay<'a> {
    base: &'a dyn StateRead,
    writes: Writes,
}

impl StateRead for Writes {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(BTreeMap::get(self, key).cloned().flatten())
    }
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn StateRead) -> Self {
        Overlay {
            base,
            writes: Writes::new(),
        }
    }

    /// An overlay pre-filled with `writes` (the mempool keeps its overlay between calls).
    pub fn with_writes(base: &'a dyn StateRead, writes: Writes) -> Self {
        Overlay { base, writes }
    }

    pub fn into_writes(self) -> Writes {
        self.writes
    }

    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    /// A child overlay for one transaction.
    pub fn child(&self) -> Overlay<'_> {
        Overlay {
            base: self,
            writes: Writes::new(),
        }
    }

    /// Applies a child's writes.
    pub fn merge(&mut self, writes: Writes) {
        self.writes.extend(writes);
    }

    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Reads and decodes a record; `None` when absent.
    pub fn read<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => borsh::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AppError::Corrupt {
                    key: String::from_utf8_lossy(key).into_owned(),
                    reason: e.to_string(),
                }),
        }
    }

    /// Reads a record that genesis always writes.
    pub fn require<T: BorshDeserialize>(&self, key: &[u8]) -> Result<T> {
        self.read(key)?.ok_or_else(|| AppError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "missing".into(),
        })
    }

    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        // Serializing into a Vec cannot fail.
        let bytes = borsh::to_vec(value).unwrap_or_default();
        self.put_raw(key, bytes);
    }

    pub fn account(&self, address: &Address) -> Result<Account> {
        Ok(self.read(&state_key::account(address))?.unwrap_or_default())
    }

    pub fn put_account(&mut self, address: &Address, account: &Account) {
        self.put(state_key::account(address), account);
    }

    /// Total supply of `denom`; `None` when the denom is unknown.
    pub fn supply(&self, denom: &Denom) -> Result<Option<u128>> {
        self.read(&state_key::supply(denom))
    }

    pub fn params(&self) -> Result<Params> {
        self.require(state_key::PARAMS)
    }

    pub fn chain_id(&self) -> Result<String> {
        self.require(state_key::CHAIN_ID)
    }

    pub fn native_denom(&self) -> Result<Denom> {
        self.require(state_key::NATIVE_DENOM)
    }

    pub fn validators(&self) -> Result<Vec<ValidatorInfo>> {
        self.require(state_key::VALIDATORS)
    }
}

impl StateRead for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
}
