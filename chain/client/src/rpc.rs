//! Talking to a node through CometBFT's RPC: status, queries (optionally proven), and
//! sending a transaction then waiting for it to be committed.

use std::time::{Duration, Instant};

use ed25519_consensus::SigningKey;
use serde::Serialize;
use sidechain_types::{
    proof,
    query::{self, Route},
    state::Proposal,
    tx::build_signed,
    Account, Address, BridgeParams, Code, DepositRecord, EthAddress, L1SignerSet, Misbehaviour,
    Msg, OutgoingBatch, Params, Refund, SignedTx, SignerSetUpdate, ValidatorInfo, Withdrawal,
    WrappedToken,
};
use tendermint_rpc::{client::CompatMode, Client as _, HttpClient, HttpClientUrl, Url};

use crate::{
    error::{is_tx_in_cache, is_tx_not_found, reason},
    light::TrustAnchor,
    Error, Result,
};

/// How long one request of a [`Client`] made by [`Client::new`] may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`Client::broadcast_and_wait`] asks whether the transaction is committed.
const POLL: Duration = Duration::from_millis(150);

/// The workspace's one builder of CometBFT RPC clients: HTTP to `url`, speaking the v0.38
/// dialect, each request bounded by `timeout` from connecting to the last byte of the answer.
///
/// Use it directly only for calls [`Client`] does not offer (network info, blocks, raw
/// broadcasts of a load generator); everything else goes through [`Client`].
pub fn http_client(url: &str, timeout: Duration) -> Result<HttpClient> {
    let bad = |reason: String| Error::BadUrl {
        url: url.to_string(),
        reason,
    };
    let parsed: Url = url
        .parse()
        .map_err(|e: tendermint_rpc::Error| bad(reason(&e)))?;
    let address: HttpClientUrl = parsed
        .try_into()
        .map_err(|e: tendermint_rpc::Error| bad(reason(&e)))?;
    HttpClient::builder(address)
        .compat_mode(CompatMode::V0_38)
        .timeout(timeout)
        .build()
        .map_err(|e| {
            Error::Rpc(format!(
                "cannot make an HTTP client for {url}: {}",
                reason(&e)
            ))
        })
}

/// A connection to one node's RPC endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    http: HttpClient,
    /// What proven queries verify headers from; `None` refuses them.
    trust: Option<TrustAnchor>,
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
    /// The events the transaction emitted, in order (attributes that are not UTF-8 are left
    /// out).
    pub events: Vec<TxEvent>,
}

/// One event of a committed transaction: its kind and attributes as the chain emitted them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxEvent {
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

impl TxOutcome {
    /// The value of attribute `key` of the first event of kind `kind`.
    pub fn attribute(&self, kind: &str, key: &str) -> Option<&str> {
        self.events
            .iter()
            .filter(|e| e.kind == kind)
            .flat_map(|e| e.attributes.iter())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A query answer whose proof was checked against the app hash of a committed block, whose
/// header was verified from the client's [`TrustAnchor`].
#[derive(Debug, Clone)]
pub struct Proven<T> {
    pub value: T,
    /// Height of the state the value was read from.
    pub height: u64,
    /// App hash (hex) the proof was checked against: the one in the signed header of block
    /// `height + 1`.
    pub app_hash: String,
    /// What that header was verified against: `genesis` or `height H` ([`TrustAnchor::label`]).
    pub trusted: String,
}

impl<T> Proven<T> {
    /// The same proof facts around another value (a decoding of this one).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Proven<U> {
        Proven {
            value: f(self.value),
            height: self.height,
            app_hash: self.app_hash,
            trusted: self.trusted,
        }
    }
}

impl Client {
    /// A client of the node at `url` whose requests time out after [`DEFAULT_TIMEOUT`].
    pub fn new(url: &str) -> Result<Self> {
        Self::with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// A client of the node at `url` whose requests time out after `timeout`.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<Self> {
        Ok(Client {
            url: url.to_string(),
            http: http_client(url, timeout)?,
            trust: None,
        })
    }

    /// This client, verifying the headers of proven queries from `anchor`. Without one, every
    /// proven query fails with [`Error::NoTrustAnchor`]: the node asked is never its own
    /// witness.
    pub fn trusting(mut self, anchor: TrustAnchor) -> Self {
        self.trust = Some(anchor);
        self
    }

