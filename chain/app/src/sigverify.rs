//! Ed25519 signature verification of a block's transactions: one batch, and one by one only when
//! the batch fails.
//!
//! The library is `ed25519-zebra` (ADR 13, amending ADR 3): it verifies by the same ZIP-215
//! rules as `ed25519-consensus` (cofactored equation, non-canonical point encodings accepted,
//! `s` must be canonical), so single and batch verification agree on every input and every
//! node reaches the same verdicts, and it was the fastest such library in `finalize-bench`.
//! `tests/ed25519_edge_cases.rs` checks that both libraries give the same verdict, single and
//! batch, on small-order and non-canonical vectors, and that [`verify_batch`] agrees with
//! [`verify`].
//!
//! Single verification on batch failure uses the same library as the batch, so the per-item
//! verdicts never depend on which of the two paths reached them.

use ed25519_zebra::{batch, Signature, VerificationKeyBytes};

/// The library behind this module, as `finalize-bench` names it.
pub const LIBRARY: &str = "ed25519-zebra";

/// One signature to check: (public key, signature, the 32-byte message it signs).
pub type Item = ([u8; 32], [u8; 64], [u8; 32]);

/// Verifies one signature on its own by the ZIP-215 rules (the chain's one single-verification
/// function, which lives with the wire types so clients share it).
pub use sidechain_types::ed25519::verify;

/// The verdict on each item, in order: `true` where the signature is valid.
///
/// All items are checked in one batch; if the batch fails, each is checked on its own to find
/// the bad ones. The verdicts equal [`verify`] on every item.
pub fn verify_batch(items: &[Item]) -> Vec<bool> {
    if items.is_empty() {
        return Vec::new();
    }
    // The message hash of each item is computed once, here, and reused on the fallback path.
    let prepared: Vec<batch::Item> = items
        .iter()
        .map(|(pk, sig, msg)| {
            batch::Item::from((
                VerificationKeyBytes::from(*pk),
                Signature::from_bytes(sig),
                &msg[..],
            ))
        })
        .collect();
    let mut verifier = batch::Verifier::new();
    for item in &prepared {
        verifier.queue(item.clone());
    }
    // The batch coefficients must be unpredictable, hence the OS RNG: someone who knows them in
    // advance can craft invalid signatures whose errors cancel out in the combined equation and
    // pass as a batch. They never change which signatures are valid (an honest batch passes
    // whatever the coefficients), so every node still reaches the same verdicts.
    #[allow(clippy::disallowed_types)] // deliberate, see above
    let rng: rand_core::OsRng = rand_core::OsRng;
    if verifier.verify(rng).is_ok() {
        return vec![true; items.len()];
    }
    prepared
        .into_iter()
        .map(|item| item.verify_single().is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_zebra::VerificationKey;

    fn signed(seed: u8, msg: [u8; 32]) -> Item {
        let key = ed25519_zebra::SigningKey::from([seed; 32]);
        let pk: [u8; 32] = VerificationKey::from(&key).into();
        (pk, key.sign(&msg).to_bytes(), msg)
    }

    #[test]
    fn empty_batch_has_no_verdicts() {
        assert!(verify_batch(&[]).is_empty());
    }

    #[test]
    fn valid_batch_passes_and_each_bad_signature_is_found() {
        let mut items: Vec<Item> = (1..=20u8).map(|i| signed(i, [i; 32])).collect();
        assert_eq!(verify_batch(&items), vec![true; 20]);
        items[3].1[0] ^= 1; // R changed
        items[7].2[5] ^= 1; // message changed
        items[11].0 = items[12].0; // someone else's key
        items[15].1[63] |= 0x80; // s >= L
        let verdicts = verify_batch(&items);
        let expected: Vec<bool> = (0..20).map(|i| ![3, 7, 11, 15].contains(&i)).collect();
        assert_eq!(verdicts, expected);
        for ((pk, sig, msg), v) in items.iter().zip(&verdicts) {
            assert_eq!(verify(pk, sig, msg), *v);
        }
    }

    #[test]
    fn agrees_with_the_transaction_signatures_of_chain_types() {
        // Transactions are signed with ed25519-consensus keys (chain/types); the seed gives the
        // same key pair in both libraries.
        let seed = [9u8; 32];
        let consensus_key = ed25519_consensus::SigningKey::from(seed);
        let zebra_key = ed25519_zebra::SigningKey::from(seed);
        let pk: [u8; 32] = VerificationKey::from(&zebra_key).into();
        assert_eq!(pk, consensus_key.verification_key().to_bytes());
        let msg = [42u8; 32];
        let sig = consensus_key.sign(&msg).to_bytes();
        assert!(verify(&pk, &sig, &msg));
        assert_eq!(verify_batch(&[(pk, sig, msg)]), vec![true]);
    }
}
