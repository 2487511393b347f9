//! Conversions between the ABI binding's structs (`Bridge::Batch`, `Bridge::SignerSet`,
//! `Bridge::Signature`, generated from `out/Bridge.json`) and the protocol crate's structs of the
//! same Solidity types. Both sides have the same fields; only the Rust types differ.

use std::borrow::Cow;

use bridge_protocol::{abi, AsBatch};

use crate::Bridge;

impl From<abi::Batch> for Bridge::Batch {
    fn from(b: abi::Batch) -> Self {
        Self {
            token: b.token,
            nonce: b.nonce,
            timeout: b.timeout,
            fee: b.fee,
            recipients: b.recipients,
            amounts: b.amounts,
        }
    }
}

impl From<Bridge::Batch> for abi::Batch {
    fn from(b: Bridge::Batch) -> Self {
        Self {
            token: b.token,
            nonce: b.nonce,
            timeout: b.timeout,
            fee: b.fee,
            recipients: b.recipients,
            amounts: b.amounts,
        }
    }
}

/// Lets `Domain::batch_digest` and `batch_hash` take the binding's batch directly.
impl AsBatch for Bridge::Batch {
    fn as_batch(&self) -> Cow<'_, abi::Batch> {
        Cow::Owned(self.clone().into())
    }
}

impl From<abi::SignerSet> for Bridge::SignerSet {
    fn from(s: abi::SignerSet) -> Self {
        Self {
            nonce: s.nonce,
            signers: s.signers,
            powers: s.powers,
        }
    }
}

impl From<Bridge::SignerSet> for abi::SignerSet {
    fn from(s: Bridge::SignerSet) -> Self {
        Self {
            nonce: s.nonce,
            signers: s.signers,
            powers: s.powers,
        }
    }
}

impl From<abi::Signature> for Bridge::Signature {
    fn from(s: abi::Signature) -> Self {
        Self {
            signerIndex: s.signerIndex,
            v: s.v,
            r: s.r,
            s: s.s,
        }
    }
}

impl From<Bridge::Signature> for abi::Signature {
    fn from(s: Bridge::Signature) -> Self {
        Self {
            signerIndex: s.signerIndex,
            v: s.v,
            r: s.r,
            s: s.s,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, B256, U256};
    use alloy::sol_types::SolStruct;

    use super::*;

    /// The binding and the protocol crate see the same Solidity types, so the EIP-712 type
    /// strings agree and a round trip changes nothing.
    #[test]
    fn binding_and_protocol_structs_agree() {
        assert_eq!(
            Bridge::Batch::eip712_encode_type(),
            abi::Batch::eip712_encode_type()
        );
        assert_eq!(
            Bridge::SignerSet::eip712_encode_type(),
            abi::SignerSet::eip712_encode_type()
        );
        let batch = abi::Batch {
            token: Address::repeat_byte(1),
            nonce: U256::from(2),
            timeout: U256::from(3),
            fee: U256::from(4),
            recipients: vec![Address::repeat_byte(5)],
            amounts: vec![U256::from(6)],
        };
        let bound = Bridge::Batch::from(batch.clone());
        assert_eq!(bound.eip712_hash_struct(), batch.eip712_hash_struct());
        assert_eq!(abi::Batch::from(bound), batch);
        let set = abi::SignerSet {
            nonce: U256::from(1),
            signers: vec![Address::repeat_byte(1)],
            powers: vec![U256::from(1u64 << 32)],
        };
        assert_eq!(
            abi::SignerSet::from(Bridge::SignerSet::from(set.clone())),
            set
        );
        let sig = abi::Signature {
            signerIndex: U256::from(1),
            v: 27,
            r: B256::repeat_byte(2),
            s: B256::repeat_byte(3),
        };
        assert_eq!(
            abi::Signature::from(Bridge::Signature::from(sig.clone())),
            sig
        );
    }
}
