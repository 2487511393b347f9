//! The bank component's wire types: its messages and the account record.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::{address::Address, amount::Amount, denom::Denom};

/// Messages of the bank component. Variants are only ever appended: the borsh tag is the
/// variant's position.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BankMsg {
    /// Move `amount` base units of `denom` from the signer to `to`.
    Transfer {
        to: Address,
        denom: Denom,
        #[serde(with = "crate::amount::dec_str")]
        amount: Amount,
    },
}

/// An account: its next nonce and its balances by denom, in base units (zero balances are not
/// stored, so equal states encode equally).
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    pub nonce: u64,
    pub balances: BTreeMap<Denom, Amount>,
}

impl Account {
    /// The balance of `denom` in base units (0 when the account holds none).
    pub fn balance(&self, denom: &Denom) -> Amount {
        self.balances.get(denom).copied().unwrap_or(0)
    }

    /// Sets the balance of `denom`; a zero balance is removed, so equal states encode equally.
    pub fn set_balance(&mut self, denom: &Denom, amount: Amount) {
        if amount == 0 {
            self.balances.remove(denom);
        } else {
            self.balances.insert(denom.clone(), amount);
        }
    }
}
