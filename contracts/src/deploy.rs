//! Deploys the bridge (and, for local networks, the test tokens) to any JSON-RPC endpoint and
//! configures the token safeguards. Used by the `bridge-deploy` tool and by the testnet launcher.

use std::time::{Duration, Instant};

use alloy::network::Ethereum;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, PendingTransactionBuilder, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::{Bridge, Error, Result, SignerSet, ETH};

/// Safeguards applied to one token (see `Bridge.setTokenConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLimits {
    /// Length of the sliding window, in seconds (at least 8).
    pub window_seconds: u32,
    /// Most value released per window.
    pub window_cap: u128,
    /// Single releases above this wait out the release delay.
    pub large_release_threshold: u128,
}

impl Default for TokenLimits {
    /// One day, at most 10^24 base units a day, releases above 10^22 delayed.
    fn default() -> Self {
        Self {
            window_seconds: 86_400,
            window_cap: 10u128.pow(24),
            large_release_threshold: 10u128.pow(22),
        }
    }
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployParams {
    /// Distinguishes this bridge from others on the same chain (EIP-712 salt). Non-zero.
    pub bridge_id: B256,
    /// The initial signer set.
    pub signer_set: SignerSet,
    /// Can pause. Must differ from the admin (the deployer, or `admin` once it accepts).
    pub guardian: Address,
    /// If set, admin rights are offered to this address (it must call `acceptAdmin`); otherwise
    /// the deployer stays admin.
    pub admin: Option<Address>,
    /// Delay, in seconds, for signer-set changes that move at least 1/3 of the power.
    pub signer_set_delay: u64,
    /// Delay, in seconds, for single releases above a token's threshold.
    pub release_delay: u64,
    /// Allowlist ether with these limits (None leaves ether disabled).
    pub eth: Option<TokenLimits>,
    /// Also deploy a plain and a fee-on-transfer test token, allowlisted with these limits
    /// (local networks only; needs the crate's `test-tokens` feature, otherwise `deploy_all`
    /// refuses before sending anything).
    pub test_tokens: Option<TokenLimits>,
}

/// Where everything landed; printed as JSON by `bridge-deploy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedAddresses {
    pub chain_id: u64,
    pub bridge: Address,
    /// Block that holds the bridge's creation: relayers start watching events from here.
    pub deploy_block: u64,
    pub deployer: Address,
    pub admin: Address,
    pub guardian: Address,
    pub bridge_id: B256,
    pub signer_set_nonce: u64,
    pub signer_set_checkpoint: B256,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_token: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_on_transfer_token: Option<Address>,
}

/// Deploys the bridge (and the test tokens if asked), configures the tokens and returns the
/// addresses. Every transaction is checked for success.
pub async fn deploy_all(
    rpc_url: &str,
    key: PrivateKeySigner,
    params: &DeployParams,
) -> Result<DeployedAddresses> {
    let deployer = key.address();
    if params.bridge_id == B256::ZERO {
        return Err(Error::InvalidParam {
            field: "bridge_id",
            reason: "must be non-zero".into(),
        });
    }
    if params.guardian == Address::ZERO
        || params.guardian == deployer
        || Some(params.guardian) == params.admin
    {
        return Err(Error::InvalidParam {
            field: "guardian",
            reason: "must be non-zero and differ from the admin (unpausing needs a different role)"
                .into(),
        });
    }
    if params.test_tokens.is_some() && !cfg!(feature = "test-tokens") {
        return Err(Error::InvalidParam {
            field: "test_tokens",
            reason: "this build has no test tokens: build bridge-contracts with the `test-tokens` feature".into(),
        });
    }
    let provider = crate::rpc::signing(rpc_url, key)?;
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| Error::rpc("reading the chain id", e))?;

    let builder = Bridge::deploy_builder(
        provider.clone(),
        deployer,
        params.guardian,
        params.bridge_id,
        params.signer_set.to_abi(),
        params.signer_set_delay,
        params.release_delay,
    );
    let receipt = send(&provider, builder.send().await, "Bridge deployment").await?;
    let bridge_address = created(&receipt, "Bridge deployment")?;
    let deploy_block = receipt.block_number.unwrap_or_default();
    let bridge = Bridge::new(bridge_address, provider.clone());

    if let Some(limits) = params.eth {
        configure_token(&provider, &bridge, ETH, limits).await?;
    }

    let (test_token, fee_on_transfer_token) = match params.test_tokens {
        Some(limits) => {
            let (plain, fot) = deploy_test_tokens(&provider, &bridge, limits).await?;
            (Some(plain), Some(fot))
        }
        None => (None, None),
    };

    if let Some(admin) = params.admin.filter(|a| *a != deployer) {
        send(
            &provider,
            bridge.transferAdmin(admin).send().await,
            "transferAdmin",
        )
        .await?;
    }

    let checkpoint = bridge
        .signerSetCheckpoint()
        .call()
        .await
        .map_err(|e| Error::rpc("reading the checkpoint", e))?;
    Ok(DeployedAddresses {
        chain_id,
        bridge: bridge_address,
        deploy_block,
        deployer,
        admin: params.admin.unwrap_or(deployer),
        guardian: params.guardian,
        bridge_id: params.bridge_id,
        signer_set_nonce: params.signer_set.nonce,
        signer_set_checkpoint: checkpoint,
        test_token,
        fee_on_transfer_token,
    })
}

