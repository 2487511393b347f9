//! The L1 edge: an alloy HTTP provider that checks at start that it talks to the configured
//! chain and contract, finds the highest block final enough to act on, and reads `Deposit`
//! events of the configured contract only, over bounded block ranges. For withdrawals it reads
//! the contract's state at a given (final) block and the logs of one batch or signer-set nonce,
//! and [`Submitter`] sends the relayer's own L1 transactions, paid by the bridge key.

use std::{future::IntoFuture, time::Duration};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log, TransactionReceipt},
    sol_types::SolEvent,
};
use bridge_contracts::Bridge;
use sidechain_types::{
    bridge::{DepositClaim, L1Amount},
    Address as SideAddress, EthAddress,
};

use crate::{
    config::{Config, Finality},
    outbound::{EntryLog, SetEvents},
    Error, Result,
};

/// Time allowed for one L1 call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The chain's heads as the relayer sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heads {
    /// The latest block.
    pub head: u64,
    /// The highest block final enough to act on: `head - confirmations` with depth finality,
    /// the `finalized` block otherwise. `None` before any block qualifies.
    pub safe: Option<u64>,
}

/// A connection to the L1 node, bound to one contract.
#[derive(Debug, Clone)]
pub struct L1 {
    provider: DynProvider,
    url: String,
    bridge: Address,
    finality: Finality,
    confirmations: u64,
}

impl L1 {
    /// Builds the provider (no request is made yet).
    pub fn new(config: &Config, bridge: EthAddress) -> Result<Self> {
        let provider =
            bridge_contracts::rpc::reader(&config.l1.rpc).map_err(|e| Error::Config {
                path: "relayer.toml".into(),
                field: "l1.rpc".into(),
                reason: e.to_string(),
            })?;
        Ok(L1 {
            provider,
            url: config.l1.rpc.clone(),
            bridge: Address::from(bridge.0),
            finality: config.l1.finality,
            confirmations: config.l1.confirmations,
        })
    }

    /// The provider every L1 call of this relayer goes through.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn unreachable(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::L1Unreachable {
            url: self.url.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    fn mismatch(&self, reason: String) -> Error {
        Error::L1Mismatch {
            url: self.url.clone(),
            reason,
        }
    }

    /// Checks that the node reports `chain_id`, that the contract address holds code, and
    /// that the contract's `bridgeId()` is `bridge_id`. A mismatch is permanent
    /// ([`Error::L1Mismatch`]); an unreachable node is worth retrying.
    pub async fn check(&self, chain_id: u64, bridge_id: [u8; 32]) -> Result<()> {
        let got = timed(self.provider.get_chain_id())
            .await
            .map_err(|e| self.unreachable("eth_chainId", e))?;
        if got != chain_id {
            return Err(self.mismatch(format!(
                "it reports chain id {got} but l1.chain_id is {chain_id}; point l1.rpc at the right chain or fix l1.chain_id"
            )));
        }
        let code = timed(self.provider.get_code_at(self.bridge).into_future())
            .await
            .map_err(|e| self.unreachable("eth_getCode", e))?;
        if code.is_empty() {
            return Err(self.mismatch(format!(
                "there is no contract at l1.bridge = {}; give the deployed Bridge's address (`testnet status --json` shows it as l1.bridge)",
                EthAddress(self.bridge.into_array())
            )));
        }
        let contract = Bridge::new(self.bridge, &self.provider);
        let id = timed(contract.bridgeId().call().into_future())
            .await
            .map_err(|e| {
                self.mismatch(format!(
                    "the contract at {} does not answer bridgeId() ({e}); is l1.bridge a Bridge?",
                    EthAddress(self.bridge.into_array())
                ))
            })?;
        if id != B256::from(bridge_id) {
            return Err(self.mismatch(format!(
                "the contract's bridgeId() is {id} but l1.bridge_id is 0x{}; fix l1.bridge_id (the sidechain's genesis bridge.bridge_id)",
                hex::encode(bridge_id)
            )));
        }
        Ok(())
    }

