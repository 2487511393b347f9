//! The withdrawal side of one relaying step: read the chain's outstanding batch and open
//! signer-set updates, then (1) confirm what this validator has not signed yet, (2) attest
//! what final L1 blocks show of them, and (3) when it is this relayer's turn, send the L1
//! transaction that moves them on (`submitBatch`, `updateSignerSet`, `activateSignerSet`).
//!
//! Decisions are the pure functions of [`crate::outbound`]; this module only reads, decides
//! and sends. It keeps nothing across restarts but a note of a batch whose L1 timeout has
//! passed (so it stops simulating it) and the last reason it held back a transaction (so a
//! repeated reason is logged once).

use sidechain_app::bridge::l1 as abi_of;
use sidechain_types::{
    BatchOutcome, BridgeMsg, BridgeParams, ExecutedBatch, L1SignerSet, Msg, OutgoingBatch,
    SignerSetOutcome, SignerSetStatus, SignerSetUpdate,
};
use tracing::{debug, info, warn};

use crate::{
    l1::Heads,
    metrics::{KindLabel, RevertLabel, TxLabel},
    outbound::{self, Revert, TxKind},
    run::Relayer,
    signlog::Item,
    submit::Attempt,
    Error, Result,
};

/// What the withdrawal side remembers between steps (nothing that must survive a restart).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// A batch (nonce, timeout) whose L1 timeout has passed (the simulation said
    /// `BatchExpired`): it is not submitted again; the timeout attestation settles it. The
    /// timeout tells it from the later batch that reuses its nonce.
    expired: Option<(u64, u64)>,
    /// The last (kind, reason) an L1 transaction was held back for, to log a change once.
    held: Option<(TxKind, String)>,
}

impl Relayer {
    /// Signs `digest` for (`item`, `nonce`) after recording it in the signing log (synced to
    /// disk), which refuses a second, different digest for a nonce while the first can still
    /// be used on L1 (a batch's, until final L1 time passes its `timeout`).
    async fn sign_recorded(
        &self,
        item: Item,
        nonce: u64,
        digest: [u8; 32],
        timeout: Option<u64>,
        heads: &Heads,
    ) -> Result<[u8; 65]> {
        let l1_time = match heads.safe {
            Some(safe) => self.l1.block_time(safe).await?,
            None => 0,
        };
        {
            // A panic elsewhere cannot leave the log half-updated: `record` writes the line
            // before it updates the map, so a poisoned lock is safe to take over.
            let mut log = self
                .signlog
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = log.record(item, nonce, digest, timeout, l1_time) {
                if matches!(e, Error::SignRefused(_)) {
                    self.metrics.signatures_refused.inc();
                }
                return Err(e);
            }
        }
        self.key.sign_digest(digest)
    }

    /// Whether this relayer pays for the L1 transaction of (`kind`, `nonce`) now: only a member
    /// of the signer set L1 holds may; with the mesh, the intent rule every relayer computes
    /// the same way decides (announcing this relayer's intent), and without live peers the
    /// chain's turn order (`my_turn`) does (ADR 18).
    fn may_send(&self, kind: TxKind, nonce: u64, my_turn: bool, l1_set: &L1SignerSet) -> bool {
        if !l1_set.signers.contains(&self.key.address()) {
            return false;
        }
        match &self.mesh {
            Some(mesh) => mesh.should_submit(kind.into(), nonce, my_turn).send(),
            None => my_turn,
        }
    }

    /// Tells the mesh that (`kind`, `nonce`) has its L1 outcome: no more intents for it.
    fn mesh_done(&self, kind: TxKind, nonce: u64) {
        if let Some(mesh) = &self.mesh {
            mesh.done(kind.into(), nonce);
        }
    }

    /// One round of withdrawal work (see the module doc). Errors stop the round; the next step
    /// starts again from the chain's records.
    pub async fn withdrawal_step(
        &self,
        params: &BridgeParams,
        heads: &Heads,
        memory: &mut Outbound,
    ) -> Result<()> {
        let client = self.side.client();
        let Some(l1_set) = client.l1_signer_set().await? else {
            return Ok(());
        };
        let height = client.status().await?.latest_height;
        let batch = client.outstanding_batch().await?;
        let nonce = batch.as_ref().map(|b| b.nonce);
        self.metrics
            .outstanding_batch_nonce
            .set(crate::run::gauge(nonce.unwrap_or(0)));
        self.metrics.update(|s| s.outstanding_batch = nonce);
        self.metrics
            .pending_work
            .get_or_create(&KindLabel { kind: "batches" })
            .set(i64::from(nonce.is_some()));
        if let Some(batch) = &batch {
            self.batch_work(params, &l1_set, batch, height, heads, memory)
                .await?;
        }
        let updates = client.signer_set_updates().await?;
        let open: Vec<_> = updates.iter().filter(|u| u.status.is_open()).collect();
        self.metrics.update(|s| s.open_signer_sets = open.len());
        self.metrics
            .pending_work
            .get_or_create(&KindLabel {
                kind: "signer_set_updates",
            })
            .set(i64::try_from(open.len()).unwrap_or(i64::MAX));
        for update in open {
            self.signer_set_work(params, &l1_set, update, height, heads, memory)
                .await?;
        }
        if batch.is_none() && updates.iter().all(|u| u.status == SignerSetStatus::Signing) {
            memory.held = None;
            self.metrics.update(|s| s.l1_tx_held = None);
        }
        Ok(())
    }

