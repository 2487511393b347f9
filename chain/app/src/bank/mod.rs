//! The bank: balances, supplies, transfers, and the fee pool. Every amount is checked.

pub mod state;

use std::collections::BTreeMap;

use sidechain_types::{
    events::kinds, genesis::CheckedGenesis, query::Route, Account, Address, BankMsg, Code, Denom,
    Event, GenesisState,
};

use crate::{
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    genesis::InitError,
    Overlay, Result, StateRead,
};

pub use sidechain_types::address::FEE_POOL;

/// The bank component.
#[derive(Debug)]
pub struct Bank;

impl Component for Bank {
    type Msg = BankMsg;

    fn check(msg: &BankMsg) -> Result<(), Fail> {
        match msg {
            BankMsg::Transfer { amount, .. } => {
                if *amount == 0 {
                    return fail(Code::InvalidMessage, "transfer amount must be positive");
                }
                Ok(())
            }
        }
    }

    fn deliver(
        view: &mut Overlay<'_>,
        ctx: &BlockCtx,
        signer: &Signer,
        msg: &BankMsg,
    ) -> Result<Vec<Event>, Fail> {
        match msg {
            BankMsg::Transfer { to, denom, amount } => {
                transfer(view, ctx, signer, to, denom, *amount)
            }
        }
    }

    /// Credits the fees the block's transactions paid to the fee pool, once. The fees were
    /// debited from accounts of the same denom, so the pool cannot exceed the total supply; an
    /// overflow means the stored state is corrupt.
    fn end_block(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
        let fees = state::block_fees(view)?;
        if fees == 0 {
            return Ok(Vec::new());
        }
        state::put_block_fees(view, 0);
        credit(view, &Address::module(FEE_POOL), &ctx.native, fees)
            .map_err(|f| f.into_app(format!("fee pool balance in {}", ctx.native)))?;
        Ok(Vec::new())
    }

    /// Accounts with their balances, and the supply of every denom (the native denom and the
    /// listed ones exist even with no balance).
    fn init_genesis(
        view: &mut Overlay<'_>,
        genesis: &GenesisState,
        _checked: &CheckedGenesis,
    ) -> Result<Vec<Event>, InitError> {
        let mut supplies: BTreeMap<Denom, u128> = BTreeMap::new();
        supplies.insert(genesis.native_denom.clone(), 0);
        for d in &genesis.denoms {
            supplies.entry(d.clone()).or_insert(0);
        }
        let mut events = Vec::new();
        for a in &genesis.accounts {
            let mut account = Account::default();
            for c in &a.balances {
                account.balances.insert(c.denom.clone(), c.amount);
                let s = supplies.entry(c.denom.clone()).or_insert(0);
                // validate() proved that supplies fit.
                *s = s.saturating_add(c.amount);
                events.push(
                    Event::new(kinds::GENESIS_ACCOUNT)
                        .attr("address", a.address)
                        .attr("denom", &c.denom)
                        .attr("amount", c.amount),
                );
            }
            state::put_account(view, &a.address, &account);
        }
        for (denom, supply) in &supplies {
            state::put_supply(view, denom, *supply);
        }
        Ok(events)
    }

    fn query(_state: &dyn StateRead, _route: &Route) -> Option<Result<Vec<u8>>> {
        // `/account` and `/supply` are single keys, read (and proven) by the node.
        None
    }
}

/// Takes the fee from `account` (the signer's record, already in hand) and adds it to the
/// block's fees, which [`Bank::end_block`] credits to the pool. Writes nothing on failure.
pub fn take_fee(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Address,
    account: &mut Account,
    fee: u128,
) -> Result<(), Fail> {
    let have = account.balance(&ctx.native);
    let Some(left) = have.checked_sub(fee) else {
        return fail(
            Code::InsufficientFunds,
            format!(
                "account {signer} cannot pay the fee of {fee} {} (holds {have})",
                ctx.native
            ),
        );
    };
    // Fees are bounded by the supply, which fits in 128 bits.
    let Some(fees) = state::block_fees(view)?.checked_add(fee) else {
        return fail(Code::AmountOverflow, "the block's fees exceed 128 bits");
    };
    account.set_balance(&ctx.native, left);
    state::put_block_fees(view, fees);
    Ok(())
}