    /// The latest block and the highest one final enough to act on.
    pub async fn heads(&self) -> Result<Heads> {
        let head = timed(self.provider.get_block_number())
            .await
            .map_err(|e| self.unreachable("eth_blockNumber", e))?;
        let safe = match self.finality {
            Finality::Depth => head.checked_sub(self.confirmations),
            Finality::Finalized => timed(
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Finalized)
                    .into_future(),
            )
            .await
            .map_err(|e| self.unreachable("eth_getBlockByNumber(finalized)", e))?
            .map(|b| b.header.number),
        };
        Ok(Heads { head, safe })
    }

    /// The ether balance (wei) of `who`: what the bridge key has to pay gas with.
    pub async fn eth_balance(&self, who: EthAddress) -> Result<alloy::primitives::U256> {
        timed(
            self.provider
                .get_balance(Address::from(who.0))
                .into_future(),
        )
        .await
        .map_err(|e| self.unreachable("eth_getBalance", e))
    }

    /// The contract's deposit nonce (the last deposit made on L1).
    pub async fn deposit_nonce(&self) -> Result<u64> {
        let contract = Bridge::new(self.bridge, &self.provider);
        timed(contract.depositNonce().call().into_future())
            .await
            .map_err(|e| self.unreachable("depositNonce()", e))
    }

    /// The `Deposit` events of the contract in blocks `from..=to`, as claims.
    pub async fn deposits(&self, from: u64, to: u64) -> Result<Vec<DepositClaim>> {
        let filter = Filter::new()
            .address(self.bridge)
            .event_signature(Bridge::Deposit::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = timed(self.provider.get_logs(&filter))
            .await
            .map_err(|e| self.unreachable(&format!("eth_getLogs {from}..={to}"), e))?;
        logs.iter()
            .filter(|log| !log.removed)
            .map(|log| self.decode(log))
            .collect()
    }

    fn decode(&self, log: &Log) -> Result<DepositClaim> {
        if log.address() != self.bridge {
            return Err(Error::Decode(format!(
                "the L1 node returned a log of {} for a filter on {}",
                log.address(),
                self.bridge
            )));
        }
        let missing = |what: &str| Error::Decode(format!("a Deposit log without its {what}"));
        let event = log
            .log_decode::<Bridge::Deposit>()
            .map_err(|e| Error::Decode(format!("a Deposit log that does not decode: {e}")))?;
        let d = &event.inner.data;
        let nonce = u64::try_from(d.nonce)
            .map_err(|_| Error::Decode(format!("deposit nonce {} exceeds 64 bits", d.nonce)))?;
        Ok(DepositClaim {
            nonce,
            token: EthAddress(d.token.into_array()),
            sender: EthAddress(d.sender.into_array()),
            recipient: SideAddress(d.recipient.0),
            amount: L1Amount(d.amount.to_be_bytes::<32>()),
            l1_block: log.block_number.ok_or_else(|| missing("block number"))?,
            l1_tx_hash: log
                .transaction_hash
                .ok_or_else(|| missing("transaction hash"))?
                .0,
            log_index: log.log_index.ok_or_else(|| missing("log index"))?,
        })
    }
}

/// A final `BatchExecuted` of the contract and what its transaction logged for the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub l1_block: u64,
    pub l1_tx_hash: [u8; 32],
    /// The event's `token`, `withdrawals` (count) and `fee`, to check against the batch.
    pub token: EthAddress,
    pub withdrawals: U256,
    pub fee: U256,
    /// Who sent the transaction and was paid the fee.
    pub submitter: EthAddress,
    /// The bridge's `TransferDeferred` and `ReleaseQueued` logs of the transaction before its
    /// `BatchExecuted`, in log order.
    pub entry_logs: Vec<EntryLog>,
}

impl L1 {
    /// Number and timestamp (seconds) of block `number`.
    pub async fn block_time(&self, number: u64) -> Result<u64> {
        let block = timed(
            self.provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .into_future(),
        )
        .await
        .map_err(|e| self.unreachable(&format!("eth_getBlockByNumber({number})"), e))?
        .ok_or_else(|| {
            self.unreachable(&format!("eth_getBlockByNumber({number})"), "no such block")
        })?;
        Ok(block.header.timestamp)
    }

    /// Timestamp (seconds) of the latest block: L1's "now" for delays.
    pub async fn latest_time(&self) -> Result<u64> {
        let block = timed(
            self.provider
                .get_block_by_number(BlockNumberOrTag::Latest)
                .into_future(),
        )
        .await
        .map_err(|e| self.unreachable("eth_getBlockByNumber(latest)", e))?
        .ok_or_else(|| self.unreachable("eth_getBlockByNumber(latest)", "no latest block"))?;
        Ok(block.header.timestamp)
    }

