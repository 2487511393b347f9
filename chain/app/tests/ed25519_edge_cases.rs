//! Ed25519 edge cases under the ZIP-215 rules CometBFT verifies by: `ed25519-consensus` and
//! `ed25519-zebra` must give the same verdict on every vector, on its own and in batches, and
//! the node's `sigverify` must agree with single verification (ADR 13).
//!
//! The vectors are generated here: every encoding of the eight small-order points (canonical,
//! "negative zero" sign bits, and y >= p), points with a small y encoded canonically and as
//! y + p (decodable or not, small-order or not), keys and R values with a torsion component
//! (mixed order) carrying honest signatures, and `s` values at or above the group order L.

// A test, not consensus code: its random keys and batch coefficients come from the OS.
#![allow(clippy::disallowed_types)]

use std::collections::BTreeSet;

use curve25519_dalek::{
    constants::EIGHT_TORSION,
    edwards::{CompressedEdwardsY, EdwardsPoint},
    scalar::Scalar,
};
use rand_core::OsRng;
use sha2::{Digest, Sha512};
use sidechain_app::sigverify;

/// p = 2^255 - 19, little-endian.
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// L = 2^252 + 27742317777372353535851937790883648493, the prime order of the base point,
/// little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

const MSG: [u8; 32] = *b"ZIP-215 edge cases, sidechain!!!";

#[derive(Debug, Clone)]
struct Vector {
    name: String,
    pk: [u8; 32],
    sig: [u8; 64],
    msg: [u8; 32],
    /// The verdict ZIP-215 prescribes, where the construction fixes it.
    expect: Option<bool>,
}

fn sig(r: [u8; 32], s: [u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r);
    out[32..].copy_from_slice(&s);
    out
}

/// Little-endian 256-bit addition (the operands here never carry out of 256 bits).
fn add_le(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    out
}

fn with_sign_bit(mut enc: [u8; 32]) -> [u8; 32] {
    enc[31] |= 0x80;
    enc
}

fn decode(enc: [u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(enc).decompress()
}

fn is_canonical(enc: [u8; 32]) -> bool {
    decode(enc).is_some_and(|p| p.compress().to_bytes() == enc)
}

fn scalar_bytes(n: u64) -> [u8; 32] {
    Scalar::from(n).to_bytes()
}

/// Every encoding that decodes to a point of small order: the eight canonical ones, the sign
/// bit set on x = 0, and y + p where y + p still fits in 255 bits.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut candidates: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .flat_map(|t| {
            let c = t.compress().to_bytes();
            [c, with_sign_bit(c)]
        })
        .collect();
    candidates.extend(non_canonical_y_encodings());
    let set: BTreeSet<[u8; 32]> = candidates
        .into_iter()
        .filter(|e| decode(*e).is_some_and(|p| p.is_small_order()))
        .collect();
    set.into_iter().collect()
}

/// y + p for every y with y + p < 2^255 (y in 0..=18), with either sign bit.
fn non_canonical_y_encodings() -> Vec<[u8; 32]> {
    (0u8..=18)
        .flat_map(|y| {
            let mut e = P;
            e[0] += y;
            [e, with_sign_bit(e)]
        })
        .collect()
}

/// Canonical encodings of y in 0..=18, with either sign bit (decodable or not).
fn small_y_encodings() -> Vec<[u8; 32]> {
    (0u8..=18)
        .flat_map(|y| {
            let mut e = [0u8; 32];
            e[0] = y;
            [e, with_sign_bit(e)]
        })
        .collect()
}

/// Point encodings used as keys and as R: all of the above, deduplicated.
fn edge_encodings() -> Vec<[u8; 32]> {
    let mut set: BTreeSet<[u8; 32]> = small_order_encodings().into_iter().collect();
    set.extend(non_canonical_y_encodings());
    set.extend(small_y_encodings());
    set.into_iter().collect()
}

fn k_scalar(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(a)
            .chain_update(msg),
    )
}

/// Keys and R values from the edge encodings, crossed, with s = 0, 1 and L (0 written
/// non-canonically).
fn encoding_vectors() -> Vec<Vector> {
    let small: BTreeSet<[u8; 32]> = small_order_encodings().into_iter().collect();
    let encodings = edge_encodings();
    let mut out = Vec::new();
    for a in &encodings {
        for r in &encodings {
            let both_small = small.contains(a) && small.contains(r);
            for (s_name, s, expect) in [
                // [8]0B = 0 = [8]R + [8]kA when A and R are of small order; otherwise (one
                // undecodable, or of large order) it fails but with negligible probability.
                ("0", scalar_bytes(0), Some(both_small)),
                ("1", scalar_bytes(1), Some(false)),
                ("L", L, Some(false)),
            ] {
                out.push(Vector {
                    name: format!("A={} R={} s={s_name}", hex::encode(a), hex::encode(r)),
                    pk: *a,
                    sig: sig(*r, s),
                    msg: MSG,
                    expect,
                });
            }
        }
    }
    out
}

