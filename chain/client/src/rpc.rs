//! Talking to a node through CometBFT's RPC: status, queries (optionally proven), and
//! broadcasting a transaction then waiting for it to be committed.

use std::time::{Duration, Instant};

use serde::Serialize;
use sidechain_types::{
    proof, query, state::Proposal, state_key, Account, Address, Code, Params, SignedTx,
    ValidatorInfo,
};
use tendermint_rpc::{client::CompatMode, Client as _, HttpClient, Url};

use crate::{Error, Result};

/// A connection to one node's RPC endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    http: HttpClient,
}

/// Chain facts from `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub chain_id: String,
    pub moniker: String,
    pub latest_height: u64,
    pub latest_app_hash: String,
    pub catching_up: bool,
    pub voting_power: u64,
}

/// The outcome of a committed transaction.
#[derive(Debug, Clone, Serialize)]
pub struct TxOutcome {
    pub hash: String,
    pub code: u32,
    pub code_name: String,
    pub height: u64,
    pub log: String,
    pub gas_wanted: i64,
    pub gas_used: i64,
}

/// A query answer whose proof was checked against the app hash of a committed block.
#[derive(Debug, Clone)]
pub struct Proven<T> {
    pub value: T,
    /// Height of the state the value was read from.
    pub height: u64,
    /// App hash (hex) the proof was checked against: the one in the signed header of block
    /// `height + 1`.
    pub app_hash: String,
}

impl Client {
    pub fn new(url: &str) -> Result<Self> {
        let parsed: Url = url.parse().map_err(|e| Error::Unreachable {
            url: url.to_string(),
            reason: format!("not a valid URL: {e}"),
        })?;
        let http = HttpClient::builder(parsed.try_into().map_err(|e: tendermint_rpc::Error| {
            Error::Unreachable {
                url: url.to_string(),
                reason: e.to_string(),
            }
        })?)
        .compat_mode(CompatMode::V0_38)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Client {
            url: url.to_string(),
            http,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn rpc_err(&self, e: tendermint_rpc::Error) -> Error {
        let text = e.to_string();
        if text.contains("connect")
            || text.contains("Connection refused")
            || text.contains("timed out")
        {
            Error::Unreachable {
                url: self.url.clone(),
                reason: first_line(&text),
            }
        } else {
            Error::Rpc(first_line(&text))
        }
    }

    pub async fn status(&self) -> Result<NodeStatus> {
        let s = self.http.status().await.map_err(|e| self.rpc_err(e))?;
        Ok(NodeStatus {
            chain_id: s.node_info.network.to_string(),
            moniker: s.node_info.moniker.to_string(),
            latest_height: s.sync_info.latest_block_height.value(),
            latest_app_hash: hex::encode_upper(s.sync_info.latest_app_hash.as_bytes()),
            catching_up: s.sync_info.catching_up,
            voting_power: s.validator_info.power.value(),
        })
    }

    /// Raw ABCI query of the latest state.
    pub async fn query_raw(&self, path: &str, data: Vec<u8>) -> Result<Vec<u8>> {
        let r = self
            .http
            .abci_query(Some(path.to_string()), data, None, false)
            .await
            .map_err(|e| self.rpc_err(e))?;
        if r.code.is_err() {
            return Err(Error::Query {
                path: path.to_string(),
                code: r.code.value(),
                log: r.log,
            });
        }
        Ok(r.value)
    }

    /// ABCI query with a Merkle proof, checked against the app hash in the header of the block
    /// after the queried state. Returns the raw value (`None` when the key is absent).
    pub async fn query_proven_raw(
        &self,
        path: &str,
        data: Vec<u8>,
        expected_key: &[u8],
    ) -> Result<Proven<Option<Vec<u8>>>> {
        // Prove the latest committed state (height L); its app hash is in the header of
        // block L+1, which the next round of consensus produces within a block time.
        let state_height = self.wait_for_height(1, Duration::from_secs(30)).await?;
        let header_height = state_height.saturating_add(1);
        let r = self
            .http
            .abci_query(
                Some(path.to_string()),
                data,
                Some(height(state_height)?),
                true,
            )
            .await
            .map_err(|e| self.rpc_err(e))?;
        if r.code.is_err() {
            return Err(Error::Query {
                path: path.to_string(),
                code: r.code.value(),
                log: r.log,
            });
        }
        if r.key != expected_key {
            return Err(Error::Proof(format!(
                "the node proved key {} instead of the requested {}",
                hex::encode(&r.key),
                hex::encode(expected_key)
            )));
        }
        let ops = r
            .proof
            .ok_or_else(|| Error::Proof("the node returned no proof".into()))?;
        let op = ops
            .ops
            .iter()
            .find(|op| op.field_type == query::PROOF_OP_TYPE)
            .ok_or_else(|| Error::Proof(format!("no proof op of type {}", query::PROOF_OP_TYPE)))?;
        self.wait_for_height(header_height, Duration::from_secs(30))
            .await?;
        let commit = self
            .http
            .commit(height(header_height)?)
            .await
            .map_err(|e| self.rpc_err(e))?;
        let app_hash: [u8; 32] = commit
            .signed_header
            .header
            .app_hash
            .as_bytes()
            .try_into()
            .map_err(|_| Error::Proof("header app hash is not 32 bytes".into()))?;
        let value = if r.value.is_empty() {
            None
        } else {
            Some(r.value)
        };
        proof::verify(&app_hash, expected_key, value.as_deref(), &op.data)
            .map_err(|e| Error::Proof(e.to_string()))?;
        Ok(Proven {
            value,
            height: state_height,
            app_hash: hex::encode_upper(app_hash),
        })
    }

    /// The account at `address` (a default, empty account when it does not exist yet).
    pub async fn account(&self, address: &Address) -> Result<Account> {
        let bytes = self
            .query_raw(query::ACCOUNT, address.as_bytes().to_vec())
            .await?;
        decode_account(&bytes)
    }

    /// The account with a verified proof.
    pub async fn account_proven(&self, address: &Address) -> Result<Proven<Account>> {
        let key = state_key::bank::account(address);
        let p = self
            .query_proven_raw(query::ACCOUNT, address.as_bytes().to_vec(), &key)
            .await?;
        let value = decode_account(p.value.as_deref().unwrap_or_default())?;
        Ok(Proven {
            value,
            height: p.height,
            app_hash: p.app_hash,
        })
    }

    pub async fn params(&self) -> Result<Params> {
        let bytes = self.query_raw(query::PARAMS, Vec::new()).await?;
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("params: {e}")))
    }

