//! An in-process EVM (revm) with the bridge deployed, for the behaviour tests, the property
//! tests and the gas report. Everything runs on the Osaka rules with a zero base fee, so gas is
//! measured but never paid.

#![allow(dead_code)]

use alloy::primitives::{keccak256, Address, Bytes, Log, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolConstructor, SolInterface};
use bridge_contracts::signing::{self, Domain};
use bridge_contracts::{
    Bridge, FeeOnTransferToken, GasBurningReceiver, GasBurningToken, ReentrantToken,
    RejectingReceiver, SignerSet, TestToken, ETH,
};
use revm::context::result::ExecutionResult;
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainContext, MainnetContext, MainnetEvm};
use revm::primitives::TxKind;
use revm::{DatabaseRef, ExecuteCommitEvm, ExecuteEvm};

pub const CHAIN_ID: u64 = 31337;
pub const START_TIME: u64 = 1_700_000_000;
pub const TX_GAS_LIMIT: u64 = 16_000_000;
pub const SIGNER_SET_DELAY: u64 = 3_600;
pub const RELEASE_DELAY: u64 = 7_200;
pub const WINDOW_SECONDS: u32 = 86_400;
pub const WINDOW_CAP: u128 = 1_000_000 * ONE;
pub const LARGE_RELEASE: u128 = 100_000 * ONE;
pub const ONE: u128 = 1_000_000_000_000_000_000;

type Db = CacheDB<EmptyDB>;

/// Result of a transaction that did not revert.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub gas_used: u64,
    pub output: Bytes,
    pub logs: Vec<Log>,
}

/// A reverted (or halted) transaction.
#[derive(Debug, Clone)]
pub struct Failure {
    pub gas_used: u64,
    pub output: Bytes,
    pub halted: bool,
}

impl Failure {
    /// The bridge's custom error, if the revert data is one.
    pub fn bridge_error(&self) -> Option<Bridge::BridgeErrors> {
        Bridge::BridgeErrors::abi_decode(&self.output).ok()
    }

    /// The bridge error, or a panic naming what came back instead.
    pub fn expect_bridge_error(&self) -> Bridge::BridgeErrors {
        self.bridge_error()
            .unwrap_or_else(|| panic!("expected a Bridge error, got {self:?}"))
    }
}

/// `result.rejected()`: the Bridge error a call that must fail reverted with.
pub trait Rejected {
    fn rejected(self) -> Bridge::BridgeErrors;
}

impl<T: std::fmt::Debug> Rejected for Result<T, Failure> {
    fn rejected(self) -> Bridge::BridgeErrors {
        match self {
            Ok(ok) => panic!("expected a Bridge error, the call succeeded: {ok:?}"),
            Err(failure) => failure.expect_bridge_error(),
        }
    }
}

