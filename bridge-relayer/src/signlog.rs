//! What this relayer's bridge key has signed, kept on disk before any signature leaves the
//! process (issue 13, signer safety): per batch nonce and per signer-set nonce, the digest
//! signed. The relayer refuses to sign a different digest for a nonce it signed already,
//! across restarts, with one exception the protocol needs: a batch nonce is reused by the
//! sidechain after the earlier batch with that nonce timed out on L1 (ADR 17), so a new batch
//! digest for a signed nonce is allowed once L1 time has passed the earlier batch's timeout,
//! when the earlier signature can never be used. Signer-set nonces are never reused (a
//! cancelled one stays used on L1), so for them any second digest is refused.
//!
//! The file is `<relayer home>/bridge/signed.jsonl`: one JSON object per line, appended and
//! synced to disk (`fsync`) before the signature is returned. A relayer started without the
//! file is still safe: the sidechain only ever asks to sign the one batch it holds for a nonce
//! (and changes it only after a timeout it attested), and refuses signatures over anything
//! else.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What a digest was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// A withdrawal batch, by batch nonce.
    Batch,
    /// A signer-set update, by signer-set nonce.
    SignerSet,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    item: Item,
    nonce: u64,
    /// `0x` + 64 hex digits.
    digest: String,
    /// For batches: the L1 timestamp (seconds) from which the batch can no longer execute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A different digest was signed for this nonce and may still be used on L1.
    Conflict {
        item: Item,
        nonce: u64,
        signed: [u8; 32],
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Conflict {
                item,
                nonce,
                signed,
            } => write!(
                f,
                "this bridge key already signed digest 0x{} for {item:?} nonce {nonce}; it will not sign a different one while that one can still be used",
                hex::encode(signed)
            ),
        }
    }
}

/// The on-disk record of signed digests.
#[derive(Debug)]
pub struct SignLog {
    path: PathBuf,
    /// (item, nonce) -> (digest, timeout): the latest digest signed for it.
    signed: BTreeMap<(Item, u64), ([u8; 32], Option<u64>)>,
}

fn parse_digest(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s.strip_prefix("0x")?).ok()?;
    bytes.try_into().ok()
}

impl SignLog {
    /// The default file in a relayer home.
    pub fn default_path(home: &Path) -> PathBuf {
        home.join("bridge").join("signed.jsonl")
    }

