//! ABCI query routes: one [`Route`] per thing a client can ask for, shared by the node (which
//! parses requests into routes) and clients (which build requests from routes), and the proof
//! format returned with them.
//!
//! | path | `data` | value |
//! |---|---|---|
//! | `/account` | 20 address bytes | borsh `Account` (empty when the account does not exist) |
//! | `/supply` | denom bytes | borsh `u128` (empty when the denom is unknown) |
//! | `/params` | empty | borsh `Params` |
//! | `/validators` | empty | borsh `Vec<ValidatorInfo>` |
//! | `/proposals` | empty | borsh `Vec<Proposal>`, open proposals by id (not provable: several keys) |
//! | `/bridge/params` | empty | borsh `BridgeParams` (empty when no bridge is configured) |
//! | `/bridge/deposit` | nonce, 8 bytes big-endian | borsh `DepositRecord` (empty when the nonce was never claimed) |
//! | `/bridge/last_applied` | empty | borsh `u64`, highest deposit nonce applied (empty before genesis wrote it: 0) |
//! | `/bridge/last_claimed` | 20 operator address bytes | borsh `u64`, highest nonce that validator claimed (empty: 0) |
//! | `/bridge/tokens` | empty | borsh `Vec<WrappedToken>`, in order of first mint (not provable: several keys) |
//! | `/bridge/token` | 20 L1 token address bytes | borsh `WrappedToken` (empty when the token was never minted) |
//! | `/bridge/misbehaviour` | empty | borsh `Vec<Misbehaviour>`, oldest first (not provable: several keys) |
//! | `/bridge/withdrawal` | id, 8 bytes big-endian | borsh `Withdrawal` with its state (empty when no such id) |
//! | `/bridge/batch` | nonce, 8 bytes big-endian | borsh `OutgoingBatch` with its signatures in the signer set's order (empty when no such batch) |
//! | `/bridge/l1_signer_set` | empty | borsh `L1SignerSet`, the set the L1 contract holds (empty when no bridge) |
//! | `/bridge/batches` | empty | borsh `Vec<OutgoingBatch>`, the outstanding batch and the latest settled ones, newest nonce first, at most 20 (not provable: several keys) |
//! | `/bridge/signer_set` | nonce, 8 bytes big-endian | borsh `SignerSetUpdate` (empty when the chain made no update with that nonce) |
//! | `/bridge/signer_sets` | empty | borsh `Vec<SignerSetUpdate>`, newest first, at most 20 (not provable: several keys) |
//! | `/bridge/refund` | id, 8 bytes big-endian | borsh `Refund` (empty when no such id) |
//! | `/bridge/in_flight` | 20 L1 token address bytes | borsh `u128`, base units burned by withdrawals of that token L1 has not executed yet (empty: 0) |
//! | `/store` | a raw state key | the raw stored bytes |

use crate::{state_key, Address, Denom, EthAddress};

pub const ACCOUNT: &str = "/account";
pub const PARAMS: &str = "/params";
pub const VALIDATORS: &str = "/validators";
pub const PROPOSALS: &str = "/proposals";
pub const SUPPLY: &str = "/supply";
pub const BRIDGE_PARAMS: &str = "/bridge/params";
pub const BRIDGE_DEPOSIT: &str = "/bridge/deposit";
pub const BRIDGE_LAST_APPLIED: &str = "/bridge/last_applied";
pub const BRIDGE_LAST_CLAIMED: &str = "/bridge/last_claimed";
pub const BRIDGE_TOKENS: &str = "/bridge/tokens";
pub const BRIDGE_TOKEN: &str = "/bridge/token";
pub const BRIDGE_MISBEHAVIOUR: &str = "/bridge/misbehaviour";
pub const BRIDGE_WITHDRAWAL: &str = "/bridge/withdrawal";
pub const BRIDGE_BATCH: &str = "/bridge/batch";
pub const BRIDGE_L1_SIGNER_SET: &str = "/bridge/l1_signer_set";
pub const BRIDGE_BATCHES: &str = "/bridge/batches";
pub const BRIDGE_SIGNER_SET: &str = "/bridge/signer_set";
pub const BRIDGE_SIGNER_SETS: &str = "/bridge/signer_sets";
pub const BRIDGE_REFUND: &str = "/bridge/refund";
pub const BRIDGE_IN_FLIGHT: &str = "/bridge/in_flight";
pub const RAW: &str = "/store";

