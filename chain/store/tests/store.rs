//! The store on real RocksDB: determinism of the app hash, atomic commits across a reopen,
//! proofs checked against the committed root.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sidechain_app::{StateRead, Writes};
use sidechain_store::Store;
use sidechain_types::proof;

fn writes(pairs: &[(&str, Option<&str>)]) -> Writes {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

#[test]
fn same_writes_give_the_same_app_hash_on_two_databases() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut sa = Store::open(a.path()).unwrap();
    let mut sb = Store::open(b.path()).unwrap();
    for v in 0..5u64 {
        let w = writes(&[
            ("k1", Some(&format!("v{v}"))),
            ("k2", if v % 2 == 0 { Some("x") } else { None }),
        ]);
        let ha = sa.stage(v, w.clone()).unwrap();
        let hb = sb.stage(v, w).unwrap();
        assert_eq!(ha, hb);
        if v > 0 {
            assert_eq!(sa.commit(v).unwrap(), sb.commit(v).unwrap());
        }
    }
    let other = tempfile::tempdir().unwrap();
    let mut sc = Store::open(other.path()).unwrap();
    let hc = sc.stage(0, writes(&[("k1", Some("different"))])).unwrap();
    assert_ne!(hc, sa.root_at(1).unwrap());
}

#[test]
fn staged_changes_vanish_on_reopen_and_commits_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.stage(0, writes(&[("a", Some("1"))])).unwrap();
        s.stage(1, writes(&[("b", Some("2"))])).unwrap();
        let c = s.commit(1).unwrap();
        assert_eq!(c.height, 1);
        s.stage(2, writes(&[("a", Some("changed")), ("b", None)]))
            .unwrap();
        // Dropped without commit: as if the process was killed after FinalizeBlock.
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.committed().height, 1);
    let view = s.committed_view();
    assert_eq!(view.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(view.get(b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(s.root_at(1).unwrap(), s.committed().app_hash);
}

#[test]
fn restaging_the_same_block_after_a_crash_gives_the_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let block2 = writes(&[("a", Some("changed")), ("c", Some("3"))]);
    let first = {
        let mut s = Store::open(dir.path()).unwrap();
        s.stage(0, writes(&[("a", Some("1"))])).unwrap();
        s.stage(1, writes(&[("b", Some("2"))])).unwrap();
        s.commit(1).unwrap();
        s.stage(2, block2.clone()).unwrap()
    };
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(s.stage(2, block2).unwrap(), first);
    assert_eq!(s.commit(2).unwrap().app_hash, first);
}

#[test]
fn proofs_verify_against_the_root_and_fail_for_wrong_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    s.stage(0, writes(&[("a", Some("1")), ("b", Some("2"))]))
        .unwrap();
    s.stage(1, writes(&[("a", Some("3"))])).unwrap();
    s.commit(1).unwrap();
    s.stage(2, writes(&[("a", Some("4"))])).unwrap();
    s.commit(2).unwrap();
    let root1 = s.root_at(1).unwrap();
    let (v, p) = s.get_with_proof(b"a", 1).unwrap();
    assert_eq!(v.as_deref(), Some(b"3".as_slice()));
    proof::verify(&root1, b"a", Some(b"3"), &p).unwrap();
    assert!(proof::verify(&root1, b"a", Some(b"4"), &p).is_err());
    assert!(proof::verify(&s.root_at(2).unwrap(), b"a", Some(b"3"), &p).is_err());
    let (none, p) = s.get_with_proof(b"zzz", 2).unwrap();
    assert_eq!(none, None);
    proof::verify(&s.root_at(2).unwrap(), b"zzz", None, &p).unwrap();
    assert_eq!(s.get_at(b"a", 1).unwrap().as_deref(), Some(b"3".as_slice()));
    assert!(
        s.get_with_proof(b"a", 3).is_err(),
        "future heights are refused"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any sequence of blocks, staged in one store with commits and replayed into another in
    /// one go, ends at the same root; reads by key always equal the tree's content.
    #[test]
    fn app_hash_depends_only_on_the_writes(blocks in prop::collection::vec(prop::collection::btree_map("[a-e]{1,2}", prop::option::of("[0-9]{1,3}"), 1..6), 1..6)) {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut sa = Store::open(a.path()).unwrap();
        let mut sb = Store::open(b.path()).unwrap();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut last = [0u8; 32];
        for (i, blk) in blocks.iter().enumerate() {
            let w: Writes = blk.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_ref().map(|v| v.as_bytes().to_vec()))).collect();
            for (k, v) in &w {
                match v { Some(v) => { model.insert(k.clone(), v.clone()); } None => { model.remove(k); } }
            }
            let version = i as u64;
            last = sa.stage(version, w.clone()).unwrap();
            if version > 0 { sa.commit(version).unwrap(); }
            sb.stage(version, w).unwrap();
        }
        let top = (blocks.len() - 1) as u64;
        if top > 0 {
            prop_assert_eq!(sb.commit(top).unwrap().app_hash, last);
            let view = sa.committed_view();
            for k in ["a", "b", "c", "d", "e", "aa", "ab"] {
                prop_assert_eq!(view.get(k.as_bytes()).unwrap(), model.get(k.as_bytes()).cloned());
                prop_assert_eq!(sa.get_at(k.as_bytes(), top).unwrap(), model.get(k.as_bytes()).cloned());
            }
        }
    }
}

