//! The consensus connection: InitChain, Prepare/ProcessProposal, FinalizeBlock, Commit, vote
//! extensions.

use bytes::Bytes;
use futures::future::{ready, Ready};
use sidechain_app::BlockInfo;
use tendermint::{
    abci::{request, response, types::ExecTxResult, Code},
    v0_38::abci::{ConsensusRequest, ConsensusResponse},
    validator, vote, PublicKey,
};
use tower::Service;

use super::{app_hash, fatal, to_abci_events, to_i64, Handle};
use crate::server::BoxError;

/// Consensus connection: InitChain, Prepare/ProcessProposal, FinalizeBlock, Commit, vote
/// extensions.
#[derive(Clone)]
pub struct Consensus(pub Handle);

impl Service<ConsensusRequest> for Consensus {
    type Response = ConsensusResponse;
    type Error = BoxError;
    type Future = Ready<Result<ConsensusResponse, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ConsensusRequest) -> Self::Future {
        ready(self.handle(req))
    }
}

impl Consensus {
    fn handle(&self, req: ConsensusRequest) -> Result<ConsensusResponse, BoxError> {
        match req {
            ConsensusRequest::InitChain(r) => self.init_chain(r).map(ConsensusResponse::InitChain),
            ConsensusRequest::PrepareProposal(r) => self
                .prepare_proposal(r)
                .map(ConsensusResponse::PrepareProposal),
            ConsensusRequest::ProcessProposal(_) => {
                // Every transaction gets a verdict in FinalizeBlock, so no proposal is refused.
                Ok(ConsensusResponse::ProcessProposal(
                    response::ProcessProposal::Accept,
                ))
            }
            ConsensusRequest::ExtendVote(_) => {
                Ok(ConsensusResponse::ExtendVote(response::ExtendVote {
                    vote_extension: Bytes::new(),
                }))
            }
            ConsensusRequest::VerifyVoteExtension(_) => Ok(ConsensusResponse::VerifyVoteExtension(
                response::VerifyVoteExtension::Accept,
            )),
            ConsensusRequest::FinalizeBlock(r) => {
                self.finalize_block(r).map(ConsensusResponse::FinalizeBlock)
            }
            ConsensusRequest::Commit => {
                self.0.lock().commit().map_err(fatal)?;
                Ok(ConsensusResponse::Commit(response::Commit {
                    data: Bytes::new(),
                    retain_height: 0u32.into(),
                }))
            }
        }
    }

    fn init_chain(&self, r: request::InitChain) -> Result<response::InitChain, BoxError> {
        if r.initial_height.value() != 1 {
            return Err(format!(
                "genesis initial_height is {}; this application starts chains at height 1",
                r.initial_height.value()
            )
            .into());
        }
        let mut validators = Vec::with_capacity(r.validators.len());
        for u in &r.validators {
            let key = u
                .pub_key
                .ed25519()
                .ok_or("genesis validators must use ed25519 keys")?;
            let bytes: [u8; 32] = key
                .as_bytes()
                .try_into()
                .map_err(|_| "ed25519 key is not 32 bytes")?;
            validators.push((bytes, u.power.value()));
        }
        let (hash, events) = self
            .0
            .lock()
            .init_chain(&r.chain_id, &r.app_state_bytes, &validators)
            .map_err(fatal)?;
        for e in &events {
            tracing::debug!(kind = %e.kind, attributes = ?e.attributes, "genesis event");
        }
        Ok(response::InitChain {
            consensus_params: None,
            validators: Vec::new(),
            app_hash: app_hash(hash.to_vec())?,
        })
    }

    /// Builds the block from the candidates that still pass against the state they will run
    /// on, in nonce order per account (the mempool mirror decides; ADR 7, amended).
    fn prepare_proposal(
        &self,
        r: request::PrepareProposal,
    ) -> Result<response::PrepareProposal, BoxError> {
        let block = BlockInfo {
            height: r.height.value(),
            time_secs: u64::try_from(r.time.unix_timestamp()).unwrap_or(0),
        };
        let max_bytes = usize::try_from(r.max_tx_bytes).unwrap_or(0);
        let picked = self
            .0
            .lock()
            .prepare_proposal(block, &r.txs, max_bytes)
            .map_err(fatal)?;
        let txs = picked
            .into_iter()
            .filter_map(|i| r.txs.get(i).cloned())
            .collect();
        Ok(response::PrepareProposal { txs })
    }

    fn finalize_block(
        &self,
        r: request::FinalizeBlock,
    ) -> Result<response::FinalizeBlock, BoxError> {
        let answer = self
            .0
            .lock()
            .finalize_block(
                BlockInfo {
                    height: r.height.value(),
                    // A block time before 1970 cannot come from CometBFT's BFT time.
                    time_secs: u64::try_from(r.time.unix_timestamp()).unwrap_or(0),
                },
                &r.txs,
            )
            .map_err(fatal)?;
        let tx_results = answer
            .output
            .tx_results
            .iter()
            .map(|t| ExecTxResult {
                code: Code::from(t.code.value()),
                data: Bytes::new(),
                log: t.log.clone(),
                info: t.code.name().to_string(),
                gas_wanted: to_i64(t.gas_wanted),
                gas_used: to_i64(t.gas_used),
                events: to_abci_events(&t.events),
                codespace: String::new(),
            })
            .collect();
        let mut validator_updates = Vec::with_capacity(answer.output.validator_updates.len());
        for (key, power) in &answer.output.validator_updates {
            let pub_key = PublicKey::from_raw_ed25519(key)
                .ok_or("validator update with an invalid ed25519 key")?;
            validator_updates.push(validator::Update {
                pub_key,
                power: vote::Power::try_from(*power)?,
            });
        }
        Ok(response::FinalizeBlock {
            events: to_abci_events(&answer.output.events),
            tx_results,
            validator_updates,
            consensus_param_updates: None,
            app_hash: app_hash(answer.app_hash.to_vec())?,
        })
    }
}