pub struct Evm {
    evm: MainnetEvm<MainnetContext<Db>>,
}

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl Evm {
    pub fn new() -> Self {
        let mut cfg = CfgEnv::new_with_spec(revm::primitives::hardfork::SpecId::OSAKA);
        cfg.chain_id = CHAIN_ID;
        cfg.disable_nonce_check = true;
        let block = BlockEnv {
            number: U256::from(1),
            timestamp: U256::from(START_TIME),
            gas_limit: 60_000_000,
            basefee: 0,
            ..Default::default()
        };
        let ctx = Context::mainnet()
            .with_db(Db::default())
            .with_cfg(cfg)
            .with_block(block);
        Self {
            evm: ctx.build_mainnet(),
        }
    }

    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.to::<u64>()
    }

    /// Moves the clock (and the block number) forward.
    pub fn warp(&mut self, seconds: u64) {
        self.evm.ctx.block.timestamp += U256::from(seconds);
        self.evm.ctx.block.number += U256::from(1);
    }

    pub fn eth_balance(&self, who: Address) -> U256 {
        self.evm
            .ctx
            .journaled_state
            .database
            .basic_ref(who)
            .ok()
            .flatten()
            .map(|a| a.balance)
            .unwrap_or_default()
    }

    pub fn set_eth_balance(&mut self, who: Address, balance: U256) {
        let db = &mut self.evm.ctx.journaled_state.database;
        let mut info = db.basic_ref(who).ok().flatten().unwrap_or_default();
        info.balance = balance;
        db.insert_account_info(who, info);
    }

    pub fn has_code(&self, who: Address) -> bool {
        self.evm
            .ctx
            .journaled_state
            .database
            .basic_ref(who)
            .ok()
            .flatten()
            .is_some_and(|a| a.code.as_ref().is_some_and(|c| !c.is_empty()))
    }

    /// Sends a typed call with a chosen gas limit and commits.
    pub fn send_with_gas<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
        gas_limit: u64,
    ) -> Result<Outcome, Failure> {
        let mut tx = Self::tx(from, TxKind::Call(to), call.abi_encode().into(), U256::ZERO);
        tx.gas_limit = gas_limit;
        let result = self
            .evm
            .transact_commit(tx)
            .unwrap_or_else(|e| panic!("EVM error: {e:?}"));
        Self::finish(result)
    }

    /// Runs a typed call with a chosen gas limit without committing its effects. A limit below
    /// the transaction's intrinsic gas comes back as a halt.
    pub fn try_with_gas<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
        gas_limit: u64,
    ) -> Result<Outcome, Failure> {
        let mut tx = Self::tx(from, TxKind::Call(to), call.abi_encode().into(), U256::ZERO);
        tx.gas_limit = gas_limit;
        match self.evm.transact(tx) {
            Ok(done) => Self::finish(done.result),
            Err(_) => Err(Failure {
                gas_used: 0,
                output: Bytes::new(),
                halted: true,
            }),
        }
    }

    fn tx(from: Address, kind: TxKind, data: Bytes, value: U256) -> TxEnv {
        TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data)
            .value(value)
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .chain_id(Some(CHAIN_ID))
            .build_fill()
    }

    fn finish(result: ExecutionResult) -> Result<Outcome, Failure> {
        let gas_used = result.tx_gas_used();
        match result {
            ExecutionResult::Success { output, logs, .. } => Ok(Outcome {
                gas_used,
                output: output.into_data(),
                logs,
            }),
            ExecutionResult::Revert { output, .. } => Err(Failure {
                gas_used,
                output,
                halted: false,
            }),
            ExecutionResult::Halt { .. } => Err(Failure {
                gas_used,
                output: Bytes::new(),
                halted: true,
            }),
        }
    }

    /// Sends a transaction and commits its effects.
    pub fn transact(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> Result<Outcome, Failure> {
        let tx = Self::tx(from, TxKind::Call(to), data, value);
        let result = self
            .evm
            .transact_commit(tx)
            .unwrap_or_else(|e| panic!("EVM error: {e:?}"));
        Self::finish(result)
    }

    /// Sends a typed call and commits.
    pub fn send<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<Outcome, Failure> {
        self.transact(from, to, call.abi_encode().into(), U256::ZERO)
    }

    /// Sends a typed call with ether attached and commits.
    pub fn send_value<C: SolCall>(
        &mut self,
        from: Address,
        to: Address,
        call: &C,
        value: U256,
    ) -> Result<Outcome, Failure> {
        self.transact(from, to, call.abi_encode().into(), value)
    }

    /// Runs a typed call without committing and decodes what it returns.
    pub fn view<C: SolCall>(&mut self, to: Address, call: &C) -> C::Return {
        let tx = Self::tx(
            Address::repeat_byte(0xee),
            TxKind::Call(to),
            call.abi_encode().into(),
            U256::ZERO,
        );
        let result = self
            .evm
            .transact(tx)
            .unwrap_or_else(|e| panic!("EVM error: {e:?}"))
            .result;
        let outcome = Self::finish(result).unwrap_or_else(|f| panic!("view call reverted: {f:?}"));
        C::abi_decode_returns(&outcome.output).expect("decodable return data")
    }

    /// Deploys `init_code` from `from` and returns the new contract's address.
    pub fn deploy(&mut self, from: Address, init_code: Vec<u8>) -> Result<Address, Failure> {
        let tx = Self::tx(from, TxKind::Create, init_code.into(), U256::ZERO);
        let result = self
            .evm
            .transact_commit(tx)
            .unwrap_or_else(|e| panic!("EVM error: {e:?}"));
        let created = result.created_address();
        Self::finish(result).map(|_| created.expect("a created address"))
    }
}

