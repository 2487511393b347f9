//! Rules on ed25519 public keys beyond what verification checks.

use curve25519_dalek::edwards::CompressedEdwardsY;

/// Whether the 32-byte ed25519 public key encodes a point of small order (one of the 8 points
/// of the curve's torsion subgroup, in any encoding, canonical or not).
///
/// Verification here follows ZIP-215, the rules CometBFT uses, which accept such keys: with a
/// small-order key `A`, the signature `R = A, s = 0` satisfies `[8][s]B = [8]R + [8][k]A` for
/// every message, so anyone can sign for that key. The chain refuses them as transaction
/// signers (code `weak_key`), as validator consensus keys in proposals and in genesis. Bytes
/// that are no curve point at all are not "small order" (verification refuses them anyway).
pub fn is_small_order(public_key: &[u8; 32]) -> bool {
    CompressedEdwardsY(*public_key)
        .decompress()
        .is_some_and(|point| point.is_small_order())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical encodings of the 8 small-order points (y coordinates of the torsion points,
    /// with the sign bit where x is non-zero).
    fn small_order_encodings() -> Vec<[u8; 32]> {
        use curve25519_dalek::constants::EIGHT_TORSION;
        EIGHT_TORSION
            .iter()
            .map(|p| p.compress().to_bytes())
            .collect()
    }

    #[test]
    fn every_small_order_point_is_caught_in_every_encoding() {
        let encodings = small_order_encodings();
        assert_eq!(encodings.len(), 8);
        // The identity, as in the attack: 0x01 followed by 31 zero bytes.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(encodings.contains(&identity));
        for e in &encodings {
            assert!(is_small_order(e), "{}", hex::encode(e));
            // The same point with the sign bit flipped: x = 0 points then encode "-0", which
            // ZIP-215 still accepts.
            let mut signed = *e;
            signed[31] ^= 0x80;
            if CompressedEdwardsY(signed).decompress().is_some() {
                assert!(is_small_order(&signed), "{}", hex::encode(signed));
            }
        }
        // Non-canonical encodings: y + p for the y values that leave room below 2^255.
        // y = 1 (identity) + p = 2^255 - 18.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert!(is_small_order(&non_canonical));
    }

    #[test]
    fn ordinary_keys_are_not_small_order() {
        for seed in 0..32u8 {
            let key = ed25519_consensus::SigningKey::from([seed; 32]);
            assert!(!is_small_order(&key.verification_key().to_bytes()));
        }
    }
}
