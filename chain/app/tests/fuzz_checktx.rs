//! Arbitrary and mutated bytes through CheckTx and FinalizeBlock: no panic, a result code for
//! every input, and nothing written for a rejected transaction.

mod harness;

use harness::*;
use proptest::prelude::*;
use sidechain_types::{state_key, Code};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_get_a_code_and_change_nothing(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let alice = key(1);
        let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
        let out = chain.check(&bytes);
        prop_assert_ne!(out.code, Code::Ok);
        prop_assert!(chain.mempool.is_empty());
        let block = chain.block(&[bytes]);
        prop_assert_ne!(block.tx_results[0].code, Code::Ok);
        let changed: Vec<_> = block.writes.keys().filter(|k| k.as_slice() != state_key::app::LAST_HEIGHT).collect();
        prop_assert!(changed.is_empty());
    }

    #[test]
    fn mutated_transfers_never_panic_and_only_valid_ones_pass(pos in any::<prop::sample::Index>(), byte in any::<u8>(), amount in 1u128..2_000_000) {
        let alice = key(1);
        let mut chain = Chain::new(genesis(1, &[(addr(&alice), 1_000_000)]));
        let tx = transfer_tx(&alice, 0, addr(&key(2)), amount);
        let mut bytes = tx.encode();
        let i = pos.index(bytes.len());
        let original = bytes[i];
        bytes[i] = byte;
        let out = chain.check(&bytes);
        if byte != original && out.code == Code::Ok {
            // A change that still verifies can only be one that does not alter signed content
            // (impossible for ed25519 over the whole body) - so this must not happen.
            prop_assert!(false, "mutated tx at byte {} was accepted", i);
        }
        if out.code != Code::Ok {
            prop_assert!(chain.mempool.is_empty());
        }
    }
}