/// Deploys a plain and a fee-on-transfer (1%) test token and allowlists both with `limits`.
#[cfg(feature = "test-tokens")]
async fn deploy_test_tokens(
    provider: &DynProvider,
    bridge: &Bridge::BridgeInstance<DynProvider>,
    limits: TokenLimits,
) -> Result<(Address, Address)> {
    use crate::{FeeOnTransferToken, TestToken};

    let plain = TestToken::deploy_builder(provider.clone(), "Test Token".into(), "TST".into());
    let plain = created(
        &send(provider, plain.send().await, "TestToken deployment").await?,
        "TestToken deployment",
    )?;
    let fot = FeeOnTransferToken::deploy_builder(
        provider.clone(),
        "Fee Token".into(),
        "FEE".into(),
        alloy::primitives::U256::from(100),
    );
    let fot = created(
        &send(provider, fot.send().await, "FeeOnTransferToken deployment").await?,
        "FeeOnTransferToken deployment",
    )?;
    configure_token(provider, bridge, plain, limits).await?;
    configure_token(provider, bridge, fot, limits).await?;
    Ok((plain, fot))
}

/// Without the `test-tokens` feature there is nothing to deploy; `deploy_all` refuses earlier.
#[cfg(not(feature = "test-tokens"))]
async fn deploy_test_tokens(
    _provider: &DynProvider,
    _bridge: &Bridge::BridgeInstance<DynProvider>,
    _limits: TokenLimits,
) -> Result<(Address, Address)> {
    Err(Error::InvalidParam {
        field: "test_tokens",
        reason: "this build has no test tokens".into(),
    })
}

async fn configure_token(
    provider: &DynProvider,
    bridge: &Bridge::BridgeInstance<DynProvider>,
    token: Address,
    limits: TokenLimits,
) -> Result<()> {
    let pending = bridge
        .setTokenConfig(
            token,
            true,
            limits.window_seconds,
            limits.window_cap,
            limits.large_release_threshold,
        )
        .send()
        .await;
    send(provider, pending, &format!("setTokenConfig({token})")).await?;
    Ok(())
}

/// How long to wait for a receipt before giving up.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
const RECEIPT_POLL: Duration = Duration::from_millis(250);

/// Waits for the receipt of a sent contract call and checks that it succeeded.
pub(crate) async fn send(
    provider: &DynProvider,
    pending: std::result::Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
    action: &str,
) -> Result<TransactionReceipt> {
    let hash = *pending
        .map_err(|e| Error::rpc(format!("sending {action}"), e))?
        .tx_hash();
    wait_receipt(provider, hash, action).await
}