/// Honest signatures by keys with a torsion component, with R with or without one: valid under
/// the cofactored equation whatever the torsion parts are. Also with s + L (must fail) and on a
/// different message (must fail).
fn mixed_order_vectors() -> Vec<Vector> {
    let a = Scalar::from_bytes_mod_order(*b"a secret scalar for mixed order.");
    let r = Scalar::from_bytes_mod_order(*b"a nonce scalar for mixed order..");
    let mut out = Vec::new();
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        for (j, u) in EIGHT_TORSION.iter().enumerate() {
            let pk = (EdwardsPoint::mul_base(&a) + t).compress().to_bytes();
            let r_enc = (EdwardsPoint::mul_base(&r) + u).compress().to_bytes();
            let k = k_scalar(&r_enc, &pk, &MSG);
            let s = (r + k * a).to_bytes();
            out.push(Vector {
                name: format!("mixed A=aB+T{i} R=rB+T{j}"),
                pk,
                sig: sig(r_enc, s),
                msg: MSG,
                expect: Some(true),
            });
            out.push(Vector {
                name: format!("mixed A=aB+T{i} R=rB+T{j}, s+L"),
                pk,
                sig: sig(r_enc, add_le(s, L)),
                msg: MSG,
                expect: Some(false),
            });
            let mut other = MSG;
            other[0] ^= 1;
            out.push(Vector {
                name: format!("mixed A=aB+T{i} R=rB+T{j}, other message"),
                pk,
                sig: sig(r_enc, s),
                msg: other,
                expect: Some(false),
            });
        }
    }
    out
}

/// Ordinary signatures, and the same with s + L, the top bit of s set, R or the key changed.
fn ordinary_vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for seed in 1..=8u8 {
        let key = ed25519_consensus::SigningKey::from([seed; 32]);
        let pk = key.verification_key().to_bytes();
        let msg = [seed.wrapping_mul(31); 32];
        let good = key.sign(&msg).to_bytes();
        let (r, s) = (
            good[..32].try_into().unwrap(),
            good[32..].try_into().unwrap(),
        );
        out.push(Vector {
            name: format!("ordinary {seed}"),
            pk,
            sig: good,
            msg,
            expect: Some(true),
        });
        out.push(Vector {
            name: format!("ordinary {seed}, s+L"),
            pk,
            sig: sig(r, add_le(s, L)),
            msg,
            expect: Some(false),
        });
        let mut high = s;
        high[31] |= 0x80;
        out.push(Vector {
            name: format!("ordinary {seed}, top bit of s set"),
            pk,
            sig: sig(r, high),
            msg,
            expect: Some(false),
        });
        let mut bad_r = r;
        bad_r[0] ^= 1;
        out.push(Vector {
            name: format!("ordinary {seed}, R changed"),
            pk,
            sig: sig(bad_r, s),
            msg,
            expect: Some(false),
        });
        // The key with the sign bit flipped: the negated point (or undecodable).
        out.push(Vector {
            name: format!("ordinary {seed}, key sign bit flipped"),
            pk: {
                let mut p = pk;
                p[31] ^= 0x80;
                p
            },
            sig: good,
            msg,
            expect: Some(false),
        });
    }
    out
}

fn all_vectors() -> Vec<Vector> {
    let mut v = encoding_vectors();
    v.extend(mixed_order_vectors());
    v.extend(ordinary_vectors());
    v
}

fn consensus_single(v: &Vector) -> bool {
    ed25519_consensus::VerificationKey::try_from(v.pk)
        .and_then(|vk| vk.verify(&ed25519_consensus::Signature::from(v.sig), &v.msg))
        .is_ok()
}

fn zebra_single(v: &Vector) -> bool {
    ed25519_zebra::VerificationKey::try_from(v.pk)
        .and_then(|vk| vk.verify(&ed25519_zebra::Signature::from_bytes(&v.sig), &v.msg))
        .is_ok()
}

fn consensus_batch(vs: &[&Vector]) -> bool {
    let mut b = ed25519_consensus::batch::Verifier::new();
    for v in vs {
        b.queue((
            ed25519_consensus::VerificationKeyBytes::from(v.pk),
            ed25519_consensus::Signature::from(v.sig),
            &v.msg[..],
        ));
    }
    b.verify(OsRng).is_ok()
}

fn zebra_batch(vs: &[&Vector]) -> bool {
    let mut b = ed25519_zebra::batch::Verifier::new();
    for v in vs {
        b.queue((
            ed25519_zebra::VerificationKeyBytes::from(v.pk),
            ed25519_zebra::Signature::from_bytes(&v.sig),
            &v.msg[..],
        ));
    }
    b.verify(OsRng).is_ok()
}

