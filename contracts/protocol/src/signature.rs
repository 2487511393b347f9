//! secp256k1 signature recovery with the contract's acceptance rules: `v` is 27 or 28, `s` is in
//! the lower half of the curve order (EIP-2, <https://eips.ethereum.org/EIPS/eip-2>; OpenZeppelin
//! ECDSA applies the same bound), and `r`, `s` are non-zero and below the curve order (as
//! `ecrecover` requires). A signature this module accepts, the contract accepts, and the other
//! way round.

use alloy_primitives::{uint, Address, B256, U256};

use crate::{abi, Error, Result};

/// The order n of the secp256k1 group.
pub const SECP256K1_N: U256 =
    uint!(0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141_U256);
/// floor(n / 2): the largest `s` the contract accepts (`Bridge.HALF_CURVE_ORDER`).
pub const SECP256K1_HALF_N: U256 =
    uint!(0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0_U256);

/// Recovers the address that signed the 32-byte `digest`, from a 65-byte signature
/// `r ‖ s ‖ v` (r and s big-endian, v = 27 or 28), the layout `eth_sign` and alloy's
/// `Signature::as_bytes` produce.
///
/// Errors: as [`recover_signer_rsv`].
pub fn recover_signer(digest: B256, signature: &[u8; 65]) -> Result<Address> {
    let mut r = B256::ZERO;
    let mut s = B256::ZERO;
    for (to, from) in r.iter_mut().chain(s.iter_mut()).zip(signature) {
        *to = *from;
    }
    let [.., v] = *signature;
    recover_signer_rsv(digest, r, s, v)
}

/// Recovers the address that signed the 32-byte `digest` from the three parts the contract takes.
///
/// Errors: [`Error::InvalidV`] unless `v` is 27 or 28, [`Error::HighS`] when `s` exceeds
/// [`SECP256K1_HALF_N`], [`Error::InvalidSignature`] when `r` or `s` is zero or `r` is not
/// below the curve order, or when no public key recovers (what `ecrecover` answers with the zero
/// address).
pub fn recover_signer_rsv(digest: B256, r: B256, s: B256, v: u8) -> Result<Address> {
    let odd_y = match v {
        27 => false,
        28 => true,
        other => return Err(Error::InvalidV(other)),
    };
    let r = U256::from_be_bytes(r.0);
    let s = U256::from_be_bytes(s.0);
    if s > SECP256K1_HALF_N {
        return Err(Error::HighS(s));
    }
    if r.is_zero() || s.is_zero() {
        return Err(Error::InvalidSignature("r or s is zero"));
    }
    if r >= SECP256K1_N {
        return Err(Error::InvalidSignature("r is not below the curve order"));
    }
    alloy_primitives::Signature::new(r, s, odd_y)
        .recover_address_from_prehash(&digest)
        .map_err(|_| Error::InvalidSignature("no public key recovers from r"))
}

impl abi::Signature {
    /// The address that made this signature over `digest` (see [`recover_signer_rsv`]). The
    /// caller still checks that it is the member at `signerIndex`.
    pub fn recover(&self, digest: B256) -> Result<Address> {
        recover_signer_rsv(digest, self.r, self.s, self.v)
    }
}

