//! The bridge to L1: the parameters genesis fixes (which L1 deployment the chain is joined to
//! and how batches are cut) and deposits from L1 ([`claims`]: validators' claims, their
//! tally, minting in nonce order), and withdrawals to L1 ([`withdrawals`]: burning into
//! per-token queues, cutting batches, validators' signatures over them; ADR 17). Keys live
//! under `state_key::bridge`.

pub mod attest;
pub mod batches;
pub mod claims;
pub mod l1;
pub mod signer_sets;
pub mod state;
pub mod withdrawals;

use sidechain_types::{
    bridge::check_claims,
    genesis::{CheckedGenesis, GenesisError},
    query::Route,
    BridgeMsg, Code, Event, GenesisState,
};

use crate::{
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    genesis::InitError,
    Overlay, Result, StateRead,
};

/// How many batches or signer-set updates `/bridge/batches` and `/bridge/signer_sets` list.
const RECENT: u64 = 20;

/// The bridge component.
#[derive(Debug)]
pub struct Bridge;

impl Component for Bridge {
    type Msg = BridgeMsg;

    fn check(msg: &BridgeMsg) -> Result<(), Fail> {
        match msg {
            BridgeMsg::ClaimDeposits { claims } => match check_claims(claims) {
                Ok(()) => Ok(()),
                Err(reason) => fail(Code::InvalidClaim, reason),
            },
            BridgeMsg::Withdraw {
                amount, fee, to, ..
            } => withdrawals::check(*amount, *fee, to),
            BridgeMsg::AttestBatch { outcome, .. } => match outcome.check() {
                Ok(()) => Ok(()),
                Err(reason) => fail(Code::InvalidAttestation, reason),
            },
            BridgeMsg::CancelWithdrawal { .. }
            | BridgeMsg::ConfirmBatch { .. }
            | BridgeMsg::ConfirmSignerSet { .. }
            | BridgeMsg::AttestSignerSet { .. } => Ok(()),
        }
    }

    fn deliver(
        view: &mut Overlay<'_>,
        ctx: &BlockCtx,
        signer: &Signer,
        msg: &BridgeMsg,
    ) -> Result<Vec<Event>, Fail> {
        match msg {
            BridgeMsg::ClaimDeposits { claims } => {
                claims::claim_deposits(view, ctx, signer, claims)
            }
            BridgeMsg::Withdraw {
                denom,
                amount,
                fee,
                to,
            } => withdrawals::withdraw(view, ctx, signer, denom, *amount, *fee, to),
            BridgeMsg::CancelWithdrawal { id } => withdrawals::cancel(view, ctx, signer, *id),
            BridgeMsg::ConfirmBatch { nonce, signature } => {
                withdrawals::confirm(view, ctx, signer, *nonce, signature)
            }
            BridgeMsg::AttestBatch { nonce, outcome } => {
                batches::attest_batch(view, signer, *nonce, outcome)
            }
            BridgeMsg::ConfirmSignerSet { nonce, signature } => {
                signer_sets::confirm(view, ctx, signer, *nonce, signature)
            }
            BridgeMsg::AttestSignerSet { nonce, outcome } => {
                signer_sets::attest(view, signer, *nonce, outcome)
            }
        }
    }

    /// In this order: applies the attested deposits, in nonce order
    /// ([`claims::apply_deposits`]; refunds owed join the refund queue); settles the open
    /// signer-set update ([`signer_sets::settle_open`]: an active one re-opens the outstanding
    /// batch's signing); settles the outstanding batch ([`batches::settle_outstanding`]:
    /// executed or timed out); produces the next signer set when the validators moved
    /// ([`signer_sets::produce`]); cuts the next batch when one is due
    /// ([`withdrawals::cut_batches`], refunds first), so a batch settled in this block is
    /// followed by the next one in the same block.
    fn end_block(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
        let mut events = claims::apply_deposits(view, ctx)?;
        events.append(&mut signer_sets::settle_open(view, ctx)?);
        events.append(&mut batches::settle_outstanding(view, ctx)?);
        events.append(&mut signer_sets::produce(view, ctx)?);
        events.append(&mut withdrawals::cut_batches(view, ctx)?);
        Ok(events)
    }

    /// Stores the validated bridge parameters when genesis configures a bridge, with no deposit
    /// applied yet, and the L1 signer set the contract is deployed with: the genesis
    /// validators' Ethereum addresses and powers, normalized as the deployment normalizes them
    /// (`SignerSet::normalized(0, ...)`, as `testnet/src/l1.rs` deploys).
    fn init_genesis(
        view: &mut Overlay<'_>,
        _genesis: &GenesisState,
        checked: &CheckedGenesis,
    ) -> Result<Vec<Event>, InitError> {
        if let Some(params) = &checked.bridge {
            state::put_params(view, params);
            state::put_last_applied(view, 0);
            let members = checked
                .registry
                .iter()
                .filter(|v| v.power > 0)
                .map(|v| (v.eth_address, v.power));
            let set = l1::normalized_set(0, members).map_err(|e| {
                InitError::Genesis(GenesisError::Bridge {
                    field: "signer_set",
                    reason: format!("the genesis validators make no valid L1 signer set: {e}"),
                })
            })?;
            state::put_l1_signer_set(view, &set);
        }
        Ok(Vec::new())
    }

    /// `/bridge/tokens` and `/bridge/misbehaviour` (the other bridge routes are single keys,
    /// read and proven by the node).
    fn query(state: &dyn StateRead, route: &Route) -> Option<Result<Vec<u8>>> {
        match route {
            Route::BridgeTokens => Some(
                state::all_tokens(state).map(|tokens| borsh::to_vec(&tokens).unwrap_or_default()),
            ),
            Route::BridgeMisbehaviour => Some(
                state::all_misbehaviour(state).map(|all| borsh::to_vec(&all).unwrap_or_default()),
            ),
            Route::BridgeBatches => Some(
                state::recent_batches(state, RECENT)
                    .map(|all| borsh::to_vec(&all).unwrap_or_default()),
            ),
            Route::BridgeSignerSets => Some(
                state::recent_signer_sets(state, RECENT)
                    .map(|all| borsh::to_vec(&all).unwrap_or_default()),
            ),
            _ => None,
        }
    }
}

/// `0x` and the lower-case hex digits of `bytes` (event attributes).
pub(crate) fn hex0x(bytes: &[u8]) -> String {
    let mut s = String::new();
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
