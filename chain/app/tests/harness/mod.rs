//! A chain in memory for behaviour tests: genesis, blocks and CheckTx over a `BTreeMap` state.

#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine;
use ed25519_consensus::SigningKey;
use sidechain_app::{
    block::BlockOutput, check_tx, finalize_block, genesis::init_chain, BlockInfo, CheckKind,
    PendingWrites, TxOutcome, Writes,
};
use sidechain_types::{
    genesis::{Coin, GenesisBridge},
    tx::build_signed,
    Account, Address, Denom, GenesisAccount, GenesisState, GenesisValidator, Msg, Params, SignedTx,
};

pub const CHAIN_ID: &str = "test-chain";

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from([seed; 32])
}

pub fn addr(k: &SigningKey) -> Address {
    Address::from_pubkey(&k.verification_key().to_bytes())
}

pub fn side() -> Denom {
    Denom::new("side").unwrap()
}

pub fn validator_key(i: u8) -> SigningKey {
    SigningKey::from([100 + i; 32])
}

pub fn operator_key(i: u8) -> SigningKey {
    SigningKey::from([200 + i; 32])
}

pub struct Chain {
    pub state: Writes,
    pub height: u64,
    pub mempool: PendingWrites,
    pub genesis: GenesisState,
}

pub fn genesis(validators: u8, accounts: &[(Address, u128)]) -> GenesisState {
    let mut accts: Vec<GenesisAccount> = accounts
        .iter()
        .map(|(a, amt)| GenesisAccount {
            address: *a,
            balances: vec![Coin {
                denom: side(),
                amount: *amt,
            }],
        })
        .collect();
    for i in 0..validators {
        accts.push(GenesisAccount {
            address: addr(&operator_key(i)),
            balances: vec![Coin {
                denom: side(),
                amount: 1_000_000_000,
            }],
        });
    }
    GenesisState {
        native_denom: side(),
        params: Params::default(),
        accounts: accts,
        validators: (0..validators)
            .map(|i| GenesisValidator {
                name: format!("val{i}"),
                pub_key: base64::engine::general_purpose::STANDARD
                    .encode(validator_key(i).verification_key().to_bytes()),
                power: 10,
                operator: addr(&operator_key(i)),
                eth_address: format!("0x{}", hex::encode([i + 1; 20])),
            })
            .collect(),
        denoms: vec![Denom::new("wrapped/eth").unwrap()],
        bridge: GenesisBridge::default(),
    }
}

impl Chain {
    pub fn new(g: GenesisState) -> Self {
        let json = serde_json::to_vec(&g).unwrap();
        let out = init_chain(CHAIN_ID, &json, &[]).unwrap();
        Chain {
            state: out.writes,
            height: 0,
            mempool: PendingWrites::new(),
            genesis: g,
        }
    }

    /// Executes a block and applies its writes.
    pub fn block(&mut self, txs: &[Vec<u8>]) -> BlockOutput {
        self.height += 1;
        let out = finalize_block(&self.state, at(self.height), txs).unwrap();
        for (k, v) in &out.writes {
            match v {
                Some(v) => self.state.insert(k.clone(), Some(v.clone())),
                None => self.state.remove(k),
            };
        }
        self.mempool.clear();
        out
    }

    pub fn check(&mut self, tx: &[u8]) -> TxOutcome {
        check_tx(
            &self.state,
            &mut self.mempool,
            tx,
            at(self.height + 1),
            CheckKind::New,
        )
        .unwrap()
    }

    pub fn account(&self, a: &Address) -> Account {
        self.state
            .get(&sidechain_types::state_key::bank::account(a))
            .cloned()
            .flatten()
            .map(|b| borsh::from_slice(&b).unwrap())
            .unwrap_or_default()
    }

    pub fn balance(&self, a: &Address) -> u128 {
        self.account(a).balance(&side())
    }

    pub fn read<T: borsh::BorshDeserialize>(&self, key: &[u8]) -> Option<T> {
        self.state
            .get(key)
            .cloned()
            .flatten()
            .map(|b| borsh::from_slice(&b).unwrap())
    }
}

/// Block `height`, with a block time that rises with it.
pub fn at(height: u64) -> BlockInfo {
    BlockInfo {
        height,
        time_secs: 1_700_000_000 + height,
    }
}

pub fn transfer_tx(from: &SigningKey, nonce: u64, to: Address, amount: u128) -> SignedTx {
    build_signed(
        from,
        CHAIN_ID,
        nonce,
        1,
        vec![Msg::transfer(to, side(), amount)],
    )
    .unwrap()
}

pub fn total_supply(state: &Writes) -> BTreeMap<String, u128> {
    let mut out = BTreeMap::new();
    for (k, v) in state {
        if k.starts_with(b"bank/acct/") {
            let a: Account = borsh::from_slice(v.as_ref().unwrap()).unwrap();
            for (d, amt) in a.balances {
                *out.entry(d.to_string()).or_insert(0) += amt;
            }
        }
    }
    out
}
