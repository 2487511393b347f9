//! Light-client verification of the header whose app hash a proven query trusts.
//!
//! A Merkle proof only moves trust from an app hash to a value; the app hash itself is worth
//! what the header carrying it is worth. So before a proven query uses an app hash, the header
//! is verified the way CometBFT's light client does it, with the verifier of tendermint-rs,
//! starting from a [`TrustAnchor`] the user chose and never from the node being asked:
//!
//! - from the genesis document: the first block's header must name the genesis validators
//!   (by the hash of the set) and its commit must carry more than 2/3 of their power in valid
//!   signatures;
//! - from a header the user trusts: the node's header at that height must have the given hash.
//!
//! From there the header at the target height is reached by skipping verification (more than
//! 1/3 of the trusted validators' power must have signed it), bisecting where the validator
//! set changed too much for one skip.

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use tendermint::{
    block::{self, signed_header::SignedHeader},
    chain, validator, Hash, PublicKey, Time,
};
use tendermint_light_client_verifier::{
    errors::VerificationErrorDetail,
    operations::VotingPowerTally,
    options::Options,
    types::{TrustThreshold, TrustedBlockState, UntrustedBlockState},
    ProdVerifier, Verdict, Verifier,
};
use tendermint_rpc::{Client as _, Paging};

use crate::{rpc::Client, Error, Result};

/// How long a verified header may serve as the starting point of a verification: the
/// light-client trusting period, which must stay below the chain's unbonding period. 14 days
/// leaves local networks and test chains room while refusing an anchor from a past era.
pub const TRUSTING_PERIOD: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// How far a header's time may be ahead of this machine's clock.
pub const CLOCK_DRIFT: Duration = Duration::from_secs(10);

/// How many headers may wait for their midpoint at once while bisecting (a range of 2^24
/// blocks); deeper means the validator set changed beyond what one verification should chase.
const MAX_BISECTION_DEPTH: usize = 24;

/// How many headers one verification may fetch in all.
const MAX_FETCHES: usize = 128;

/// What a client trusts to start verifying headers from, given by the user, never by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustAnchor {
    /// The chain's CometBFT genesis document (`genesis.json`): its chain id and validators.
    Genesis { path: PathBuf },
    /// A header the user trusts, known by its height and hash (from a source other than the
    /// node asked, e.g. a block explorer or another operator).
    Header { height: u64, hash: Hash },
}

impl TrustAnchor {
    /// A header anchor from a height and the hex hash of its header (64 hex digits).
    pub fn header(height: u64, hash_hex: &str) -> Result<Self> {
        if height == 0 {
            return Err(Error::NoTrustAnchor(
                "the trusted height must be at least 1".into(),
            ));
        }
        let bytes: [u8; 32] = hex::decode(hash_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Error::NoTrustAnchor(format!(
                    "`{hash_hex}` is not a header hash: give the 64 hex digits of the block hash at height {height}"
                ))
            })?;
        Ok(TrustAnchor::Header {
            height,
            hash: Hash::Sha256(bytes),
        })
    }

    /// What a [`crate::rpc::Proven`] says it was verified against: `genesis` or `height H`.
    pub fn label(&self) -> String {
        match self {
            TrustAnchor::Genesis { .. } => "genesis".into(),
            TrustAnchor::Header { height, .. } => format!("height {height}"),
        }
    }
}

impl fmt::Display for TrustAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustAnchor::Genesis { path } => write!(f, "the genesis at {}", path.display()),
            TrustAnchor::Header { height, hash } => {
                write!(f, "the header at height {height} with hash {hash}")
            }
        }
    }
}

/// The part of a CometBFT genesis document the light client trusts.
#[derive(Debug, Clone)]
pub struct TrustedGenesis {
    pub chain_id: chain::Id,
    /// Height of the first block (`initial_height`, 1 unless the chain was restarted).
    pub initial_height: u64,
    /// The validators of the first block.
    pub validators: validator::Set,
}

#[derive(Deserialize)]
struct GenesisFile {
    chain_id: String,
    #[serde(default)]
    initial_height: Option<String>,
    #[serde(default)]
    validators: Vec<GenesisValidator>,
}

#[derive(Deserialize)]
struct GenesisValidator {
    pub_key: PublicKey,
    power: String,
}

