//! The client's one error type, and how an error of CometBFT's RPC becomes one of its variants.
//!
//! Classification reads the structure `tendermint-rpc` gives an error (its `ErrorDetail`
//! variant, the HTTP status, the JSON-RPC code and data), never the rendered message. Each
//! variant then says through [`Error::is_retryable`] whether sending the same request again
//! can succeed.

use std::path::{Path, PathBuf};

use sidechain_types::Code;
use tendermint_rpc::{
    error::ErrorDetail,
    response_error::{Code as RpcCode, ResponseError},
};

/// Everything that can go wrong on the client side, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a key named `{0}` already exists; pick another name or remove the old file")]
    KeyExists(String),
    #[error("no key named `{name}` in {dir}; create one with `sidechain keys add {name}`")]
    NoSuchKey { name: String, dir: PathBuf },
    #[error("`{0}` is not a valid key name: use 1 to 64 letters, digits, '-' or '_'")]
    BadKeyName(String),
    #[error("key file {path} is damaged: {reason}")]
    BadKeyFile { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error(
        "`{url}` is not a usable node RPC URL: {reason}; give one like http://127.0.0.1:26657"
    )]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the node at {url}: {reason}; is it running? (`testnet status` shows the RPC URLs)")]
    Unreachable { url: String, reason: String },
    #[error("the node at {url} cannot serve this right now: {reason}; try again shortly")]
    Unavailable { url: String, reason: String },
    #[error("the node answered with an error: {0}")]
    Rpc(String),
    #[error("query {path} failed with code {code}: {log}")]
    Query {
        path: String,
        code: u32,
        log: String,
    },
    #[error("transaction rejected with code {code} ({name}): {log}")]
    Rejected {
        code: u32,
        name: String,
        log: String,
        hash: String,
    },
    #[error("transaction {hash} was accepted into the mempool but not committed within {secs} s; check it later with `sidechain query tx {hash}`")]
    NotCommitted { hash: String, secs: u64 },
    #[error("chain stayed at height {height} for {secs} s; is it producing blocks?")]
    Stalled { height: u64, secs: u64 },
    #[error("cannot build the transaction: {0}")]
    Build(String),
    #[error("proof verification failed: {0}")]
    Proof(String),
    /// A proven query without a trust anchor, or with an unusable one.
    #[error("no usable trust anchor for a proven query: {0}; give one with `trusted_genesis = \"<path to genesis.json>\"` (or `trust_height` and `trust_hash`) in client.toml, or with --trust-height H --trust-hash HEX")]
    NoTrustAnchor(String),
    #[error("{0}")]
    Decode(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether sending the same request again, unchanged, can succeed.
    ///
    /// The rule: an error is worth retrying when it comes from the moment, not from the
    /// request. That is the node not answering ([`Error::Unreachable`]: refused, reset or
    /// timed out), the node answering that it cannot serve now ([`Error::Unavailable`]: HTTP
    /// 5xx, 408 or 429, CometBFT's mempool full or rechecking, a height not reached yet, the
    /// application connection down), a CheckTx rejection with the `mempool_full` code, a
    /// transaction accepted but not committed yet ([`Error::NotCommitted`]) and a chain that
    /// has not produced the awaited block yet ([`Error::Stalled`]).
    ///
    /// Everything else is permanent until someone changes the request, the configuration or
    /// the chain: a CheckTx rejection with any other code, a failed query, an answer or a proof
    /// that does not verify or decode, a bad URL, key file or configuration, and any node error
    /// not known to be temporary.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable { .. }
            | Error::Unavailable { .. }
            | Error::NotCommitted { .. }
            | Error::Stalled { .. } => true,
            Error::Rejected { code, .. } => *code == Code::MempoolFull.value(),
            Error::Io { .. }
            | Error::KeyExists(_)
            | Error::NoSuchKey { .. }
            | Error::BadKeyName(_)
            | Error::BadKeyFile { .. }
            | Error::Config { .. }
            | Error::BadUrl { .. }
            | Error::Rpc(_)
            | Error::Query { .. }
            | Error::Build(_)
            | Error::Proof(_)
            | Error::NoTrustAnchor(_)
            | Error::Decode(_) => false,
        }
    }

    /// The client error for a failed call to the node at `url`.
    pub fn from_rpc(url: &str, e: &tendermint_rpc::Error) -> Self {
        let unreachable = || Error::Unreachable {
            url: url.to_string(),
            reason: reason(e),
        };
        match e.detail() {
            // tendermint-rpc 0.40 keeps only the text of the transport's error (reqwest's, or
            // the socket's), not its value, so there is no `io::ErrorKind` to read. Both
            // variants mean that no HTTP answer came back: refused, reset, unresolvable or
            // timed out (the client's timeout covers connect to last byte).
            ErrorDetail::Http(_) | ErrorDetail::Io(_) | ErrorDetail::Timeout(_) => unreachable(),
            ErrorDetail::HttpRequestFailed(d) => {
                let status = d.status.as_u16();
                let reason = format!("HTTP status {}", d.status);
                if status >= 500 || status == 408 || status == 429 {
                    Error::Unavailable {
                        url: url.to_string(),
                        reason,
                    }
                } else {
                    Error::Rpc(format!(
                        "{url} answered {reason}; is it a CometBFT RPC URL?"
                    ))
                }
            }
            ErrorDetail::Response(d) => from_response(url, &d.source),
            ErrorDetail::InvalidUrl(_)
            | ErrorDetail::ParseUrl(_)
            | ErrorDetail::UnsupportedScheme(_)
            | ErrorDetail::InvalidNetworkAddress(_)
            | ErrorDetail::InvalidProxy(_) => Error::BadUrl {
                url: url.to_string(),
                reason: reason(e),
            },
            ErrorDetail::Serde(_)
            | ErrorDetail::Parse(_)
            | ErrorDetail::MalformedJson(_)
            | ErrorDetail::UnsupportedRpcVersion(_) => Error::Decode(format!(
                "the answer of {url} is not a CometBFT v0.38 RPC answer: {}",
                reason(e)
            )),
            _ => Error::Rpc(reason(e)),
        }
    }
}

