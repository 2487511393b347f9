//! The sidechain node: a thin ABCI 2.0 server (tower-abci, v038) around the pure state machine
//! in `sidechain-app`, with RocksDB storage from `sidechain-store`.
//!
//! [`node::Node`] owns the store and the mempool overlay and does all the work synchronously;
//! [`abci`] splits the ABCI connection into tower services that call it; [`metrics`] serves
//! Prometheus series.

pub mod abci;
pub mod metrics;
pub mod node;
pub mod server;
