//! Storage of the sidechain, on RocksDB.
//!
//! * `jmt_nodes`, `jmt_values`: a Jellyfish Merkle Tree with one version per height; its root
//!   is the app hash. Values are keyed by key hash and version, so the latest value of a key is
//!   one reverse seek, and historical and proven queries read the same records.
//! * `meta`: the last committed height and app hash.
//!
//! In memory, the nodes of the latest tree and recently written values are cached, so block
//! execution and tree updates rarely touch the disk.
//!
//! Changes are staged in memory (InitChain, then FinalizeBlock) and written by
//! [`Store::commit`] in one synced `WriteBatch`, so a crash at any point leaves either the
//! previous block or the new one on disk, never a mix. `Info` reports what is on disk and
//! CometBFT replays anything after it.

use std::{collections::HashMap, path::Path};

use borsh::BorshSerialize;
use jmt::{
    storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader},
    JellyfishMerkleTree, KeyHash, OwnedValue, Sha256Jmt, Version,
};
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use sidechain_app::{StateRead, StorageError, Writes};
use sidechain_types::proof::key_hash;

const CF_NODES: &str = "jmt_nodes";
/// The flat state family of earlier versions, dropped on open.
const CF_LEGACY_STATE: &str = "state";
const CF_VALUES: &str = "jmt_values";
const CF_META: &str = "meta";
const META_HEIGHT: &[u8] = b"height";
const META_APP_HASH: &[u8] = b"app_hash";
/// Tree nodes kept in memory after a commit: the nodes of the latest version (replaced ones
/// are evicted). Nodes never change once written (their key holds the version), so the cache is
/// always right; if the live tree outgrows this the cache starts over.
const MAX_CACHED_NODES: usize = 2_000_000;
/// Recently committed values (by key, including deletions) kept in memory; when the cache grows
/// past this it starts over.
const MAX_CACHED_VALUES: usize = 1_000_000;

/// Hashing of the in-memory caches: randomly seeded per process (keys derive from user-chosen
/// addresses) and several times faster than the standard SipHash on these short keys.
type FastHash = foldhash::quality::RandomState;

/// Storage failures. Each is fatal for the node: it stops instead of diverging.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the database at {path}: {source}; if another sidechaind uses this home, stop it first")]
    Open {
        path: String,
        source: rocksdb::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("merkle tree error: {0}")]
    Tree(String),
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    #[error("version {version} is not after the staged version {staged}")]
    VersionOrder { version: u64, staged: u64 },
    #[error("height {requested} is not available (latest committed: {latest})")]
    NoSuchHeight { requested: u64, latest: u64 },
    #[error("nothing is staged to commit")]
    NothingStaged,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        StorageError(e.to_string())
    }
}

/// What is durably on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// 0 when nothing is committed yet (InitChain has not been followed by a first block).
    pub height: u64,
    pub app_hash: [u8; 32],
}

/// Staged, not yet durable changes: possibly several versions (genesis and block 1).
#[derive(Debug, Default)]
struct Pending {
    versions: Vec<Version>,
    flat: Writes,
    /// New tree nodes and values of every staged version.
    tree: NodeBatch,
    /// Nodes the staged versions replaced: dropped from the node cache at commit.
    stale: Vec<NodeKey>,
    app_hash: [u8; 32],
}

