//! Executing one transaction: the ante checks ([`crate::ante`]), then the messages, each
//! dispatched to its component, in a checkpoint of the overlay that is kept only if every
//! message succeeds. A failed message set leaves only the ante's writes (fee and nonce) in
//! block execution, and nothing at all in the mempool.

use sidechain_types::{events::kinds, tx::gas_required, Code, Event, Msg, SignedTx};

use crate::{
    bank::Bank,
    bridge::Bridge,
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::Fail,
    validators::Validators,
    Overlay, Result,
};

/// What one transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutcome {
    pub code: Code,
    pub log: String,
    /// The gas limit the transaction declared.
    pub gas_wanted: u64,
    /// The gas it used (`gas_required` of its size and message count), 0 when refused.
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

/// Whether the writes of a failed message set are kept (block execution keeps the fee and
/// nonce of a transaction whose messages fail; the mempool admits nothing that fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Deliver,
}

/// Runs `tx` (already decoded, `tx_len` bytes on the wire, signature verdict `sig_ok`).
pub fn execute_tx(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    tx: &SignedTx,
    tx_len: usize,
    sig_ok: bool,
    mode: Mode,
) -> Result<TxOutcome> {
    let gas = gas_required(tx_len, tx.body.msgs.len());
    let signer = Signer::of(tx);
    let ante_cp = view.checkpoint();
    let mut events = match crate::ante::ante(view, ctx, tx, &signer, gas, sig_ok) {
        Ok(event) => vec![event],
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
    let mut result = Ok(());
    for (index, msg) in tx.body.msgs.iter().enumerate() {
        match deliver(view, ctx, &signer, msg) {
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

/// The checks of `tx` that read no state: the ante's ([`crate::ante::check_static`]) and every
/// message's stateless checks. What is left for execution is the nonce, the balance and what
/// the messages find in the state. The mempool uses this to hold a transaction whose nonce is
/// ahead of its account's without executing it.
pub fn check_stateless(
    ctx: &BlockCtx,
    tx: &SignedTx,
    tx_len: usize,
    sig_ok: bool,
) -> Result<(), Fail> {
    let gas = gas_required(tx_len, tx.body.msgs.len());
    crate::ante::check_static(ctx, tx, gas, sig_ok)?;
    for (index, msg) in tx.body.msgs.iter().enumerate() {
        let checked = match msg {
            Msg::Bank(m) => Bank::check(m),
            Msg::Validators(m) => Validators::check(m),
            Msg::Bridge(m) => Bridge::check(m),
        };
        if let Err(Fail::Tx(code, log)) = checked {
            return Err(Fail::Tx(code, format!("message {index}: {log}")));
        }
        checked?;
    }
    Ok(())
}

/// One message: the component's stateless checks, then its delivery. One arm per component.
fn deliver(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    msg: &Msg,
) -> Result<Vec<Event>, Fail> {
    match msg {
        Msg::Bank(m) => run::<Bank>(view, ctx, signer, m),
        Msg::Validators(m) => run::<Validators>(view, ctx, signer, m),
        Msg::Bridge(m) => run::<Bridge>(view, ctx, signer, m),
    }
}

fn run<C: Component>(
    view: &mut Overlay<'_>,
    ctx: &BlockCtx,
    signer: &Signer,
    msg: &C::Msg,
) -> Result<Vec<Event>, Fail> {
    C::check(msg)?;
    C::deliver(view, ctx, signer, msg)
}
