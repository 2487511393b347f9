//! The relayer's main loop: start-up checks of both chains, then poll L1 for final deposits
//! and claim them on the sidechain, resynchronizing from the chain's record after every
//! failure, and do the withdrawal side's work ([`crate::withdrawals`]: confirm, attest,
//! submit). Any call that fails is retried with backoff and reported (logs, `/health`,
//! `relayer_errors`); only a configuration that does not match a chain stops the process.
//! The two sides back off separately, so a withdrawal that cannot proceed never holds up
//! deposits.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use sidechain_types::BridgeParams;
use tracing::{debug, info, warn};

use crate::{
    config::{Checked, Config},
    core::{Backoff, Tracker},
    l1::{Heads, L1},
    mesh::Mesh,
    metrics::{ChainLabel, KindLabel, Metrics, ResultLabel},
    sidechain::Sidechain,
    signer::BridgeKey,
    submit::Submitter,
    withdrawals::Outbound,
    Error, Result,
};

/// Most block ranges read per loop before claiming what they held.
const RANGES_PER_STEP: usize = 20;

/// How often the conservation invariant is sampled into `relayer_invariant_*`.
const INVARIANT_INTERVAL: Duration = Duration::from_secs(10);

/// The relayer with both edges.
#[derive(Debug)]
pub struct Relayer {
    pub(crate) config: Config,
    checked: Checked,
    pub(crate) l1: L1,
    pub(crate) side: Sidechain,
    pub(crate) metrics: Metrics,
    /// The validator's Ethereum bridge key: signs confirmations, pays for L1 transactions.
    pub(crate) key: BridgeKey,
    pub(crate) submitter: Submitter,
    /// What the bridge key signed, on disk before any signature is sent.
    pub(crate) signlog: std::sync::Mutex<crate::signlog::SignLog>,
    /// The relayer mesh, when `[mesh]` is configured ([`Relayer::with_mesh`]).
    pub(crate) mesh: Option<Mesh>,
}

/// Which edge a failure came from.
fn chain_of(e: &Error) -> &'static str {
    match e {
        Error::L1Unreachable { .. }
        | Error::L1Mismatch { .. }
        | Error::Decode(_)
        | Error::Bridge(_) => "l1",
        _ => "sidechain",
    }
}

impl Relayer {
    /// Loads the operator key and builds both clients (no request yet); `key` is the loaded
    /// bridge key ([`Config::load_bridge_key`]).
    pub fn new(
        config: Config,
        checked: Checked,
        home: &Path,
        key: BridgeKey,
        metrics: Metrics,
    ) -> Result<Self> {
        let l1 = L1::new(&config, checked.bridge)?;
        let side = Sidechain::new(&config, home)?;
        // A sent L1 transaction is awaited twice as long as a sidechain one: an L1 block is
        // slower to come.
        let receipt_wait = Duration::from_secs(config.relayer.tx_timeout_secs.saturating_mul(2));
        let submitter = Submitter::new(&config, checked.bridge, &key, receipt_wait)?;
        let signlog = std::sync::Mutex::new(crate::signlog::SignLog::open(
            &crate::signlog::SignLog::default_path(home),
        )?);
        Ok(Relayer {
            config,
            checked,
            l1,
            side,
            metrics,
            key,
            submitter,
            signlog,
            mesh: None,
        })
    }

    /// Joins the relayer mesh: its heartbeats then report this relayer's progress, and the
    /// submission code can ask it who pays ([`Mesh::should_submit`]).
    pub fn with_mesh(mut self, mesh: Mesh) -> Self {
        self.mesh = Some(mesh);
        self
    }

    pub fn mesh(&self) -> Option<&Mesh> {
        self.mesh.as_ref()
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(
            Duration::from_millis(self.config.relayer.retry_initial_ms),
            Duration::from_millis(self.config.relayer.retry_max_ms),
        )
    }

    fn report(&self, e: &Error) {
        let chain = chain_of(e);
        self.metrics
            .errors
            .get_or_create(&ChainLabel { chain })
            .inc();
        let text = e.to_string();
        self.metrics.update(|s| match chain {
            "l1" => s.l1_error = Some(text),
            _ => s.sidechain_error = Some(text),
        });
    }