/// The node's database.
pub struct Store {
    db: DB,
    committed: Committed,
    pending: Option<Pending>,
    /// Recently committed tree nodes, so block updates rarely read and decode nodes from disk.
    /// Only looked up, never iterated, so its order cannot reach the state.
    /// Nodes are kept encoded, as stored: the bytes encoded for the write are moved here
    /// instead of a decoded copy being cloned, and an internal node takes a few hundred bytes
    /// instead of its always-allocated 16 child slots.
    node_cache: HashMap<CacheKey, Vec<u8>, FastHash>,
    /// Recently committed values by key (including deletions), read before the database. Only
    /// looked up, never iterated.
    flat_cache: HashMap<Vec<u8>, Option<Vec<u8>>, FastHash>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("committed", &self.committed)
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.increase_parallelism(2);
        // A database written before values lived only in the tree also has a flat `state`
        // family: open it so RocksDB accepts the database, then drop it (its contents are all
        // in the tree).
        let legacy = DB::list_cf(&opts, path)
            .map(|names| names.iter().any(|n| n == CF_LEGACY_STATE))
            .unwrap_or(false);
        let cfs = [CF_NODES, CF_VALUES, CF_META]
            .into_iter()
            .chain(legacy.then_some(CF_LEGACY_STATE))
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let mut db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| Error::Open {
            path: path.display().to_string(),
            source,
        })?;
        if legacy {
            db.drop_cf(CF_LEGACY_STATE)?;
        }
        let mut store = Store {
            db,
            committed: Committed {
                height: 0,
                app_hash: [0; 32],
            },
            pending: None,
            node_cache: HashMap::default(),
            flat_cache: HashMap::default(),
        };
        store.committed = store.read_committed()?;
        Ok(store)
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Corrupt(format!("column family {name} is missing")))
    }

    fn read_committed(&self) -> Result<Committed> {
        let meta = self.cf(CF_META)?;
        let height = match self.db.get_cf(meta, META_HEIGHT)? {
            None => {
                return Ok(Committed {
                    height: 0,
                    app_hash: [0; 32],
                })
            }
            Some(b) => u64::from_be_bytes(
                b.as_slice()
                    .try_into()
                    .map_err(|_| Error::Corrupt("meta height is not 8 bytes".into()))?,
            ),
        };
        let app_hash = self
            .db
            .get_cf(meta, META_APP_HASH)?
            .ok_or_else(|| Error::Corrupt("meta app hash is missing".into()))?
            .as_slice()
            .try_into()
            .map_err(|_| Error::Corrupt("meta app hash is not 32 bytes".into()))?;
        Ok(Committed { height, app_hash })
    }

    /// The last committed height and app hash.
    pub fn committed(&self) -> Committed {
        self.committed
    }

    /// Whether changes are staged (InitChain or FinalizeBlock ran since the last commit).
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops staged changes (a fresh InitChain after a crash before the first commit).
    pub fn discard_pending(&mut self) {
        self.pending = None;
    }

    /// State as of the last commit.
    pub fn committed_view(&self) -> CommittedView<'_> {
        CommittedView { store: self }
    }

    /// State including staged changes.
    /// Read access to the state committed at `height` (older heights read through the tree).
    pub fn view_at(&self, height: u64) -> VersionView<'_> {
        VersionView {
            store: self,
            version: height,
        }
    }

    pub fn pending_view(&self) -> PendingView<'_> {
        PendingView { store: self }
    }

    /// The committed value of `key`: from the cache, else the newest tree value on disk.
    fn db_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.flat_cache.get(key) {
            return Ok(v.clone());
        }
        self.disk_value(self.committed.height, key_hash(key))
    }

    /// [`Store::db_get`], lending the cached value to `f` instead of copying it.
    fn with_committed(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        match self.flat_cache.get(key) {
            Some(v) => f(v.as_deref()),
            None => f(self
                .disk_value(self.committed.height, key_hash(key))?
                .as_deref()),
        }
        Ok(())
    }

    /// The newest value of `kh` at a version <= `max_version` on disk.
    fn disk_value(&self, max_version: Version, kh: KeyHash) -> Result<Option<OwnedValue>> {
        let cf = self.cf(CF_VALUES)?;
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek_for_prev(value_key(&kh, max_version));
        if it.valid() {
            if let (Some(k), Some(v)) = (it.key(), it.value()) {
                if k.len() == 40 && k.starts_with(&kh.0) {
                    return borsh::from_slice(v).map_err(|e| {
                        Error::Corrupt(format!("tree value of key hash {}: {e}", hex::encode(kh.0)))
                    });
                }
            }
        }
        it.status()?;
        Ok(None)
    }

    fn tree_reader(&self) -> TreeView<'_> {
        TreeView { store: self }
    }

    /// Stages `writes` as tree version `version` and returns the new root (the app hash).
    pub fn stage(&mut self, version: Version, mut writes: Writes) -> Result<[u8; 32]> {
        if let Some(last) = self
            .pending
            .as_ref()
            .and_then(|p| p.versions.last().copied())
        {
            if version <= last {
                return Err(Error::VersionOrder {
                    version,
                    staged: last,
                });
            }
        }
        let (root, batch) = {
            let reader = self.tree_reader();
            let tree: Sha256Jmt<'_, TreeView<'_>> = JellyfishMerkleTree::new(&reader);
            if !writes.is_empty() && writes.values().all(Option::is_some) {
                // Inserts and updates only: the batched insertion builds each touched node once
                // (several times faster for large blocks). The tree's shape, hence its root,
                // depends only on its content, so both paths agree.
                let value_set: Vec<(KeyHash, OwnedValue)> = writes
                    .iter()
                    .filter_map(|(k, v)| v.clone().map(|v| (key_hash(k), v)))
                    .collect();
                let (roots, batch) = tree
                    .batch_put_value_sets(vec![value_set], None, version)
                    .map_err(|e| Error::Tree(e.to_string()))?;
                let root = roots
                    .first()
                    .copied()
                    .ok_or_else(|| Error::Tree("no root returned".into()))?;
                (root, batch)
            } else {
                let value_set: Vec<(KeyHash, Option<OwnedValue>)> = writes
                    .iter()
                    .map(|(k, v)| (key_hash(k), v.clone()))
                    .collect();
                tree.put_value_set(value_set, version)
                    .map_err(|e| Error::Tree(e.to_string()))?
            }
        };
        let pending = self.pending.get_or_insert_with(Pending::default);
        pending.versions.push(version);
        // Usually a single version is staged: `append` then takes the map as it is.
        pending.flat.append(&mut writes);
        pending.stale.extend(
            batch
                .stale_node_index_batch
                .into_iter()
                .map(|index| index.node_key),
        );
        if pending.tree.is_empty() {
            pending.tree = batch.node_batch;
        } else {
            pending.tree.merge(batch.node_batch);
        }
        pending.app_hash = root.0;
        Ok(root.0)
    }

    /// Writes everything staged, and marks `height` with the staged root as committed, in one
    /// synced write.
    pub fn commit(&mut self, height: u64) -> Result<Committed> {
        let pending = self.pending.take().ok_or(Error::NothingStaged)?;
        // Sized for the whole block up front (about 130 bytes a record on average), so the
        // batch is not copied over and over while it grows to several megabytes.
        let records = pending
            .tree
            .nodes()
            .len()
            .saturating_add(pending.tree.values().len());
        let mut batch = WriteBatch::with_capacity_bytes(records.saturating_mul(160));
        let nodes = self.cf(CF_NODES)?;
        // Each node is encoded once, into the bytes the batch stores and the cache keeps.
        let mut fresh: Vec<(CacheKey, Vec<u8>)> = Vec::with_capacity(pending.tree.nodes().len());
        let mut k = Vec::new();
        for (key, node) in pending.tree.nodes() {
            k.clear();
            key.serialize(&mut k)
                .map_err(|e| Error::Tree(e.to_string()))?;
            let mut v = Vec::with_capacity(encoded_len(node));
            node.serialize(&mut v)
                .map_err(|e| Error::Tree(e.to_string()))?;
            batch.put_cf(nodes, &k, &v);
            fresh.push((CacheKey::of(key), v));
        }
        let mut v = Vec::new();
        let values = self.cf(CF_VALUES)?;
        for ((version, kh), value) in pending.tree.values() {
            v.clear();
            value
                .serialize(&mut v)
                .map_err(|e| Error::Tree(e.to_string()))?;
            batch.put_cf(values, value_key(kh, *version), &v);
        }
        let meta = self.cf(CF_META)?;
        batch.put_cf(meta, META_HEIGHT, height.to_be_bytes());
        batch.put_cf(meta, META_APP_HASH, pending.app_hash);
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        self.committed = Committed {
            height,
            app_hash: pending.app_hash,
        };
        // The cache holds the live tree: replaced nodes leave it (historical reads go to disk).
        for key in &pending.stale {
            self.node_cache.remove(&CacheKey::of(key));
        }
        if self.node_cache.len().saturating_add(fresh.len()) > MAX_CACHED_NODES {
            self.node_cache.clear();
        }
        self.node_cache.extend(fresh);
        if self.flat_cache.len().saturating_add(pending.flat.len()) > MAX_CACHED_VALUES {
            self.flat_cache.clear();
        }
        self.flat_cache.extend(pending.flat);
        Ok(self.committed)
    }

    /// The value of `key` at tree version `version` with its proof (borsh `SparseMerkleProof`).
    pub fn get_with_proof(
        &self,
        key: &[u8],
        version: Version,
    ) -> Result<(Option<Vec<u8>>, Vec<u8>)> {
        self.check_version(version)?;
        let reader = self.tree_reader();
        let tree: Sha256Jmt<'_, TreeView<'_>> = JellyfishMerkleTree::new(&reader);
        let (value, proof) = tree
            .get_with_proof(key_hash(key), version)
            .map_err(|e| Error::Tree(e.to_string()))?;
        let proof = borsh::to_vec(&proof).map_err(|e| Error::Tree(e.to_string()))?;
        Ok((value, proof))
    }

    /// The value of `key` at tree version `version`, without proof.
    pub fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>> {
        self.check_version(version)?;
        let reader = self.tree_reader();
        let tree: Sha256Jmt<'_, TreeView<'_>> = JellyfishMerkleTree::new(&reader);
        tree.get(key_hash(key), version)
            .map_err(|e| Error::Tree(e.to_string()))
    }

    /// Root hash of tree version `version`.
    pub fn root_at(&self, version: Version) -> Result<[u8; 32]> {
        self.check_version(version)?;
        let reader = self.tree_reader();
        let tree: Sha256Jmt<'_, TreeView<'_>> = JellyfishMerkleTree::new(&reader);
        Ok(tree
            .get_root_hash(version)
            .map_err(|e| Error::Tree(e.to_string()))?
            .0)
    }

    fn check_version(&self, version: Version) -> Result<()> {
        if self.committed.height == 0 || version > self.committed.height {
            return Err(Error::NoSuchHeight {
                requested: version,
                latest: self.committed.height,
            });
        }
        Ok(())
    }
}

