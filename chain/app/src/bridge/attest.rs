//! What every bridge attestation and confirmation shares: who may send one (a current
//! validator's operator), tallies of validators per outcome with the chain's one quorum rule,
//! and recording an Ethereum signature of an L1 signer-set member over a digest.

use alloy_primitives::B256;
use bridge_protocol::{passes_threshold, recover_signer, Error as SigError};
use sidechain_types::{
    Address, BatchSignature, BridgeParams, Code, L1SignerSet, OutcomeVote, ValidatorInfo,
};

use super::state;
use crate::{
    ctx::Signer,
    fail::{fail, Fail},
    quorum, validators, Overlay, Result,
};

/// The bridge parameters, or `Code::BridgeNotConfigured`.
pub fn params(view: &Overlay<'_>) -> Result<BridgeParams, Fail> {
    match state::params(view)? {
        Some(p) => Ok(p),
        None => fail(
            Code::BridgeNotConfigured,
            "this chain's genesis configures no bridge, so it takes no bridge messages",
        ),
    }
}

/// The current validator whose operator signed, or `Code::NotValidator` (`what` names the
/// message in the error).
pub fn validator_of(
    view: &Overlay<'_>,
    signer: &Signer,
    what: &str,
) -> Result<ValidatorInfo, Fail> {
    let set = validators::state::set(view)?;
    match set.into_iter().find(|v| v.operator == signer.address) {
        Some(v) => Ok(v),
        None => fail(
            Code::NotValidator,
            format!(
                "{} is not the operator account of any current validator, so it cannot {what}",
                signer.text
            ),
        ),
    }
}

/// Adds `operator`'s vote for `outcome` (content hash `hash`) to `votes`.
///
/// Errors: `Code::DuplicateAttestation` when it voted for this outcome already;
/// `Code::InvalidAttestation` when it voted for a different outcome of the same item (one
/// outcome per validator: an honest relayer cannot see two).
pub fn add_vote<T: Clone>(
    votes: &mut Vec<OutcomeVote<T>>,
    hash: [u8; 32],
    outcome: &T,
    operator: Address,
    item: &str,
) -> Result<(), Fail> {
    if let Some(v) = votes
        .iter()
        .find(|v| v.validators.binary_search(&operator).is_ok())
    {
        if v.content_hash == hash {
            return fail(
                Code::DuplicateAttestation,
                format!("{operator}'s attestation of {item} is counted already"),
            );
        }
        return fail(
            Code::InvalidAttestation,
            format!(
                "{operator} attested a different outcome of {item} before; a validator attests one outcome per item"
            ),
        );
    }
    match votes.iter_mut().find(|v| v.content_hash == hash) {
        Some(v) => {
            if let Err(at) = v.validators.binary_search(&operator) {
                v.validators.insert(at, operator);
            }
        }
        None => votes.push(OutcomeVote {
            content_hash: hash,
            outcome: outcome.clone(),
            validators: vec![operator],
        }),
    }
    Ok(())
}

/// The outcome behind which more than 2/3 of the current validators' power stands, if any
/// (validators removed since they voted no longer count).
pub fn decided<'a, T>(
    votes: &'a [OutcomeVote<T>],
    validators: &[ValidatorInfo],
) -> Option<&'a OutcomeVote<T>> {
    let total = quorum::total_power(validators, |v| v.power);
    votes.iter().find(|vote| {
        let power = quorum::voted_power(
            validators,
            |v| v.power,
            |v| vote.validators.binary_search(&v.operator).is_ok(),
        );
        quorum::exceeds_two_thirds(power, total)
    })
}

/// Checks `signature` over `digest` by `validator`'s bridge key, a member of `set` (the set L1
/// holds), and inserts it into `signatures` (kept in ascending signer index). Returns the
/// signer's index and whether the signatures now pass the contract's threshold of `set`.
///
/// Errors: `Code::BadBatchSignature` when the contract would refuse the signature (high s,
/// bad v) or it recovers to an address other than the validator's registered one;
/// `Code::NotL1Signer` when that address is not in `set`; `Code::DuplicateConfirmation` when
/// that signer's signature is counted already.
pub fn record_signature(
    validator: &ValidatorInfo,
    digest: [u8; 32],
    signature: &[u8; 65],
    set: &L1SignerSet,
    signatures: &mut Vec<BatchSignature>,
    item: &str,
) -> Result<(u32, bool), Fail> {
    let recovered = match recover_signer(B256::from(digest), signature) {
        Ok(a) => a,
        Err(e) => {
            let why = match e {
                SigError::HighS(_) => {
                    "its s is in the upper half of the curve order (EIP-2); use the low-s form"
                        .to_string()
                }
                other => other.to_string(),
            };
            return fail(
                Code::BadBatchSignature,
                format!("the signature over {item} is refused: {why}"),
            );
        }
    };
    if recovered.0 .0 != validator.eth_address.0 {
        return fail(
            Code::BadBatchSignature,
            format!(
                "the signature over {item} recovers to {recovered}, but the validator's registered bridge address is {}",
                validator.eth_address
            ),
        );
    }
    let Some(index) = set.signers.iter().position(|s| *s == validator.eth_address) else {
        return fail(
            Code::NotL1Signer,
            format!(
                "{} is not in the L1 signer set (nonce {}) that signs {item}",
                validator.eth_address, set.nonce
            ),
        );
    };
    let signer_index = u32::try_from(index).unwrap_or(u32::MAX);
    let at = match signatures.binary_search_by_key(&signer_index, |s| s.signer_index) {
        Ok(_) => {
            return fail(
                Code::DuplicateConfirmation,
                format!(
                    "{}'s confirmation of {item} is counted already",
                    validator.eth_address
                ),
            )
        }
        Err(at) => at,
    };
    signatures.insert(
        at,
        BatchSignature {
            signer_index,
            signer: validator.eth_address,
            signature: *signature,
        },
    );
    Ok((signer_index, signed_enough(set, signatures)))
}

/// Whether `signatures` (by index into `set`) carry more than the contract's threshold.
pub fn signed_enough(set: &L1SignerSet, signatures: &[BatchSignature]) -> bool {
    passes_threshold(signatures.iter().map(|s| {
        usize::try_from(s.signer_index)
            .ok()
            .and_then(|i| set.powers.get(i))
            .copied()
            .unwrap_or(0)
    }))
}