    async fn batch_work(
        &self,
        params: &BridgeParams,
        l1_set: &L1SignerSet,
        batch: &OutgoingBatch,
        height: u64,
        heads: &Heads,
        memory: &mut Outbound,
    ) -> Result<()> {
        let me = self.key.address();
        if outbound::should_confirm_batch(batch, l1_set, &me) {
            let digest = abi_of::batch_digest(params, batch);
            let signature = self
                .sign_recorded(Item::Batch, batch.nonce, digest, Some(batch.timeout), heads)
                .await?;
            let msg = Msg::Bridge(BridgeMsg::ConfirmBatch {
                nonce: batch.nonce,
                signature,
            });
            if let Some(out) = self.side.send_msg("batch confirmation", msg).await? {
                self.metrics
                    .confirmations_sent
                    .get_or_create(&KindLabel { kind: "batch" })
                    .inc();
                info!(nonce = batch.nonce, height = out.height, tx = %out.hash, "confirmed withdrawal batch");
            }
        }
        if self.attest_batch(batch, heads).await? {
            self.mesh_done(TxKind::SubmitBatch, batch.nonce);
            return Ok(());
        }
        let sendable = batch.ready
            && batch.ready_height > 0
            && batch.signer_set_nonce == l1_set.nonce
            && memory.expired != Some((batch.nonce, batch.timeout));
        if !sendable
            || !self.may_send(
                TxKind::SubmitBatch,
                batch.nonce,
                outbound::is_my_turn(batch.nonce, batch.ready_height, height, l1_set, &me),
                l1_set,
            )
        {
            return Ok(());
        }
        let signatures = outbound::enough_signatures(&batch.signatures, l1_set);
        let attempt = self
            .submitter
            .submit_batch(
                abi_of::signer_set_to_abi(l1_set),
                abi_of::signatures_to_abi(&signatures),
                abi_of::batch_to_abi(batch),
            )
            .await?;
        if let Attempt::Reverted {
            class: Revert::Expired,
            ..
        } = attempt
        {
            memory.expired = Some((batch.nonce, batch.timeout));
        }
        self.record_attempt(TxKind::SubmitBatch, batch.nonce, &attempt, memory);
        Ok(())
    }

