//! Executing one transaction: the ante checks (signature, chain id, size, gas, fee, nonce),
//! the fee and nonce bump, then the messages in a child overlay that is kept only if every
//! message succeeds.

use std::collections::BTreeMap;

use sidechain_types::{
    events::kinds, tx::gas_required, Address, Code, Denom, Event, Msg, Params, SignedTx,
};

use crate::{bank, validators, view::PendingWrites, AppError, Overlay, Result, StateRead};

/// Name of the module account that collects fees.
pub const FEE_POOL: &str = "fee_pool";

/// What one transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutcome {
    pub code: Code,
    pub log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
    pub events: Vec<Event>,
}

impl TxOutcome {
    pub fn rejected(code: Code, log: impl Into<String>) -> Self {
        TxOutcome {
            code,
            log: log.into(),
            gas_wanted: 0,
            gas_used: 0,
            events: Vec::new(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }
}

/// Why a transaction or message failed: a result code for the sender, or a storage failure
/// that stops the node.
#[derive(Debug)]
pub(crate) enum Fail {
    Tx(Code, String),
    App(AppError),
}

impl From<AppError> for Fail {
    fn from(e: AppError) -> Self {
        Fail::App(e)
    }
}

impl From<crate::StorageError> for Fail {
    fn from(e: crate::StorageError) -> Self {
        Fail::App(e.into())
    }
}

pub(crate) fn fail<T>(code: Code, msg: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Tx(code, msg.into()))
}

/// Facts a block's transactions share, read once per block.
#[derive(Debug, Clone)]
pub struct BlockCtx {
    pub height: u64,
    pub chain_id: String,
    pub params: Params,
    pub native: Denom,
    /// The module account that collects fees.
    pub fee_pool: Address,
    /// Fees taken by this block's transactions so far; [`BlockCtx::pay_fees`] credits them to
    /// the pool once, at the end of the block.
    pub fees: u128,
    /// Validator power changes approved in this block, by consensus key (last one wins).
    pub validator_updates: BTreeMap<[u8; 32], u64>,
}

impl BlockCtx {
    pub fn load(view: &Overlay<'_>, height: u64) -> Result<Self> {
        Ok(BlockCtx {
            height,
            chain_id: view.chain_id()?,
            params: view.params()?,
            native: view.native_denom()?,
            fee_pool: Address::module(FEE_POOL),
            fees: 0,
            validator_updates: BTreeMap::new(),
        })
    }

    /// Credits the fees collected by the block to the fee pool. The fees were debited from
    /// accounts of the same denom, so the pool cannot exceed the total supply; an overflow
    /// means the stored state is corrupt.
    pub fn pay_fees(&mut self, view: &mut Overlay<'_>) -> Result<()> {
        let fees = std::mem::take(&mut self.fees);
        if fees == 0 {
            return Ok(());
        }
        match bank::credit(view, &self.fee_pool, &self.native, fees) {
            Ok(()) => Ok(()),
            Err(Fail::App(e)) => Err(e),
            Err(Fail::Tx(_, reason)) => Err(AppError::Corrupt {
                key: format!("fee pool balance in {}", self.native),
                reason,
            }),
        }
    }
}

/// Whether the writes of a failed message set are kept (block execution keeps the fee and
/// nonce of a transaction whose messages fail; the mempool admits nothing that fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Deliver,
}

