//! What a bridge user does on L1: lock an ERC-20 or ether in the `Bridge` for a sidechain
//! recipient. Used by the `sidechain bridge deposit` command, the end-to-end tests and the
//! bridge benchmark.

use alloy::{
    primitives::{Address, FixedBytes, B256, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use serde::Serialize;

use crate::{deploy::send, Bridge, Error, Result, ETH};

alloy::sol! {
    /// The part of ERC-20 a depositor needs.
    #[sol(rpc)]
    interface IERC20 {
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
    }
}

/// A deposit that L1 accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepositReceipt {
    /// The L1 transaction that made the deposit.
    pub l1_tx_hash: B256,
    /// L1 block that holds it.
    pub l1_block: u64,
    /// The bridge's deposit nonce, from the `Deposit` event.
    pub nonce: u64,
    /// What the bridge received, in the token's base units (less than asked for with a
    /// fee-on-transfer token).
    pub amount: U256,
    /// Whether an `approve` was sent first (the allowance was short).
    pub approved: bool,
}

/// Parses a secp256k1 secret key written as hex: 64 digits, `0x` optional, surrounding
/// whitespace ignored (the format of the key files `testnet` writes).
///
/// Errors: [`Error::InvalidParam`] (`key`) when it is not 32 hex bytes or not a valid scalar.
pub fn parse_key(text: &str) -> Result<PrivateKeySigner> {
    let bad = |reason: String| Error::InvalidParam {
        field: "key",
        reason,
    };
    let bytes: [u8; 32] = alloy::hex::decode(text.trim().trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("not a 32-byte hex key".into()))?;
    PrivateKeySigner::from_bytes(&B256::from(bytes))
        .map_err(|e| bad(format!("not a secp256k1 key ({e})")))
}

/// Reads a key file holding a hex secp256k1 key (see [`parse_key`]); errors name the file.
pub fn read_key_file(path: &std::path::Path) -> Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidParam {
        field: "key",
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    parse_key(&text).map_err(|e| Error::InvalidParam {
        field: "key",
        reason: format!("{}: {e}", path.display()),
    })
}

/// The balance of `owner` in `token` (`ETH` for ether), in base units.
pub async fn balance_of(provider: &DynProvider, token: Address, owner: Address) -> Result<U256> {
    if token == ETH {
        return provider
            .get_balance(owner)
            .await
            .map_err(|e| Error::rpc("reading the ether balance", e));
    }
    IERC20::new(token, provider)
        .balanceOf(owner)
        .call()
        .await
        .map_err(|e| Error::rpc(format!("reading the balance in token {token}"), e))
}

/// Locks `amount` base units of `token` (`ETH` for ether) in the bridge at `bridge` for the
/// sidechain account `recipient` (20 bytes), signing with `key`. Approves the bridge first
/// when the allowance is short. Waits for each receipt and checks it succeeded.
///
/// Errors: [`Error::InvalidParam`] for a zero amount or recipient or a token without code;
/// [`Error::TxFailed`] when L1 reverts (token not allowlisted, paused, balance short);
/// [`Error::Rpc`] when the endpoint fails.
pub async fn deposit(
    rpc_url: &str,
    key: PrivateKeySigner,
    bridge: Address,
    token: Address,
    amount: U256,
    recipient: [u8; 20],
) -> Result<DepositReceipt> {
    if amount.is_zero() {
        return Err(Error::InvalidParam {
            field: "amount",
            reason: "must be more than 0".into(),
        });
    }
    if recipient == [0; 20] {
        return Err(Error::InvalidParam {
            field: "recipient",
            reason: "the zero address cannot receive on the sidechain".into(),
        });
    }
    let owner = key.address();
    let provider = crate::rpc::signing(rpc_url, key)?;
    let contract = Bridge::new(bridge, provider.clone());
    let to = FixedBytes::<20>::from(recipient);
    let mut approved = false;
    let receipt = if token == ETH {
        send(
            &provider,
            contract.depositETH(to).value(amount).send().await,
            "depositETH",
        )
        .await?
    } else {
        let code = provider
            .get_code_at(token)
            .await
            .map_err(|e| Error::rpc("reading the token's code", e))?;
        if code.is_empty() {
            return Err(Error::InvalidParam {
                field: "token",
                reason: format!("{token} holds no contract on this chain; give an ERC-20 the bridge allowlists, or `eth`"),
            });
        }
        let erc20 = IERC20::new(token, provider.clone());
        let allowance = erc20
            .allowance(owner, bridge)
            .call()
            .await
            .map_err(|e| Error::rpc("reading the allowance", e))?;
        if allowance < amount {
            send(
                &provider,
                erc20.approve(bridge, amount).send().await,
                "approve",
            )
            .await?;
            approved = true;
        }
        send(
            &provider,
            contract.deposit(token, amount, to).send().await,
            "deposit",
        )
        .await?
    };
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<Bridge::Deposit>().ok())
        .ok_or_else(|| Error::TxFailed {
            action: "deposit".into(),
            reason: "the receipt holds no Deposit event".into(),
        })?;
    let d = &event.inner.data;
    Ok(DepositReceipt {
        l1_tx_hash: receipt.transaction_hash,
        l1_block: receipt.block_number.unwrap_or_default(),
        nonce: u64::try_from(d.nonce).map_err(|_| Error::TxFailed {
            action: "deposit".into(),
            reason: format!("deposit nonce {} exceeds 64 bits", d.nonce),
        })?,
        amount: d.amount,
        approved,
    })
}
