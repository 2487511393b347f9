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

/// The whole answer to `GET path` on 127.0.0.1:`port` (the relayers' and nodes' `/health`
/// and `/metrics`), or `None` when nothing answers within `timeout`.
pub async fn http_get(port: u16, path: &str, timeout: Duration) -> Option<String> {
    sidechain_telemetry::probe::http_get(([127, 0, 0, 1], port).into(), path, timeout).await
}

/// Whether `GET path` on 127.0.0.1:`port` answers 200 within `timeout`.
pub async fn http_ok(port: u16, path: &str, timeout: Duration) -> bool {
    sidechain_telemetry::probe::http_ok(([127, 0, 0, 1], port).into(), path, timeout).await
}
