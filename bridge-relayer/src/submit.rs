//! The relayer's own L1 transactions (`submitBatch`, `updateSignerSet`, `activateSignerSet`),
//! signed and paid for by the bridge key.
//!
//! Every attempt goes through the same guarded path:
//! 1. if the key's account has transactions in the node's pool (`eth_getTransactionCount`
//!    at `pending` above `latest`), nothing is sent: a relayer restarted while its earlier
//!    transaction waits must not pay for the same work twice;
//! 2. the call is simulated with `eth_call` against the `pending` block; a revert is decoded
//!    into the contract's custom error and classified ([`crate::outbound::classify_revert`]),
//!    and nothing is sent;
//! 3. the gas limit is `eth_estimateGas` plus 10% (the contract guards each transfer with a
//!    gas check that the gas *used* does not show, so the limit must come from an estimate; see
//!    contracts/README.md);
//! 4. the transaction is sent and its receipt awaited for a bounded time.

use std::{
    future::IntoFuture,
    time::{Duration, Instant},
};

use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockId,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
};
use bridge_contracts::{protocol::abi, Bridge};
use sidechain_types::EthAddress;

use crate::{
    config::Config,
    outbound::{classify_revert, Revert, TxKind},
    signer::BridgeKey,
    Error, Result,
};

/// How often a sent transaction's receipt is asked for.
const RECEIPT_POLL: Duration = Duration::from_millis(500);
/// Time allowed for one L1 call of the submitter.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Sent and mined: `success` is the receipt's status, `gas_used` its gas.
    Mined {
        hash: B256,
        block: u64,
        gas_used: u64,
        success: bool,
    },
    /// Sent, but no receipt within the wait: later attempts hold off while it is pending.
    NotMined { hash: B256 },
    /// Not sent: the key's account already has a transaction waiting in the pool.
    Busy,
    /// Not sent: the simulation reverted with the contract error `reason`.
    Reverted { reason: &'static str, class: Revert },
}

/// Sends the relayer's L1 transactions from the bridge key's account.
#[derive(Debug, Clone)]
pub struct Submitter {
    provider: DynProvider,
    url: String,
    bridge: Address,
    from: Address,
    receipt_timeout: Duration,
}

impl Submitter {
    /// A wallet provider for `key` (no request yet). Receipts are awaited for
    /// `receipt_timeout`.
    pub fn new(
        config: &Config,
        bridge: EthAddress,
        key: &BridgeKey,
        receipt_timeout: Duration,
    ) -> Result<Self> {
        let provider = bridge_contracts::rpc::signing(&config.l1.rpc, key.signer().clone())
            .map_err(|e| Error::Config {
                path: "relayer.toml".into(),
                field: "l1.rpc".into(),
                reason: e.to_string(),
            })?;
        Ok(Submitter {
            provider,
            url: config.l1.rpc.clone(),
            bridge: Address::from(bridge.0),
            from: key.signer().address(),
            receipt_timeout,
        })
    }

