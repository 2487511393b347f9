//! Bridge helpers shared by the end-to-end bridge tests: the local L1 as `testnet status`
//! describes it, the relayers' bridge keys, relayer metrics, and the conservation invariant.

use std::{
    future::IntoFuture,
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use serde_json::Value;

use super::Net;

/// How long one L1 or sidechain call of a test may take before the test fails naming it
/// (instead of hanging the whole run).
pub const CALL_DEADLINE: Duration = Duration::from_secs(120);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The local L1 of a network with a bridge.
pub struct L1 {
    pub provider: DynProvider,
    pub rpc: String,
    pub bridge: Address,
    pub tokens: Vec<(String, Address)>,
    pub key_file: PathBuf,
    /// The network's home (for the guardian key).
    pub home: PathBuf,
    /// The one runtime every call on `provider` runs on: a reqwest client's pooled
    /// connections belong to the runtime that opened them, so a provider must never be driven
    /// from a second runtime (a request on a connection whose runtime is gone can hang).
    rt: tokio::runtime::Runtime,
}

impl L1 {
    pub fn of(net: &Net) -> L1 {
        let l1 = &net.status["l1"];
        assert!(l1.is_object(), "status has no l1 object: {}", net.status);
        let rpc = l1["rpc"].as_str().expect("rpc").to_string();
        let tokens = l1["tokens"]
            .as_object()
            .expect("tokens")
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().expect("address").parse().expect("token"),
                )
            })
            .collect();
        L1 {
            provider: bridge_contracts::rpc::reader(&rpc).expect("L1 provider"),
            bridge: l1["bridge"]
                .as_str()
                .expect("bridge")
                .parse()
                .expect("bridge"),
            key_file: PathBuf::from(l1["faucet_key_file"].as_str().expect("key file")),
            tokens,
            rpc,
            home: PathBuf::from(net.home_str()),
            rt: runtime(),
        }
    }

    /// Runs `f` on this handle's runtime; panics naming the deadline when it takes longer
    /// than [`CALL_DEADLINE`].
    #[track_caller]
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt
            .block_on(async { tokio::time::timeout(CALL_DEADLINE, f).await })
            .unwrap_or_else(|_| {
                panic!(
                    "an L1 or sidechain call took longer than {} s",
                    CALL_DEADLINE.as_secs()
                )
            })
    }

    pub fn token(&self, symbol: &str) -> Address {
        self.tokens
            .iter()
            .find(|(s, _)| s == symbol)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no test token {symbol}"))
    }

    /// `owner`'s balance of `token` (`Address::ZERO` for ether).
    pub fn balance(&self, token: Address, owner: Address) -> U256 {
        self.block_on(bridge_contracts::user::balance_of(
            &self.provider,
            token,
            owner,
        ))
        .expect("L1 balance")
    }

    /// What the bridge holds of `token`.
    pub fn locked(&self, token: Address) -> U256 {
        self.balance(token, self.bridge)
    }

    /// Transactions `who` has sent (its nonce).
    pub fn tx_count(&self, who: Address) -> u64 {
        self.block_on(async { self.provider.get_transaction_count(who).await })
            .expect("eth_getTransactionCount")
    }

    /// The contract's deposit nonce (the last deposit made on L1).
    pub fn deposit_nonce(&self) -> u64 {
        self.block_on(self.contract().depositNonce().call().into_future())
            .expect("depositNonce")
    }

    pub fn head(&self) -> u64 {
        self.block_on(async { self.provider.get_block_number().await })
            .expect("head")
    }

    pub fn contract(&self) -> bridge_contracts::Bridge::BridgeInstance<&DynProvider> {
        bridge_contracts::Bridge::new(self.bridge, &self.provider)
    }

    /// A provider that signs with `key`.
    pub fn signing(&self, key: PrivateKeySigner) -> DynProvider {
        bridge_contracts::rpc::signing(&self.rpc, key).expect("L1 provider")
    }

    /// The funded L1 test key.
    pub fn faucet(&self) -> PrivateKeySigner {
        bridge_contracts::user::read_key_file(&self.key_file).expect("faucet key")
    }

    /// The bridge's guardian (can pause), funded with 1 ETH for gas from the faucet.
    pub fn guardian(&self) -> PrivateKeySigner {
        let key = bridge_contracts::user::read_key_file(&self.home.join("l1/guardian.key"))
            .expect("guardian key");
        self.fund(key.address(), U256::from(10u128.pow(18)));
        key
    }

    /// The bridge's admin (the geth dev key that deployed it; can unpause, set delays).
    pub fn admin(&self) -> PrivateKeySigner {
        bridge_contracts::user::parse_key(testnet::l1::GETH_DEV_KEY).expect("dev key")
    }

    /// A fresh L1 account that holds one base unit of test token `symbol` (minted to it), so
    /// that a batch can pay it within the contract's transfer gas: on this geth's dev chain
    /// (fork `Bogota`) a token transfer that creates the receiver's balance slot costs about
    /// 124,000 gas, above the contract's `TRANSFER_GAS` of 100,000, and is deferred.
    pub fn token_holder(&self, symbol: &str) -> Address {
        let to = PrivateKeySigner::random().address();
        let p = self.signing(self.faucet());
        self.block_on(async {
            bridge_contracts::TestToken::new(self.token(symbol), &p)
                .mint(to, U256::from(1u64))
                .send()
                .await
                .expect("mint")
                .get_receipt()
                .await
                .expect("mint receipt")
        });
        to
    }

    /// Sends `wei` of ether from the faucet to `to`.
    pub fn fund(&self, to: Address, wei: U256) {
        use alloy::{network::TransactionBuilder, rpc::types::TransactionRequest};
        let p = self.signing(self.faucet());
        self.block_on(async {
            let tx = TransactionRequest::default().with_to(to).with_value(wei);
            p.send_transaction(tx)
                .await
                .expect("send ether")
                .get_receipt()
                .await
                .expect("receipt")
        });
    }
}

