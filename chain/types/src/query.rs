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
//! | `/store` | a raw state key | the raw stored bytes |

use crate::{state_key, Address, Denom};

pub const ACCOUNT: &str = "/account";
pub const PARAMS: &str = "/params";
pub const VALIDATORS: &str = "/validators";
pub const PROPOSALS: &str = "/proposals";
pub const SUPPLY: &str = "/supply";
pub const BRIDGE_PARAMS: &str = "/bridge/params";
pub const RAW: &str = "/store";

/// Every path, for error messages and documentation.
pub const PATHS: [&str; 7] = [
    ACCOUNT,
    SUPPLY,
    PARAMS,
    VALIDATORS,
    PROPOSALS,
    BRIDGE_PARAMS,
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
            Route::Raw(_) => RAW,
        }
    }

    /// The ABCI query `data`.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Route::Account(a) => a.as_bytes().to_vec(),
            Route::Supply(d) => d.as_str().as_bytes().to_vec(),
            Route::Raw(key) => key.clone(),
            Route::Params | Route::Validators | Route::Proposals | Route::BridgeParams => {
                Vec::new()
            }
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
        match path {
            ACCOUNT => {
                let bytes: [u8; 20] = data.try_into().map_err(|_| RouteError::BadData {
                    path: ACCOUNT,
                    expected: "20 address bytes",
                    got: data.len(),
                })?;
                Ok(Route::Account(Address(bytes)))
            }
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
            RAW => Ok(Route::Raw(data.to_vec())),
            other => Err(RouteError::UnknownPath(other.to_string())),
        }
    }

    /// The one state key the answer is read from, for routes a Merkle proof can cover; `None`
    /// for routes assembled from several keys (`/proposals`).
    pub fn state_key(&self) -> Option<Vec<u8>> {
        match self {
            Route::Account(a) => Some(state_key::bank::account(a)),
            Route::Supply(d) => Some(state_key::bank::supply(d)),
            Route::Params => Some(state_key::app::PARAMS.to_vec()),
            Route::Validators => Some(state_key::validators::SET.to_vec()),
            Route::BridgeParams => Some(state_key::bridge::PARAMS.to_vec()),
            Route::Raw(key) => Some(key.clone()),
            Route::Proposals => None,
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
    }
}
