//! ABCI query paths and the proof format returned with them.

/// `data` = 20 address bytes; value = borsh `Account` (empty when the account does not exist).
pub const ACCOUNT: &str = "/account";
/// value = borsh `Params`.
pub const PARAMS: &str = "/params";
/// value = borsh `Vec<ValidatorInfo>`.
pub const VALIDATORS: &str = "/validators";
/// value = borsh `Vec<Proposal>` (open proposals).
pub const PROPOSALS: &str = "/proposals";
/// `data` = denom bytes; value = borsh `u128` (empty when the denom is unknown).
pub const SUPPLY: &str = "/supply";
/// `data` = any raw state key; value = the raw stored bytes.
pub const RAW: &str = "/store";

/// Type of the single proof op attached to a proven query: `data` is a borsh
/// `jmt::proof::SparseMerkleProof<Sha256>` and `key` the state key.
pub const PROOF_OP_TYPE: &str = "jmt:sha256:v1";