    /// The contract's `lastBatchNonce()` in the state of block `number`.
    pub async fn last_batch_nonce_at(&self, number: u64) -> Result<u64> {
        let contract = Bridge::new(self.bridge, &self.provider);
        timed(
            contract
                .lastBatchNonce()
                .block(BlockId::number(number))
                .call()
                .into_future(),
        )
        .await
        .map_err(|e| self.unreachable(&format!("lastBatchNonce() at block {number}"), e))
    }

    /// The contract's `signerSetNonce()` and whether a delayed set waits
    /// (`pendingSignerSetCheckpoint() != 0`), in the state of block `number`.
    pub async fn signer_set_state_at(&self, number: u64) -> Result<(u64, bool)> {
        let contract = Bridge::new(self.bridge, &self.provider);
        let at = BlockId::number(number);
        let nonce = timed(contract.signerSetNonce().block(at).call().into_future())
            .await
            .map_err(|e| self.unreachable(&format!("signerSetNonce() at block {number}"), e))?;
        let pending = timed(
            contract
                .pendingSignerSetCheckpoint()
                .block(at)
                .call()
                .into_future(),
        )
        .await
        .map_err(|e| {
            self.unreachable(
                &format!("pendingSignerSetCheckpoint() at block {number}"),
                e,
            )
        })?;
        Ok((nonce, pending != B256::ZERO))
    }

    /// The contract's logs with one of `signatures` and first indexed topic `nonce`, from the
    /// newest block range below or at `to` that holds any, reading back in ranges of
    /// `max_range` blocks down to `from`. Empty when none.
    async fn nonce_logs(
        &self,
        signatures: Vec<B256>,
        nonce: u64,
        from: u64,
        to: u64,
        max_range: u64,
    ) -> Result<Vec<Log>> {
        let mut hi = to;
        while hi >= from {
            let lo = hi.saturating_sub(max_range.max(1) - 1).max(from);
            let filter = Filter::new()
                .address(self.bridge)
                .event_signature(signatures.clone())
                .topic1(U256::from(nonce))
                .from_block(lo)
                .to_block(hi);
            let logs = timed(self.provider.get_logs(&filter))
                .await
                .map_err(|e| self.unreachable(&format!("eth_getLogs {lo}..={hi}"), e))?;
            let logs: Vec<Log> = logs
                .into_iter()
                .filter(|l| !l.removed && l.address() == self.bridge)
                .collect();
            if !logs.is_empty() {
                return Ok(logs);
            }
            if lo == from || lo == 0 {
                break;
            }
            hi = lo - 1;
        }
        Ok(Vec::new())
    }

    /// The `BatchExecuted(nonce)` of the contract in blocks `from..=to` (read newest first) and
    /// its transaction's entry logs; `None` when there is none.
    pub async fn execution(
        &self,
        nonce: u64,
        from: u64,
        to: u64,
        max_range: u64,
    ) -> Result<Option<Execution>> {
        let logs = self
            .nonce_logs(
                vec![Bridge::BatchExecuted::SIGNATURE_HASH],
                nonce,
                from,
                to,
                max_range,
            )
            .await?;
        let Some(log) = logs.last() else {
            return Ok(None);
        };
        let missing = |what: &str| Error::Decode(format!("a BatchExecuted log without its {what}"));
        let event = log
            .log_decode::<Bridge::BatchExecuted>()
            .map_err(|e| Error::Decode(format!("a BatchExecuted log that does not decode: {e}")))?;
        let tx = log
            .transaction_hash
            .ok_or_else(|| missing("transaction hash"))?;
        let block = log.block_number.ok_or_else(|| missing("block number"))?;
        let index = log.log_index.ok_or_else(|| missing("log index"))?;
        let receipt = self.receipt(tx).await?.ok_or_else(|| {
            Error::Decode(format!(
                "the L1 node has no receipt for {tx}, which logged BatchExecuted({nonce})"
            ))
        })?;
        let entry_logs = receipt
            .logs()
            .iter()
            .filter(|l| l.address() == self.bridge && l.log_index.is_some_and(|i| i < index))
            .filter_map(entry_log)
            .collect::<Result<Vec<_>>>()?;
        let d = &event.inner.data;
        Ok(Some(Execution {
            l1_block: block,
            l1_tx_hash: tx.0,
            token: EthAddress(d.token.into_array()),
            withdrawals: d.withdrawals,
            fee: d.fee,
            submitter: EthAddress(d.submitter.into_array()),
            entry_logs,
        }))
    }