/// The bridge keys of the network's validators (their relayers' L1 accounts), by node name.
pub fn relayer_keys(net: &Net) -> Vec<(String, Address)> {
    let status = net.status();
    status["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["name"].as_str().expect("name").to_string(),
                n["eth_address"]
                    .as_str()
                    .expect("eth_address")
                    .parse()
                    .expect("eth address"),
            )
        })
        .collect()
}

/// A series of a relayer's /metrics (labels included in `series`, `name{labels}`), summed
/// over matching lines; `None` when the endpoint does not answer.
pub fn metric(net: &Net, node: &str, series: &str) -> Option<f64> {
    let url = Net::node(&net.status, node)["relayer"]["metrics"]
        .as_str()?
        .to_string();
    let hostport = url
        .trim_start_matches("http://")
        .split('/')
        .next()?
        .to_string();
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&hostport).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {hostport}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(
        body.lines()
            .filter(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum(),
    )
}

/// `bridge deposit --json [--wait]` through node0.
pub fn deposit(net: &Net, token: &str, amount: &str, to: &str, wait: bool) -> Value {
    let mut args = vec![
        "bridge", "deposit", "--token", token, "--amount", amount, "--to", to, "--json",
    ];
    if wait {
        args.push("--wait");
    }
    net.cli_json(&net.rpc_of("node0"), &args)
}

/// `bridge withdraw --json` from key `from` through node0; returns the withdrawal id.
pub fn withdraw(net: &Net, from: &str, denom: &str, amount: u128, fee: u128, to: Address) -> u64 {
    let v = net.cli_json(
        &net.rpc_of("node0"),
        &[
            "bridge",
            "withdraw",
            "--from",
            from,
            "--denom",
            denom,
            "--amount",
            &amount.to_string(),
            "--fee",
            &fee.to_string(),
            "--to",
            &to.to_string(),
            "--json",
        ],
    );
    v["id"].as_u64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// `bridge status ID --withdrawal --json`.
pub fn withdrawal_status(net: &Net, id: u64) -> Value {
    net.cli_json(
        &net.rpc_of("node0"),
        &[
            "bridge",
            "status",
            &id.to_string(),
            "--withdrawal",
            "--json",
        ],
    )
}

/// Waits until withdrawal `id`'s state is `state`, checking the conservation invariant of
/// `testnet status` at every sample; returns the last status.
pub fn wait_withdrawal(net: &Net, id: u64, state: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let s = withdrawal_status(net, id);
        assert_invariant(net);
        if s["state"] == state {
            return s;
        }
        assert!(
            start.elapsed() < timeout,
            "withdrawal {id} is not {state} within {} s: {s}; batches: {}",
            timeout.as_secs(),
            net.cli_json(
                &net.rpc_of("node0"),
                &["query", "bridge", "batches", "--json"]
            )
        );
        std::thread::sleep(Duration::from_millis(700));
    }
}

/// `testnet status --json`'s conservation invariant holds for every token (L1 locked >=
/// wrapped supply + withdrawals in flight).
pub fn assert_invariant(net: &Net) {
    let status = net.status();
    let inv = &status["bridge_invariant"];
    assert!(inv["error"].is_null(), "invariant unreadable: {inv}");
    assert_eq!(inv["holds"], true, "conservation broken: {inv}");
}
