//! HTTP JSON-RPC connections to an L1 node, bounded in time.
//!
//! alloy's `connect_http` builds a reqwest client without a timeout: a node that accepts the
//! connection and never answers (a hung geth, a black-holed proxy) would stall the caller
//! forever. Every provider of this project is built here instead, so each request gives up after
//! [`REQUEST_TIMEOUT`] with an error the caller reports and retries.

use std::time::Duration;

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::{Client, Url},
};

use crate::{Error, Result};

/// How long one JSON-RPC request to the L1 node may take, connection included (seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long opening the TCP connection to the L1 node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses an L1 JSON-RPC URL (`http://host:port` or `https://...`).
///
/// Errors: [`Error::InvalidParam`] (field `rpc_url`) naming the text that is not a URL.
pub fn parse_url(rpc_url: &str) -> Result<Url> {
    rpc_url.parse::<Url>().map_err(|e| Error::InvalidParam {
        field: "rpc_url",
        reason: format!("{rpc_url:?} is not a URL ({e}); give one like http://127.0.0.1:8545"),
    })
}

/// The HTTP client every L1 provider uses: requests time out after [`REQUEST_TIMEOUT`],
/// connecting after [`CONNECT_TIMEOUT`].
///
/// Errors: [`Error::Rpc`] when the TLS backend cannot be initialised.
pub fn http_client() -> Result<Client> {
    http_client_with(REQUEST_TIMEOUT)
}

fn http_client_with(timeout: Duration) -> Result<Client> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| Error::rpc("building the HTTP client for the L1 node", e))
}

/// A read-only provider for the L1 node at `rpc_url` (no request is made yet).
///
/// Errors: [`Error::InvalidParam`] for a malformed URL; [`Error::Rpc`] as [`http_client`].
pub fn reader(rpc_url: &str) -> Result<DynProvider> {
    let url = parse_url(rpc_url)?;
    Ok(ProviderBuilder::new()
        .connect_reqwest(http_client()?, url)
        .erased())
}

/// A provider for the L1 node at `rpc_url` that signs and sends transactions with `key`
/// (nonce, gas and chain id filled by alloy's recommended fillers).
///
/// Errors: as [`reader`].
pub fn signing(rpc_url: &str, key: PrivateKeySigner) -> Result<DynProvider> {
    let url = parse_url(rpc_url)?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_reqwest(http_client()?, url)
        .erased())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_url_is_named() {
        let e = reader("127.0.0.1:8545 x").unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:8545 x"), "{e}");
        assert!(e.contains("http://"), "{e}");
    }

    #[tokio::test]
    async fn a_node_that_never_answers_times_out_instead_of_hanging() {
        // A listener that accepts connections and never writes a byte.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _held = std::thread::spawn(move || {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept() {
                open.push(s);
            }
        });
        let timeout = Duration::from_secs(1);
        let url = parse_url(&format!("http://{addr}")).unwrap();
        let p = ProviderBuilder::new()
            .connect_reqwest(http_client_with(timeout).unwrap(), url)
            .erased();
        let started = std::time::Instant::now();
        let r = tokio::time::timeout(timeout * 20, p.get_block_number()).await;
        let inner = r.expect("the request ends by itself, long before the test's own bound");
        assert!(inner.is_err(), "a silent node gave an answer: {inner:?}");
        assert!(started.elapsed() >= timeout / 2);
    }
}
