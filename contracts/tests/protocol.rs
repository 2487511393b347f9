//! The protocol crate (`bridge-protocol`) against the deployed contract on revm, for random
//! inputs:
//!
//! - its domain separator, `batch_digest`, `signer_set_digest` and `signer_set_hash` equal what
//!   `Bridge.sol` returns from `domainSeparator`, `batchDigest`, `signerSetDigest` and
//!   `signerSetHash` (random bridge ids and contract addresses, random batches, random valid and
//!   arbitrary unvalidated signer sets), and the checkpoint the constructor stores;
//! - `recover_signer` recovers the signing key's address for random keys and digests and refuses
//!   the high-s twin;
//! - for signatures mutated at random (v, s, r), `recover_signer` accepts exactly what the
//!   contract's signature check accepts.
//!
//! `PROPTEST_CASES` sets the number of cases (1,000 by default; most cases deploy a bridge).

mod support;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use bridge_contracts::protocol::{self, abi, Domain, SignerSet};
use bridge_contracts::Bridge;
use proptest::prelude::*;
use support::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn nonzero_address() -> impl Strategy<Value = Address> {
    address().prop_filter("non-zero", |a| *a != Address::ZERO)
}

/// Small numbers, full 256-bit words and the extremes.
fn word() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        Just(U256::ZERO),
        Just(U256::MAX),
    ]
}

/// Any batch, including recipient and amount lists of different lengths (the digest does not
/// care; `submitBatch` rejects those).
fn batch() -> impl Strategy<Value = abi::Batch> {
    (
        address(),
        word(),
        word(),
        word(),
        prop::collection::vec(address(), 0..=40),
        prop::collection::vec(word(), 0..=40),
    )
        .prop_map(
            |(token, nonce, timeout, fee, recipients, amounts)| abi::Batch {
                token,
                nonce,
                timeout,
                fee,
                recipients,
                amounts,
            },
        )
}

/// A set that passes every rule: random members with random raw powers, normalized.
fn valid_set() -> impl Strategy<Value = SignerSet> {
    (
        any::<u64>(),
        prop::collection::btree_map(nonzero_address(), 1..=u64::MAX, 1..=24),
    )
        .prop_filter_map("a power rounds to zero", |(nonce, members)| {
            SignerSet::normalized(nonce, members).ok()
        })
}

/// Any ABI signer set: unsorted, mismatched lengths, huge values.
fn raw_set() -> impl Strategy<Value = abi::SignerSet> {
    (
        word(),
        prop::collection::vec(address(), 0..=24),
        prop::collection::vec(word(), 0..=24),
    )
        .prop_map(|(nonce, signers, powers)| abi::SignerSet {
            nonce,
            signers,
            powers,
        })
}

/// A fresh EVM with a bridge deployed by `deployer` with `bridge_id` and `initial` (no delays).
fn deploy(deployer: Address, bridge_id: B256, initial: &SignerSet) -> (Evm, Address) {
    let mut evm = Evm::new();
    let guardian = if deployer == Address::repeat_byte(0x9a) {
        Address::repeat_byte(0x9b)
    } else {
        Address::repeat_byte(0x9a)
    };
    let code = bridge_init_code(deployer, guardian, bridge_id, &initial.to_abi(), 0, 0);
    let bridge = evm.deploy(deployer, code).expect("bridge deploys");
    (evm, bridge)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn protocol_digests_equal_the_deployed_contracts(
        deployer in nonzero_address(),
        bridge_id in any::<[u8; 32]>().prop_map(B256::from).prop_filter("non-zero", |b| !b.is_zero()),
        initial in valid_set(),
        batch in batch(),
        next in valid_set(),
        raw in raw_set(),
    ) {
        let (mut evm, bridge) = deploy(deployer, bridge_id, &initial);
        let domain = Domain::new(CHAIN_ID, bridge, bridge_id);

        let separator: B256 = evm.view(bridge, &Bridge::domainSeparatorCall {});
        prop_assert_eq!(separator, domain.separator());
        let checkpoint: B256 = evm.view(bridge, &Bridge::signerSetCheckpointCall {});
        prop_assert_eq!(checkpoint, protocol::signer_set_hash(&initial));

        let onchain: B256 = evm.view(bridge, &Bridge::batchDigestCall { batch: batch.clone().into() });
        prop_assert_eq!(onchain, domain.batch_digest(&batch));
        prop_assert_eq!(onchain, domain.typed_digest(protocol::batch_hash(&batch)));

        let onchain: B256 = evm.view(bridge, &Bridge::signerSetDigestCall { next: next.to_abi() });
        prop_assert_eq!(onchain, domain.signer_set_digest(&next));
        let onchain: B256 = evm.view(bridge, &Bridge::signerSetHashCall { set: next.to_abi() });
        prop_assert_eq!(onchain, protocol::signer_set_hash(&next));

        // Unvalidated sets hash the same way on both sides (the contract checks them elsewhere).
        let onchain: B256 = evm.view(bridge, &Bridge::signerSetHashCall { set: raw.clone().into() });
        prop_assert_eq!(onchain, protocol::abi_signer_set_hash(&raw));
        let onchain: B256 = evm.view(bridge, &Bridge::signerSetDigestCall { next: raw.clone().into() });
        prop_assert_eq!(onchain, domain.typed_digest(protocol::abi_signer_set_hash(&raw)));
    }
}