    /// Checks both chains against the configuration: L1 chain id, contract code and bridge
    /// id; the sidechain's chain id and bridge, and the operator's validator. Unreachable
    /// endpoints are retried with backoff; a mismatch is returned.
    pub async fn start_checks(&self) -> Result<BridgeParams> {
        let mut backoff = self.backoff();
        loop {
            let r = async {
                self.l1
                    .check(self.config.l1.chain_id, self.checked.bridge_id)
                    .await?;
                let params = self.side.check(&self.config, &self.checked).await?;
                self.side.check_bridge_key(&self.key.address()).await?;
                Ok::<_, Error>(params)
            }
            .await;
            match r {
                Ok(params) => {
                    self.metrics.update(|s| {
                        s.started = true;
                        s.l1_error = None;
                        s.sidechain_error = None;
                    });
                    return Ok(params);
                }
                Err(e) if e.is_retryable() => {
                    self.report(&e);
                    let wait = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "start-up check failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Where to start reading L1: the block of the chain's last applied deposit (every later
    /// deposit is in it or after it), or the configured start block.
    async fn resume_point(&self) -> Result<Tracker> {
        let progress = self.side.progress().await?;
        let from_chain = self.side.l1_block_of(progress.last_applied).await?;
        let scan_from = from_chain
            .unwrap_or(self.config.l1.start_block)
            .max(self.config.l1.start_block);
        info!(
            last_applied = progress.last_applied,
            last_claimed = progress.last_claimed,
            next_nonce = progress.next_to_claim(),
            scan_from,
            "resuming from the sidechain's record"
        );
        Ok(Tracker::new(progress, scan_from))
    }

    /// Runs until the process is stopped. Returns only on a configuration mismatch found at
    /// start.
    pub async fn run(&self) -> Result<()> {
        let params = self.start_checks().await?;
        info!(
            operator = %self.side.operator(),
            bridge = %params.contract,
            l1_chain_id = params.l1_chain_id,
            "both chains match the configuration"
        );
        match self.submitter.balance().await {
            Ok(b) if b.is_zero() => warn!(
                bridge_key = %self.key.address(),
                "the bridge key has no ether on L1: it cannot pay for submitting batches or signer-set updates; send it some"
            ),
            Ok(b) => info!(bridge_key = %self.key.address(), balance_wei = %b, "bridge key"),
            Err(e) => warn!(error = %e, "cannot read the bridge key's L1 balance"),
        }
        let mut backoff = self.backoff();
        let mut tracker = loop {
            match self.resume_point().await {
                Ok(t) => break t,
                Err(e) => {
                    self.report(&e);
                    let wait = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot read the sidechain's record; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        };
        backoff.reset();
        let mut outbound = Outbound::default();
        let mut out_backoff = self.backoff();
        let mut out_next = Instant::now();
        let mut invariant_next = Instant::now();
        loop {
            if Instant::now() >= invariant_next {
                self.sample_invariant().await;
                invariant_next = Instant::now() + INVARIANT_INTERVAL;
            }
            match self.step(&mut tracker).await {
                Ok((caught_up, heads)) => {
                    if backoff.failures() > 0 {
                        info!("both chains answer again");
                    }
                    backoff.reset();
                    if Instant::now() >= out_next {
                        match self.withdrawal_step(&params, &heads, &mut outbound).await {
                            Ok(()) => {
                                if out_backoff.failures() > 0 {
                                    info!("the withdrawal side works again");
                                }
                                out_backoff.reset();
                            }
                            Err(e) => {
                                self.report(&e);
                                let wait = out_backoff.next_delay();
                                out_next = Instant::now() + wait;
                                warn!(error = %e, failures = out_backoff.failures(), retry_in_ms = wait.as_millis() as u64, "withdrawal step failed; retrying");
                            }
                        }
                    }
                    if caught_up {
                        tokio::time::sleep(self.config.poll_interval()).await;
                    }
                }
                Err(e) => {
                    self.report(&e);
                    let wait = backoff.next_delay();
                    warn!(error = %e, failures = backoff.failures(), retry_in_ms = wait.as_millis() as u64, "relaying step failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Samples the conservation invariant into the `relayer_invariant_*` gauges. The two
    /// chains are not read atomically, so a violation is published only when a second sample
    /// taken right away confirms it; a failed read is counted and logged, never fatal.
    async fn sample_invariant(&self) {
        let sample = || {
            crate::invariant::sample(self.side.client(), self.l1.provider(), self.checked.bridge)
        };
        let result = match sample().await {
            Ok(tokens) if tokens.iter().all(|t| t.holds) => Ok(tokens),
            Ok(_) => sample().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(tokens) => {
                for t in tokens.iter().filter(|t| !t.holds) {
                    tracing::error!(
                        denom = %t.denom,
                        locked = %t.locked,
                        supply = %t.supply,
                        in_flight = %t.in_flight,
                        "conservation invariant violated: the L1 bridge holds less than the wrapped supply plus withdrawals in flight"
                    );
                }
                self.metrics.set_invariant(&tokens);
                self.metrics
                    .invariant_samples
                    .get_or_create(&ResultLabel { result: "ok" })
                    .inc();
            }
            Err(e) => {
                debug!(error = %e, "cannot sample the conservation invariant");
                self.metrics
                    .invariant_samples
                    .get_or_create(&ResultLabel { result: "error" })
                    .inc();
            }
        }
    }

    /// One round of deposits: read final L1 blocks, adopt the chain's record, send the claims
    /// due. Returns whether everything known was read and claimed, and the L1 heads read.
    pub async fn step(&self, tracker: &mut Tracker) -> Result<(bool, Heads)> {
        let heads = self.l1.heads().await?;
        self.metrics.l1_head.set(gauge(heads.head));
        if let Some(safe) = heads.safe {
            self.metrics.l1_safe_head.set(gauge(safe));
        }
        let mut ranges = 0;
        if let Some(safe) = heads.safe {
            while let Some((from, to)) = tracker.next_range(safe, self.config.l1.max_block_range) {
                let events = self.l1.deposits(from, to).await?;
                let seen = tracker.observe(events, to);
                if seen.new > 0 || seen.replaced > 0 {
                    debug!(
                        from,
                        to,
                        new = seen.new,
                        replaced = seen.replaced,
                        "read deposits"
                    );
                }
                if seen.replaced > 0 {
                    warn!(from, to, replaced = seen.replaced, "a deposit nonce was read again with different content; the newer content counts");
                }
                self.metrics.deposits_seen.inc_by(seen.new as u64);
                ranges += 1;
                if ranges >= RANGES_PER_STEP {
                    break;
                }
            }
            self.metrics.l1_scan_lag.set(gauge(
                safe.saturating_add(1).saturating_sub(tracker.scan_from()),
            ));
        }
        self.metrics.update(|s| {
            s.l1_head = heads.head;
            s.l1_safe_head = heads.safe;
            s.l1_scan_from = tracker.scan_from();
            s.l1_error = None;
        });

        let progress = self.side.progress().await?;
        tracker.resync(progress);
        if let Some(missing) = tracker.gap() {
            let from = self
                .side
                .l1_block_of(missing.saturating_sub(1))
                .await?
                .unwrap_or(self.config.l1.start_block)
                .max(self.config.l1.start_block);
            warn!(
                missing,
                from, "a later deposit was read but not this one; reading L1 again"
            );
            tracker.rescan_from(from);
        }
        let batches = tracker.claims(progress.last_applied, self.config.relayer.max_claims_per_tx);
        if !batches.is_empty() {
            let (done, failed) = self.side.claim_all(&batches).await;
            for (batch, outcome) in batches.iter().zip(&done) {
                let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
                    continue;
                };
                self.metrics
                    .claim_txs
                    .get_or_create(&ResultLabel { result: "ok" })
                    .inc();
                self.metrics.claims_sent.inc_by(batch.len() as u64);
                info!(first = first.nonce, last = last.nonce, height = outcome.height, tx = %outcome.hash, "claimed deposits");
                tracker.claimed_through(last.nonce);
            }
            if let Some(e) = failed {
                if matches!(e, Error::ClaimFailed { .. }) {
                    self.metrics
                        .claim_txs
                        .get_or_create(&ResultLabel { result: "failed" })
                        .inc();
                }
                return Err(e);
            }
        }
        self.metrics
            .last_applied_deposit
            .set(gauge(progress.last_applied));
        self.metrics
            .next_deposit_nonce
            .set(gauge(tracker.next_nonce()));
        self.metrics.pending_claims.set(tracker.pending() as i64);
        if let Some(mesh) = &self.mesh {
            // The sidechain height costs one RPC call: read at most once per heartbeat.
            let height = if mesh.height_refresh_due() {
                self.side
                    .client()
                    .status()
                    .await
                    .ok()
                    .map(|s| s.latest_height)
            } else {
                None
            };
            mesh.update_status(|s| {
                s.l1_finalized_head = heads.safe.unwrap_or(0);
                if let Some(h) = height {
                    s.sidechain_height = h;
                }
                s.last_claimed_deposit_nonce = progress.last_claimed;
            });
        }
        self.metrics.update(|s| {
            s.last_applied_deposit = progress.last_applied;
            s.next_deposit_nonce = tracker.next_nonce();
            s.pending_claims = tracker.pending();
            s.sidechain_error = None;
        });
        self.metrics
            .pending_work
            .get_or_create(&KindLabel {
                kind: "deposit_claims",
            })
            .set(i64::try_from(tracker.pending()).unwrap_or(i64::MAX));
        if let Some(mesh) = &self.mesh {
            let pending = self.metrics.pending_total();
            mesh.update_status(|s| s.pending_work = pending);
        }
        // Every claim due was sent and committed above (a failure returned early), so the
        // relayer is caught up once the scan has reached the safe head.
        Ok((
            heads.safe.is_none_or(|safe| tracker.scan_from() > safe),
            heads,
        ))
    }
}

pub(crate) fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