/// Moves `amount` of `denom` from `from` to `to`. Fails without writing when `from` lacks the
/// funds or `to`'s balance would overflow.
pub fn move_funds(
    view: &mut Overlay<'_>,
    from: &Address,
    to: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<(), Fail> {
    let mut sender = state::account(view, from)?;
    let have = sender.balance(denom);
    let Some(left) = have.checked_sub(amount) else {
        return fail(
            Code::InsufficientFunds,
            format!("account {from} holds {have} {denom}, needs {amount}"),
        );
    };
    if from == to {
        return Ok(());
    }
    let mut recipient = state::account(view, to)?;
    let new_balance = increased(&recipient, to, denom, amount)?;
    sender.set_balance(denom, left);
    recipient.set_balance(denom, new_balance);
    state::put_account(view, from, &sender);
    state::put_account(view, to, &recipient);
    Ok(())
}

/// Adds `amount` of `denom` to `to` (fees into the pool). Fails without writing when the
/// balance would overflow.
pub fn credit(
    view: &mut Overlay<'_>,
    to: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<(), Fail> {
    let mut account = state::account(view, to)?;
    let new_balance = increased(&account, to, denom, amount)?;
    account.set_balance(denom, new_balance);
    state::put_account(view, to, &account);
    Ok(())
}

/// Creates `amount` of `denom` in `to`'s account and adds it to the denom's supply (an unknown
/// denom becomes known, starting from a supply of 0). Fails with `Code::AmountOverflow`,
/// writing nothing, when the supply (and so the balance, which is part of it) would exceed
/// 128 bits. The bridge mints attested deposits through it.
pub fn mint(view: &mut Overlay<'_>, to: &Address, denom: &Denom, amount: u128) -> Result<(), Fail> {
    let supply = state::supply(view, denom)?.unwrap_or(0);
    let Some(new_supply) = supply.checked_add(amount) else {
        return fail(
            Code::AmountOverflow,
            format!("supply of {denom} ({supply}) plus {amount} would exceed 2^128 - 1"),
        );
    };
    let mut account = state::account(view, to)?;
    let new_balance = increased(&account, to, denom, amount)?;
    account.set_balance(denom, new_balance);
    state::put_account(view, to, &account);
    state::put_supply(view, denom, new_supply);
    Ok(())
}

/// Destroys `amount` of `denom` from `from`'s account and the denom's supply (the bridge burns
/// withdrawals through it). Fails with `Code::InsufficientFunds`, writing nothing, when `from`
/// holds less.
pub fn burn(
    view: &mut Overlay<'_>,
    from: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<(), Fail> {
    let mut account = state::account(view, from)?;
    let have = account.balance(denom);
    let Some(left) = have.checked_sub(amount) else {
        return fail(
            Code::InsufficientFunds,
            format!("account {from} holds {have} {denom}, needs {amount}"),
        );
    };
    // The supply includes every balance, so it is at least `have`; checked all the same.
    let supply = state::supply(view, denom)?.unwrap_or(0);
    let Some(new_supply) = supply.checked_sub(amount) else {
        return fail(
            Code::InsufficientFunds,
            format!("supply of {denom} ({supply}) is below {amount}"),
        );
    };
    account.set_balance(denom, left);
    state::put_account(view, from, &account);
    state::put_supply(view, denom, new_supply);
    Ok(())
}

/// `owner`'s balance of `denom` in `account` plus `amount`, or the overflow failure.
fn increased(
    account: &Account,
    owner: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<u128, Fail> {
    match account.balance(denom).checked_add(amount) {
        Some(balance) => Ok(balance),
        None => fail(
            Code::AmountOverflow,
            format!("balance of {owner} in {denom} would exceed 128 bits"),
        ),
    }
}

/// The transfer message.
fn transfer(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    from: &Signer,
    to: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<Vec<Event>, Fail> {
    if state::supply(view, denom)?.is_none() {
        return fail(
            Code::UnknownDenom,
            format!("denom `{denom}` does not exist on this chain"),
        );
    }
    match move_funds(view, &from.address, to, denom, amount) {
        Err(Fail::Tx(Code::InsufficientFunds, _)) => {
            // Report what the account held before this transaction's fee, and the fee apart
            // (read again only on this failure path).
            let have = state::account(view, &from.address)?.balance(denom);
            let fee = if *denom == ctx.native { from.fee } else { 0 };
            let held = have.saturating_add(fee);
            let detail = if fee > 0 {
                format!("; this transaction's fee of {fee} {denom} leaves {have}")
            } else {
                String::new()
            };
            return fail(
                Code::InsufficientFunds,
                format!(
                    "account {} holds {held} {denom}, the transfer needs {amount}{detail}",
                    from.address
                ),
            );
        }
        other => other?,
    }
    // The sender is the transaction's signer (`tx.signer`), so it is not repeated here.
    Ok(vec![Event::new(kinds::TRANSFER)
        .attr("to", to)
        .attr("amount", format!("{amount}{denom}"))])
}
