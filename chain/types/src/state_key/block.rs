//! Per-block accumulators. They live in the execution overlay's scratch area (journaled like
//! state, so a failed message or transaction undoes its part without bookkeeping), are read by
//! the end-of-block work of the same block, and never reach storage or the app hash.

/// borsh `u128`: fees in base units of the native denom taken by the block's transactions so
/// far; the bank credits them to the fee pool at the end of the block.
pub const FEES: &[u8] = b"block/fees";