/// The verdict both libraries reach on their own, checked against the expected one.
fn single_verdict(v: &Vector) -> bool {
    let c = consensus_single(v);
    let z = zebra_single(v);
    assert_eq!(c, z, "{}: ed25519-consensus {c}, ed25519-zebra {z}", v.name);
    if let Some(e) = v.expect {
        assert_eq!(
            c, e,
            "{}: expected {e} by ZIP-215, both libraries say {c}",
            v.name
        );
    }
    c
}

#[test]
fn small_order_encodings_are_all_found() {
    let all = small_order_encodings();
    let canonical = all.iter().filter(|e| is_canonical(**e)).count();
    // Eight points; x = 0 for two of them (sign bit 1 is a second encoding); y < 19 for four
    // of them (0 twice and 1 twice), each also written as y + p.
    assert_eq!(canonical, 8);
    assert_eq!(
        all.len(),
        14,
        "{:?}",
        all.iter().map(hex::encode).collect::<Vec<_>>()
    );
    assert!(all.contains(&{
        let mut identity = [0u8; 32];
        identity[0] = 1;
        identity
    }));
    // The key and R encodings also hold points of large order written with y >= p, and bytes
    // that decode to no point at all.
    let edge = edge_encodings();
    let non_canonical_large = edge
        .iter()
        .filter(|e| !is_canonical(**e) && decode(**e).is_some_and(|p| !p.is_small_order()))
        .count();
    let undecodable = edge.iter().filter(|e| decode(**e).is_none()).count();
    assert!(
        non_canonical_large > 0,
        "no large-order point written with y >= p"
    );
    assert!(undecodable > 0, "no undecodable encoding");
    eprintln!(
        "{} encodings: {} small-order, {non_canonical_large} large-order with y >= p, {undecodable} undecodable",
        edge.len(),
        all.len()
    );
    // L is the group order: zero modulo L, and not a canonical scalar.
    assert_eq!(Scalar::from_bytes_mod_order(L), Scalar::ZERO);
    assert!(bool::from(Scalar::from_canonical_bytes(L).is_none()));
}

#[test]
fn libraries_agree_on_each_vector_alone_single_and_batch() {
    let vectors = all_vectors();
    let (mut valid, mut invalid) = (0, 0);
    for v in &vectors {
        let verdict = single_verdict(v);
        if verdict {
            valid += 1;
        } else {
            invalid += 1;
        }
        assert_eq!(
            consensus_batch(&[v]),
            verdict,
            "{}: ed25519-consensus batch",
            v.name
        );
        assert_eq!(
            zebra_batch(&[v]),
            verdict,
            "{}: ed25519-zebra batch",
            v.name
        );
    }
    // Both kinds are exercised in number.
    assert!(valid >= 14 * 14 + 64, "{valid} valid vectors");
    assert!(invalid > 1000, "{invalid} invalid vectors");
}

#[test]
fn libraries_agree_on_batches_of_vectors() {
    let vectors = all_vectors();
    let verdicts: Vec<bool> = vectors.iter().map(single_verdict).collect();
    let valid: Vec<&Vector> = vectors
        .iter()
        .zip(&verdicts)
        .filter(|(_, ok)| **ok)
        .map(|(v, _)| v)
        .collect();
    // Every valid vector at once (keys repeat, so the libraries' per-key coalescing is used).
    assert!(
        consensus_batch(&valid),
        "ed25519-consensus rejects the batch of valid vectors"
    );
    assert!(
        zebra_batch(&valid),
        "ed25519-zebra rejects the batch of valid vectors"
    );
    // Each invalid vector hidden among valid ones fails the batch in both.
    let fillers = &valid[..valid.len().min(4)];
    for (v, _) in vectors.iter().zip(&verdicts).filter(|(_, ok)| !**ok) {
        let mut batch: Vec<&Vector> = fillers.to_vec();
        batch.insert(batch.len() / 2, v);
        assert!(
            !consensus_batch(&batch),
            "{}: ed25519-consensus batch passed",
            v.name
        );
        assert!(
            !zebra_batch(&batch),
            "{}: ed25519-zebra batch passed",
            v.name
        );
    }
}

#[test]
fn sigverify_agrees_with_single_verification() {
    let vectors = all_vectors();
    let expected: Vec<bool> = vectors.iter().map(single_verdict).collect();
    for (v, e) in vectors.iter().zip(&expected) {
        assert_eq!(sigverify::verify(&v.pk, &v.sig, &v.msg), *e, "{}", v.name);
    }
    let items: Vec<sigverify::Item> = vectors.iter().map(|v| (v.pk, v.sig, v.msg)).collect();
    // The whole set (fails as a batch, then one by one) and only the valid ones (one batch).
    assert_eq!(sigverify::verify_batch(&items), expected);
    let valid: Vec<sigverify::Item> = items
        .iter()
        .zip(&expected)
        .filter(|(_, ok)| **ok)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(sigverify::verify_batch(&valid), vec![true; valid.len()]);
}