/// Every path, for error messages and documentation.
pub const PATHS: [&str; 21] = [
    ACCOUNT,
    SUPPLY,
    PARAMS,
    VALIDATORS,
    PROPOSALS,
    BRIDGE_PARAMS,
    BRIDGE_DEPOSIT,
    BRIDGE_LAST_APPLIED,
    BRIDGE_LAST_CLAIMED,
    BRIDGE_TOKENS,
    BRIDGE_TOKEN,
    BRIDGE_MISBEHAVIOUR,
    BRIDGE_WITHDRAWAL,
    BRIDGE_BATCH,
    BRIDGE_L1_SIGNER_SET,
    BRIDGE_BATCHES,
    BRIDGE_SIGNER_SET,
    BRIDGE_SIGNER_SETS,
    BRIDGE_REFUND,
    BRIDGE_IN_FLIGHT,
    RAW,
];

/// Type of the single proof op attached to a proven query: `data` is a borsh
/// `jmt::proof::SparseMerkleProof<Sha256>` and `key` the state key.
pub const PROOF_OP_TYPE: &str = "jmt:sha256:v1";

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Account(Address),
    Supply(Denom),
    Params,
    Validators,
    Proposals,
    BridgeParams,
    /// The record of one deposit nonce.
    BridgeDeposit(u64),
    /// The highest deposit nonce applied.
    BridgeLastApplied,
    /// The highest deposit nonce the validator with this operator address claimed.
    BridgeLastClaimed(Address),
    /// Every wrapped L1 token.
    BridgeTokens,
    /// One wrapped L1 token, by its L1 address.
    BridgeToken(EthAddress),
    /// Every misbehaviour record.
    BridgeMisbehaviour,
    /// One withdrawal, by id.
    BridgeWithdrawal(u64),
    /// One withdrawal batch, by nonce.
    BridgeBatch(u64),
    /// The signer set the L1 contract holds.
    BridgeL1SignerSet,
    /// The outstanding batch and the latest settled ones, newest first (at most 20).
    BridgeBatches,
    /// One signer-set update, by nonce.
    BridgeSignerSet(u64),
    /// The latest signer-set updates, newest first (at most 20).
    BridgeSignerSets,
    /// One refund owed (or paid), by id.
    BridgeRefund(u64),
    /// Base units of an L1 token's wrapped denom that withdrawals burned and L1 has not paid.
    BridgeInFlight(EthAddress),
    /// Any state key, read raw.
    Raw(Vec<u8>),
}

/// Why a query request names no route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown query path `{0}`; known: {known}", known = PATHS.join(", "))]
    UnknownPath(String),
    #[error("{path} takes {expected}, got {got} bytes")]
    BadData {
        path: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("{path}: {reason}")]
    Invalid { path: &'static str, reason: String },
}

