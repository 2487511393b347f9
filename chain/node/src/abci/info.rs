//! The info (query) connection: Info, Query, Echo.

use futures::future::{ready, Ready};
use tendermint::{
    abci::{response, Code},
    merkle::proof::{ProofOp, ProofOps},
    v0_38::abci::{InfoRequest, InfoResponse},
};
use tower::Service;

use super::{app_hash, Handle};
use crate::server::BoxError;

/// Info connection: Info, Query, Echo.
#[derive(Clone)]
pub struct Info(pub Handle);

impl Service<InfoRequest> for Info {
    type Response = InfoResponse;
    type Error = BoxError;
    type Future = Ready<Result<InfoResponse, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: InfoRequest) -> Self::Future {
        ready(self.handle(req))
    }
}

impl Info {
    fn handle(&self, req: InfoRequest) -> Result<InfoResponse, BoxError> {
        match req {
            InfoRequest::Info(_) => {
                let (height, hash) = self.0.lock().info();
                tracing::info!(height, "handshake: reporting last committed block");
                Ok(InfoResponse::Info(response::Info {
                    data: "sidechaind".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    app_version: 1,
                    last_block_height: tendermint::block::Height::try_from(height)?,
                    last_block_app_hash: app_hash(hash)?,
                }))
            }
            InfoRequest::Query(q) => {
                let a = self
                    .0
                    .lock()
                    .query(&q.path, &q.data, q.height.value(), q.prove);
                let proof = a.proof.map(|data| ProofOps {
                    ops: vec![ProofOp {
                        field_type: sidechain_types::query::PROOF_OP_TYPE.to_string(),
                        key: a.key.clone(),
                        data,
                    }],
                });
                Ok(InfoResponse::Query(response::Query {
                    code: Code::from(a.code),
                    log: a.log,
                    key: a.key.into(),
                    value: a.value.into(),
                    proof,
                    height: tendermint::block::Height::try_from(a.height)?,
                    ..Default::default()
                }))
            }
            InfoRequest::Echo(e) => Ok(InfoResponse::Echo(response::Echo { message: e.message })),
        }
    }
}