/// Deterministic secp256k1 keys: the same seed always gives the same key.
pub fn key(seed: u64) -> PrivateKeySigner {
    let bytes = keccak256(seed.to_be_bytes());
    PrivateKeySigner::from_bytes(&bytes).expect("a valid key")
}

/// `n` keys with equal raw power, and the normalized set they form.
pub fn equal_signers(n: usize, nonce: u64, seed: u64) -> (Vec<PrivateKeySigner>, SignerSet) {
    let keys: Vec<_> = (0..n as u64).map(|i| key(seed + i)).collect();
    let set =
        SignerSet::normalized(nonce, keys.iter().map(|k| (k.address(), 1))).expect("a valid set");
    let keys = sort_keys(keys, &set);
    (keys, set)
}

/// Orders keys like the set's members (ascending address).
pub fn sort_keys(mut keys: Vec<PrivateKeySigner>, set: &SignerSet) -> Vec<PrivateKeySigner> {
    keys.sort_by_key(|k| set.index_of(k.address()).expect("key is a member"));
    keys
}

/// The smallest number of equal-power members whose power is strictly above the threshold.
pub fn quorum_size(set: &SignerSet) -> usize {
    let mut signed = 0u64;
    for (i, m) in set.members().iter().enumerate() {
        signed += m.power;
        if signed > bridge_contracts::POWER_THRESHOLD {
            return i + 1;
        }
    }
    set.len()
}

pub fn bridge_init_code(
    admin: Address,
    guardian: Address,
    bridge_id: B256,
    set: &Bridge::SignerSet,
    signer_set_delay: u64,
    release_delay: u64,
) -> Vec<u8> {
    let args = Bridge::constructorCall::new((
        admin,
        guardian,
        bridge_id,
        set.clone(),
        signer_set_delay,
        release_delay,
    ))
    .abi_encode();
    [Bridge::BYTECODE.to_vec(), args].concat()
}

/// A deployed bridge with a plain test token and ether allowlisted, a funded user, and the
/// signer keys.
pub struct Fixture {
    pub evm: Evm,
    pub bridge: Address,
    pub token: Address,
    pub admin: Address,
    pub guardian: Address,
    pub user: Address,
    pub relayer: Address,
    pub bridge_id: B256,
    pub keys: Vec<PrivateKeySigner>,
    pub set: SignerSet,
}

impl Fixture {
    /// A bridge whose signer set has `n` equal-power members.
    pub fn new(n: usize) -> Self {
        let (keys, set) = equal_signers(n, 1, 1_000);
        Self::with_set(keys, set)
    }

    pub fn with_set(keys: Vec<PrivateKeySigner>, set: SignerSet) -> Self {
        let mut evm = Evm::new();
        let admin = Address::repeat_byte(0xad);
        let guardian = Address::repeat_byte(0x9a);
        let user = Address::repeat_byte(0x05);
        let relayer = Address::repeat_byte(0x7e);
        let bridge_id = B256::repeat_byte(0xb1);
        for who in [admin, guardian, user, relayer] {
            evm.set_eth_balance(who, U256::from(1_000_000u128 * ONE));
        }
        let bridge = evm
            .deploy(
                admin,
                bridge_init_code(
                    admin,
                    guardian,
                    bridge_id,
                    &set.to_abi(),
                    SIGNER_SET_DELAY,
                    RELEASE_DELAY,
                ),
            )
            .expect("bridge deploys");
        let token = deploy_test_token(&mut evm, admin);
        let mut fixture = Self {
            evm,
            bridge,
            token,
            admin,
            guardian,
            user,
            relayer,
            bridge_id,
            keys,
            set,
        };
        fixture.configure(token, true);
        fixture.configure(ETH, true);
        fixture.mint(token, user, U256::from(10_000_000u128 * ONE));
        fixture.approve(token, user);
        fixture
    }

