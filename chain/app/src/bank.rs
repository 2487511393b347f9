//! Balances: moving funds between accounts with every amount checked.

use sidechain_types::{events::kinds, Account, Address, Code, Denom, Event};

use crate::{
    exec::{fail, Fail, Signer},
    Overlay,
};

/// Moves `amount` of `denom` from `from` to `to`. Fails without writing when `from` lacks the
/// funds or `to`'s balance would overflow.
pub(crate) fn move_funds(
    view: &mut Overlay<'_>,
    from: &Address,
    to: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<(), Fail> {
    let mut sender = view.account(from)?;
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
    let mut recipient = view.account(to)?;
    let new_balance = increased(&recipient, to, denom, amount)?;
    sender.set_balance(denom, left);
    recipient.set_balance(denom, new_balance);
    view.put_account(from, &sender);
    view.put_account(to, &recipient);
    Ok(())
}

/// Adds `amount` of `denom` to `to` (fees into the pool). Fails without writing when the
/// balance would overflow.
pub(crate) fn credit(
    view: &mut Overlay<'_>,
    to: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<(), Fail> {
    let mut account = view.account(to)?;
    let new_balance = increased(&account, to, denom, amount)?;
    account.set_balance(denom, new_balance);
    view.put_account(to, &account);
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
pub(crate) fn transfer(
    view: &mut Overlay<'_>,
    from: &Signer,
    to: &Address,
    denom: &Denom,
    amount: u128,
) -> Result<Vec<Event>, Fail> {
    if amount == 0 {
        return fail(Code::InvalidMessage, "transfer amount must be positive");
    }
    if view.supply(denom)?.is_none() {
        return fail(
            Code::UnknownDenom,
            format!("denom `{denom}` does not exist on this chain"),
        );
    }
    move_funds(view, &from.address, to, denom, amount)?;
    // The sender is the transaction's signer (`tx.signer`), so it is not repeated here.
    Ok(vec![Event::new(kinds::TRANSFER)
        .attr("to", to)
        .attr("amount", format!("{amount}{denom}"))])
}
