//! The sidechain node: a thin ABCI 2.0 server around the pure state machine in `sidechain-app`
//! (which also holds the mempool mirror), with RocksDB storage from `sidechain-store`.
//!
//! [`node::Node`] owns the store and the state machine's mempool mirror and does all the work
//! synchronously; [`abci`] has one tower service per CometBFT connection; [`server`] is the
//! socket loop (ADR 8); [`metrics`] holds the Prometheus series.

pub mod abci;
pub mod metrics;
pub mod node;
pub mod server;