impl TrustedGenesis {
    /// Reads the CometBFT genesis document at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&bytes).map_err(|reason| Error::Config {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses a CometBFT genesis document; the error says which field is wrong.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        let doc: GenesisFile = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a CometBFT genesis document: {e}"))?;
        let chain_id = chain::Id::try_from(doc.chain_id.clone())
            .map_err(|e| format!("chain_id `{}`: {e}", doc.chain_id))?;
        let initial_height = match doc.initial_height.as_deref() {
            None | Some("") => 1,
            Some(h) => h
                .parse::<u64>()
                .ok()
                .filter(|h| *h >= 1)
                .ok_or_else(|| format!("initial_height `{h}` is not a positive number"))?,
        };
        if doc.validators.is_empty() {
            return Err(
                "the document lists no validators (the application chooses them at \
                 InitChain), so it cannot anchor verification; give a trusted height and \
                 header hash instead"
                    .into(),
            );
        }
        let mut infos = Vec::with_capacity(doc.validators.len());
        for (i, v) in doc.validators.iter().enumerate() {
            let power: u64 = v
                .power
                .parse()
                .map_err(|_| format!("validators[{i}].power `{}` is not a number", v.power))?;
            let power = tendermint::vote::Power::try_from(power)
                .map_err(|e| format!("validators[{i}].power {power}: {e}"))?;
            infos.push(validator::Info::new(v.pub_key, power));
        }
        let validators = validator_set(infos).map_err(|e| format!("validators: {e}"))?;
        Ok(TrustedGenesis {
            chain_id,
            initial_height,
            validators,
        })
    }
}

/// A validator set, refusing a total power that [`validator::Set::new`] would panic on.
fn validator_set(infos: Vec<validator::Info>) -> std::result::Result<validator::Set, String> {
    let total = infos
        .iter()
        .try_fold(0u64, |acc, v| acc.checked_add(v.power()))
        .filter(|t| *t <= validator::Set::MAX_TOTAL_VOTING_POWER)
        .ok_or("the total voting power overflows")?;
    if total == 0 {
        return Err("the total voting power is 0".into());
    }
    Ok(validator::Set::new(infos, None))
}

/// A header verified (or given as trusted), with the validator set of the next block.
struct Trusted {
    signed_header: SignedHeader,
    next_validators: validator::Set,
}

impl Trusted {
    fn height(&self) -> u64 {
        self.signed_header.header.height.value()
    }

    fn state(&self) -> TrustedBlockState<'_> {
        let header = &self.signed_header.header;
        TrustedBlockState {
            chain_id: &header.chain_id,
            header_time: header.time,
            height: header.height,
            next_validators: &self.next_validators,
            next_validators_hash: header.next_validators_hash,
        }
    }
}

/// A header fetched from the node, not verified yet.
struct Fetched {
    signed_header: SignedHeader,
    validators: validator::Set,
    /// Fetched for headers that may become trusted ones on the way to the target.
    next_validators: Option<validator::Set>,
}

impl Fetched {
    fn untrusted(&self) -> UntrustedBlockState<'_> {
        UntrustedBlockState {
            signed_header: &self.signed_header,
            validators: &self.validators,
            next_validators: self.next_validators.as_ref(),
        }
    }

    fn into_trusted(self) -> Result<Trusted> {
        let height = self.signed_header.header.height;
        let next_validators = self.next_validators.ok_or_else(|| {
            Error::Proof(format!(
                "internal: header {height} was verified without its next validators"
            ))
        })?;
        Ok(Trusted {
            signed_header: self.signed_header,
            next_validators,
        })
    }
}

fn options() -> Options {
    Options {
        trust_threshold: TrustThreshold::ONE_THIRD,
        trusting_period: TRUSTING_PERIOD,
        clock_drift: CLOCK_DRIFT,
    }
}

impl Client {
    /// The header at `target`, verified from `anchor` through the headers, commits and
    /// validator sets this client's node serves. Its app hash (and everything else in it) can
    /// be believed as far as the anchor can.
    pub async fn verified_header(
        &self,
        anchor: &TrustAnchor,
        target: u64,
    ) -> Result<block::Header> {
        let verifier = ProdVerifier::default();
        let now = Time::now();
        let trusted = match anchor {
            TrustAnchor::Genesis { path } => {
                let genesis = TrustedGenesis::load(path)?;
                self.trust_genesis(&verifier, &genesis, now).await?
            }
            TrustAnchor::Header { height, hash } => self.trust_header(*height, *hash).await?,
        };
        let expires = trusted
            .signed_header
            .header
            .time
            .checked_add(TRUSTING_PERIOD)
            .unwrap_or(now);
        if expires <= now {
            return Err(Error::Proof(format!(
                "the trust anchor ({anchor}) is too old: its header at height {} is from {}, \
                 more than the {}-day trusting period ago; give a recent trusted header with \
                 --trust-height/--trust-hash (or trust_height/trust_hash in client.toml)",
                trusted.height(),
                trusted.signed_header.header.time,
                TRUSTING_PERIOD.as_secs() / 86_400
            )));
        }
        if target < trusted.height() {
            return Err(Error::Proof(format!(
                "the trusted header is at height {}, above the header to verify ({target}); \
                 give a trusted height at or below {target}",
                trusted.height()
            )));
        }
        if target == trusted.height() {
            return Ok(trusted.signed_header.header);
        }
        self.skip_to(&verifier, trusted, target, now).await
    }