/// Runs `tx` (already decoded, `tx_len` bytes on the wire, signature checked as `sig_ok`).
pub fn execute_tx(
    view: &mut Overlay<'_>,
    ctx: &mut BlockCtx,
    tx: &SignedTx,
    tx_len: usize,
    sig_ok: bool,
    mode: Mode,
) -> Result<TxOutcome> {
    let gas = gas_required(tx_len, tx.body.msgs.len());
    let signer = Signer::of(tx);
    let ante_cp = view.checkpoint();
    let mut events = match ante(view, ctx, tx, &signer, gas, sig_ok) {
        Ok(events) => events,
        Err(fail) => {
            view.revert(ante_cp);
            return match fail {
                Fail::Tx(code, log) => Ok(TxOutcome::rejected(code, log)),
                Fail::App(e) => Err(e),
            };
        }
    };

    // Messages run under their own checkpoint: on failure only the ante's writes remain.
    let msgs_cp = view.checkpoint();
    let mut updates = Vec::new();
    let mut result = Ok(());
    for (index, msg) in tx.body.msgs.iter().enumerate() {
        match execute_msg(view, ctx, &signer, msg, &mut updates) {
            Ok(mut evs) => events.append(&mut evs),
            Err(Fail::Tx(code, log)) => {
                result = Err((code, format!("message {index}: {log}")));
                break;
            }
            Err(Fail::App(e)) => {
                view.revert(msgs_cp);
                view.revert(ante_cp);
                return Err(e);
            }
        }
    }
    let gas_wanted = tx.body.fee.gas_limit;
    match result {
        Ok(()) => {
            view.keep(msgs_cp);
            view.keep(ante_cp);
            ctx.validator_updates.extend(updates);
            Ok(TxOutcome {
                code: Code::Ok,
                log: String::new(),
                gas_wanted,
                gas_used: gas,
                events,
            })
        }
        Err((code, log)) if mode == Mode::Deliver => {
            // The fee is paid and the nonce used; the messages' effects are dropped.
            view.revert(msgs_cp);
            view.keep(ante_cp);
            events.retain(|e| e.kind == kinds::TX);
            Ok(TxOutcome {
                code,
                log,
                gas_wanted,
                gas_used: gas,
                events,
            })
        }
        Err((code, log)) => {
            view.revert(msgs_cp);
            view.revert(ante_cp);
            Ok(TxOutcome::rejected(code, log))
        }
    }
}

/// The account that signed a transaction, with its bech32 form (computed once: events and
/// messages name the signer several times).
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub address: Address,
    pub text: String,
}

impl Signer {
    fn of(tx: &SignedTx) -> Self {
        let address = tx.signer();
        Signer {
            text: address.to_string(),
            address,
        }
    }
}

/// Checks that cost nothing to fail, then takes the fee and bumps the nonce.
fn ante(
    view: &mut Overlay<'_>,
    ctx: &mut BlockCtx,
    tx: &SignedTx,
    signer: &Signer,
    gas: u64,
    sig_ok: bool,
) -> Result<Vec<Event>, Fail> {
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
    let Signer {
        address: signer,
        text: signer_text,
    } = signer;
    let mut account = view.account(signer)?;
    if body.nonce != account.nonce {
        return fail(
            Code::BadNonce,
            format!(
                "account {signer} expects nonce {}, the transaction has {}",
                account.nonce, body.nonce
            ),
        );
    }
    account.nonce = match account.nonce.checked_add(1) {
        Some(n) => n,
        None => return fail(Code::BadNonce, "account nonce is exhausted"),
    };
    let mut tx_event = Event::new(kinds::TX)
        .attr("signer", signer_text)
        .attr("nonce", body.nonce);
    if body.fee.amount > 0 {
        // The fee leaves the account record already in hand; the pool is credited below.
        let have = account.balance(&ctx.native);
        let Some(left) = have.checked_sub(body.fee.amount) else {
            return fail(
                Code::InsufficientFunds,
                format!(
                    "account {signer} cannot pay the fee of {} {} (holds {have})",
                    body.fee.amount, ctx.native
                ),
            );
        };
        // Fees are bounded by the supply, which fits in 128 bits.
        let Some(fees) = ctx.fees.checked_add(body.fee.amount) else {
            return fail(Code::AmountOverflow, "the block's fees exceed 128 bits");
        };
        account.set_balance(&ctx.native, left);
        ctx.fees = fees;
        // The fee as a coin (`<amount><denom>`); the pool is credited at the end of the block.
        tx_event = tx_event.attr("fee", format!("{}{}", body.fee.amount, ctx.native));
    }
    view.put_account(signer, &account);
    Ok(vec![tx_event])
}

