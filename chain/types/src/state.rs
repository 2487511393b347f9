//! State records as stored (borsh) and returned by queries. Each lives with its component
//! ([`crate::bank`], [`crate::validators`], [`crate::bridge`]); this module names them in one
//! place.

pub use crate::bank::Account;
pub use crate::bridge::BridgeParams;
pub use crate::validators::{Proposal, ValidatorInfo};