    /// What the contract logged about signer-set nonce `nonce` in blocks `from..=to` (the
    /// newest range that holds any of its logs).
    pub async fn signer_set_events(
        &self,
        nonce: u64,
        from: u64,
        to: u64,
        max_range: u64,
    ) -> Result<SetEvents> {
        let logs = self
            .nonce_logs(
                vec![
                    Bridge::SignerSetUpdated::SIGNATURE_HASH,
                    Bridge::SignerSetActivated::SIGNATURE_HASH,
                    Bridge::PendingSignerSetCancelled::SIGNATURE_HASH,
                ],
                nonce,
                from,
                to,
                max_range,
            )
            .await?;
        let mut events = SetEvents::default();
        for log in &logs {
            match log.topic0() {
                Some(t) if *t == Bridge::SignerSetUpdated::SIGNATURE_HASH => {
                    let e = log.log_decode::<Bridge::SignerSetUpdated>().map_err(|e| {
                        Error::Decode(format!("a SignerSetUpdated log that does not decode: {e}"))
                    })?;
                    let at = u64::try_from(e.inner.data.activatesAt).map_err(|_| {
                        Error::Decode(format!(
                            "SignerSetUpdated({nonce}) activates at {}, beyond 64 bits",
                            e.inner.data.activatesAt
                        ))
                    })?;
                    events.updated = Some(at);
                }
                Some(t) if *t == Bridge::SignerSetActivated::SIGNATURE_HASH => {
                    events.activated = true;
                }
                Some(t) if *t == Bridge::PendingSignerSetCancelled::SIGNATURE_HASH => {
                    events.cancelled = true;
                }
                _ => {}
            }
        }
        Ok(events)
    }

    /// The receipt of L1 transaction `hash`, `None` while it is not mined.
    pub async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>> {
        timed(self.provider.get_transaction_receipt(hash).into_future())
            .await
            .map_err(|e| self.unreachable(&format!("eth_getTransactionReceipt({hash})"), e))
    }
}

/// A receipt log of the bridge as an [`EntryLog`]; `None` for the bridge's other events.
fn entry_log(log: &Log) -> Option<Result<EntryLog>> {
    let topic = *log.topic0()?;
    if topic == Bridge::TransferDeferred::SIGNATURE_HASH {
        Some(
            log.log_decode::<Bridge::TransferDeferred>()
                .map(|e| EntryLog::Deferred {
                    token: EthAddress(e.inner.data.token.into_array()),
                    recipient: EthAddress(e.inner.data.recipient.into_array()),
                    amount: e.inner.data.amount,
                })
                .map_err(|e| {
                    Error::Decode(format!("a TransferDeferred log that does not decode: {e}"))
                }),
        )
    } else if topic == Bridge::ReleaseQueued::SIGNATURE_HASH {
        Some(
            log.log_decode::<Bridge::ReleaseQueued>()
                .map_err(|e| {
                    Error::Decode(format!("a ReleaseQueued log that does not decode: {e}"))
                })
                .and_then(|e| {
                    let d = &e.inner.data;
                    let id = u64::try_from(d.id).map_err(|_| {
                        Error::Decode(format!("release id {} exceeds 64 bits", d.id))
                    })?;
                    let executable_at = u64::try_from(d.executableAt).map_err(|_| {
                        Error::Decode(format!("release time {} exceeds 64 bits", d.executableAt))
                    })?;
                    Ok(EntryLog::Queued {
                        id,
                        token: EthAddress(d.token.into_array()),
                        recipient: EthAddress(d.recipient.into_array()),
                        amount: d.amount,
                        executable_at,
                    })
                }),
        )
    } else {
        None
    }
}

/// Bounds one L1 call by [`CALL_TIMEOUT`].
async fn timed<T, E: std::fmt::Display>(
    fut: impl std::future::IntoFuture<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, fut.into_future()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CALL_TIMEOUT.as_secs())),
    }
}
