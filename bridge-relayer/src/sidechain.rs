//! The sidechain edge: reads the chain's record of deposits (the relayer's source of truth on
//! start and after failures) and sends claim transactions signed with the validator's
//! operator key.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use ed25519_consensus::SigningKey;
use sidechain_client::{Client, Keystore, TxOutcome};
use sidechain_types::{
    bridge::DepositClaim, tx::build_signed, Address, BridgeParams, Code, EthAddress, Msg,
};

use crate::{
    config::{Checked, Config},
    core::ChainProgress,
    Error, Result,
};

/// A client of the sidechain holding the operator key.
#[derive(Debug)]
pub struct Sidechain {
    client: Client,
    key: SigningKey,
    operator: Address,
    tx_timeout: Duration,
}

/// Loads the operator key `name` from `<home>/keys/`, refusing a file others can read.
pub fn load_operator_key(home: &Path, name: &str) -> Result<(SigningKey, Address)> {
    let store = Keystore::open(home);
    let path = store.dir().join(format!("{name}.json"));
    let meta = std::fs::metadata(&path).map_err(|e| Error::Key {
        path: path.clone(),
        reason: format!(
            "cannot read it ({e}); copy the validator's operator key there (mode 0600) or set sidechain.operator_key"
        ),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Key {
            path,
            reason: format!("is readable by others (mode {mode:o}); run `chmod 600` on it"),
        });
    }
    let (key, info) = store.signing_key(name)?;
    Ok((key, info.address))
}

impl Sidechain {
    pub fn new(config: &Config, home: &Path) -> Result<Self> {
        let (key, operator) = load_operator_key(home, &config.sidechain.operator_key)?;
        Ok(Sidechain {
            client: Client::new(&config.sidechain.rpc)?,
            key,
            operator,
            tx_timeout: Duration::from_secs(config.relayer.tx_timeout_secs),
        })
    }