    /// What proven queries verify headers from.
    pub fn trust_anchor(&self) -> Option<&TrustAnchor> {
        self.trust.as_ref()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The underlying RPC client, for calls this type does not wrap.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn rpc_err(&self, e: tendermint_rpc::Error) -> Error {
        Error::from_rpc(&self.url, &e)
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
    pub async fn query_raw(&self, route: &Route) -> Result<Vec<u8>> {
        let path = route.path();
        let r = self
            .http
            .abci_query(Some(path.to_string()), route.data(), None, false)
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
    /// after the queried state, once that header is verified from the client's trust anchor
    /// ([`Client::trusting`], [`Client::verified_header`]). Returns the raw value (`None` when
    /// the key is absent). Only routes read from one state key can be proven.
    pub async fn query_proven_raw(&self, route: &Route) -> Result<Proven<Option<Vec<u8>>>> {
        let path = route.path();
        let anchor = self.trust.as_ref().ok_or_else(|| {
            Error::NoTrustAnchor(format!(
                "{path} would be proven against a header only the node vouches for"
            ))
        })?;
        let expected_key = route.state_key().ok_or_else(|| {
            Error::Proof(format!(
                "{path} is read from several state keys, so no single proof covers it"
            ))
        })?;
        let expected_key = expected_key.as_slice();
        // Prove the latest committed state (height L); its app hash is in the header of
        // block L+1, which the next round of consensus produces within a block time.
        let state_height = self.wait_for_height(1, Duration::from_secs(30)).await?;
        let header_height = state_height.saturating_add(1);
        let r = self
            .http
            .abci_query(
                Some(path.to_string()),
                route.data(),
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
        let header = self.verified_header(anchor, header_height).await?;
        let app_hash: [u8; 32] = header
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
            trusted: anchor.label(),
        })
    }

    /// The account at `address` (a default, empty account when it does not exist yet).
    pub async fn account(&self, address: &Address) -> Result<Account> {
        let bytes = self.query_raw(&Route::Account(*address)).await?;
        decode_account(&bytes)
    }

    /// The account with a verified proof.
    pub async fn account_proven(&self, address: &Address) -> Result<Proven<Account>> {
        let p = self.query_proven_raw(&Route::Account(*address)).await?;
        let value = decode_account(p.value.as_deref().unwrap_or_default())?;
        Ok(p.map(|_| value))
    }

    pub async fn params(&self) -> Result<Params> {
        let bytes = self.query_raw(&Route::Params).await?;
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("params: {e}")))
    }

