//! What every component may read while executing: the block being built, the chain's facts,
//! and the transaction's signer.

use sidechain_types::{state_key, Address, Denom, Params, SignedTx};

use crate::{Overlay, Result};

/// The block a call executes in, as CometBFT gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Height of the block (the first block is 1).
    pub height: u64,
    /// The block's time from its header, in whole seconds since the Unix epoch. CometBFT sets it
    /// by BFT time (the voting-power-weighted median of the previous block's precommit times,
    /// CometBFT spec "BFT Time"), so every node sees the same value. CheckTx uses the last
    /// committed block's time.
    pub time_secs: u64,
}

/// Facts a block's transactions share, read once per block. Read-only: what a block
/// accumulates (fees, validator updates) lives in the overlay's scratch area.
#[derive(Debug, Clone)]
pub struct BlockCtx {
    pub height: u64,
    /// See [`BlockInfo::time_secs`].
    pub time_secs: u64,
    pub chain_id: String,
    pub params: Params,
    /// The native fee token.
    pub native: Denom,
}

impl BlockCtx {
    /// Reads the chain's facts from `view` for the block `block`.
    pub fn load(view: &Overlay<'_>, block: BlockInfo) -> Result<Self> {
        Ok(BlockCtx {
            height: block.height,
            time_secs: block.time_secs,
            chain_id: view.require(state_key::app::CHAIN_ID)?,
            params: view.require(state_key::app::PARAMS)?,
            native: view.require(state_key::app::NATIVE_DENOM)?,
        })
    }
}

/// The account that signed a transaction, with its bech32 form (computed once: events and
/// messages name the signer several times).
#[derive(Debug, Clone)]
pub struct Signer {
    pub address: Address,
    pub text: String,
    /// The fee this transaction paid, in base units of the native denom (taken before its
    /// messages run; messages that report a balance add it back so the sender sees what the
    /// account held).
    pub fee: u128,
}

impl Signer {
    pub fn of(tx: &SignedTx) -> Self {
        let address = tx.signer();
        Signer {
            text: address.to_string(),
            address,
            fee: tx.body.fee.amount,
        }
    }
}