/// Waits for the receipt of transaction `hash` and checks that it succeeded. A node that
/// answers "transaction indexing is in progress" (geth right after start) is asked again.
pub(crate) async fn wait_receipt(
    provider: &DynProvider,
    hash: B256,
    action: &str,
) -> Result<TransactionReceipt> {
    let deadline = Instant::now() + RECEIPT_TIMEOUT;
    let receipt = loop {
        match provider.get_transaction_receipt(hash).await {
            Ok(Some(receipt)) => break receipt,
            Ok(None) => {}
            Err(e) if e.to_string().contains("indexing is in progress") => {}
            Err(e) => return Err(Error::rpc(format!("waiting for {action} ({hash})"), e)),
        }
        if Instant::now() > deadline {
            return Err(Error::TxFailed {
                action: action.into(),
                reason: format!(
                    "no receipt for {hash} after {} s",
                    RECEIPT_TIMEOUT.as_secs()
                ),
            });
        }
        tokio::time::sleep(RECEIPT_POLL).await;
    };
    if !receipt.status() {
        return Err(Error::TxFailed {
            action: action.into(),
            reason: format!("transaction {hash} reverted"),
        });
    }
    Ok(receipt)
}

pub(crate) fn created(receipt: &TransactionReceipt, action: &str) -> Result<Address> {
    receipt.contract_address.ok_or_else(|| Error::TxFailed {
        action: action.into(),
        reason: "the receipt has no contract address".into(),
    })
}

/// Funds `to` from `key` on a local network: sends `ether` wei, and mints `amount` of each
/// test token in `tokens` to it (the test tokens' `mint` is open to anyone). Every
/// transaction is checked for success.
#[cfg(feature = "test-tokens")]
pub async fn fund(
    rpc_url: &str,
    key: PrivateKeySigner,
    to: Address,
    ether: alloy::primitives::U256,
    tokens: &[(Address, alloy::primitives::U256)],
) -> Result<()> {
    use alloy::network::TransactionBuilder;
    let provider = crate::rpc::signing(rpc_url, key)?;
    if ether > alloy::primitives::U256::ZERO {
        let tx = alloy::rpc::types::TransactionRequest::default()
            .with_to(to)
            .with_value(ether);
        let pending = provider
            .send_transaction(tx)
            .await
            .map_err(|e| Error::rpc("sending ether to the faucet", e));
        let hash = *pending?.tx_hash();
        wait_receipt(&provider, hash, "sending ether to the faucet").await?;
    }
    for (token, amount) in tokens {
        let t = crate::TestToken::new(*token, provider.clone());
        send(
            &provider,
            t.mint(to, *amount).send().await,
            &format!("minting test token {token}"),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(guardian: Address, bridge_id: B256) -> DeployParams {
        let set = SignerSet::normalized(0, [(Address::repeat_byte(1), 1)]).expect("set");
        DeployParams {
            bridge_id,
            signer_set: set,
            guardian,
            admin: None,
            signer_set_delay: 0,
            release_delay: 0,
            eth: None,
            test_tokens: None,
        }
    }

    fn run(params: &DeployParams, key: PrivateKeySigner) -> Result<DeployedAddresses> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // Port 1 on loopback: nothing listens, so reaching the network would fail differently.
        runtime.block_on(deploy_all("http://127.0.0.1:1", key, params))
    }

    #[test]
    fn rejects_an_rpc_url_that_does_not_parse() {
        let err = crate::rpc::signing("not a url", PrivateKeySigner::random()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParam {
                    field: "rpc_url",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_zero_bridge_id_and_guardian_equal_to_admin_before_sending_anything() {
        let key = PrivateKeySigner::random();
        let err = run(&params(Address::repeat_byte(9), B256::ZERO), key.clone()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParam {
                    field: "bridge_id",
                    ..
                }
            ),
            "{err}"
        );
        let err = run(&params(key.address(), B256::repeat_byte(1)), key.clone()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParam {
                    field: "guardian",
                    ..
                }
            ),
            "{err}"
        );
        let mut offered = params(Address::repeat_byte(9), B256::repeat_byte(1));
        offered.admin = Some(Address::repeat_byte(9));
        let err = run(&offered, key).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParam {
                    field: "guardian",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn unreachable_endpoint_is_an_rpc_error() {
        let err = run(
            &params(Address::repeat_byte(9), B256::repeat_byte(1)),
            PrivateKeySigner::random(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Rpc { .. }), "{err}");
    }
}