fn execute_msg(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    msg: &Msg,
    updates: &mut Vec<([u8; 32], u64)>,
) -> Result<Vec<Event>, Fail> {
    match msg {
        Msg::Transfer { to, denom, amount } => bank::transfer(view, signer, to, denom, *amount),
        Msg::ProposeValidatorChange { change } => {
            validators::propose(view, ctx, &signer.address, change, updates)
        }
        Msg::VoteValidatorChange { proposal_id } => {
            validators::vote(view, ctx, &signer.address, *proposal_id, updates)
        }
    }
}

/// Whether CheckTx sees a transaction for the first time or rechecks one already admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    New,
    /// CometBFT re-runs CheckTx on what is left in its mempool after every block. These exact
    /// bytes passed the signature check when they arrived, so it is not repeated; nonce,
    /// balance and fee are checked again against the new state.
    Recheck,
}

/// Admits a transaction to the mempool: decodes it, checks its signature, and executes it
/// against the committed state plus the effects of the transactions admitted before it
/// (`mempool`), which it extends on success. Nothing is written when it fails.
pub fn check_tx(
    base: &dyn StateRead,
    mempool: &mut PendingWrites,
    tx_bytes: &[u8],
    next_height: u64,
    kind: CheckKind,
) -> Result<TxOutcome> {
    let signature = match kind {
        CheckKind::New => None,
        CheckKind::Recheck => Some(true),
    };
    MempoolChecker::new(base, next_height)?.check(base, mempool, tx_bytes, signature)
}

/// Checks mempool transactions one after another against the same committed state, reading
/// the chain's parameters once (a CheckTx batch, or the replay after a commit).
#[derive(Debug, Clone)]
pub struct MempoolChecker {
    ctx: BlockCtx,
}

impl MempoolChecker {
    /// Reads the parameters of `base`, the committed state the block `next_height` will build
    /// on. Transactions cannot change them, so the mempool overlay is not consulted.
    pub fn new(base: &dyn StateRead, next_height: u64) -> Result<Self> {
        Ok(MempoolChecker {
            ctx: BlockCtx::load(&Overlay::new(base), next_height)?,
        })
    }

    /// Admits `tx_bytes` to `mempool` (the overlay over `base`) or says why not, with the
    /// signature verdict given (`Some`, from a batch verification of several incoming
    /// transactions or a check on arrival) or checked here (`None`).
    pub fn check(
        &mut self,
        base: &dyn StateRead,
        mempool: &mut PendingWrites,
        tx_bytes: &[u8],
        signature: Option<bool>,
    ) -> Result<TxOutcome> {
        let tx = match SignedTx::decode(tx_bytes) {
            Ok(tx) => tx,
            Err(sidechain_types::tx::DecodeError::TooLarge { len }) => {
                return Ok(TxOutcome::rejected(
                    Code::TxTooLarge,
                    format!(
                        "transaction is {len} bytes, the limit is {}",
                        sidechain_types::tx::MAX_TX_BYTES
                    ),
                ))
            }
            Err(e) => return Ok(TxOutcome::rejected(Code::Decode, e.to_string())),
        };
        let sig_ok = signature.unwrap_or_else(|| tx.verify_signature());
        // Nothing accumulates between mempool checks: fees are never paid from the mempool.
        self.ctx.fees = 0;
        self.ctx.validator_updates.clear();
        let mut view = Overlay::with_pending(base, std::mem::take(mempool));
        let outcome = execute_tx(
            &mut view,
            &mut self.ctx,
            &tx,
            tx_bytes.len(),
            sig_ok,
            Mode::Check,
        );
        *mempool = view.into_pending();
        outcome
    }
}
