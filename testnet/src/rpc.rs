//! Short-timeout reads of CometBFT's RPC for status displays: a paused or dead node must cost
//! the caller seconds, not minutes.

use std::time::Duration;

use tendermint_rpc::{Client, HttpClient, Paging};

/// What one node reports about itself.
#[derive(Debug, Clone)]
pub struct Observed {
    pub height: u64,
    pub app_hash: String,
    pub catching_up: bool,
    pub voting_power: u64,
    pub peers: u64,
}

fn client(url: &str, timeout: Duration) -> Option<HttpClient> {
    sidechain_client::http_client(url, timeout).ok()
}

/// Height, app hash, own power and peer count of the node at `url`; `None` when it does not
/// answer within `timeout`.
pub async fn observe(url: &str, timeout: Duration) -> Option<Observed> {
    let c = client(url, timeout)?;
    let status = c.status().await.ok()?;
    let peers = c.net_info().await.map(|n| n.n_peers).unwrap_or(0);
    Some(Observed {
        height: status.sync_info.latest_block_height.value(),
        app_hash: hex::encode_upper(status.sync_info.latest_app_hash.as_bytes()),
        catching_up: status.sync_info.catching_up,
        voting_power: status.validator_info.power.value(),
        peers,
    })
}

/// CometBFT's current validator set as (upper-case hex address, power).
pub async fn validator_set(url: &str, timeout: Duration) -> Option<Vec<(String, u64)>> {
    let c = client(url, timeout)?;
    let latest = c.status().await.ok()?.sync_info.latest_block_height;
    let set = c.validators(latest, Paging::All).await.ok()?;
    Some(
        set.validators
            .iter()
            .map(|v| (v.address.to_string().to_uppercase(), v.power.value()))
            .collect(),
    )
}

/// The whole answer (status line, headers, body) to `GET path` on 127.0.0.1:`port` over
/// HTTP/1.0, or `None` when nothing answers within `timeout` (the relayers' and nodes'
/// `/health` and `/metrics`).
pub async fn http_get(port: u16, path: &str, timeout: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(timeout, ask).await.ok().flatten()
}

/// Whether `GET path` on 127.0.0.1:`port` answers 200 within `timeout`.
pub async fn http_ok(port: u16, path: &str, timeout: Duration) -> bool {
    http_get(port, path, timeout)
        .await
        .and_then(|answer| answer.lines().next().map(|l| l.contains(" 200 ")))
        .unwrap_or(false)
}