    pub fn domain(&self) -> Domain {
        Domain::new(CHAIN_ID, self.bridge, self.bridge_id)
    }

    /// Allowlists `token` with the default window, cap and large-release threshold.
    pub fn configure(&mut self, token: Address, allowed: bool) {
        let call = Bridge::setTokenConfigCall {
            token,
            allowed,
            windowSeconds: WINDOW_SECONDS,
            windowCap: WINDOW_CAP,
            largeReleaseThreshold: LARGE_RELEASE,
        };
        self.evm
            .send(self.admin, self.bridge, &call)
            .expect("setTokenConfig");
    }

    /// Allowlists `token` with the given rate limit (this also empties its window).
    pub fn configure_window(
        &mut self,
        token: Address,
        window_seconds: u32,
        window_cap: u128,
        large_release: u128,
    ) {
        let call = Bridge::setTokenConfigCall {
            token,
            allowed: true,
            windowSeconds: window_seconds,
            windowCap: window_cap,
            largeReleaseThreshold: large_release,
        };
        self.evm
            .send(self.admin, self.bridge, &call)
            .expect("setTokenConfig");
    }

    pub fn mint(&mut self, token: Address, to: Address, amount: U256) {
        self.evm
            .send(self.admin, token, &TestToken::mintCall { to, amount })
            .expect("mint");
    }

    pub fn approve(&mut self, token: Address, owner: Address) {
        self.evm
            .send(
                owner,
                token,
                &TestToken::approveCall {
                    spender: self.bridge,
                    value: U256::MAX,
                },
            )
            .expect("approve");
    }

    pub fn token_balance(&mut self, token: Address, who: Address) -> U256 {
        if token == ETH {
            return self.evm.eth_balance(who);
        }
        self.evm
            .view(token, &TestToken::balanceOfCall { account: who })
    }

    pub fn deposit(
        &mut self,
        from: Address,
        token: Address,
        amount: U256,
    ) -> Result<Outcome, Failure> {
        let call = Bridge::depositCall {
            token,
            amount,
            recipient: sidechain_recipient(1),
        };
        self.evm.send(from, self.bridge, &call)
    }

    pub fn deposit_eth(&mut self, from: Address, amount: U256) -> Result<Outcome, Failure> {
        let call = Bridge::depositETHCall {
            recipient: sidechain_recipient(1),
        };
        self.evm.send_value(from, self.bridge, &call, amount)
    }

    pub fn last_batch_nonce(&mut self) -> u64 {
        self.evm.view(self.bridge, &Bridge::lastBatchNonceCall {})
    }

    pub fn deposit_nonce(&mut self) -> u64 {
        self.evm.view(self.bridge, &Bridge::depositNonceCall {})
    }

    /// The next batch for `token` (nonce = last + 1, one hour to live).
    pub fn batch(
        &mut self,
        token: Address,
        withdrawals: &[(Address, U256)],
        fee: U256,
    ) -> Bridge::Batch {
        Bridge::Batch {
            token,
            nonce: U256::from(self.last_batch_nonce() + 1),
            timeout: U256::from(self.evm.timestamp() + 3_600),
            fee,
            recipients: withdrawals.iter().map(|w| w.0).collect(),
            amounts: withdrawals.iter().map(|w| w.1).collect(),
        }
    }

    /// Signatures over `digest` from the members at `indices` (any order; sorted here).
    pub fn sign(&self, digest: B256, indices: &[usize]) -> Vec<Bridge::Signature> {
        let keys: Vec<_> = indices.iter().map(|&i| self.keys[i].clone()).collect();
        signing::sign_all(&self.set, &keys, digest).expect("members sign")
    }

    /// Indices of the first members that together pass the threshold.
    pub fn quorum(&self) -> Vec<usize> {
        (0..quorum_size(&self.set)).collect()
    }

    pub fn submit(
        &mut self,
        batch: &Bridge::Batch,
        signatures: Vec<Bridge::Signature>,
    ) -> Result<Outcome, Failure> {
        let call = Bridge::submitBatchCall {
            current: self.set.to_abi(),
            signatures,
            batch: batch.clone(),
        };
        self.evm.send(self.relayer, self.bridge, &call)
    }