/// The length of a node's borsh encoding, to allocate its buffer once: the tag, then for a
/// leaf two hashes; for an internal node 16 child slots (a tag each, and for a child its hash,
/// version and type, with a leaf count for an internal child) and two counts.
fn encoded_len(node: &Node) -> usize {
    match node {
        Node::Null => 1,
        Node::Leaf(_) => 1 + 64,
        Node::Internal(internal) => internal
            .children_unsorted()
            .map(|(_, child)| if child.is_leaf() { 41 } else { 49 })
            .sum::<usize>()
            .saturating_add(1 + 16 + 8 + 8),
    }
}

/// A tree node's key in the node cache: the version and the nibble path packed inline, so
/// hashing and comparing it never follows a pointer (a `NodeKey` keeps its path on the heap)
/// and building one allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CacheKey {
    version: Version,
    nibbles: u8,
    /// Two nibbles a byte, high nibble first; unused nibbles are zero.
    path: [u8; 32],
}

impl CacheKey {
    fn of(key: &NodeKey) -> CacheKey {
        let mut path = [0u8; 32];
        let mut nibbles = 0u8;
        // A path has at most 64 nibbles (32-byte key hashes), so neither index overflows.
        for (i, nibble) in key.nibble_path().nibbles().enumerate() {
            let n = u8::from(nibble);
            if let Some(byte) = path.get_mut(i / 2) {
                *byte |= if i % 2 == 0 { n << 4 } else { n };
            }
            nibbles = nibbles.wrapping_add(1);
        }
        CacheKey {
            version: key.version(),
            nibbles,
            path,
        }
    }
}

