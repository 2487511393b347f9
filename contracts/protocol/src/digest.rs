//! EIP-712 (<https://eips.ethereum.org/EIPS/eip-712>) hashing exactly as `Bridge.sol` does it.
//!
//! Domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)`
//! with name [`DOMAIN_NAME`], version [`DOMAIN_VERSION`] and salt = the bridge id. Messages:
//! [`BATCH_TYPE`] and [`SIGNER_SET_TYPE`]. The struct hash of a signer set is also the checkpoint
//! the contract stores.

use std::borrow::Cow;

use alloy_primitives::{Address, Keccak256, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct};

use crate::abi::{self, Batch};
use crate::SignerSet;

/// The EIP-712 domain name the contract uses (`NAME_HASH = keccak256("SidechainBridge")`).
pub const DOMAIN_NAME: &str = "SidechainBridge";
/// The EIP-712 domain version the contract uses (`VERSION_HASH = keccak256("1")`).
pub const DOMAIN_VERSION: &str = "1";
/// The EIP-712 type of the domain (the preimage of the contract's `DOMAIN_TYPEHASH`).
pub const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)";
/// The EIP-712 type of a batch (the preimage of `Bridge.BATCH_TYPEHASH`).
pub const BATCH_TYPE: &str =
    "Batch(address token,uint256 nonce,uint256 timeout,uint256 fee,address[] recipients,uint256[] amounts)";
/// The EIP-712 type of a signer set (the preimage of `Bridge.SIGNER_SET_TYPEHASH`).
pub const SIGNER_SET_TYPE: &str = "SignerSet(uint256 nonce,address[] signers,uint256[] powers)";

/// Binds a signature to one deployment: an L1 chain id, the bridge contract's address and the
/// bridge id (the EIP-712 `salt`). A signature made under one domain is worthless under any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Domain {
    /// The L1 chain id (EIP-155), as `block.chainid` reads it.
    pub chain_id: u64,
    /// The address of the deployed `Bridge` contract.
    pub verifying_contract: Address,
    /// The bridge id the contract was deployed with (its immutable `bridgeId`, non-zero).
    pub bridge_id: B256,
}

impl Domain {
    /// A domain for the bridge at `verifying_contract` on chain `chain_id` with `bridge_id`.
    pub fn new(chain_id: u64, verifying_contract: Address, bridge_id: B256) -> Self {
        Self {
            chain_id,
            verifying_contract,
            bridge_id,
        }
    }

    /// The domain as alloy's EIP-712 type (name, version, chain id, contract, salt: all set).
    pub fn to_eip712(&self) -> Eip712Domain {
        Eip712Domain::new(
            Some(Cow::Borrowed(DOMAIN_NAME)),
            Some(Cow::Borrowed(DOMAIN_VERSION)),
            Some(U256::from(self.chain_id)),
            Some(self.verifying_contract),
            Some(self.bridge_id),
        )
    }

    /// The 32-byte EIP-712 domain separator, `hashStruct(EIP712Domain)`: what
    /// `Bridge.domainSeparator()` returns on this domain's chain.
    pub fn separator(&self) -> B256 {
        self.to_eip712().separator()
    }

    /// The 32-byte digest that is signed for a message whose EIP-712 struct hash is
    /// `struct_hash`: `keccak256(0x19 ‖ 0x01 ‖ separator ‖ struct_hash)` (66 bytes hashed).
    pub fn typed_digest(&self, struct_hash: B256) -> B256 {
        let mut hasher = Keccak256::new();
        hasher.update([0x19, 0x01]);
        hasher.update(self.separator());
        hasher.update(struct_hash);
        hasher.finalize()
    }

    /// What the active signer set signs to release `batch` (`Bridge.batchDigest(batch)`).
    pub fn batch_digest(&self, batch: &(impl AsBatch + ?Sized)) -> B256 {
        self.typed_digest(batch_hash(batch))
    }

    /// What the active signer set signs to hand over to `next` (`Bridge.signerSetDigest(next)`).
    pub fn signer_set_digest(&self, next: &SignerSet) -> B256 {
        self.typed_digest(signer_set_hash(next))
    }
}

/// A type that holds the fields of the contract's `Batch` struct, so that [`batch_hash`] and
/// [`Domain::batch_digest`] take it directly. [`Batch`] borrows itself; another binding of the
/// same Solidity struct (such as the contract's ABI binding in `bridge-contracts`) converts.
pub trait AsBatch {
    /// The batch as this crate's [`Batch`], borrowed when it already is one.
    fn as_batch(&self) -> Cow<'_, Batch>;
}

