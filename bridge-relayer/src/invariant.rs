//! The bridge's conservation invariant per token (DESIGN section 6, property 4): the L1
//! bridge's balance of a token is at least the sidechain's wrapped supply of it plus the
//! withdrawals burned on the sidechain that L1 has not executed yet. Refunds owed, deferred
//! transfers and delayed releases stay locked on L1 and only add to the margin. A violation
//! means tokens were minted without backing: page someone.

use alloy::{primitives::Address, providers::DynProvider};
use serde::Serialize;
use sidechain_client::Client;
use sidechain_types::{EthAddress, WrappedToken};

/// One token's side of the invariant, in the token's base units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenBalance {
    /// The wrapped denom (`l1/eth`, `l1/0x...`).
    pub denom: String,
    /// The L1 token (`0x000…0` for ether).
    pub token: String,
    /// What the L1 bridge holds (decimal; a uint256).
    pub locked: String,
    /// The wrapped supply on the sidechain (decimal).
    pub supply: String,
    /// Withdrawals burned on the sidechain, not executed on L1 (decimal).
    pub in_flight: String,
    /// `locked >= supply + in_flight`.
    pub holds: bool,
}

/// Whether `locked >= supply + in_flight`, in 256 bits (so no sum overflows).
pub fn holds(locked: alloy::primitives::U256, supply: u128, in_flight: u128) -> bool {
    locked >= alloy::primitives::U256::from(supply) + alloy::primitives::U256::from(in_flight)
}

/// The invariant for every wrapped token, read from the sidechain node `client` and the L1
/// node `provider` (the bridge at `bridge`). Reads of the two chains are not atomic: a
/// withdrawal executed between them can only make `locked` look smaller for one sample, and a
/// deposit minted between them can only make `supply` look larger; a caller that sees a
/// violation should sample again before paging.
///
/// Errors: either chain unreachable (the message names which).
pub async fn sample(
    client: &Client,
    provider: &DynProvider,
    bridge: EthAddress,
) -> anyhow::Result<Vec<TokenBalance>> {
    let tokens: Vec<WrappedToken> = client.wrapped_tokens().await?;
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        let supply = client.supply(&t.denom).await?;
        let in_flight = client.in_flight(&t.token).await?;
        let locked = bridge_contracts::user::balance_of(
            provider,
            Address::from(t.token.0),
            Address::from(bridge.0),
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading the bridge's balance of {} on L1: {e}", t.token))?;
        out.push(TokenBalance {
            denom: t.denom.to_string(),
            token: t.token.to_string(),
            locked: locked.to_string(),
            supply: supply.to_string(),
            in_flight: in_flight.to_string(),
            holds: holds(locked, supply, in_flight),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;

    use super::*;

    #[test]
    fn holds_compares_in_256_bits() {
        assert!(holds(U256::from(10u8), 4, 6));
        assert!(!holds(U256::from(9u8), 4, 6));
        assert!(holds(U256::MAX, u128::MAX, u128::MAX));
        assert!(!holds(U256::from(u128::MAX), u128::MAX, 1));
    }
}