    fn unreachable(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::L1Unreachable {
            url: self.url.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    /// The key's ether balance, in wei.
    pub async fn balance(&self) -> Result<alloy::primitives::U256> {
        timed(self.provider.get_balance(self.from).into_future())
            .await
            .map_err(|e| self.unreachable("eth_getBalance", e))
    }

    /// Whether the key's account has transactions in the pool that are not mined yet.
    pub async fn has_pending(&self) -> Result<bool> {
        let pending = timed(
            self.provider
                .get_transaction_count(self.from)
                .block_id(BlockId::pending())
                .into_future(),
        )
        .await
        .map_err(|e| self.unreachable("eth_getTransactionCount(pending)", e))?;
        let latest = timed(
            self.provider
                .get_transaction_count(self.from)
                .block_id(BlockId::latest())
                .into_future(),
        )
        .await
        .map_err(|e| self.unreachable("eth_getTransactionCount(latest)", e))?;
        Ok(pending > latest)
    }

    /// `submitBatch(current, signatures, batch)`.
    pub async fn submit_batch(
        &self,
        current: abi::SignerSet,
        signatures: Vec<abi::Signature>,
        batch: abi::Batch,
    ) -> Result<Attempt> {
        let contract = Bridge::new(self.bridge, self.provider.clone());
        let call = contract.submitBatch(
            current.into(),
            signatures.into_iter().map(Into::into).collect(),
            batch.into(),
        );
        self.attempt(TxKind::SubmitBatch, call).await
    }

    /// `updateSignerSet(current, next, signatures)`.
    pub async fn update_signer_set(
        &self,
        current: abi::SignerSet,
        next: abi::SignerSet,
        signatures: Vec<abi::Signature>,
    ) -> Result<Attempt> {
        let contract = Bridge::new(self.bridge, self.provider.clone());
        let call = contract.updateSignerSet(
            current.into(),
            next.into(),
            signatures.into_iter().map(Into::into).collect(),
        );
        self.attempt(TxKind::UpdateSignerSet, call).await
    }

    /// `activateSignerSet()`.
    pub async fn activate_signer_set(&self) -> Result<Attempt> {
        let contract = Bridge::new(self.bridge, self.provider.clone());
        let call = contract.activateSignerSet();
        self.attempt(TxKind::ActivateSignerSet, call).await
    }

    async fn attempt<D: CallDecoder>(
        &self,
        kind: TxKind,
        call: CallBuilder<&DynProvider, D>,
    ) -> Result<Attempt> {
        let what = kind.label();
        if self.has_pending().await? {
            return Ok(Attempt::Busy);
        }
        let call = call.from(self.from).block(BlockId::pending());
        match timed(call.call_raw().into_future()).await {
            Ok(_) => {}
            Err(Failed::Call(e)) => match e.as_revert_data() {
                Some(data) => {
                    let (reason, class) = classify_revert(kind, &data);
                    return Ok(Attempt::Reverted { reason, class });
                }
                None => return Err(self.unreachable(&format!("eth_call {what}"), e)),
            },
            Err(Failed::Timeout) => {
                return Err(self.unreachable(&format!("eth_call {what}"), "no answer in time"))
            }
        }
        let estimate = match timed(call.estimate_gas()).await {
            Ok(g) => g,
            Err(Failed::Call(e)) => match e.as_revert_data() {
                Some(data) => {
                    let (reason, class) = classify_revert(kind, &data);
                    return Ok(Attempt::Reverted { reason, class });
                }
                None => return Err(self.unreachable(&format!("eth_estimateGas {what}"), e)),
            },
            Err(Failed::Timeout) => {
                return Err(
                    self.unreachable(&format!("eth_estimateGas {what}"), "no answer in time")
                )
            }
        };
        let limit = estimate.saturating_add(estimate / 10);
        let pending = timed(call.gas(limit).send())
            .await
            .map_err(|e| self.unreachable(&format!("sending {what}"), e))?;
        let hash = *pending.tx_hash();
        tracing::info!(kind = what, tx = %hash, gas_limit = limit, "broadcast L1 transaction; waiting for its receipt");
        let start = Instant::now();
        loop {
            match timed(self.provider.get_transaction_receipt(hash).into_future()).await {
                Ok(Some(r)) => {
                    return Ok(Attempt::Mined {
                        hash,
                        block: r.block_number.unwrap_or_default(),
                        gas_used: r.gas_used,
                        success: r.status(),
                    })
                }
                Ok(None) => {}
                // A node that is briefly unreachable (or still indexing) does not end the wait.
                Err(_) => {}
            }
            if start.elapsed() > self.receipt_timeout {
                return Ok(Attempt::NotMined { hash });
            }
            tokio::time::sleep(RECEIPT_POLL).await;
        }
    }
}

/// Why a bounded call failed.
enum Failed<E> {
    Call(E),
    Timeout,
}

impl<E: std::fmt::Display> std::fmt::Display for Failed<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Call(e) => e.fmt(f),
            Failed::Timeout => write!(f, "no answer within {} s", CALL_TIMEOUT.as_secs()),
        }
    }
}

/// Bounds one call by [`CALL_TIMEOUT`], keeping its own error.
async fn timed<T, E>(
    fut: impl std::future::IntoFuture<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, Failed<E>> {
    match tokio::time::timeout(CALL_TIMEOUT, fut.into_future()).await {
        Ok(r) => r.map_err(Failed::Call),
        Err(_) => Err(Failed::Timeout),
    }
}