impl AsBatch for Batch {
    fn as_batch(&self) -> Cow<'_, Batch> {
        Cow::Borrowed(self)
    }
}

/// The 32-byte EIP-712 struct hash of a batch, `hashStruct(Batch)` over [`BATCH_TYPE`]
/// (address arrays hashed as 32-byte left-padded words, as `abi.encodePacked` does).
pub fn batch_hash(batch: &(impl AsBatch + ?Sized)) -> B256 {
    batch.as_batch().eip712_hash_struct()
}

/// The 32-byte EIP-712 struct hash of an ABI signer set over [`SIGNER_SET_TYPE`], without any
/// validation: what `Bridge.signerSetHash(set)` returns for any input.
pub fn abi_signer_set_hash(set: &abi::SignerSet) -> B256 {
    set.eip712_hash_struct()
}

/// The checkpoint the contract stores for `set`: its 32-byte EIP-712 struct hash.
pub fn signer_set_hash(set: &SignerSet) -> B256 {
    abi_signer_set_hash(&set.to_abi())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;
    use alloy_sol_types::SolValue;

    use super::*;
    use crate::Member;

    fn domain() -> Domain {
        Domain::new(31337, Address::repeat_byte(0xcc), B256::with_last_byte(1))
    }

    #[test]
    fn type_strings_are_the_contracts() {
        assert_eq!(Batch::eip712_encode_type(), BATCH_TYPE);
        assert_eq!(abi::SignerSet::eip712_encode_type(), SIGNER_SET_TYPE);
        assert_eq!(domain().to_eip712().encode_type(), DOMAIN_TYPE);
    }

    /// The separator and struct hashes spelled out as the contract writes them with
    /// `abi.encode`, so that the alloy machinery used above is checked against the formula.
    #[test]
    fn hashes_follow_the_contracts_formula() {
        let d = domain();
        let separator = keccak256(
            (
                keccak256(DOMAIN_TYPE),
                keccak256(DOMAIN_NAME),
                keccak256(DOMAIN_VERSION),
                U256::from(d.chain_id),
                d.verifying_contract,
                d.bridge_id,
            )
                .abi_encode(),
        );
        assert_eq!(d.separator(), separator);

        let recipients = vec![Address::repeat_byte(1), Address::repeat_byte(2)];
        let amounts = vec![U256::from(5), U256::from(7)];
        let batch = Batch {
            token: Address::repeat_byte(9),
            nonce: U256::from(3),
            timeout: U256::from(1_700_000_000u64),
            fee: U256::from(11),
            recipients: recipients.clone(),
            amounts: amounts.clone(),
        };
        let words =
            |a: &[Address]| keccak256(a.iter().map(|a| a.into_word()).collect::<Vec<_>>().concat());
        let expected = keccak256(
            (
                keccak256(BATCH_TYPE),
                batch.token,
                batch.nonce,
                batch.timeout,
                batch.fee,
                words(&recipients),
                keccak256(amounts.abi_encode_packed()),
            )
                .abi_encode(),
        );
        assert_eq!(batch_hash(&batch), expected);
        let digest = keccak256(
            [
                &[0x19u8, 0x01][..],
                separator.as_slice(),
                expected.as_slice(),
            ]
            .concat(),
        );
        assert_eq!(d.batch_digest(&batch), digest);

        let set = SignerSet::from_normalized(
            4,
            vec![
                Member {
                    address: Address::repeat_byte(1),
                    power: 1 << 31,
                },
                Member {
                    address: Address::repeat_byte(2),
                    power: 1 << 31,
                },
            ],
        )
        .unwrap();
        let expected = keccak256(
            (
                keccak256(SIGNER_SET_TYPE),
                U256::from(4),
                words(&recipients),
                keccak256([U256::from(1u64 << 31); 2].abi_encode_packed()),
            )
                .abi_encode(),
        );
        assert_eq!(signer_set_hash(&set), expected);
        assert_eq!(d.signer_set_digest(&set), d.typed_digest(expected));
    }

    #[test]
    fn every_domain_field_changes_the_digest() {
        let d = domain();
        let hash = B256::repeat_byte(7);
        let others = [
            Domain { chain_id: 1, ..d },
            Domain {
                verifying_contract: Address::repeat_byte(0xcd),
                ..d
            },
            Domain {
                bridge_id: B256::with_last_byte(2),
                ..d
            },
        ];
        for other in others {
            assert_ne!(other.typed_digest(hash), d.typed_digest(hash));
        }
    }
}