/// Turns a secp256k1 signature by the member at `index` of the current signer set into the
/// contract's [`abi::Signature`]: `v` = 27 + y-parity. A high-s signature is replaced by its
/// low-s twin (s → n − s, parity flipped), which recovers to the same address, so the contract
/// always accepts the result.
pub fn to_contract_signature(
    index: usize,
    signature: &alloy_primitives::Signature,
) -> abi::Signature {
    let (s, odd_y) = if signature.s() > SECP256K1_HALF_N {
        (SECP256K1_N.saturating_sub(signature.s()), !signature.v())
    } else {
        (signature.s(), signature.v())
    };
    abi::Signature {
        signerIndex: U256::from(index),
        v: if odd_y { 28 } else { 27 },
        r: B256::from(signature.r()),
        s: B256::from(s),
    }
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::SigningKey;

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32].into()).unwrap()
    }

    fn address(key: &SigningKey) -> Address {
        Address::from_public_key(key.verifying_key())
    }

    /// Signs with k256 and returns `r ‖ s ‖ v` with v = 27 + parity (k256 signs low-s).
    fn sign(key: &SigningKey, digest: B256) -> [u8; 65] {
        let (sig, recid) = key.sign_prehash_recoverable(digest.as_slice()).unwrap();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.to_byte();
        out
    }

    fn digest(n: u8) -> B256 {
        alloy_primitives::keccak256([n])
    }

    #[test]
    fn curve_constants() {
        assert_eq!(SECP256K1_HALF_N, SECP256K1_N / U256::from(2));
    }

    #[test]
    fn recovers_the_signers_address() {
        for seed in 1..=8 {
            let key = key(seed);
            let sig = sign(&key, digest(seed));
            assert_eq!(recover_signer(digest(seed), &sig), Ok(address(&key)));
            // Another digest recovers to somebody else.
            assert_ne!(recover_signer(digest(seed + 100), &sig), Ok(address(&key)));
        }
    }

    #[test]
    fn rejects_high_s_twin() {
        let key = key(3);
        let mut sig = sign(&key, digest(1));
        let s = U256::from_be_slice(&sig[32..64]);
        assert!(s <= SECP256K1_HALF_N);
        let twin = SECP256K1_N - s;
        sig[32..64].copy_from_slice(&twin.to_be_bytes::<32>());
        sig[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(recover_signer(digest(1), &sig), Err(Error::HighS(twin)));
        // s = n/2 exactly is still low; n/2 + 1 is high.
        let r = B256::from_slice(&sig[..32]);
        assert!(!matches!(
            recover_signer_rsv(digest(1), r, SECP256K1_HALF_N.into(), 27),
            Err(Error::HighS(_))
        ));
        assert_eq!(
            recover_signer_rsv(digest(1), r, (SECP256K1_HALF_N + U256::from(1)).into(), 27),
            Err(Error::HighS(SECP256K1_HALF_N + U256::from(1)))
        );
    }

    #[test]
    fn rejects_v_other_than_27_or_28() {
        let key = key(4);
        let sig = sign(&key, digest(2));
        for v in [0u8, 1, 26, 29, 37, 38, 255] {
            let mut bad = sig;
            bad[64] = v;
            assert_eq!(recover_signer(digest(2), &bad), Err(Error::InvalidV(v)));
        }
        // The wrong one of 27/28 recovers a different address (as ecrecover does).
        let mut flipped = sig;
        flipped[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_ne!(recover_signer(digest(2), &flipped), Ok(address(&key)));
    }

    #[test]
    fn rejects_zero_and_out_of_range_scalars() {
        let one = B256::with_last_byte(1);
        assert!(matches!(
            recover_signer_rsv(digest(0), B256::ZERO, one, 27),
            Err(Error::InvalidSignature(_))
        ));
        assert!(matches!(
            recover_signer_rsv(digest(0), one, B256::ZERO, 27),
            Err(Error::InvalidSignature(_))
        ));
        assert!(matches!(
            recover_signer_rsv(digest(0), SECP256K1_N.into(), one, 27),
            Err(Error::InvalidSignature(_))
        ));
    }

    #[test]
    fn contract_signature_is_low_s_and_recovers() {
        let key = key(5);
        let bytes = sign(&key, digest(9));
        let low = alloy_primitives::Signature::from_raw_array(&bytes).unwrap();
        let high = alloy_primitives::Signature::new(low.r(), SECP256K1_N - low.s(), !low.v());
        for sig in [low, high] {
            let converted = to_contract_signature(3, &sig);
            assert_eq!(converted.signerIndex, U256::from(3));
            assert_eq!(U256::from_be_bytes(converted.s.0), low.s());
            assert_eq!(converted.recover(digest(9)), Ok(address(&key)));
        }
    }
}
