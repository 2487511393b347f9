//! Layered state: a read-only base (committed storage) under an ordered overlay of writes.
//! Transactions execute inside checkpoints of the overlay: writes go straight into it and a
//! journal remembers what each one replaced, so a failed transaction or message set is undone
//! by replaying the journal backwards, and a successful one costs nothing more.
//!
//! Beside the state writes, an overlay holds a scratch area for per-block accumulators (fees,
//! validator updates; keys in `state_key::block`). It is journaled the same way, so a failed
//! message or transaction undoes its share of them without hand-written bookkeeping, and it
//! never reaches storage: [`Overlay::into_writes`] and [`Overlay::into_pending`] drop it.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::{AppError, Result, StorageError};

/// Read access to a state version.
pub trait StateRead {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Calls `f` with the value of `key`, borrowed where the implementation holds it in memory
    /// (decoding a record then needs no copy of its bytes).
    fn with_value(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StorageError> {
        f(self.get(key)?.as_deref());
        Ok(())
    }
}

/// Writes in key order, as storage takes them: `None` deletes. A `BTreeMap`, so iteration
/// order is the key order on every node.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The writes of an overlay while it executes: a hash map, because execution only looks keys
/// up. It offers no iteration; the only way out is [`Overlay::into_writes`], which puts the
/// entries in key order, so the hash order never reaches the state.
#[derive(Default)]
// Deliberate: a hash map looked up by key only; its order never leaves this type (see above).
#[allow(clippy::disallowed_types)]
pub struct PendingWrites(std::collections::HashMap<Vec<u8>, Entry, foldhash::quality::RandomState>);

impl PendingWrites {
    pub fn new() -> Self {
        PendingWrites::default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The entry for `key`: `Some(None)` is a pending deletion.
    pub fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.0.get(key)
    }
}

impl std::fmt::Debug for PendingWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingWrites")
            .field("len", &self.0.len())
            .finish()
    }
}

/// One key's pending write: `None` deletes.
type Entry = Option<Vec<u8>>;

/// Writes layered over a base.
pub struct Overlay<'a> {
    base: &'a dyn StateRead,
    writes: PendingWrites,
    /// Per-block accumulators (see the module doc); never stored.
    scratch: BTreeMap<Vec<u8>, Vec<u8>>,
    /// For every write since the oldest open checkpoint: the area, the key and the entry it
    /// replaced (`None`: the key was not there).
    journal: Vec<(Area, Vec<u8>, Option<Entry>)>,
    /// Checkpoints opened and not yet kept or reverted.
    open: usize,
}

/// A point to return to: the journal length when it was taken. Consumed by
/// [`Overlay::keep`] or [`Overlay::revert`]; checkpoints nest.
#[derive(Debug)]
#[must_use = "a checkpoint must be kept or reverted"]
pub struct Checkpoint(usize);

/// Where a journaled write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    State,
    Scratch,
}

