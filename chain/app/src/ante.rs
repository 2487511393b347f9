//! The checks every transaction passes before its messages run (signer key, signature, chain id, message
//! count, gas, fee, nonce), then the fee and the nonce bump. A failure here costs the sender
//! nothing: no fee is taken and the nonce stays.

use sidechain_types::{events::kinds, Code, Event, SignedTx};

use crate::{
    bank,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    Overlay,
};

/// Runs the checks, then takes the fee (into the block's fees) and bumps the signer's nonce.
/// Returns the `tx` event. `gas` is what the transaction needs (`gas_required`); `sig_ok` the
/// signature verdict.
pub fn ante(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    tx: &SignedTx,
    signer: &Signer,
    gas: u64,
    sig_ok: bool,
) -> Result<Event, Fail> {
    check_static(ctx, tx, gas, sig_ok)?;
    let body = &tx.body;
    let mut account = bank::state::account(view, &signer.address)?;
    if body.nonce != account.nonce {
        return fail(
            Code::BadNonce,
            format!(
                "account {} expects nonce {}, the transaction has {}",
                signer.address, account.nonce, body.nonce
            ),
        );
    }
    account.nonce = match account.nonce.checked_add(1) {
        Some(n) => n,
        None => return fail(Code::BadNonce, "account nonce is exhausted"),
    };
    let mut tx_event = Event::new(kinds::TX)
        .attr("signer", &signer.text)
        .attr("nonce", body.nonce);
    if body.fee.amount > 0 {
        bank::take_fee(view, ctx, &signer.address, &mut account, body.fee.amount)?;
        // The fee as a coin (`<amount><denom>`); the pool is credited at the end of the block.
        tx_event = tx_event.attr("fee", format!("{}{}", body.fee.amount, ctx.native));
    }
    bank::state::put_account(view, &signer.address, &account);
    Ok(tx_event)
}

/// The checks that read no state (signer key, signature, chain id, message count, gas limit,
/// minimum fee), in the order [`ante`] runs them. The mempool runs them alone to decide
/// whether a transaction whose nonce is ahead of its account's could pass once the nonces
/// before it arrive.
pub fn check_static(ctx: &BlockCtx, tx: &SignedTx, gas: u64, sig_ok: bool) -> Result<(), Fail> {
    if sidechain_types::ed25519::is_small_order(&tx.public_key) {
        return fail(
            Code::WeakKey,
            "the signer's public key has small order: signatures by it verify for any message",
        );
    }
    if !sig_ok {
        return fail(
            Code::BadSignature,
            "signature does not match the body and public key",
        );
    }
    let body = &tx.body;
    if body.chain_id != ctx.chain_id {
        return fail(
            Code::WrongChainId,
            format!(
                "transaction is for chain `{}`, this is `{}`",
                body.chain_id, ctx.chain_id
            ),
        );
    }
    let max_msgs = usize::try_from(ctx.params.max_msgs_per_tx).unwrap_or(usize::MAX);
    if body.msgs.is_empty() || body.msgs.len() > max_msgs {
        return fail(
            Code::InvalidMessage,
            format!(
                "a transaction carries 1 to {max_msgs} messages, this one {}",
                body.msgs.len()
            ),
        );
    }
    if body.fee.gas_limit < gas {
        return fail(
            Code::GasLimitTooLow,
            format!(
                "gas limit {} is below the {gas} this transaction needs",
                body.fee.gas_limit
            ),
        );
    }
    let Some(min_fee) = u128::from(body.fee.gas_limit).checked_mul(ctx.params.min_gas_price) else {
        return fail(
            Code::AmountOverflow,
            "gas limit x minimum gas price does not fit in 128 bits",
        );
    };
    if body.fee.amount < min_fee {
        return fail(
            Code::FeeTooLow,
            format!(
                "fee {} {} is below {min_fee} (gas limit {} x minimum gas price {})",
                body.fee.amount, ctx.native, body.fee.gas_limit, ctx.params.min_gas_price
            ),
        );
    }
    Ok(())
}