    /// Signs `batch` with a quorum and submits it.
    pub fn submit_signed(&mut self, batch: &Bridge::Batch) -> Result<Outcome, Failure> {
        let signatures = self.sign(self.domain().batch_digest(batch), &self.quorum());
        self.submit(batch, signatures)
    }

    /// Proposes `next` signed by the members at `indices` of the current set.
    pub fn update_signer_set(
        &mut self,
        next: &SignerSet,
        indices: &[usize],
    ) -> Result<Outcome, Failure> {
        let signatures = self.sign(self.domain().signer_set_digest(next), indices);
        let call = Bridge::updateSignerSetCall {
            current: self.set.to_abi(),
            next: next.to_abi(),
            signatures,
        };
        self.evm.send(self.relayer, self.bridge, &call)
    }

    pub fn pause(&mut self) -> Result<Outcome, Failure> {
        self.evm
            .send(self.guardian, self.bridge, &Bridge::pauseCall {})
    }

    pub fn unpause(&mut self) -> Result<Outcome, Failure> {
        self.evm
            .send(self.admin, self.bridge, &Bridge::unpauseCall {})
    }
}

pub fn deploy_test_token(evm: &mut Evm, from: Address) -> Address {
    let args = TestToken::constructorCall::new(("Test Token".into(), "TST".into())).abi_encode();
    evm.deploy(from, [TestToken::BYTECODE.to_vec(), args].concat())
        .expect("TestToken deploys")
}

pub fn deploy_fee_token(evm: &mut Evm, from: Address, fee_bps: u64) -> Address {
    let args = FeeOnTransferToken::constructorCall::new((
        "Fee Token".into(),
        "FEE".into(),
        U256::from(fee_bps),
    ))
    .abi_encode();
    evm.deploy(from, [FeeOnTransferToken::BYTECODE.to_vec(), args].concat())
        .expect("FeeOnTransferToken deploys")
}

pub fn deploy_reentrant_token(evm: &mut Evm, from: Address) -> Address {
    evm.deploy(from, ReentrantToken::BYTECODE.to_vec())
        .expect("ReentrantToken deploys")
}

pub fn deploy_rejecting_receiver(evm: &mut Evm, from: Address) -> Address {
    evm.deploy(from, RejectingReceiver::BYTECODE.to_vec())
        .expect("RejectingReceiver deploys")
}

/// An ether receiver that accepts only when called with at least `need` gas (and cannot claim).
pub fn deploy_gas_burning_receiver(evm: &mut Evm, from: Address, need: u64) -> Address {
    let args = GasBurningReceiver::constructorCall::new((U256::from(need),)).abi_encode();
    evm.deploy(from, [GasBurningReceiver::BYTECODE.to_vec(), args].concat())
        .expect("GasBurningReceiver deploys")
}

/// An ERC-20 whose `transfer` succeeds only when called with at least `need` gas.
pub fn deploy_gas_burning_token(evm: &mut Evm, from: Address, need: u64) -> Address {
    let args = GasBurningToken::constructorCall::new((U256::from(need),)).abi_encode();
    evm.deploy(from, [GasBurningToken::BYTECODE.to_vec(), args].concat())
        .expect("GasBurningToken deploys")
}

/// A sidechain account address for deposit events.
pub fn sidechain_recipient(n: u8) -> alloy::primitives::FixedBytes<20> {
    alloy::primitives::FixedBytes::repeat_byte(n)
}

/// Fresh L1 recipients that hold nothing yet.
pub fn fresh_recipient(n: u64) -> Address {
    Address::from_word(keccak256(
        [b"recipient".as_slice(), &n.to_be_bytes()].concat(),
    ))
}

/// Decodes every `Deposit` log of the bridge in `logs`.
pub fn deposit_events(bridge: Address, logs: &[Log]) -> Vec<Bridge::Deposit> {
    use alloy::sol_types::SolEvent;
    logs.iter()
        .filter(|l| l.address == bridge)
        .filter_map(|l| Bridge::Deposit::decode_log_data(&l.data).ok())
        .collect()
}