/// Values are keyed by key hash then big-endian version, so "latest version <= v" is one
/// reverse seek.
fn value_key(kh: &KeyHash, version: Version) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&kh.0);
    k[32..].copy_from_slice(&version.to_be_bytes());
    k
}

/// Read access to the committed state.
pub struct CommittedView<'a> {
    store: &'a Store,
}

impl StateRead for CommittedView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.store.db_get(key)?)
    }

    fn with_value(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StorageError> {
        Ok(self.store.with_committed(key, f)?)
    }
}

/// Read access to the state as it was committed at one height (a tree version).
pub struct VersionView<'a> {
    store: &'a Store,
    version: Version,
}

impl StateRead for VersionView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.store
            .get_at(key, self.version)
            .map_err(|e| StorageError(e.to_string()))
    }
}

/// Read access to the committed state plus staged changes.
pub struct PendingView<'a> {
    store: &'a Store,
}

impl StateRead for PendingView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(v) = self.store.pending.as_ref().and_then(|p| p.flat.get(key)) {
            return Ok(v.clone());
        }
        Ok(self.store.db_get(key)?)
    }

    fn with_value(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StorageError> {
        if let Some(v) = self.store.pending.as_ref().and_then(|p| p.flat.get(key)) {
            f(v.as_deref());
            return Ok(());
        }
        Ok(self.store.with_committed(key, f)?)
    }
}

