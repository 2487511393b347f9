//! The bridge's conservation invariant per token (DESIGN section 6, property 4): the L1
//! bridge's balance of a token is at least the sidechain's wrapped supply of it plus the
//! withdrawals burned on the sidechain that L1 has not executed yet. Refunds owed, deferred
//! transfers and delayed releases stay locked on L1 and only add to the margin. A violation
//! means tokens were minted without backing: page someone.

use alloy::{primitives::Address, providers::DynProvider};
use bridge_contracts::Bridge;
use serde::Serialize;
use sidechain_client::Client;
use sidechain_types::{EthAddress, OutgoingBatch, WrappedToken};

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

/// What the outstanding batch `batch` takes out of the chain's in-flight sum of its token once
/// L1 has executed it: its withdrawals' amounts and the fee (refund entries were never in
/// flight: they are paid from the margin a refund owed leaves).
pub fn executed_part(batch: &OutgoingBatch) -> u128 {
    batch
        .withdrawals
        .iter()
        .filter(|e| !e.refund)
        .filter_map(|e| e.amount.to_u128())
        .fold(batch.fee, u128::saturating_add)
}

/// How many times [`sample`] reads again when the chain settled a batch during its reads.
const SAMPLE_TRIES: usize = 3;

/// The invariant for every wrapped token, read from the sidechain node `client` and the L1
/// node `provider` (the bridge at `bridge`).
///
/// The chain counts a withdrawal in flight until more than 2/3 of the validators attest its
/// batch's L1 execution, a few L1 blocks after L1 paid it; in that window the outstanding
/// batch is not in flight any more, whatever the chain's sum says. So when L1's
/// `lastBatchNonce` (read after the balances: an execution between the reads only makes the
/// check stricter) shows the outstanding batch executed, its [`executed_part`] is taken out
/// of its token's in-flight sum. The outstanding batch is read before and after the chain's
/// sums; if the chain settled it in between, the sample is taken again.
///
/// Reads of the two chains are still not atomic: a deposit minted between them can only make
/// `supply` look larger; a caller that sees a violation should sample again before paging.
///
/// Errors: either chain unreachable (the message names which), or the chain settling batches
/// faster than three samples.
pub async fn sample(
    client: &Client,
    provider: &DynProvider,
    bridge: EthAddress,
) -> anyhow::Result<Vec<TokenBalance>> {
    for _ in 0..SAMPLE_TRIES {
        let before = client.outstanding_batch().await?;
        let tokens: Vec<WrappedToken> = client.wrapped_tokens().await?;
        let mut sums = Vec::with_capacity(tokens.len());
        for t in &tokens {
            sums.push((
                client.supply(&t.denom).await?,
                client.in_flight(&t.token).await?,
            ));
        }
        let after = client.outstanding_batch().await?;
        if before.as_ref().map(|b| b.nonce) != after.as_ref().map(|b| b.nonce) {
            continue;
        }
        let mut locks = Vec::with_capacity(tokens.len());
        for t in &tokens {
            locks.push(
                bridge_contracts::user::balance_of(
                    provider,
                    Address::from(t.token.0),
                    Address::from(bridge.0),
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!("reading the bridge's balance of {} on L1: {e}", t.token)
                })?,
            );
        }
        let executed = match &after {
            Some(batch) => {
                let last = Bridge::new(Address::from(bridge.0), provider)
                    .lastBatchNonce()
                    .call()
                    .await
                    .map_err(|e| anyhow::anyhow!("reading lastBatchNonce() on L1: {e}"))?;
                (last >= batch.nonce).then_some(batch)
            }
            None => None,
        };
        let mut out = Vec::with_capacity(tokens.len());
        for ((t, (supply, in_flight)), locked) in tokens.iter().zip(sums).zip(locks) {
            let in_flight = match executed {
                Some(batch) if batch.token == t.token => {
                    in_flight.saturating_sub(executed_part(batch))
                }
                _ => in_flight,
            };
            out.push(TokenBalance {
                denom: t.denom.to_string(),
                token: t.token.to_string(),
                locked: locked.to_string(),
                supply: supply.to_string(),
                in_flight: in_flight.to_string(),
                holds: holds(locked, supply, in_flight),
            });
        }
        return Ok(out);
    }
    Err(anyhow::anyhow!(
        "the sidechain settled a batch during each of {SAMPLE_TRIES} samples; sample again"
    ))
}

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;

    use super::*;

    #[test]
    fn an_executed_batch_leaves_flight_with_its_withdrawals_and_fee_not_its_refunds() {
        use sidechain_types::{bridge::L1Amount, BatchEntry};
        let entry = |id, refund, amount| BatchEntry {
            id,
            refund,
            to: EthAddress([1; 20]),
            amount: L1Amount::from_u128(amount),
        };
        let batch = OutgoingBatch {
            nonce: 1,
            token: EthAddress([2; 20]),
            timeout: 0,
            fee: 7,
            withdrawals: vec![entry(1, false, 100), entry(1, true, 40), entry(2, false, 3)],
            height: 1,
            signer_set_nonce: 0,
            signatures: Vec::new(),
            ready: true,
            ready_height: 1,
            settled: None,
            attestations: Vec::new(),
        };
        assert_eq!(executed_part(&batch), 110);
    }

    #[test]
    fn holds_compares_in_256_bits() {
        assert!(holds(U256::from(10u8), 4, 6));
        assert!(!holds(U256::from(9u8), 4, 6));
        assert!(holds(U256::MAX, u128::MAX, u128::MAX));
        assert!(!holds(U256::from(u128::MAX), u128::MAX, 1));
    }
}