    pub async fn validators(&self) -> Result<Vec<ValidatorInfo>> {
        let bytes = self.query_raw(&Route::Validators).await?;
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("validators: {e}")))
    }

    pub async fn proposals(&self) -> Result<Vec<Proposal>> {
        let bytes = self.query_raw(&Route::Proposals).await?;
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("proposals: {e}")))
    }

    /// The total supply of `denom`, in base units (0 for a denom nobody holds).
    pub async fn supply(&self, denom: &sidechain_types::Denom) -> Result<u128> {
        let bytes = self.query_raw(&Route::Supply(denom.clone())).await?;
        if bytes.is_empty() {
            return Ok(0);
        }
        borsh::from_slice(&bytes).map_err(|e| Error::Decode(format!("supply of {denom}: {e}")))
    }

    /// The bridge parameters genesis fixed; `None` when the chain runs without a bridge.
    pub async fn bridge_params(&self) -> Result<Option<BridgeParams>> {
        let bytes = self.query_raw(&Route::BridgeParams).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        borsh::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Decode(format!("bridge params: {e}")))
    }

    /// The record of L1 deposit `nonce` (`/bridge/deposit`): its state, the applied claim, or
    /// the tallies while it awaits quorum; `None` when no validator has claimed it yet.
    pub async fn deposit(&self, nonce: u64) -> Result<Option<DepositRecord>> {
        let bytes = self.query_raw(&Route::BridgeDeposit(nonce)).await?;
        decode_optional(&bytes, "deposit record")
    }

    /// [`Client::deposit`] with a verified Merkle proof (a relayer resyncing from state uses
    /// this rather than trusting one node).
    pub async fn deposit_proven(&self, nonce: u64) -> Result<Proven<Option<DepositRecord>>> {
        let p = self.query_proven_raw(&Route::BridgeDeposit(nonce)).await?;
        let value = decode_optional(p.value.as_deref().unwrap_or_default(), "deposit record")?;
        Ok(p.map(|_| value))
    }

    /// The highest L1 deposit nonce the chain has applied (minted or owed back); 0 before the
    /// first (`/bridge/last_applied`). Every nonce up to it is applied.
    pub async fn last_applied_deposit(&self) -> Result<u64> {
        let bytes = self.query_raw(&Route::BridgeLastApplied).await?;
        Ok(decode_optional(&bytes, "last applied deposit")?.unwrap_or(0))
    }

    /// [`Client::last_applied_deposit`] with a verified Merkle proof.
    pub async fn last_applied_deposit_proven(&self) -> Result<Proven<u64>> {
        let p = self.query_proven_raw(&Route::BridgeLastApplied).await?;
        let value = decode_optional(
            p.value.as_deref().unwrap_or_default(),
            "last applied deposit",
        )?;
        Ok(p.map(|_| value.unwrap_or(0)))
    }

    /// The highest deposit nonce the validator with operator account `operator` has claimed
    /// above the last applied one at the time; 0 when it never claimed
    /// (`/bridge/last_claimed`).
    pub async fn last_claimed_deposit(&self, operator: &Address) -> Result<u64> {
        let bytes = self.query_raw(&Route::BridgeLastClaimed(*operator)).await?;
        Ok(decode_optional(&bytes, "last claimed deposit")?.unwrap_or(0))
    }

    /// Every L1 token with a wrapped denom, in order of first mint (`/bridge/tokens`).
    pub async fn wrapped_tokens(&self) -> Result<Vec<WrappedToken>> {
        let bytes = self.query_raw(&Route::BridgeTokens).await?;
        Ok(decode_optional(&bytes, "wrapped tokens")?.unwrap_or_default())
    }

    /// The wrapped denom of L1 token `token`; `None` until a deposit of it was minted
    /// (`/bridge/token`).
    pub async fn wrapped_token(&self, token: &EthAddress) -> Result<Option<WrappedToken>> {
        let bytes = self.query_raw(&Route::BridgeToken(*token)).await?;
        decode_optional(&bytes, "wrapped token")
    }

    /// Every recorded bridge misbehaviour (a validator claiming two contents for one deposit
    /// nonce), oldest first (`/bridge/misbehaviour`).
    pub async fn misbehaviour(&self) -> Result<Vec<Misbehaviour>> {
        let bytes = self.query_raw(&Route::BridgeMisbehaviour).await?;
        Ok(decode_optional(&bytes, "misbehaviour records")?.unwrap_or_default())
    }

    /// Withdrawal `id` with its state (queued, in_batch, released, ...); `None` when no
    /// withdrawal has that id (`/bridge/withdrawal`).
    pub async fn withdrawal(&self, id: u64) -> Result<Option<Withdrawal>> {
        let bytes = self.query_raw(&Route::BridgeWithdrawal(id)).await?;
        decode_optional(&bytes, "withdrawal")
    }

    /// Withdrawal batch `nonce` with the signatures collected, in the signer set's order;
    /// `None` when no batch has that nonce (`/bridge/batch`).
    pub async fn batch(&self, nonce: u64) -> Result<Option<OutgoingBatch>> {
        let bytes = self.query_raw(&Route::BridgeBatch(nonce)).await?;
        decode_optional(&bytes, "withdrawal batch")
    }

    /// Base units of `token`'s wrapped denom burned by withdrawals that L1 has not executed
    /// yet (`/bridge/in_flight`): the conservation invariant is L1 locked >= wrapped supply +
    /// this.
    pub async fn in_flight(&self, token: &EthAddress) -> Result<u128> {
        let bytes = self.query_raw(&Route::BridgeInFlight(*token)).await?;
        Ok(decode_optional(&bytes, "withdrawals in flight")?.unwrap_or(0))
    }

    /// The signer set the L1 contract holds, as the chain records it; `None` when the chain
    /// runs without a bridge (`/bridge/l1_signer_set`).
    pub async fn l1_signer_set(&self) -> Result<Option<L1SignerSet>> {
        let bytes = self.query_raw(&Route::BridgeL1SignerSet).await?;
        decode_optional(&bytes, "L1 signer set")
    }

    /// The outstanding withdrawal batch (if any: the one whose `settled` is `None`) and the
    /// latest settled ones, newest nonce first, at most 20 (`/bridge/batches`).
    pub async fn batches(&self) -> Result<Vec<OutgoingBatch>> {
        let bytes = self.query_raw(&Route::BridgeBatches).await?;
        Ok(decode_optional(&bytes, "withdrawal batches")?.unwrap_or_default())
    }

    /// The batch still waiting for its L1 outcome, if any: at most one is outstanding at a
    /// time (ADR 17). Read from [`Client::batches`].
    pub async fn outstanding_batch(&self) -> Result<Option<OutgoingBatch>> {
        Ok(self
            .batches()
            .await?
            .into_iter()
            .find(|b| b.settled.is_none()))
    }

    /// Signer-set update `nonce` with its signatures, status and attestations; `None` when the
    /// chain made no update with that nonce (`/bridge/signer_set`).
    pub async fn signer_set_update(&self, nonce: u64) -> Result<Option<SignerSetUpdate>> {
        let bytes = self.query_raw(&Route::BridgeSignerSet(nonce)).await?;
        decode_optional(&bytes, "signer-set update")
    }

    /// The latest signer-set updates, newest first, at most 20 (`/bridge/signer_sets`).
    pub async fn signer_set_updates(&self) -> Result<Vec<SignerSetUpdate>> {
        let bytes = self.query_raw(&Route::BridgeSignerSets).await?;
        Ok(decode_optional(&bytes, "signer-set updates")?.unwrap_or_default())
    }

    /// Refund `id` (a deposit the chain could not mint, owed back on L1) with its state;
    /// `None` when no refund has that id (`/bridge/refund`).
    pub async fn refund(&self, id: u64) -> Result<Option<Refund>> {
        let bytes = self.query_raw(&Route::BridgeRefund(id)).await?;
        decode_optional(&bytes, "refund")
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
                return Err(Error::Stalled {
                    height: h,
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends `tx` to the mempool; returns its hash, or the CheckTx rejection.
    ///
    /// A transaction whose bytes the node's mempool cache already holds counts as sent: it was
    /// sent before (by an earlier attempt whose answer was lost, say) and is pending or
    /// committed, which waiting for its hash tells.
    pub async fn broadcast(&self, tx: &SignedTx) -> Result<String> {
        let bytes = tx.encode();
        let hash = tendermint::Hash::Sha256(sidechain_types::sha256(&bytes)).to_string();
        let r = match self.http.broadcast_tx_sync(bytes).await {
            Ok(r) => r,
            Err(e) if is_tx_in_cache(&e) => return Ok(hash),
            Err(e) => return Err(self.rpc_err(e)),
        };
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
                events: r
                    .tx_result
                    .events
                    .iter()
                    .map(|e| TxEvent {
                        kind: e.kind.clone(),
                        attributes: e
                            .attributes
                            .iter()
                            .filter_map(|a| {
                                Some((
                                    a.key_str().ok()?.to_string(),
                                    a.value_str().ok()?.to_string(),
                                ))
                            })
                            .collect(),
                    })
                    .collect(),
            })),
            Err(e) if is_tx_not_found(&e, &h) => Ok(None),
            Err(e) => Err(self.rpc_err(e)),
        }
    }

    /// Broadcasts `tx` and waits (up to `timeout`) until it is committed. The outcome's code
    /// says whether it succeeded in its block.
    ///
    /// Once the mempool has accepted the transaction, a failed look-up that is worth retrying
    /// (the node briefly unreachable) does not end the wait; at the deadline the error is
    /// [`Error::NotCommitted`], which names the hash to check later.
    pub async fn broadcast_and_wait(&self, tx: &SignedTx, timeout: Duration) -> Result<TxOutcome> {
        let hash = self.broadcast(tx).await?;
        self.wait_for_tx(hash, timeout).await
    }

    /// Waits (up to `timeout`) until the transaction `hash`, already accepted into a mempool,
    /// is committed; look-ups that fail in a way worth retrying do not end the wait. At the
    /// deadline the error is [`Error::NotCommitted`], which names the hash to check later.
    pub async fn wait_for_tx(&self, hash: String, timeout: Duration) -> Result<TxOutcome> {
        let start = Instant::now();
        loop {
            match self.tx(&hash).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {}
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e),
            }
            if start.elapsed() > timeout {
                return Err(Error::NotCommitted {
                    hash,
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The one path for sending messages: signs them with `key` for this node's chain (its
    /// chain id and minimum gas price, the account's next nonce unless `options` gives one),
    /// broadcasts the transaction and waits until it is committed.
    ///
    /// A transaction committed with a failing code is returned, not an error: look at
    /// `sent.outcome.code`, or call [`Sent::succeeded`].
    pub async fn sign_and_send(
        &self,
        key: &SigningKey,
        msgs: Vec<Msg>,
        options: &SendOptions,
    ) -> Result<Sent> {
        let signer = Address::from_pubkey(&key.verification_key().to_bytes());
        let chain_id = self.status().await?.chain_id;
        let gas_price = self.params().await?.min_gas_price;
        let nonce = match options.nonce {
            Some(n) => n,
            None => self.account(&signer).await?.nonce,
        };
        let tx = build_signed(key, &chain_id, nonce, gas_price, msgs).ok_or_else(|| {
            Error::Build(format!(
                "the fee overflows 128 bits at gas price {gas_price}"
            ))
        })?;
        let outcome = self.broadcast_and_wait(&tx, options.timeout).await?;
        Ok(Sent {
            signer,
            nonce,
            outcome,
        })
    }
}

/// How [`Client::sign_and_send`] signs and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// Sign with this nonce instead of the account's committed one (to queue several
    /// transactions).
    pub nonce: Option<u64>,
    /// How long to wait for the transaction to be committed.
    pub timeout: Duration,
}

impl SendOptions {
    /// The account's next nonce, waiting up to `timeout`.
    pub fn timeout(timeout: Duration) -> Self {
        SendOptions {
            nonce: None,
            timeout,
        }
    }
}

impl Default for SendOptions {
    fn default() -> Self {
        Self::timeout(Duration::from_secs(30))
    }
}

/// A transaction [`Client::sign_and_send`] got committed.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub signer: Address,
    pub nonce: u64,
    pub outcome: TxOutcome,
}