/// The tree as JMT sees it: staged nodes over the database.
struct TreeView<'a> {
    store: &'a Store,
}

impl TreeReader for TreeView<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(n) = self
            .store
            .pending
            .as_ref()
            .and_then(|p| p.tree.get_node(node_key))
        {
            return Ok(Some(n.clone()));
        }
        if let Some(bytes) = self.store.node_cache.get(&CacheKey::of(node_key)) {
            return Ok(Some(borsh::from_slice(bytes)?));
        }
        let k = borsh::to_vec(node_key)?;
        match self.store.db.get_pinned_cf(self.store.cf(CF_NODES)?, k)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        if let Some(p) = &self.store.pending {
            for v in p.versions.iter().rev().filter(|v| **v <= max_version) {
                if let Some(value) = p.tree.values().get(&(*v, key_hash)) {
                    return Ok(value.clone());
                }
            }
        }
        Ok(self.store.disk_value(max_version, key_hash)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("restoring a tree from chunks is not supported by this store")
    }
}

#[cfg(test)]
mod tests {
    use jmt::KeyHash;

    use super::*;

    /// An empty tree, to build a first version from.
    struct Empty;

    impl TreeReader for Empty {
        fn get_node_option(&self, _: &NodeKey) -> anyhow::Result<Option<Node>> {
            Ok(None)
        }
        fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
            Ok(None)
        }
        fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
            Ok(None)
        }
    }

    #[test]
    fn encoded_len_is_the_length_of_the_borsh_encoding_of_every_node_kind() {
        let tree: Sha256Jmt<'_, Empty> = JellyfishMerkleTree::new(&Empty);
        let values: Vec<(KeyHash, OwnedValue)> = (0u32..300)
            .map(|i| {
                (
                    KeyHash::with::<sha2::Sha256>(i.to_le_bytes()),
                    vec![1, 2, 3],
                )
            })
            .collect();
        let (_, batch) = tree
            .batch_put_value_sets(vec![values], None, 0)
            .expect("tree update");
        let (mut leaves, mut internal) = (0, 0);
        for node in batch.node_batch.nodes().values() {
            match node {
                Node::Leaf(_) => leaves += 1,
                Node::Internal(_) => internal += 1,
                Node::Null => {}
            }
            assert_eq!(
                encoded_len(node),
                borsh::to_vec(node).expect("encode").len()
            );
        }
        assert!(leaves > 0 && internal > 0);
        assert_eq!(
            encoded_len(&Node::Null),
            borsh::to_vec(&Node::Null).expect("encode").len()
        );
    }

    #[test]
    fn cache_keys_of_distinct_node_keys_differ() {
        let tree: Sha256Jmt<'_, Empty> = JellyfishMerkleTree::new(&Empty);
        let values: Vec<(KeyHash, OwnedValue)> = (0u32..300)
            .map(|i| (KeyHash::with::<sha2::Sha256>(i.to_le_bytes()), vec![1]))
            .collect();
        let (_, batch) = tree
            .batch_put_value_sets(vec![values], None, 0)
            .expect("tree update");
        let keys: std::collections::BTreeSet<_> = batch
            .node_batch
            .nodes()
            .keys()
            .map(|k| {
                let c = CacheKey::of(k);
                (c.version, c.nibbles, c.path)
            })
            .collect();
        assert_eq!(keys.len(), batch.node_batch.nodes().len());
    }
}