/// Blocks without deletions take the batched tree insertion, blocks with deletions the general
/// one; the same content must give the same root either way.
#[test]
fn batched_and_general_tree_updates_agree() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut sa = Store::open(a.path()).unwrap();
    let mut sb = Store::open(b.path()).unwrap();
    let base: Vec<(String, Option<String>)> = (0..300)
        .map(|i| (format!("key{i}"), Some(format!("v{i}"))))
        .collect();
    let w: Writes = base
        .iter()
        .map(|(k, v)| (k.clone().into_bytes(), v.clone().map(String::into_bytes)))
        .collect();
    sa.stage(0, w.clone()).unwrap();
    sb.stage(0, w).unwrap();
    // Same final content: A updates key7 (batched path), B deletes a missing key alongside
    // (general path).
    let ha = sa
        .stage(1, writes(&[("key7", Some("new")), ("key300", Some("x"))]))
        .unwrap();
    let hb = sb
        .stage(
            1,
            writes(&[
                ("key7", Some("new")),
                ("key300", Some("x")),
                ("absent", None),
            ]),
        )
        .unwrap();
    assert_eq!(ha, hb);
    sa.commit(1).unwrap();
    let (v, p) = sa.get_with_proof(b"key7", 1).unwrap();
    sidechain_types::proof::verify(&ha, b"key7", v.as_deref(), &p).unwrap();
}

#[test]
fn cold_reads_after_reopen_see_the_latest_value_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.stage(0, writes(&[("a", Some("1")), ("b", Some("2"))]))
            .unwrap();
        s.commit(0).unwrap();
        s.stage(1, writes(&[("a", Some("3"))])).unwrap();
        s.commit(1).unwrap();
        s.stage(2, writes(&[("b", None)])).unwrap();
        s.commit(2).unwrap();
    }
    // A fresh process has empty caches: every read goes to the tree values on disk.
    let s = Store::open(dir.path()).unwrap();
    let view = s.committed_view();
    assert_eq!(view.get(b"a").unwrap(), Some(b"3".to_vec()));
    assert_eq!(view.get(b"b").unwrap(), None);
    assert_eq!(view.get(b"never").unwrap(), None);
    assert_eq!(s.get_at(b"b", 1).unwrap(), Some(b"2".to_vec()));
}

#[test]
fn a_database_with_the_old_flat_state_family_opens_and_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&opts, dir.path(), ["state", "meta"]).unwrap();
        db.put_cf(db.cf_handle("state").unwrap(), b"k", b"v")
            .unwrap();
    }
    let mut s = Store::open(dir.path()).unwrap();
    s.stage(0, writes(&[("a", Some("1"))])).unwrap();
    s.commit(0).unwrap();
    drop(s);
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    assert!(!families.iter().any(|f| f == "state"), "{families:?}");
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.committed_view().get(b"a").unwrap(), Some(b"1".to_vec()));
}