    pub async fn validators(&self) -> Result<Vec<ValidatorInfo>> {
        let bytes = self.query_raw(query::VALIDATORS, Vec::new()).await?;
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("validators: {e}")))
    }

    pub async fn proposals(&self) -> Result<Vec<Proposal>> {
        let bytes = self.query_raw(query::PROPOSALS, Vec::new()).await?;
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("proposals: {e}")))
    }

    /// Waits until the chain has at least `min` blocks; returns the latest height.
    pub async fn wait_for_height(&self, min: u64, timeout: Duration) -> Result<u64> {
        let start = Instant::now();
        loop {
            let h = self.status().await?.latest_height;
            if h >= min {
                return Ok(h);
            }
            if start.elapsed() > timeout {
                return Err(Error::Rpc(format!(
                    "chain stayed at height {h} for {} s; is it producing blocks?",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends `tx` to the mempool; returns its hash, or the CheckTx rejection.
    pub async fn broadcast(&self, tx: &SignedTx) -> Result<String> {
        let r = self
            .http
            .broadcast_tx_sync(tx.encode())
            .await
            .map_err(|e| self.rpc_err(e))?;
        let hash = r.hash.to_string();
        if r.code.is_err() {
            let code = r.code.value();
            return Err(Error::Rejected {
                code,
                name: code_name(code),
                log: r.log,
                hash,
            });
        }
        Ok(hash)
    }

    /// Looks up a committed transaction by hash (`None` while it is not committed).
    pub async fn tx(&self, hash: &str) -> Result<Option<TxOutcome>> {
        let h: tendermint::Hash = hash.parse().map_err(|e| {
            Error::Decode(format!(
                "`{hash}` is not a transaction hash (64 hex digits): {e}"
            ))
        })?;
        match self.http.tx(h, false).await {
            Ok(r) => Ok(Some(TxOutcome {
                hash: r.hash.to_string(),
                code: r.tx_result.code.value(),
                code_name: code_name(r.tx_result.code.value()),
                height: r.height.value(),
                log: r.tx_result.log,
                gas_wanted: r.tx_result.gas_wanted,
                gas_used: r.tx_result.gas_used,
            })),
            Err(e) if e.to_string().contains("not found") => Ok(None),
            Err(e) => Err(self.rpc_err(e)),
        }
    }

    /// Broadcasts `tx` and waits (up to `timeout`) until it is committed.
    pub async fn broadcast_and_wait(&self, tx: &SignedTx, timeout: Duration) -> Result<TxOutcome> {
        let hash = self.broadcast(tx).await?;
        let start = Instant::now();
        loop {
            if let Some(outcome) = self.tx(&hash).await? {
                return Ok(outcome);
            }
            if start.elapsed() > timeout {
                return Err(Error::NotCommitted {
                    hash,
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

fn decode_account(bytes: &[u8]) -> Result<Account> {
    if bytes.is_empty() {
        return Ok(Account::default());
    }
    borsh::from_slice(bytes).map_err(|e| Error::Decode(format!("account: {e}")))
}

fn height(h: u64) -> Result<tendermint::block::Height> {
    tendermint::block::Height::try_from(h).map_err(|e| Error::Decode(format!("height {h}: {e}")))
}

fn code_name(code: u32) -> String {
    Code::from_value(code)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| format!("code_{code}"))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}
