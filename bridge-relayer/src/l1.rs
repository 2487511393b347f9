//! The L1 edge: an alloy HTTP provider that checks at start that it talks to the configured
//! chain and contract, finds the highest block final enough to act on, and reads `Deposit`
//! events of the configured contract only, over bounded block ranges.

use std::{future::IntoFuture, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
    transports::http::reqwest::Url,
};
use bridge_contracts::Bridge;
use sidechain_types::{
    bridge::{DepositClaim, L1Amount},
    Address as SideAddress, EthAddress,
};

use crate::{
    config::{Config, Finality},
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
        let url = config.l1.rpc.parse::<Url>().map_err(|e| Error::Config {
            path: "relayer.toml".into(),
            field: "l1.rpc".into(),
            reason: format!("{e}"),
        })?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        Ok(L1 {
            provider,
            url: config.l1.rpc.clone(),
            bridge: Address::from(bridge.0),
            finality: config.l1.finality,
            confirmations: config.l1.confirmations,
        })
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

/// Bounds one L1 call by [`CALL_TIMEOUT`].
async fn timed<T, E: std::fmt::Display>(
    fut: impl std::future::IntoFuture<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, fut.into_future()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CALL_TIMEOUT.as_secs())),
    }
}