impl StateRead for Writes {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(BTreeMap::get(self, key).cloned().flatten())
    }
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn StateRead) -> Self {
        Overlay::with_pending(base, PendingWrites::new())
    }

    /// An overlay pre-filled with `writes` (the mempool keeps its overlay between calls).
    pub fn with_pending(base: &'a dyn StateRead, writes: PendingWrites) -> Self {
        Overlay {
            base,
            writes,
            scratch: BTreeMap::new(),
            journal: Vec::new(),
            open: 0,
        }
    }

    /// The writes in key order, for storage (an open checkpoint is kept).
    pub fn into_writes(self) -> Writes {
        // Collecting into a BTreeMap orders by key whatever order the hash map yields.
        self.writes.0.into_iter().collect()
    }

    /// The writes as they are, to continue later with [`Overlay::with_pending`] (the scratch
    /// area is dropped).
    pub fn into_pending(self) -> PendingWrites {
        self.writes
    }

    /// The state under the overlay (for a block: the state at its start).
    pub fn base(&self) -> &'a dyn StateRead {
        self.base
    }

    pub fn writes(&self) -> &PendingWrites {
        &self.writes
    }

    /// Opens a checkpoint: everything written from now on can be undone with
    /// [`Overlay::revert`].
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.open = self.open.saturating_add(1);
        Checkpoint(self.journal.len())
    }

    /// Keeps the writes made since `cp` (an enclosing checkpoint can still undo them).
    pub fn keep(&mut self, cp: Checkpoint) {
        self.close(cp);
    }

    /// Undoes every write made since `cp`, newest first.
    pub fn revert(&mut self, cp: Checkpoint) {
        while self.journal.len() > cp.0 {
            let Some((area, key, previous)) = self.journal.pop() else {
                break;
            };
            match (area, previous) {
                (Area::State, Some(entry)) => {
                    self.writes.0.insert(key, entry);
                }
                (Area::State, None) => {
                    self.writes.0.remove(&key);
                }
                (Area::Scratch, Some(Some(value))) => {
                    self.scratch.insert(key, value);
                }
                (Area::Scratch, _) => {
                    self.scratch.remove(&key);
                }
            }
        }
        self.close(cp);
    }

    fn close(&mut self, cp: Checkpoint) {
        let Checkpoint(_) = cp;
        self.open = self.open.saturating_sub(1);
        if self.open == 0 {
            self.journal.clear();
        }
    }

    fn write(&mut self, key: Vec<u8>, entry: Option<Vec<u8>>) {
        if self.open == 0 {
            self.writes.0.insert(key, entry);
        } else {
            let previous = self.writes.0.insert(key.clone(), entry);
            self.journal.push((Area::State, key, previous));
        }
    }

    /// Reads a per-block accumulator (a key of `state_key::block`); its default when the block
    /// has not set it.
    pub fn scratch<T: BorshDeserialize + Default>(&self, key: &[u8]) -> Result<T> {
        match self.scratch.get(key) {
            None => Ok(T::default()),
            Some(bytes) => borsh::from_slice(bytes).map_err(|e| AppError::Corrupt {
                key: String::from_utf8_lossy(key).into_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// Sets a per-block accumulator; journaled like a state write.
    pub fn put_scratch<T: BorshSerialize>(&mut self, key: &[u8], value: &T) {
        // Serializing into a Vec cannot fail.
        let bytes = borsh::to_vec(value).unwrap_or_default();
        let previous = self.scratch.insert(key.to_vec(), bytes);
        if self.open > 0 {
            self.journal
                .push((Area::Scratch, key.to_vec(), Some(previous)));
        }
    }

    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.write(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.write(key, None);
    }

    /// Reads and decodes a record; `None` when absent.
    pub fn read<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>> {
        let mut decoded = Ok(None);
        self.with_value(key, &mut |bytes| {
            if let Some(bytes) = bytes {
                decoded = borsh::from_slice(bytes).map(Some);
            }
        })?;
        decoded.map_err(|e| AppError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: e.to_string(),
        })
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
}

impl StateRead for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.writes.0.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn with_value(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StorageError> {
        match self.writes.0.get(key) {
            Some(v) => {
                f(v.as_deref());
                Ok(())
            }
            None => self.base.with_value(key, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Writes {
        let mut w = Writes::new();
        w.insert(b"a".to_vec(), Some(b"base-a".to_vec()));
        w
    }

    fn value(view: &Overlay<'_>, key: &[u8]) -> Option<Vec<u8>> {
        view.get(key).unwrap()
    }

    #[test]
    fn revert_restores_every_key_to_its_value_at_the_checkpoint() {
        let base = base();
        let mut view = Overlay::new(&base);
        view.put_raw(b"b".to_vec(), b"before".to_vec());
        let cp = view.checkpoint();
        view.put_raw(b"a".to_vec(), b"1".to_vec());
        view.put_raw(b"a".to_vec(), b"2".to_vec());
        view.delete(b"b".to_vec());
        view.put_raw(b"c".to_vec(), b"new".to_vec());
        view.revert(cp);
        assert_eq!(value(&view, b"a"), Some(b"base-a".to_vec()));
        assert_eq!(value(&view, b"b"), Some(b"before".to_vec()));
        assert_eq!(value(&view, b"c"), None);
        // Nothing of the reverted writes is left in the overlay itself.
        assert_eq!(view.writes().len(), 1);
        assert_eq!(view.writes().entry(b"b"), Some(&Some(b"before".to_vec())));
    }

    #[test]
    fn nested_checkpoints_keep_inner_writes_until_the_outer_one_reverts() {
        let base = base();
        let mut view = Overlay::new(&base);
        let outer = view.checkpoint();
        view.put_raw(b"x".to_vec(), b"outer".to_vec());
        let inner = view.checkpoint();
        view.put_raw(b"y".to_vec(), b"inner".to_vec());
        view.keep(inner);
        assert_eq!(value(&view, b"y"), Some(b"inner".to_vec()));
        view.revert(outer);
        assert!(view.writes().is_empty());

        let outer = view.checkpoint();
        view.put_raw(b"x".to_vec(), b"kept".to_vec());
        let inner = view.checkpoint();
        view.put_raw(b"x".to_vec(), b"dropped".to_vec());
        view.revert(inner);
        view.keep(outer);
        assert_eq!(value(&view, b"x"), Some(b"kept".to_vec()));
        // With no checkpoint open, nothing is journaled.
        view.put_raw(b"z".to_vec(), b"1".to_vec());
        assert!(view.journal.is_empty());
    }

    #[test]
    fn scratch_writes_revert_with_their_checkpoint_and_never_reach_storage() {
        let base = base();
        let mut view = Overlay::new(&base);
        view.put_scratch(b"block/n", &1u64);
        let cp = view.checkpoint();
        view.put_scratch(b"block/n", &5u64);
        view.put_scratch(b"block/new", &9u64);
        assert_eq!(view.scratch::<u64>(b"block/n").unwrap(), 5);
        view.revert(cp);
        assert_eq!(view.scratch::<u64>(b"block/n").unwrap(), 1);
        assert_eq!(view.scratch::<u64>(b"block/new").unwrap(), 0);
        view.put_raw(b"k".to_vec(), b"v".to_vec());
        let writes = view.into_writes();
        assert_eq!(writes.len(), 1);
        assert!(writes.contains_key(b"k".as_slice()));
    }
}