    pub fn operator(&self) -> Address {
        self.operator
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn mismatch(&self, reason: String) -> Error {
        Error::SidechainMismatch {
            url: self.client.url().to_string(),
            reason,
        }
    }

    /// Checks that the node serves the configured chain, that its bridge is the configured
    /// L1 deployment, and that the operator key belongs to a current validator. Returns the
    /// chain's bridge parameters.
    pub async fn check(&self, config: &Config, checked: &Checked) -> Result<BridgeParams> {
        let status = self.client.status().await?;
        if status.chain_id != config.sidechain.chain_id {
            return Err(self.mismatch(format!(
                "it serves chain `{}` but sidechain.chain_id is `{}`",
                status.chain_id, config.sidechain.chain_id
            )));
        }
        let params = self.client.bridge_params().await?.ok_or_else(|| {
            self.mismatch("its genesis configures no bridge; there is nothing to relay".into())
        })?;
        if params.l1_chain_id != config.l1.chain_id
            || params.contract != checked.bridge
            || params.bridge_id != checked.bridge_id
        {
            return Err(self.mismatch(format!(
                "its bridge is contract {} on L1 chain {} (bridge id 0x{}), but the configuration names {} on chain {} (0x{}); fix l1.bridge, l1.chain_id and l1.bridge_id",
                params.contract,
                params.l1_chain_id,
                hex::encode(params.bridge_id),
                checked.bridge,
                config.l1.chain_id,
                hex::encode(checked.bridge_id)
            )));
        }
        self.check_validator().await?;
        Ok(params)
    }

    /// Whether the operator account belongs to a current validator.
    pub async fn check_validator(&self) -> Result<()> {
        let validators = self.client.validators().await?;
        if !validators.iter().any(|v| v.operator == self.operator) {
            return Err(Error::NotValidator {
                operator: self.operator,
            });
        }
        Ok(())
    }

    /// Whether the bridge key's address `address` is the Ethereum address the chain registered
    /// for this operator's validator. A mismatch is permanent ([`Error::SidechainMismatch`]);
    /// a validator not (yet) in the set is [`Error::NotValidator`].
    pub async fn check_bridge_key(&self, address: &EthAddress) -> Result<()> {
        let validators = self.client.validators().await?;
        let v = validators
            .iter()
            .find(|v| v.operator == self.operator)
            .ok_or(Error::NotValidator {
                operator: self.operator,
            })?;
        if v.eth_address != *address {
            return Err(self.mismatch(format!(
                "validator {} registered Ethereum address {} but l1.bridge_key holds the key of {address}; point l1.bridge_key at the validator's bridge key",
                v.name, v.eth_address
            )));
        }
        Ok(())
    }

    /// The chain's last applied deposit and this validator's last claim.
    pub async fn progress(&self) -> Result<ChainProgress> {
        Ok(ChainProgress {
            last_applied: self.client.last_applied_deposit().await?,
            last_claimed: self.client.last_claimed_deposit(&self.operator).await?,
        })
    }

    /// The L1 block holding deposit `nonce` as the chain recorded it (applied or claimed), to
    /// resume the L1 scan from there; `None` when the chain holds no content for it.
    pub async fn l1_block_of(&self, nonce: u64) -> Result<Option<u64>> {
        if nonce == 0 {
            return Ok(None);
        }
        let Some(record) = self.client.deposit(nonce).await? else {
            return Ok(None);
        };
        Ok(record
            .claim
            .as_ref()
            .or_else(|| record.tallies.first().map(|t| &t.claim))
            .map(|c| c.l1_block))
    }

    /// Sends one claim transaction per batch, with consecutive account nonces and without
    /// waiting in between (the node holds a nonce that arrives ahead of its predecessor), then
    /// waits for each to commit, in order. Returns the committed outcomes of the leading
    /// batches that succeeded, with the error that stopped the rest (a failed broadcast, a
    /// transaction that failed in its block: [`Error::ClaimFailed`], or a timeout).
    pub async fn claim_all(
        &self,
        batches: &[Vec<DepositClaim>],
    ) -> (Vec<TxOutcome>, Option<Error>) {
        let mut done = Vec::new();
        let prepared = async {
            let chain_id = self.client.status().await?.chain_id;
            let gas_price = self.client.params().await?.min_gas_price;
            let nonce = self.client.account(&self.operator).await?.nonce;
            Ok::<_, Error>((chain_id, gas_price, nonce))
        }
        .await;
        let (chain_id, gas_price, first) = match prepared {
            Ok(p) => p,
            Err(e) => return (done, Some(e)),
        };
        let mut sent = Vec::new();
        let mut stop = None;
        for (i, batch) in batches.iter().enumerate() {
            let nonce = first.saturating_add(i as u64);
            let Some(tx) = build_signed(
                &self.key,
                &chain_id,
                nonce,
                gas_price,
                vec![Msg::claim_deposits(batch.clone())],
            ) else {
                stop = Some(Error::Decode(format!(
                    "the fee of a claim overflows at gas price {gas_price}"
                )));
                break;
            };
            match self.client.broadcast(&tx).await {
                Ok(hash) => sent.push(hash),
                Err(e) => {
                    stop = Some(e.into());
                    break;
                }
            }
        }
        for hash in sent {
            match self.wait(&hash).await {
                Ok(outcome) => done.push(outcome),
                Err(e) => return (done, Some(e)),
            }
        }
        (done, stop)
    }

    /// Signs `msg` with the operator key, sends it in a transaction of its own and waits for it
    /// to commit. `what` names it in errors. A transaction refused (at CheckTx or in its block)
    /// with `duplicate_confirmation` or `duplicate_attestation` counts as done: the chain
    /// already holds that vote. Returns `None` then, the outcome otherwise; any other failing
    /// code is [`Error::TxFailed`].
    pub async fn send_msg(&self, what: &str, msg: Msg) -> Result<Option<TxOutcome>> {
        let already = [
            Code::DuplicateConfirmation.value(),
            Code::DuplicateAttestation.value(),
        ];
        let sent = match self
            .client
            .sign_and_send(
                &self.key,
                vec![msg],
                &sidechain_client::SendOptions::timeout(self.tx_timeout),
            )
            .await
        {
            Ok(sent) => sent,
            Err(sidechain_client::Error::Rejected { code, .. }) if already.contains(&code) => {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        };
        let outcome = sent.outcome;
        if outcome.code == Code::Ok.value() {
            return Ok(Some(outcome));
        }
        if already.contains(&outcome.code) {
            return Ok(None);
        }
        Err(Error::TxFailed {
            what: what.to_string(),
            hash: outcome.hash,
            code: outcome.code,
            name: outcome.code_name,
            log: outcome.log,
        })
    }

    /// Waits for transaction `hash` to commit; a failing code is [`Error::ClaimFailed`].
    async fn wait(&self, hash: &str) -> Result<TxOutcome> {
        let outcome = self
            .client
            .wait_for_tx(hash.to_string(), self.tx_timeout)
            .await?;
        if outcome.code != Code::Ok.value() {
            return Err(Error::ClaimFailed {
                hash: outcome.hash,
                code: outcome.code,
                name: outcome.code_name,
                log: outcome.log,
            });
        }
        Ok(outcome)
    }
}