/// What the node's JSON-RPC error says. CometBFT v0.38 reports every failure of a method
/// (including a full mempool and an unknown transaction) as -32603 "Internal error" with the Go
/// error text in `data`, so for those codes the data's documented prefixes are what classify.
fn from_response(url: &str, r: &ResponseError) -> Error {
    let data = r.data().unwrap_or_default();
    let reason = if data.is_empty() {
        r.message().to_string()
    } else {
        first_line(data)
    };
    let temporary = match r.code() {
        RpcCode::InternalError | RpcCode::ServerError => TEMPORARY.iter().any(|t| t.matches(data)),
        _ => false,
    };
    if temporary {
        Error::Unavailable {
            url: url.to_string(),
            reason,
        }
    } else {
        Error::Rpc(format!("{reason} (JSON-RPC code {})", r.code().value()))
    }
}

/// A CometBFT error that passes: its data starts with `prefix` and holds `part` (empty: any).
struct Temporary {
    prefix: &'static str,
    part: &'static str,
}

impl Temporary {
    fn matches(&self, data: &str) -> bool {
        data.starts_with(self.prefix) && data.contains(self.part)
    }
}

/// CometBFT v0.38's errors (in `mempool/errors.go` and `rpc/core`) that a later attempt can
/// get past.
const TEMPORARY: [Temporary; 5] = [
    // ErrMempoolIsFull
    Temporary {
        prefix: "mempool is full",
        part: "",
    },
    // ErrRecheckFull
    Temporary {
        prefix: "mempool is still rechecking",
        part: "",
    },
    // ErrAppConnMempool: the application's connection failed (sidechaind restarting).
    Temporary {
        prefix: "appConn mempool",
        part: "",
    },
    // A height above the latest block (`height H must be less than or equal to the current
    // blockchain height L`).
    Temporary {
        prefix: "height ",
        part: "must be less than or equal to the current blockchain height",
    },
    // broadcast_tx_sync gave up waiting for CheckTx.
    Temporary {
        prefix: "broadcast confirmation not received",
        part: "",
    },
];