    /// Verifies the first block against the genesis validators.
    async fn trust_genesis(
        &self,
        verifier: &ProdVerifier,
        genesis: &TrustedGenesis,
        now: Time,
    ) -> Result<Trusted> {
        let first = genesis.initial_height;
        let signed_header = self.signed_header(first).await?;
        let header = &signed_header.header;
        if header.chain_id != genesis.chain_id {
            return Err(Error::Proof(format!(
                "the node's block {first} is of chain `{}`, the trusted genesis of `{}`; is \
                 the node on the chain you meant?",
                header.chain_id, genesis.chain_id
            )));
        }
        let genesis_hash = genesis.validators.hash();
        if header.validators_hash != genesis_hash {
            return Err(Error::Proof(format!(
                "the node's block {first} names validator set {} but the trusted genesis \
                 validators hash to {genesis_hash}: the node serves another chain's or a \
                 forged header; use another node, or check the genesis file",
                header.validators_hash
            )));
        }
        let block = Fetched {
            signed_header,
            validators: genesis.validators.clone(),
            next_validators: Some(self.validator_set(first.saturating_add(1)).await?),
        };
        let checked = match verifier.verify_validator_sets(&block.untrusted()) {
            Verdict::Success => {
                match verifier.check_header_is_from_past(&block.untrusted(), &options(), now) {
                    Verdict::Success => verifier.verify_commit(&block.untrusted()),
                    other => other,
                }
            }
            other => other,
        };
        match checked {
            Verdict::Success => block.into_trusted(),
            Verdict::NotEnoughTrust(tally) => Err(not_enough_power(first, None, &tally)),
            Verdict::Invalid(detail) => Err(invalid(first, None, &detail)),
        }
    }

    /// Takes the node's header at `height` as trusted if it has the hash the user gave.
    async fn trust_header(&self, height: u64, hash: Hash) -> Result<Trusted> {
        let block = self.fetch(height, true).await?;
        let got = block.signed_header.header.hash();
        if got != hash {
            return Err(Error::Proof(format!(
                "the node's header at the trusted height {height} has hash {got}, not the \
                 trusted {hash}: the node is on another chain or forges headers; use another \
                 node, or check the trusted hash"
            )));
        }
        // The hash pins the header; the header pins the validator sets by their hashes.
        match ProdVerifier::default().verify_validator_sets(&block.untrusted()) {
            Verdict::Success => block.into_trusted(),
            Verdict::NotEnoughTrust(tally) => Err(not_enough_power(height, None, &tally)),
            Verdict::Invalid(detail) => Err(invalid(height, None, &detail)),
        }
    }

    /// Skipping verification from `trusted` to `target`, bisecting where one step does not
    /// carry enough of the trusted validators' power.
    async fn skip_to(
        &self,
        verifier: &ProdVerifier,
        mut trusted: Trusted,
        target: u64,
        now: Time,
    ) -> Result<block::Header> {
        let options = options();
        // Heights still to reach, the next one to try on top.
        let mut pending = vec![target];
        let mut fetched: BTreeMap<u64, Fetched> = BTreeMap::new();
        let mut fetches = 0usize;
        while let Some(&height) = pending.last() {
            let block = match fetched.remove(&height) {
                Some(b) => b,
                None => {
                    fetches = fetches.saturating_add(1);
                    if fetches > MAX_FETCHES {
                        return Err(Error::Proof(format!(
                            "verifying header {target} from height {} took more than \
                             {MAX_FETCHES} headers; give a trusted header closer to it with \
                             --trust-height/--trust-hash",
                            trusted.height()
                        )));
                    }
                    self.fetch(height, height != target).await?
                }
            };
            let from = trusted.height();
            match verifier.verify_update_header(block.untrusted(), trusted.state(), &options, now) {
                Verdict::Success => {
                    pending.pop();
                    if height == target {
                        return Ok(block.signed_header.header);
                    }
                    trusted = block.into_trusted()?;
                }
                Verdict::NotEnoughTrust(tally) => {
                    let middle = from.saturating_add(height.saturating_sub(from) / 2);
                    if middle <= from || pending.len() >= MAX_BISECTION_DEPTH {
                        return Err(not_enough_power(height, Some(from), &tally));
                    }
                    fetched.insert(height, block);
                    pending.push(middle);
                }
                Verdict::Invalid(detail) => return Err(invalid(height, Some(from), &detail)),
            }
        }
        Err(Error::Proof(format!(
            "internal: header {target} was never reached"
        )))
    }

    /// The header at `height`, its validators and (when `with_next`) the next block's.
    async fn fetch(&self, height: u64, with_next: bool) -> Result<Fetched> {
        let signed_header = self.signed_header(height).await?;
        let validators = self.validator_set(height).await?;
        let next_validators = if with_next {
            Some(self.validator_set(height.saturating_add(1)).await?)
        } else {
            None
        };
        Ok(Fetched {
            signed_header,
            validators,
            next_validators,
        })
    }