impl Sent {
    /// Whether the transaction succeeded in its block (code 0).
    pub fn succeeded(&self) -> bool {
        self.outcome.code == Code::Ok.value()
    }
}

fn decode_account(bytes: &[u8]) -> Result<Account> {
    if bytes.is_empty() {
        return Ok(Account::default());
    }
    borsh::from_slice(bytes).map_err(|e| Error::Decode(format!("account: {e}")))
}

/// A borsh value, `None` when the node answered with no bytes (an absent key). `what` names it
/// in the error.
fn decode_optional<T: borsh::BorshDeserialize>(bytes: &[u8], what: &str) -> Result<Option<T>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    borsh::from_slice(bytes)
        .map(Some)
        .map_err(|e| Error::Decode(format!("{what}: {e}")))
}

fn height(h: u64) -> Result<tendermint::block::Height> {
    tendermint::block::Height::try_from(h).map_err(|e| Error::Decode(format!("height {h}: {e}")))
}

fn code_name(code: u32) -> String {
    Code::from_value(code)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| format!("code_{code}"))
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    /// A stand-in for a node: answers every request on a fresh port with `response`, or with
    /// nothing at all when it is `None` (holding the connection open).
    async fn fake_node(response: Option<String>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    read_request(&mut socket).await;
                    match response {
                        Some(r) => {
                            let _ = socket.write_all(r.as_bytes()).await;
                            let _ = socket.shutdown().await;
                            // Until the client closes too, so that no reset cuts the answer.
                            let mut rest = Vec::new();
                            let _ = tokio::time::timeout(
                                Duration::from_secs(5),
                                socket.read_to_end(&mut rest),
                            )
                            .await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        url
    }

    /// Reads one HTTP request: its head, then as many body bytes as its Content-Length says.
    async fn read_request(socket: &mut tokio::net::TcpStream) {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&data).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return;
                }
            }
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn http_answer(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn rpc_error(data: &str) -> String {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": -1,
            "error": { "code": -32603, "message": "Internal error", "data": data },
        });
        http_answer("200 OK", &body.to_string())
    }

    fn signed_tx() -> SignedTx {
        let key = SigningKey::from([7u8; 32]);
        let msg = Msg::transfer(
            Address::from_pubkey(&[1; 32]),
            sidechain_types::Denom::new("side".to_string()).unwrap(),
            1,
        );
        build_signed(&key, "test-chain", 0, 0, vec![msg]).unwrap()
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_worth_retrying() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let e = Client::new(&url).unwrap().status().await.unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("cannot reach the node at"), "{e}");
        assert!(e.to_string().contains("is it running?"), "{e}");
        // The reason is the transport's own account, not just "HTTP error".
        assert!(e.to_string().contains("refused"), "{e}");
    }

    #[tokio::test]
    async fn a_node_silent_past_the_timeout_is_unreachable() {
        let url = fake_node(None).await;
        let client = Client::with_timeout(&url, Duration::from_millis(300)).unwrap();
        let e = client.status().await.unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("timed out"), "{e}");
    }

    #[tokio::test]
    async fn a_server_error_status_is_temporary_and_a_client_error_status_is_not() {
        let url = fake_node(Some(http_answer("503 Service Unavailable", ""))).await;
        let e = Client::new(&url).unwrap().status().await.unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("503"), "{e}");

        let url = fake_node(Some(http_answer("404 Not Found", ""))).await;
        let e = Client::new(&url).unwrap().status().await.unwrap_err();
        assert!(matches!(e, Error::Rpc(_)), "{e:?}");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("404"), "{e}");
    }

    #[tokio::test]
    async fn a_transaction_the_node_has_not_indexed_is_none() {
        let hash = "AB".repeat(32);
        let url = fake_node(Some(rpc_error(&format!("tx ({hash}) not found")))).await;
        let client = Client::new(&url).unwrap();
        assert!(client.tx(&hash).await.unwrap().is_none());
        // Any other failure of the look-up is an error.
        let other = "CD".repeat(32);
        let e = client.tx(&other).await.unwrap_err();
        assert!(matches!(e, Error::Rpc(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_full_mempool_refuses_for_now_and_a_cached_transaction_counts_as_sent() {
        let tx = signed_tx();
        let url = fake_node(Some(rpc_error(
            "mempool is full: number of txs 10 (max: 10), total txs bytes 1 (max: 2)",
        )))
        .await;
        let e = Client::new(&url).unwrap().broadcast(&tx).await.unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("mempool is full"), "{e}");

        let url = fake_node(Some(rpc_error("tx already exists in cache"))).await;
        let hash = Client::new(&url).unwrap().broadcast(&tx).await.unwrap();
        assert_eq!(
            hash,
            hex::encode_upper(sidechain_types::sha256(&tx.encode()))
        );
    }

    #[tokio::test]
    async fn a_check_tx_rejection_keeps_its_code_and_only_mempool_full_is_retryable() {
        let tx = signed_tx();
        for (code, retryable) in [(Code::BadNonce, false), (Code::MempoolFull, true)] {
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": -1,
                "result": {
                    "code": code.value(),
                    "data": "",
                    "log": "refused",
                    "codespace": "",
                    "hash": "AB".repeat(32),
                },
            });
            let url = fake_node(Some(http_answer("200 OK", &body.to_string()))).await;
            let e = Client::new(&url).unwrap().broadcast(&tx).await.unwrap_err();
            match &e {
                Error::Rejected { code: c, name, .. } => {
                    assert_eq!(*c, code.value());
                    assert_eq!(name, code.name());
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(e.is_retryable(), retryable, "{e}");
        }
    }

    #[test]
    fn a_malformed_url_is_bad_configuration() {
        for url in ["not a url", "ftp://127.0.0.1:26657"] {
            let e = Client::new(url).unwrap_err();
            assert!(matches!(e, Error::BadUrl { .. }), "{url}: {e:?}");
            assert!(!e.is_retryable());
            assert!(e.to_string().contains("http://127.0.0.1:26657"), "{e}");
        }
    }
}