/// Whether `e` is CometBFT's answer to `/tx` for a hash it has not indexed: JSON-RPC "Internal
/// error" with the data `tx (HASH) not found` for the very hash asked about.
pub(crate) fn is_tx_not_found(e: &tendermint_rpc::Error, hash: &tendermint::Hash) -> bool {
    match e.detail() {
        ErrorDetail::Response(d) => {
            d.source.code() == RpcCode::InternalError
                && d.source.data() == Some(format!("tx ({hash}) not found").as_str())
        }
        _ => false,
    }
}

/// Whether `e` is CometBFT's refusal of a transaction that its mempool cache already holds:
/// the same bytes were sent before and are pending or committed.
pub(crate) fn is_tx_in_cache(e: &tendermint_rpc::Error) -> bool {
    match e.detail() {
        ErrorDetail::Response(d) => {
            d.source.code() == RpcCode::InternalError
                && d.source.data() == Some("tx already exists in cache")
        }
        _ => false,
    }
}

/// The most telling text of `e` for a person: the innermost message of its trace (for a
/// transport failure, the HTTP library's own words, such as a refused connection), or its
/// detail when the trace holds nothing more.
pub(crate) fn reason(e: &tendermint_rpc::Error) -> String {
    let mut innermost = None;
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        innermost = Some(cause.to_string());
        next = cause.source();
    }
    first_line(&innermost.unwrap_or_else(|| e.detail().to_string()))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:26657";

    fn response(code: RpcCode, data: &str) -> tendermint_rpc::Error {
        tendermint_rpc::Error::response(ResponseError::new(code, Some(data.to_string())))
    }

    fn every_variant() -> Vec<(Error, bool)> {
        let s = String::new;
        vec![
            (Error::io(Path::new("k"), std::io::Error::other("x")), false),
            (Error::KeyExists(s()), false),
            (
                Error::NoSuchKey {
                    name: s(),
                    dir: PathBuf::new(),
                },
                false,
            ),
            (Error::BadKeyName(s()), false),
            (
                Error::BadKeyFile {
                    path: PathBuf::new(),
                    reason: s(),
                },
                false,
            ),
            (
                Error::Config {
                    path: PathBuf::new(),
                    reason: s(),
                },
                false,
            ),
            (
                Error::BadUrl {
                    url: s(),
                    reason: s(),
                },
                false,
            ),
            (
                Error::Unreachable {
                    url: s(),
                    reason: s(),
                },
                true,
            ),
            (
                Error::Unavailable {
                    url: s(),
                    reason: s(),
                },
                true,
            ),
            (Error::Rpc(s()), false),
            (
                Error::Query {
                    path: s(),
                    code: 1,
                    log: s(),
                },
                false,
            ),
            (
                Error::Rejected {
                    code: Code::MempoolFull.value(),
                    name: s(),
                    log: s(),
                    hash: s(),
                },
                true,
            ),
            (
                Error::Rejected {
                    code: Code::BadNonce.value(),
                    name: s(),
                    log: s(),
                    hash: s(),
                },
                false,
            ),
            (
                Error::Rejected {
                    code: 9999,
                    name: s(),
                    log: s(),
                    hash: s(),
                },
                false,
            ),
            (Error::NotCommitted { hash: s(), secs: 1 }, true),
            (Error::Stalled { height: 1, secs: 1 }, true),
            (Error::Build(s()), false),
            (Error::Proof(s()), false),
            (Error::NoTrustAnchor(s()), false),
            (Error::Decode(s()), false),
        ]
    }

    #[test]
    fn every_variant_says_whether_a_retry_can_help() {
        for (e, retryable) in every_variant() {
            assert_eq!(e.is_retryable(), retryable, "{e:?}");
        }
    }

    #[test]
    fn a_full_or_rechecking_mempool_and_a_future_height_are_temporary() {
        for data in [
            "mempool is full: number of txs 5000 (max: 5000), total txs bytes 1 (max: 2)",
            "mempool is still rechecking after a new committed block, so it is considered as full",
            "appConn mempool: connection refused",
            "height 90 must be less than or equal to the current blockchain height 80",
        ] {
            let e = Error::from_rpc(URL, &response(RpcCode::InternalError, data));
            assert!(matches!(e, Error::Unavailable { .. }), "{data}: {e:?}");
            assert!(e.is_retryable());
            assert!(e.to_string().contains(data), "{e}");
        }
    }

    #[test]
    fn other_node_errors_are_permanent_and_keep_the_node_text() {
        for (code, data) in [
            (
                RpcCode::InternalError,
                "Tx too large. Max size is 1048576, but got 2000000",
            ),
            (
                RpcCode::InternalError,
                "height 5 is not available, lowest height is 100",
            ),
            (
                RpcCode::InvalidParams,
                "error converting json params to arguments",
            ),
            (RpcCode::MethodNotFound, "unknown_method"),
            // The temporary texts count only as the data's beginning.
            (RpcCode::InternalError, "bad tx: mempool is full"),
            // And only for internal and server errors.
            (RpcCode::InvalidRequest, "mempool is full"),
        ] {
            let e = Error::from_rpc(URL, &response(code, data));
            assert!(matches!(e, Error::Rpc(_)), "{data}: {e:?}");
            assert!(!e.is_retryable());
            assert!(e.to_string().contains(data), "{e}");
            assert!(
                e.to_string()
                    .contains(&format!("JSON-RPC code {}", code.value())),
                "{e}"
            );
        }
    }

    #[test]
    fn url_and_decoding_failures_are_permanent() {
        let e = Error::from_rpc(URL, &tendermint_rpc::Error::invalid_network_address());
        assert!(matches!(e, Error::BadUrl { .. }), "{e:?}");
        assert!(!e.is_retryable());
        let e = Error::from_rpc(URL, &tendermint_rpc::Error::malformed_json());
        assert!(matches!(e, Error::Decode(_)), "{e:?}");
        assert!(!e.is_retryable());
        let e = Error::from_rpc(
            URL,
            &tendermint_rpc::Error::timeout(std::time::Duration::from_secs(1)),
        );
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
        assert!(e.is_retryable());
    }

    #[test]
    fn tx_not_found_is_recognised_only_for_the_hash_asked_about() {
        let hash: tendermint::Hash = "AB".repeat(32).parse().unwrap();
        let other: tendermint::Hash = "CD".repeat(32).parse().unwrap();
        let e = response(RpcCode::InternalError, &format!("tx ({hash}) not found"));
        assert!(is_tx_not_found(&e, &hash));
        assert!(!is_tx_not_found(&e, &other));
        let e = response(RpcCode::InvalidParams, &format!("tx ({hash}) not found"));
        assert!(!is_tx_not_found(&e, &hash));
        assert!(!is_tx_not_found(
            &tendermint_rpc::Error::malformed_json(),
            &hash
        ));
    }

    #[test]
    fn tx_in_cache_is_recognised() {
        assert!(is_tx_in_cache(&response(
            RpcCode::InternalError,
            "tx already exists in cache"
        )));
        assert!(!is_tx_in_cache(&response(
            RpcCode::InternalError,
            "mempool is full: number of txs 1 (max: 1), total txs bytes 1 (max: 1)"
        )));
    }
}
