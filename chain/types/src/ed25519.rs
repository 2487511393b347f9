//! The chain's ed25519 rules: single verification, and the keys refused beyond what
//! verification checks.

use curve25519_dalek::edwards::CompressedEdwardsY;

/// Verifies one signature by the ZIP-215 rules CometBFT uses, with `ed25519-zebra` (ADR 13):
/// the library the node's batch verification (`sidechain_app::sigverify`) also uses, so a
/// verdict here is the verdict a block reaches. `public_key` 32 bytes, `signature` 64 bytes
/// (R ‖ s).
pub fn verify(public_key: &[u8; 32], signature: &[u8; 64], msg: &[u8]) -> bool {
    ed25519_zebra::VerificationKey::try_from(*public_key)
        .and_then(|vk| vk.verify(&ed25519_zebra::Signature::from_bytes(signature), msg))
        .is_ok()
}

/// Whether the 32-byte ed25519 public key encodes a point of small order (one of the 8 points
/// of the curve's torsion subgroup, in any encoding, canonical or not).
///
/// Verification here follows ZIP-215, the rules CometBFT uses, which accept such keys: with a
/// small-order key `A`, the signature `R = A, s = 0` satisfies `[8][s]B = [8]R + [8][k]A` for
/// every message, so anyone can sign for that key. The chain refuses them as transaction
/// signers (code `weak_key`), as validator consensus keys in proposals and in genesis. Bytes
/// that are no curve point at all are not "small order" (verification refuses them anyway).
///
/// The check is a comparison against the few byte strings that encode such points (at most 8
/// points × 2 sign bits × canonical or `y + p`), built once: decompressing every signer's key
/// would cost a field inversion per transaction.
pub fn is_small_order(public_key: &[u8; 32]) -> bool {
    small_order_encodings().contains(public_key)
}

/// Every 32-byte string that decompresses (under ZIP-215's lenient decoding) to a point of
/// small order.
pub fn small_order_encodings() -> &'static [[u8; 32]] {
    static TABLE: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out: Vec<[u8; 32]> = Vec::new();
        for point in curve25519_dalek::constants::EIGHT_TORSION.iter() {
            let canonical = point.compress().to_bytes();
            let mut candidates = vec![canonical, with_sign_flipped(canonical)];
            if let Some(wide) = plus_p(canonical) {
                candidates.push(wide);
                candidates.push(with_sign_flipped(wide));
            }
            for c in candidates {
                let small = CompressedEdwardsY(c)
                    .decompress()
                    .is_some_and(|p| p.is_small_order());
                if small && !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    })
}

fn with_sign_flipped(mut encoding: [u8; 32]) -> [u8; 32] {
    if let Some(last) = encoding.last_mut() {
        *last ^= 0x80;
    }
    encoding
}

/// The non-canonical encoding `y + p` of the same y (p = 2^255 - 19), keeping the sign bit,
/// when it still fits in 255 bits (only for y < 19).
fn plus_p(encoding: [u8; 32]) -> Option<[u8; 32]> {
    let sign = encoding.last().copied().unwrap_or(0) & 0x80;
    let mut y = encoding;
    if let Some(last) = y.last_mut() {
        *last &= 0x7f;
    }
    // p in little-endian bytes: 0xed, then 0xff thirty times, then 0x7f.
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, a), b) in out.iter_mut().zip(y.iter()).zip(p.iter()) {
        let sum = u16::from(*a)
            .saturating_add(u16::from(*b))
            .saturating_add(carry);
        *o = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    let top = out.last().copied().unwrap_or(0xff);
    if carry != 0 || top & 0x80 != 0 {
        return None;
    }
    Some(with_sign_bit(out, sign))
}

fn with_sign_bit(mut encoding: [u8; 32], sign: u8) -> [u8; 32] {
    if let Some(last) = encoding.last_mut() {
        *last |= sign;
    }
    encoding
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
    fn the_table_agrees_with_decompression_on_every_near_candidate() {
        // Every y below 64 and every y within 64 of p, with both sign bits: the only places
        // small-order encodings live besides the torsion points' canonical forms.
        let table = small_order_encodings();
        assert!(table.len() >= 8, "{}", table.len());
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        for k in 0u8..64 {
            let mut low = [0u8; 32];
            low[0] = k;
            candidates.push(low);
            let mut high = [0xffu8; 32];
            high[0] = 0xed_u8.wrapping_sub(k);
            high[31] = 0x7f;
            candidates.push(high);
        }
        candidates.extend(table.iter().copied());
        for c in candidates {
            for sign in [0u8, 0x80] {
                let mut e = c;
                e[31] = (e[31] & 0x7f) | sign;
                let by_decompression = CompressedEdwardsY(e)
                    .decompress()
                    .is_some_and(|p| p.is_small_order());
                assert_eq!(is_small_order(&e), by_decompression, "{}", hex::encode(e));
            }
        }
    }

    #[test]
    fn ordinary_keys_are_not_small_order() {
        for seed in 0..32u8 {
            let key = ed25519_consensus::SigningKey::from([seed; 32]);
            assert!(!is_small_order(&key.verification_key().to_bytes()));
        }
    }
}
