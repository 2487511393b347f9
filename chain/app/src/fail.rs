//! Why a transaction or message failed: a result code for the sender, or a storage failure
//! that stops the node.

use sidechain_types::Code;

use crate::{AppError, StorageError};

/// A failure inside transaction execution. [`Fail::Tx`] is the sender's problem (a documented
/// [`Code`] and a message saying what to do); [`Fail::App`] is the node's (storage or a corrupt
/// record) and stops block execution.
#[derive(Debug)]
pub enum Fail {
    Tx(Code, String),
    App(AppError),
}

impl From<AppError> for Fail {
    fn from(e: AppError) -> Self {
        Fail::App(e)
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::App(e.into())
    }
}

/// `Err(Fail::Tx(code, msg))`.
pub fn fail<T>(code: Code, msg: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Tx(code, msg.into()))
}

impl Fail {
    /// Turns a sender-facing failure of work that no sender caused (end-of-block work) into
    /// [`AppError::Corrupt`] naming `what`.
    pub fn into_app(self, what: impl Into<String>) -> AppError {
        match self {
            Fail::App(e) => e,
            Fail::Tx(_, reason) => AppError::Corrupt {
                key: what.into(),
                reason,
            },
        }
    }
}