    /// Attests the outstanding batch's L1 outcome once final blocks show it (unless this
    /// validator already did). Returns whether final L1 blocks show an outcome (nothing left
    /// to submit).
    async fn attest_batch(&self, batch: &OutgoingBatch, heads: &Heads) -> Result<bool> {
        let Some(safe) = heads.safe else {
            return Ok(false);
        };
        let last = self.l1.last_batch_nonce_at(safe).await?;
        let operator = self.side.operator();
        let attested = outbound::has_attested(&batch.attestations, &operator, None);
        if last >= batch.nonce {
            if attested {
                return Ok(true);
            }
            let found = self
                .l1
                .execution(
                    batch.nonce,
                    self.config.l1.start_block,
                    safe,
                    self.config.l1.max_block_range,
                )
                .await?;
            let Some(exec) = found else {
                warn!(
                    nonce = batch.nonce,
                    last_batch_nonce = last,
                    safe,
                    "L1 says the batch executed but no BatchExecuted log of it was found from l1.start_block on; is l1.start_block right?"
                );
                return Ok(true);
            };
            let same = exec.token == batch.token
                && exec.withdrawals == alloy::primitives::U256::from(batch.withdrawals.len())
                && exec.fee == alloy::primitives::U256::from(batch.fee);
            if !same {
                return Err(Error::Decode(format!(
                    "BatchExecuted({}) in L1 transaction 0x{} (token {}, {} withdrawals, fee {}) does not match the chain's batch (token {}, {} withdrawals, fee {}); not attesting",
                    batch.nonce,
                    hex::encode(exec.l1_tx_hash),
                    exec.token,
                    exec.withdrawals,
                    exec.fee,
                    batch.token,
                    batch.withdrawals.len(),
                    batch.fee
                )));
            }
            let releases = outbound::releases(batch, &exec.submitter, &exec.entry_logs)
                .map_err(Error::Decode)?;
            let outcome = BatchOutcome::Executed(ExecutedBatch {
                l1_block: exec.l1_block,
                l1_tx_hash: exec.l1_tx_hash,
                submitter: exec.submitter,
                releases,
            });
            self.send_batch_attestation(batch.nonce, outcome, "batch_executed")
                .await?;
            return Ok(true);
        }
        let time = self.l1.block_time(safe).await?;
        match outbound::timed_out(batch, safe, time, last) {
            Some(outcome) => {
                if !attested {
                    self.send_batch_attestation(batch.nonce, outcome, "batch_timed_out")
                        .await?;
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn send_batch_attestation(
        &self,
        nonce: u64,
        outcome: BatchOutcome,
        kind: &'static str,
    ) -> Result<()> {
        let msg = Msg::Bridge(BridgeMsg::AttestBatch { nonce, outcome });
        if let Some(out) = self.side.send_msg("batch attestation", msg).await? {
            self.metrics
                .attestations_sent
                .get_or_create(&KindLabel { kind })
                .inc();
            info!(nonce, kind, height = out.height, tx = %out.hash, "attested the batch's L1 outcome");
        }
        Ok(())
    }

    async fn signer_set_work(
        &self,
        params: &BridgeParams,
        l1_set: &L1SignerSet,
        update: &SignerSetUpdate,
        height: u64,
        heads: &Heads,
        memory: &mut Outbound,
    ) -> Result<()> {
        let me = self.key.address();
        let nonce = update.set.nonce;
        match update.status {
            SignerSetStatus::Signing => {
                if outbound::should_confirm_signer_set(update, l1_set, &me) {
                    let digest = abi_of::signer_set_digest(params, &update.set);
                    let signature = self
                        .sign_recorded(Item::SignerSet, nonce, digest, None, heads)
                        .await?;
                    let msg = Msg::Bridge(BridgeMsg::ConfirmSignerSet { nonce, signature });
                    if let Some(out) = self.side.send_msg("signer-set confirmation", msg).await? {
                        self.metrics
                            .confirmations_sent
                            .get_or_create(&KindLabel { kind: "signer_set" })
                            .inc();
                        info!(nonce, height = out.height, tx = %out.hash, "confirmed signer-set update");
                    }
                }
                Ok(())
            }
            SignerSetStatus::Ready { height: ready } => {
                if self.attest_signer_set(update, heads).await? {
                    self.mesh_done(TxKind::UpdateSignerSet, nonce);
                    return Ok(());
                }
                if update.signed_by != l1_set.nonce
                    || !self.may_send(
                        TxKind::UpdateSignerSet,
                        nonce,
                        outbound::is_my_turn(nonce, ready, height, l1_set, &me),
                        l1_set,
                    )
                {
                    return Ok(());
                }
                let signatures = outbound::enough_signatures(&update.signatures, l1_set);
                let attempt = self
                    .submitter
                    .update_signer_set(
                        abi_of::signer_set_to_abi(l1_set),
                        abi_of::signer_set_to_abi(&update.set),
                        abi_of::signatures_to_abi(&signatures),
                    )
                    .await?;
                self.record_attempt(TxKind::UpdateSignerSet, nonce, &attempt, memory);
                Ok(())
            }
            SignerSetStatus::Pending {
                activates_at,
                height: pending,
            } => {
                if self.attest_signer_set(update, heads).await? {
                    self.mesh_done(TxKind::ActivateSignerSet, nonce);
                    return Ok(());
                }
                let now = self.l1.latest_time().await?;
                if now < activates_at {
                    debug!(
                        nonce,
                        activates_at, now, "signer set still waits out its delay"
                    );
                    return Ok(());
                }
                if !self.may_send(
                    TxKind::ActivateSignerSet,
                    nonce,
                    outbound::is_my_turn(nonce, pending, height, l1_set, &me),
                    l1_set,
                ) {
                    return Ok(());
                }
                let attempt = self.submitter.activate_signer_set().await?;
                self.record_attempt(TxKind::ActivateSignerSet, nonce, &attempt, memory);
                Ok(())
            }
            SignerSetStatus::Active { .. } | SignerSetStatus::Cancelled { .. } => Ok(()),
        }
    }

    /// Attests what final L1 blocks show of a submitted signer-set update (unless this
    /// validator already attested that outcome). Returns whether there was an outcome to
    /// attest (nothing to send on L1 then).
    async fn attest_signer_set(&self, update: &SignerSetUpdate, heads: &Heads) -> Result<bool> {
        let Some(safe) = heads.safe else {
            return Ok(false);
        };
        let nonce = update.set.nonce;
        let (l1_nonce, waiting) = self.l1.signer_set_state_at(safe).await?;
        if l1_nonce < nonce {
            return Ok(false);
        }
        let pending = matches!(update.status, SignerSetStatus::Pending { .. });
        if pending && l1_nonce == nonce && waiting {
            // Still waiting out its delay on L1: nothing new to attest.
            return Ok(false);
        }
        let operator = self.side.operator();
        let done = if pending {
            [SignerSetOutcome::Active, SignerSetOutcome::Cancelled]
                .iter()
                .any(|o| {
                    outbound::has_attested(
                        &update.attestations,
                        &operator,
                        Some(o.content_hash(nonce)),
                    )
                })
        } else {
            outbound::has_attested(&update.attestations, &operator, None)
        };
        if done {
            return Ok(true);
        }
        let events = self
            .l1
            .signer_set_events(
                nonce,
                self.config.l1.start_block,
                safe,
                self.config.l1.max_block_range,
            )
            .await?;
        let Some(outcome) = outbound::signer_set_outcome(&update.status, &events) else {
            return Ok(false);
        };
        let kind = match outcome {
            SignerSetOutcome::Active => "signer_set_active",
            SignerSetOutcome::Pending { .. } => "signer_set_pending",
            SignerSetOutcome::Cancelled => "signer_set_cancelled",
        };
        let msg = Msg::Bridge(BridgeMsg::AttestSignerSet { nonce, outcome });
        if let Some(out) = self.side.send_msg("signer-set attestation", msg).await? {
            self.metrics
                .attestations_sent
                .get_or_create(&KindLabel { kind })
                .inc();
            info!(nonce, kind, height = out.height, tx = %out.hash, "attested the signer set's L1 outcome");
        }
        Ok(true)
    }

    /// Counts and logs what an L1 attempt did.
    fn record_attempt(&self, kind: TxKind, nonce: u64, attempt: &Attempt, memory: &mut Outbound) {
        let label = kind.label();
        let held = |memory: &mut Outbound, reason: String, quiet: bool| {
            let changed = memory.held.as_ref() != Some(&(kind, reason.clone()));
            if changed && !quiet {
                warn!(kind = label, nonce, reason = %reason, "not sending the L1 transaction now; trying again on the next step");
            } else {
                debug!(kind = label, nonce, reason = %reason, "not sending the L1 transaction now");
            }
            self.metrics
                .update(|s| s.l1_tx_held = Some(format!("{label} {nonce}: {reason}")));
            memory.held = Some((kind, reason));
        };
        match attempt {
            Attempt::Mined {
                hash,
                block,
                gas_used,
                success,
            } => {
                let result = if *success { "ok" } else { "failed" };
                self.metrics
                    .l1_txs
                    .get_or_create(&TxLabel {
                        kind: label,
                        result,
                    })
                    .inc();
                self.metrics
                    .l1_gas_used
                    .get_or_create(&KindLabel { kind: label })
                    .inc_by(*gas_used);
                memory.held = None;
                self.metrics.update(|s| s.l1_tx_held = None);
                if *success {
                    info!(kind = label, nonce, tx = %hash, block, gas_used, "sent L1 transaction");
                } else {
                    warn!(kind = label, nonce, tx = %hash, block, gas_used, "L1 transaction failed on chain although its simulation passed");
                }
            }
            Attempt::NotMined { hash } => {
                self.metrics
                    .l1_txs
                    .get_or_create(&TxLabel {
                        kind: label,
                        result: "not_mined",
                    })
                    .inc();
                warn!(kind = label, nonce, tx = %hash, "L1 transaction sent but not mined yet; no other is sent while it is pending");
                held(memory, format!("transaction {hash} pending"), true);
            }
            Attempt::Busy => held(
                memory,
                "the bridge key's account has a transaction pending on L1".into(),
                false,
            ),
            Attempt::Reverted { reason, class } => {
                self.metrics
                    .l1_simulation_reverts
                    .get_or_create(&RevertLabel {
                        kind: label,
                        reason,
                    })
                    .inc();
                let quiet = matches!(class, Revert::AlreadyDone);
                let what = match class {
                    Revert::AlreadyDone => "already done on L1; its attestation follows once final",
                    Revert::Temporary => "refused for now",
                    Revert::Expired => "its timeout passed; the timeout attestation settles it",
                    Revert::WrongSignerSet => {
                        "signed for a signer set L1 does not hold; waiting for the signer-set change"
                    }
                    Revert::Refused => "refused by the contract",
                };
                held(
                    memory,
                    format!("simulation reverted with {reason}: {what}"),
                    quiet,
                );
            }
        }
    }
}
