//! The bridge to L1: the parameters genesis fixes (which L1 deployment the chain is joined to
//! and how batches are cut) and deposits from L1 ([`claims`]: validators' claims, their
//! tally, minting in nonce order), and withdrawals to L1 ([`withdrawals`]: burning into
//! per-token queues, cutting batches, validators' signatures over them; ADR 17). Keys live
//! under `state_key::bridge`.

pub mod claims;
pub mod l1;
pub mod state;
pub mod withdrawals;

use sidechain_types::{
    bridge::check_claims,
    genesis::{CheckedGenesis, GenesisError},
    query::Route,
    BridgeMsg, Code, EthAddress, Event, GenesisState, L1SignerSet,
};

use crate::{
    component::Component,
    ctx::{BlockCtx, Signer},
    fail::{fail, Fail},
    genesis::InitError,
    Overlay, Result, StateRead,
};

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
            BridgeMsg::CancelWithdrawal { .. } | BridgeMsg::ConfirmBatch { .. } => Ok(()),
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
                withdrawals::confirm(view, signer, *nonce, signature)
            }
        }
    }

    /// Applies the attested deposits, in nonce order (see [`claims::apply_deposits`]), then
    /// cuts a withdrawal batch when one is due ([`withdrawals::cut_batches`]).
    fn end_block(view: &mut Overlay<'_>, ctx: &BlockCtx) -> Result<Vec<Event>> {
        let mut events = claims::apply_deposits(view, ctx)?;
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
                .map(|v| (alloy_primitives::Address::from(v.eth_address.0), v.power));
            let set = bridge_protocol::SignerSet::normalized(0, members).map_err(|e| {
                InitError::Genesis(GenesisError::Bridge {
                    field: "signer_set",
                    reason: format!("the genesis validators make no valid L1 signer set: {e}"),
                })
            })?;
            state::put_l1_signer_set(
                view,
                &L1SignerSet {
                    nonce: set.nonce,
                    signers: set
                        .members()
                        .iter()
                        .map(|m| EthAddress(m.address.0 .0))
                        .collect(),
                    powers: set.members().iter().map(|m| m.power).collect(),
                },
            );
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
            _ => None,
        }
    }
}