impl Route {
    /// The ABCI query path.
    pub fn path(&self) -> &'static str {
        match self {
            Route::Account(_) => ACCOUNT,
            Route::Supply(_) => SUPPLY,
            Route::Params => PARAMS,
            Route::Validators => VALIDATORS,
            Route::Proposals => PROPOSALS,
            Route::BridgeParams => BRIDGE_PARAMS,
            Route::BridgeDeposit(_) => BRIDGE_DEPOSIT,
            Route::BridgeLastApplied => BRIDGE_LAST_APPLIED,
            Route::BridgeLastClaimed(_) => BRIDGE_LAST_CLAIMED,
            Route::BridgeTokens => BRIDGE_TOKENS,
            Route::BridgeToken(_) => BRIDGE_TOKEN,
            Route::BridgeMisbehaviour => BRIDGE_MISBEHAVIOUR,
            Route::BridgeWithdrawal(_) => BRIDGE_WITHDRAWAL,
            Route::BridgeBatch(_) => BRIDGE_BATCH,
            Route::BridgeL1SignerSet => BRIDGE_L1_SIGNER_SET,
            Route::BridgeBatches => BRIDGE_BATCHES,
            Route::BridgeSignerSet(_) => BRIDGE_SIGNER_SET,
            Route::BridgeSignerSets => BRIDGE_SIGNER_SETS,
            Route::BridgeRefund(_) => BRIDGE_REFUND,
            Route::BridgeInFlight(_) => BRIDGE_IN_FLIGHT,
            Route::Raw(_) => RAW,
        }
    }

    /// The ABCI query `data`.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Route::Account(a) => a.as_bytes().to_vec(),
            Route::Supply(d) => d.as_str().as_bytes().to_vec(),
            Route::Raw(key) => key.clone(),
            Route::BridgeDeposit(nonce)
            | Route::BridgeWithdrawal(nonce)
            | Route::BridgeBatch(nonce)
            | Route::BridgeSignerSet(nonce)
            | Route::BridgeRefund(nonce) => nonce.to_be_bytes().to_vec(),
            Route::BridgeLastClaimed(a) => a.as_bytes().to_vec(),
            Route::BridgeToken(t) | Route::BridgeInFlight(t) => t.as_bytes().to_vec(),
            Route::Params
            | Route::Validators
            | Route::Proposals
            | Route::BridgeParams
            | Route::BridgeLastApplied
            | Route::BridgeL1SignerSet
            | Route::BridgeBatches
            | Route::BridgeSignerSets
            | Route::BridgeTokens
            | Route::BridgeMisbehaviour => Vec::new(),
        }
    }

    /// The route a request names. Errors say which path or data is wrong.
    pub fn parse(path: &str, data: &[u8]) -> Result<Self, RouteError> {
        let no_data = |route: Route| {
            if data.is_empty() {
                Ok(route)
            } else {
                Err(RouteError::BadData {
                    path: route.path(),
                    expected: "no data",
                    got: data.len(),
                })
            }
        };
        let address = |path: &'static str| -> Result<[u8; 20], RouteError> {
            data.try_into().map_err(|_| RouteError::BadData {
                path,
                expected: "20 address bytes",
                got: data.len(),
            })
        };
        match path {
            ACCOUNT => Ok(Route::Account(Address(address(ACCOUNT)?))),
            SUPPLY => {
                let text = std::str::from_utf8(data).map_err(|_| RouteError::Invalid {
                    path: SUPPLY,
                    reason: "denom is not UTF-8".into(),
                })?;
                let denom = Denom::new(text).map_err(|e| RouteError::Invalid {
                    path: SUPPLY,
                    reason: e.to_string(),
                })?;
                Ok(Route::Supply(denom))
            }
            PARAMS => no_data(Route::Params),
            VALIDATORS => no_data(Route::Validators),
            PROPOSALS => no_data(Route::Proposals),
            BRIDGE_PARAMS => no_data(Route::BridgeParams),
            BRIDGE_DEPOSIT => {
                let bytes: [u8; 8] = data.try_into().map_err(|_| RouteError::BadData {
                    path: BRIDGE_DEPOSIT,
                    expected: "a nonce as 8 big-endian bytes",
                    got: data.len(),
                })?;
                Ok(Route::BridgeDeposit(u64::from_be_bytes(bytes)))
            }
            BRIDGE_LAST_APPLIED => no_data(Route::BridgeLastApplied),
            BRIDGE_LAST_CLAIMED => Ok(Route::BridgeLastClaimed(Address(address(
                BRIDGE_LAST_CLAIMED,
            )?))),
            BRIDGE_TOKENS => no_data(Route::BridgeTokens),
            BRIDGE_TOKEN => Ok(Route::BridgeToken(EthAddress(address(BRIDGE_TOKEN)?))),
            BRIDGE_IN_FLIGHT => Ok(Route::BridgeInFlight(EthAddress(address(
                BRIDGE_IN_FLIGHT,
            )?))),
            BRIDGE_MISBEHAVIOUR => no_data(Route::BridgeMisbehaviour),
            BRIDGE_WITHDRAWAL => Ok(Route::BridgeWithdrawal(u64::from_be_bytes(
                data.try_into().map_err(|_| RouteError::BadData {
                    path: BRIDGE_WITHDRAWAL,
                    expected: "an id as 8 big-endian bytes",
                    got: data.len(),
                })?,
            ))),
            BRIDGE_BATCH => Ok(Route::BridgeBatch(u64::from_be_bytes(
                data.try_into().map_err(|_| RouteError::BadData {
                    path: BRIDGE_BATCH,
                    expected: "a nonce as 8 big-endian bytes",
                    got: data.len(),
                })?,
            ))),
            BRIDGE_L1_SIGNER_SET => no_data(Route::BridgeL1SignerSet),
            BRIDGE_BATCHES => no_data(Route::BridgeBatches),
            BRIDGE_SIGNER_SETS => no_data(Route::BridgeSignerSets),
            BRIDGE_SIGNER_SET => Ok(Route::BridgeSignerSet(u64::from_be_bytes(
                data.try_into().map_err(|_| RouteError::BadData {
                    path: BRIDGE_SIGNER_SET,
                    expected: "a nonce as 8 big-endian bytes",
                    got: data.len(),
                })?,
            ))),
            BRIDGE_REFUND => Ok(Route::BridgeRefund(u64::from_be_bytes(
                data.try_into().map_err(|_| RouteError::BadData {
                    path: BRIDGE_REFUND,
                    expected: "an id as 8 big-endian bytes",
                    got: data.len(),
                })?,
            ))),
            RAW => Ok(Route::Raw(data.to_vec())),
            other => Err(RouteError::UnknownPath(other.to_string())),
        }
    }

    /// The one state key the answer is read from, for routes a Merkle proof can cover; `None`
    /// for routes assembled from several keys (`/proposals`, `/bridge/tokens`,
    /// `/bridge/misbehaviour`).
    pub fn state_key(&self) -> Option<Vec<u8>> {
        match self {
            Route::Account(a) => Some(state_key::bank::account(a)),
            Route::Supply(d) => Some(state_key::bank::supply(d)),
            Route::Params => Some(state_key::app::PARAMS.to_vec()),
            Route::Validators => Some(state_key::validators::SET.to_vec()),
            Route::BridgeParams => Some(state_key::bridge::PARAMS.to_vec()),
            Route::BridgeDeposit(nonce) => Some(state_key::bridge::deposit(*nonce)),
            Route::BridgeLastApplied => Some(state_key::bridge::LAST_APPLIED.to_vec()),
            Route::BridgeLastClaimed(a) => Some(state_key::bridge::last_claimed(a)),
            Route::BridgeToken(t) => Some(state_key::bridge::token(t)),
            Route::BridgeWithdrawal(id) => Some(state_key::bridge::withdrawal(*id)),
            Route::BridgeBatch(nonce) => Some(state_key::bridge::batch(*nonce)),
            Route::BridgeL1SignerSet => Some(state_key::bridge::L1_SIGNER_SET.to_vec()),
            Route::BridgeSignerSet(nonce) => Some(state_key::bridge::signer_set(*nonce)),
            Route::BridgeRefund(id) => Some(state_key::bridge::refund(*id)),
            Route::BridgeInFlight(t) => Some(state_key::bridge::in_flight(t)),
            Route::Raw(key) => Some(key.clone()),
            Route::Proposals
            | Route::BridgeTokens
            | Route::BridgeMisbehaviour
            | Route::BridgeBatches
            | Route::BridgeSignerSets => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_survives_path_and_data() {
        let routes = [
            Route::Account(Address([3; 20])),
            Route::Supply(Denom::new("side").unwrap()),
            Route::Params,
            Route::Validators,
            Route::Proposals,
            Route::BridgeParams,
            Route::BridgeDeposit(258),
            Route::BridgeLastApplied,
            Route::BridgeLastClaimed(Address([4; 20])),
            Route::BridgeTokens,
            Route::BridgeToken(EthAddress([5; 20])),
            Route::BridgeMisbehaviour,
            Route::BridgeWithdrawal(7),
            Route::BridgeBatch(9),
            Route::BridgeL1SignerSet,
            Route::BridgeBatches,
            Route::BridgeSignerSet(3),
            Route::BridgeSignerSets,
            Route::BridgeRefund(4),
            Route::BridgeInFlight(EthAddress([6; 20])),
            Route::Raw(b"bank/acct/x".to_vec()),
        ];
        assert_eq!(routes.len(), PATHS.len());
        for r in routes {
            assert_eq!(Route::parse(r.path(), &r.data()).unwrap(), r);
        }
    }

    #[test]
    fn bad_paths_and_data_are_named() {
        let e = Route::parse("/nope", &[]).unwrap_err();
        assert!(e.to_string().contains("/account"), "{e}");
        let e = Route::parse(ACCOUNT, &[1, 2]).unwrap_err();
        assert!(e.to_string().contains("20 address bytes"), "{e}");
        assert!(Route::parse(SUPPLY, b"NOT A DENOM").is_err());
        assert!(Route::parse(SUPPLY, &[0xff]).is_err());
        assert!(Route::parse(PARAMS, &[1]).is_err());
        let e = Route::parse(BRIDGE_DEPOSIT, &[1]).unwrap_err();
        assert!(e.to_string().contains("8 big-endian bytes"), "{e}");
        assert!(Route::parse(BRIDGE_TOKEN, &[1; 32]).is_err());
        assert!(Route::parse(BRIDGE_LAST_CLAIMED, &[]).is_err());
        assert!(Route::parse(BRIDGE_TOKENS, &[1]).is_err());
    }
}
