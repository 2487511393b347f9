/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A protocol rule (signer set, digest, signature) was broken.
    #[error(transparent)]
    Protocol(#[from] bridge_protocol::Error),
    #[error("invalid {field}: {reason}")]
    InvalidParam { field: &'static str, reason: String },
    #[error("RPC error while {action}: {source}")]
    Rpc {
        action: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("transaction {action} failed: {reason}")]
    TxFailed { action: String, reason: String },
}

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn rpc(
        action: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Rpc {
            action: action.into(),
            source: Box::new(source),
        }
    }
}
