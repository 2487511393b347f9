//! Telemetry shared by the sidechain's processes (`sidechaind` now, the bridge relayer later):
//!
//! * [`init`] sets up `tracing`: the level from `RUST_LOG` (default `info`), text or JSON lines
//!   on stderr, colour only when stderr is a terminal;
//! * [`serve`] answers `GET /metrics` with the Prometheus series of a
//!   [`prometheus_client::registry::Registry`] and `GET /health` with what the process's own
//!   [`Health`] callback reports (200 when healthy, 503 with the reasons when not). Other paths
//!   get 404. The server is axum's (ADR 14).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use sidechain_telemetry::{Health, LogFormat};
//!
//! sidechain_telemetry::init(LogFormat::Text).expect("first subscriber");
//! let registry = Arc::new(prometheus_client::registry::Registry::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:26660").await?;
//! sidechain_telemetry::serve(listener, registry, || Health::healthy().with("height", 7)).await
//! # }
//! ```

mod endpoint;
mod logging;
pub mod probe;

pub use endpoint::{serve, Health, METRICS_CONTENT_TYPE};
pub use logging::{init, LogFormat};

/// What can go wrong while setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("logging is already set up in this process: {0}")]
    LoggingAlreadySet(String),
    #[error("`{0}` is not a log format: use `text` or `json`")]
    BadLogFormat(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