    /// Opens (or starts) the log at `path`. A damaged last line (a crash mid-write) is
    /// ignored; any other unreadable line is an error naming the line.
    pub fn open(path: &Path) -> Result<Self> {
        let mut signed = BTreeMap::new();
        match File::open(path) {
            Ok(f) => {
                let lines: Vec<String> = BufReader::new(f)
                    .lines()
                    .collect::<std::io::Result<_>>()
                    .map_err(|e| Error::SignLog {
                        path: path.to_path_buf(),
                        reason: format!("cannot read the signing log: {e}"),
                    })?;
                let n = lines.len();
                for (i, line) in lines.iter().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let entry: Option<Entry> = serde_json::from_str(line).ok();
                    let Some(e) = entry.and_then(|e| Some((parse_digest(&e.digest)?, e))) else {
                        if i + 1 == n {
                            continue; // torn last write
                        }
                        return Err(Error::SignLog {
                            path: path.to_path_buf(),
                            reason: format!(
                                "line {} of the signing log is not a signed-digest record; repair or move the file (the sidechain's records stay authoritative)",
                                i + 1
                            ),
                        });
                    };
                    signed.insert((e.1.item, e.1.nonce), (e.0, e.1.timeout));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::SignLog {
                    path: path.to_path_buf(),
                    reason: format!("cannot open the signing log: {e}"),
                })
            }
        }
        Ok(SignLog {
            path: path.to_path_buf(),
            signed,
        })
    }

    /// Whether signing `digest` for (`item`, `nonce`) is allowed: nothing signed for it yet,
    /// the same digest, or (batches) a different one whose earlier batch's timeout is at or
    /// before `l1_time` (seconds, a final L1 block's timestamp).
    pub fn check(
        &self,
        item: Item,
        nonce: u64,
        digest: &[u8; 32],
        l1_time: u64,
    ) -> std::result::Result<(), Refusal> {
        match self.signed.get(&(item, nonce)) {
            None => Ok(()),
            Some((d, _)) if d == digest => Ok(()),
            Some((_, Some(timeout))) if item == Item::Batch && *timeout <= l1_time => Ok(()),
            Some((d, _)) => Err(Refusal::Conflict {
                item,
                nonce,
                signed: *d,
            }),
        }
    }

    /// Records that `digest` is about to be signed for (`item`, `nonce`): checks it
    /// ([`SignLog::check`]), appends a line and syncs it to disk. Only after this returns may
    /// the signature be made and sent.
    ///
    /// Errors: [`Error::SignRefused`] with the refusal; [`Error::SignLog`] when the file cannot be
    /// written (then nothing is signed).
    pub fn record(
        &mut self,
        item: Item,
        nonce: u64,
        digest: [u8; 32],
        timeout: Option<u64>,
        l1_time: u64,
    ) -> Result<()> {
        self.check(item, nonce, &digest, l1_time)
            .map_err(|r| Error::SignRefused(r.to_string()))?;
        if self.signed.get(&(item, nonce)) == Some(&(digest, timeout)) {
            return Ok(());
        }
        let line = serde_json::to_string(&Entry {
            item,
            nonce,
            digest: format!("0x{}", hex::encode(digest)),
            timeout,
        })
        .map_err(|e| Error::SignLog {
            path: self.path.clone(),
            reason: format!("cannot encode a signing-log line: {e}"),
        })?;
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&self.path)?;
            writeln!(f, "{line}")?;
            f.sync_all()
        };
        write().map_err(|e| Error::SignLog {
            path: self.path.clone(),
            reason: format!("cannot write the signing log, so nothing is signed: {e}"),
        })?;
        self.signed.insert((item, nonce), (digest, timeout));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_digest_for_a_signed_nonce_is_refused_also_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = SignLog::default_path(dir.path());
        let mut log = SignLog::open(&path).unwrap();
        log.record(Item::SignerSet, 1, [1; 32], None, 100).unwrap();
        log.record(Item::SignerSet, 1, [1; 32], None, 100).unwrap();
        let e = log
            .record(Item::SignerSet, 1, [2; 32], None, 10_000)
            .unwrap_err();
        assert!(e.to_string().contains("already signed"), "{e}");
        log.record(Item::Batch, 1, [3; 32], Some(500), 100).unwrap();
        // Restart: the file says the same.
        let mut log = SignLog::open(&path).unwrap();
        assert!(log
            .record(Item::SignerSet, 1, [2; 32], None, 10_000)
            .is_err());
        assert!(
            log.record(Item::Batch, 1, [4; 32], Some(900), 499).is_err(),
            "old batch still valid on L1"
        );
        // Once L1 time passed the earlier batch's timeout, the reused nonce may be signed anew.
        log.record(Item::Batch, 1, [4; 32], Some(900), 500).unwrap();
        let log = SignLog::open(&path).unwrap();
        assert!(
            log.check(Item::Batch, 1, &[3; 32], 600).is_err(),
            "now [4] is the live one"
        );
        assert!(log.check(Item::Batch, 1, &[4; 32], 0).is_ok());
        assert!(log.check(Item::Batch, 2, &[9; 32], 0).is_ok());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_other_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signed.jsonl");
        let good = r#"{"item":"batch","nonce":1,"digest":"0x0101010101010101010101010101010101010101010101010101010101010101","timeout":5}"#;
        std::fs::write(&path, format!("{good}\n{{\"item\":\"bat")).unwrap();
        let log = SignLog::open(&path).unwrap();
        assert!(log.check(Item::Batch, 1, &[2; 32], 0).is_err());
        std::fs::write(&path, format!("garbage\n{good}\n")).unwrap();
        let e = SignLog::open(&path).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
