//! The snapshot connection.

use futures::future::{ready, Ready};
use tendermint::v0_38::abci::{SnapshotRequest, SnapshotResponse};
use tower::Service;

use crate::server::BoxError;

/// Snapshot connection: state sync is not offered; every request gets the empty answer.
#[derive(Clone)]
pub struct Snapshot;

impl Service<SnapshotRequest> for Snapshot {
    type Response = SnapshotResponse;
    type Error = BoxError;
    type Future = Ready<Result<SnapshotResponse, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: SnapshotRequest) -> Self::Future {
        ready(Ok(match req {
            SnapshotRequest::ListSnapshots => SnapshotResponse::ListSnapshots(Default::default()),
            SnapshotRequest::OfferSnapshot(_) => {
                SnapshotResponse::OfferSnapshot(Default::default())
            }
            SnapshotRequest::LoadSnapshotChunk(_) => {
                SnapshotResponse::LoadSnapshotChunk(Default::default())
            }
            SnapshotRequest::ApplySnapshotChunk(_) => {
                SnapshotResponse::ApplySnapshotChunk(Default::default())
            }
        }))
    }
}