/// A random valid private key.
fn signing_key() -> impl Strategy<Value = PrivateKeySigner> {
    any::<[u8; 32]>().prop_filter_map("not a valid secp256k1 scalar", |bytes| {
        PrivateKeySigner::from_bytes(&B256::from(bytes)).ok()
    })
}

/// `r ‖ s ‖ v` of a contract signature.
fn bytes65(sig: &abi::Signature) -> [u8; 65] {
    let mut out = [0u8; 65];
    out[..32].copy_from_slice(sig.r.as_slice());
    out[32..64].copy_from_slice(sig.s.as_slice());
    out[64] = sig.v;
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() * 4, ..ProptestConfig::default() })]

    #[test]
    fn recover_signer_recovers_the_signing_key(
        key in signing_key(),
        digest in any::<[u8; 32]>().prop_map(B256::from),
    ) {
        let signature = key.sign_hash_sync(&digest).expect("sign");
        let sig = protocol::to_contract_signature(0, &signature);
        prop_assert!(U256::from_be_bytes(sig.s.0) <= protocol::SECP256K1_HALF_N);
        prop_assert_eq!(protocol::recover_signer(digest, &bytes65(&sig)), Ok(key.address()));
        prop_assert_eq!(sig.recover(digest), Ok(key.address()));

        // The malleable twin (n - s, other parity) is refused.
        let s = U256::from_be_bytes(sig.s.0);
        let twin = abi::Signature {
            s: (protocol::SECP256K1_N - s).into(),
            v: if sig.v == 27 { 28 } else { 27 },
            ..sig
        };
        prop_assert_eq!(
            protocol::recover_signer(digest, &bytes65(&twin)),
            Err(protocol::Error::HighS(protocol::SECP256K1_N - s))
        );
    }
}

/// How one signature of an otherwise valid update is altered.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    FlipV,
    HighS,
    V(u8),
    R(B256),
    S(B256),
    ZeroR,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::None),
        1 => Just(Mutation::FlipV),
        1 => Just(Mutation::HighS),
        1 => any::<u8>().prop_map(Mutation::V),
        1 => any::<[u8; 32]>().prop_map(|b| Mutation::R(b.into())),
        1 => any::<[u8; 32]>().prop_map(|b| Mutation::S(b.into())),
        1 => Just(Mutation::ZeroR),
    ]
}

fn mutate(sig: &mut Bridge::Signature, mutation: &Mutation) {
    match mutation {
        Mutation::None => {}
        Mutation::FlipV => sig.v = if sig.v == 27 { 28 } else { 27 },
        Mutation::HighS => {
            sig.s = (protocol::SECP256K1_N - U256::from_be_bytes(sig.s.0)).into();
            sig.v = if sig.v == 27 { 28 } else { 27 };
        }
        Mutation::V(v) => sig.v = *v,
        Mutation::R(r) => sig.r = *r,
        Mutation::S(s) => sig.s = *s,
        Mutation::ZeroR => sig.r = B256::ZERO,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Every member of a random set signs a rotation to the same members (nonce + 1); one
    /// signature may be altered. The contract accepts the update exactly when `recover_signer`
    /// recovers every signature to the member at its index.
    #[test]
    fn recover_signer_accepts_what_the_contract_accepts(
        seeds in prop::collection::btree_set(any::<u64>(), 1..=6),
        powers in prop::collection::vec(1..=1_000u64, 6),
        target in any::<prop::sample::Index>(),
        mutation in mutation(),
    ) {
        let keys: Vec<PrivateKeySigner> = seeds.iter().map(|&s| key(s)).collect();
        let current = SignerSet::normalized(1, keys.iter().zip(&powers).map(|(k, &p)| (k.address(), p)))
            .expect("valid set");
        let keys = sort_keys(keys, &current);
        let next = SignerSet::from_normalized(2, current.members().to_vec()).expect("valid set");
        let (mut evm, bridge) = deploy(Address::repeat_byte(0xad), B256::repeat_byte(0xb1), &current);
        let domain = Domain::new(CHAIN_ID, bridge, B256::repeat_byte(0xb1));
        let digest = domain.signer_set_digest(&next);

        let mut signatures =
            bridge_contracts::signing::sign_all(&current, &keys, digest).expect("members sign");
        mutate(&mut signatures[target.index(keys.len())], &mutation);

        let protocol_accepts = signatures.iter().all(|sig| {
            let index = usize::try_from(sig.signerIndex).expect("small index");
            let member = current.members()[index].address;
            abi::Signature::from(sig.clone()).recover(digest) == Ok(member)
        });
        let call = Bridge::updateSignerSetCall {
            current: current.to_abi(),
            next: next.to_abi(),
            signatures,
        };
        let result = evm.send(Address::repeat_byte(0x7e), bridge, &call);
        prop_assert_eq!(
            result.is_ok(),
            protocol_accepts,
            "mutation {:?}: contract {:?}",
            mutation,
            result.err().map(|f| f.bridge_error())
        );
    }
}