    async fn signed_header(&self, height: u64) -> Result<SignedHeader> {
        let h = block::Height::try_from(height)
            .map_err(|e| Error::Decode(format!("height {height}: {e}")))?;
        let commit = self
            .http()
            .commit(h)
            .await
            .map_err(|e| Error::from_rpc(self.url(), &e))?;
        let got = commit.signed_header.header.height.value();
        if got != height {
            return Err(Error::Proof(format!(
                "asked for the header at height {height}, the node sent the one at {got}"
            )));
        }
        Ok(commit.signed_header)
    }

    /// Every validator of block `height` (all pages).
    async fn validator_set(&self, height: u64) -> Result<validator::Set> {
        let h = block::Height::try_from(height)
            .map_err(|e| Error::Decode(format!("height {height}: {e}")))?;
        let r = self
            .http()
            .validators(h, Paging::All)
            .await
            .map_err(|e| Error::from_rpc(self.url(), &e))?;
        validator_set(r.validators)
            .map_err(|e| Error::Proof(format!("the node's validator set at height {height}: {e}")))
    }
}

/// `height` is the header being verified, `from` the trusted one it was checked against
/// (`None` for the genesis or given header itself).
fn not_enough_power(height: u64, from: Option<u64>, tally: &VotingPowerTally) -> Error {
    let against = match from {
        Some(f) => format!("the validators trusted at height {f}"),
        None => "its validators".into(),
    };
    Error::Proof(format!(
        "not enough voting power signed header {height}: {} of {} of {against} (needs more \
         than {}); the node serves a header the trusted validators did not sign, or the set \
         changed too much; use another node or a more recent trusted header",
        tally.tallied, tally.total, tally.trust_threshold
    ))
}

fn invalid(height: u64, from: Option<u64>, detail: &VerificationErrorDetail) -> Error {
    let checked = match from {
        Some(f) => format!("header {height} (checked from trusted height {f})"),
        None => format!("header {height}"),
    };
    let what = match detail {
        VerificationErrorDetail::InvalidSignature(e) => format!(
            "bad signatures: the signature of validator {} in the commit of {checked} does \
             not verify; the node serves a forged commit, use another node",
            e.validator.address
        ),
        VerificationErrorDetail::FaultySigner(e) => format!(
            "bad signatures: the commit of {checked} is signed by {}, who is not one of its \
             validators; the node serves a forged commit, use another node",
            e.signer
        ),
        VerificationErrorDetail::InsufficientSignersOverlap(e) => format!(
            "not enough voting power signed {checked}: {} of {} (needs more than {}); the \
             node serves a header its validators did not sign, use another node",
            e.tally.tallied, e.tally.total, e.tally.trust_threshold
        ),
        VerificationErrorDetail::NotEnoughTrust(e) => format!(
            "not enough voting power signed {checked}: {} of {} (needs more than {})",
            e.tally.tallied, e.tally.total, e.tally.trust_threshold
        ),
        VerificationErrorDetail::InvalidValidatorSet(e) => format!(
            "validator set hash mismatch: {checked} names validators {} but the node sent \
             a set hashing to {}; use another node",
            e.header_validators_hash, e.validators_hash
        ),
        // Raised both for a header whose next-validators hash the node's next set does not
        // match, and for a header whose validators are not the ones the trusted header
        // handed over to.
        VerificationErrorDetail::InvalidNextValidatorSet(e) => format!(
            "validator set hash mismatch at {checked}: {} against {}; the node's headers and \
             validator sets do not chain up to the trusted validators, use another node",
            e.header_next_validators_hash, e.next_validators_hash
        ),
        VerificationErrorDetail::InvalidCommitValue(e) => format!(
            "hash mismatch: {checked} hashes to {} but its commit is for block {}",
            e.header_hash, e.commit_hash
        ),
        VerificationErrorDetail::ChainIdMismatch(e) => format!(
            "chain id mismatch: {checked} is of chain `{}`, the trusted one is `{}`",
            e.got, e.expected
        ),
        VerificationErrorDetail::NotWithinTrustPeriod(e) => format!(
            "the trust anchor expired at {} ({}-day trusting period); give a recent trusted \
             header with --trust-height/--trust-hash",
            e.expires_at,
            TRUSTING_PERIOD.as_secs() / 86_400
        ),
        VerificationErrorDetail::HeaderFromTheFuture(e) => format!(
            "{checked} is dated {}, ahead of this machine's clock ({}); check the clock or \
             use another node",
            e.header_time, e.now
        ),
        other => format!("{checked} does not verify: {other}"),
    };
    Error::Proof(what)
}
