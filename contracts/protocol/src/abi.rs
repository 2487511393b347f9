//! The structs of `contracts/solidity/Bridge.sol` that signatures cover, field for field.
//!
//! Their EIP-712 type strings (what [`alloy_sol_types::SolStruct::eip712_encode_type`] returns)
//! are exactly the contract's `BATCH_TYPEHASH` and `SIGNER_SET_TYPEHASH` preimages; the unit
//! tests check the strings and `contracts/tests/protocol.rs` checks the hashes against the
//! deployed contract.

alloy_sol_types::sol! {
    /// A withdrawal batch, as `Bridge.submitBatch` takes it and the signer set signs it.
    ///
    /// `token` is the ERC-20 released (the zero address for ether); `nonce` is exactly one above
    /// the contract's `lastBatchNonce`; `timeout` is an L1 timestamp in seconds (the batch is
    /// valid while `block.timestamp < timeout`); `fee` is paid in `token` to the submitter;
    /// `recipients[i]` receives `amounts[i]` (base units; both arrays have the same length, at
    /// most 256).
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Batch {
        address token;
        uint256 nonce;
        uint256 timeout;
        uint256 fee;
        address[] recipients;
        uint256[] amounts;
    }

    /// A signer set as the contract hashes it: `signers` in strictly ascending address order,
    /// `powers[i]` the normalized power of `signers[i]` (out of 2^32). Carries no validation; the
    /// validated form is [`crate::SignerSet`].
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct SignerSet {
        uint256 nonce;
        address[] signers;
        uint256[] powers;
    }

    /// One signature as the contract takes it: by the member at `signerIndex` of the current
    /// set, `v` 27 or 28, `r` and `s` big-endian 32-byte words with `s <= secp256k1n/2`. A call
    /// carries these in strictly ascending `signerIndex`.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Signature {
        uint256 signerIndex;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }
}
