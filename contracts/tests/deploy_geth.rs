//! The `bridge-deploy` tool against a real geth in `--dev` mode (the local L1 of `make testnet`):
//! deploy, read the deployment back over JSON-RPC, then lock ether and release part of it with a
//! batch signed by the signer keys. geth comes from `make tools` (`.bin/geth`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use bridge_contracts::deploy::DeployedAddresses;
use bridge_contracts::signing::{self, Domain};
use bridge_contracts::{Bridge, SignerSet, TestToken, ETH};

/// The key geth `--dev` funds in its genesis (public knowledge; dev chains only).
const GETH_DEV_KEY: &str = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
const GETH_DEV_CHAIN_ID: u64 = 1337;

fn geth_binary() -> PathBuf {
    let candidates = [
        std::env::var_os("SIDECHAIN_BIN_DIR").map(|d| PathBuf::from(d).join("geth")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.bin/geth")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "geth not found in $SIDECHAIN_BIN_DIR or {}/../.bin; run `make tools` (it go-installs the pinned geth)",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A geth `--dev` node on loopback, killed when dropped (also when the test fails).
struct Geth {
    child: Child,
    url: String,
    _datadir: tempfile::TempDir,
}

impl Geth {
    fn start() -> Self {
        let datadir = tempfile::tempdir().expect("temp dir");
        let http_port = free_port();
        let child = Command::new(geth_binary())
            .args(["--dev", "--dev.period", "0", "--datadir"])
            .arg(datadir.path())
            .args([
                "--http",
                "--http.addr",
                "127.0.0.1",
                "--http.port",
                &http_port.to_string(),
            ])
            .args([
                "--http.api",
                "eth,net,web3",
                "--ipcdisable",
                "--nodiscover",
                "--maxpeers",
                "0",
            ])
            .args([
                "--port",
                "0",
                "--authrpc.port",
                &free_port().to_string(),
                "--verbosity",
                "2",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(datadir.path().join("geth.log")).expect("log file"))
            .spawn()
            .expect("spawn geth");
        Self {
            child,
            url: format!("http://127.0.0.1:{http_port}"),
            _datadir: datadir,
        }
    }

    async fn wait_ready(&mut self) {
        let provider = ProviderBuilder::new().connect_http(self.url.parse().expect("url"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // Ready once it serves RPC. Right after start geth may still answer receipt queries
            // with "transaction indexing is in progress"; bridge-deploy must cope with that.
            if let Ok(id) = provider.get_chain_id().await {
                assert_eq!(id, GETH_DEV_CHAIN_ID);
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll geth") {
                let log = std::fs::read_to_string(self._datadir.path().join("geth.log"))
                    .unwrap_or_default();
                panic!("geth exited with {status} before serving RPC:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "geth did not serve RPC on {} within 60 s",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Geth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signer_keys() -> Vec<PrivateKeySigner> {
    (1..=4u8)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).expect("key"))
        .collect()
}

fn run_deploy(
    url: &str,
    dir: &std::path::Path,
    signers_json: &str,
    extra: &[&str],
) -> std::process::Output {
    let set_path = dir.join("signers.json");
    std::fs::write(&set_path, signers_json).expect("write signer set");
    let key_path = dir.join("deployer.key");
    std::fs::write(&key_path, GETH_DEV_KEY).expect("write key");
    Command::new(env!("CARGO_BIN_EXE_bridge-deploy"))
        .args(["--rpc-url", url, "--key-file"])
        .arg(&key_path)
        .arg("--signer-set")
        .arg(&set_path)
        .args(extra)
        .output()
        .expect("run bridge-deploy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_deploy_deploys_to_geth_dev_and_the_bridge_works_end_to_end() {
    let mut geth = Geth::start();
    geth.wait_ready().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = signer_keys();
    let members: Vec<String> = keys
        .iter()
        .map(|k| format!("{{\"address\": \"{}\", \"power\": 25}}", k.address()))
        .collect();
    let signers_json = format!("{{\"nonce\": 0, \"signers\": [{}]}}", members.join(", "));
    let guardian = Address::repeat_byte(0x9a);
    let output = run_deploy(
        &geth.url,
        dir.path(),
        &signers_json,
        &[
            "--guardian",
            &guardian.to_string(),
            "--bridge-id",
            "0xb1",
            "--eth",
            "--test-tokens",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bridge-deploy failed: {stderr}");
    let deployed: DeployedAddresses =
        serde_json::from_slice(&output.stdout).expect("stdout is the JSON report");

    let set = SignerSet::normalized(0, keys.iter().map(|k| (k.address(), 25))).expect("set");
    assert_eq!(deployed.chain_id, GETH_DEV_CHAIN_ID);
    assert_eq!(deployed.guardian, guardian);
    assert_eq!(
        deployed.signer_set_checkpoint,
        signing::signer_set_hash(&set)
    );
    let test_token = deployed.test_token.expect("test token deployed");
    assert!(deployed.fee_on_transfer_token.is_some());

    // Read the deployment back through the bindings.
    let dev_key: PrivateKeySigner = GETH_DEV_KEY.parse().expect("dev key");
    let dev = dev_key.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(dev_key))
        .connect_http(geth.url.parse().expect("url"));
    let bridge = Bridge::new(deployed.bridge, &provider);
    assert!(!provider
        .get_code_at(deployed.bridge)
        .await
        .expect("code")
        .is_empty());
    assert_eq!(
        bridge
            .signerSetCheckpoint()
            .call()
            .await
            .expect("checkpoint"),
        deployed.signer_set_checkpoint
    );
    assert_eq!(bridge.admin().call().await.expect("admin"), dev);
    assert_eq!(bridge.guardian().call().await.expect("guardian"), guardian);
    assert!(
        bridge
            .tokenConfig(test_token)
            .call()
            .await
            .expect("config")
            .allowed
    );
    assert!(
        bridge
            .tokenConfig(ETH)
            .call()
            .await
            .expect("config")
            .allowed
    );
    let domain = Domain::new(GETH_DEV_CHAIN_ID, deployed.bridge, deployed.bridge_id);
    assert_eq!(
        bridge.domainSeparator().call().await.expect("separator"),
        domain.separator()
    );

    // Lock ether, then release part of it with a batch signed by 3 of the 4 keys.
    let one_eth = U256::from(10u128.pow(18));
    let receipt = bridge
        .depositETH(alloy::primitives::FixedBytes::repeat_byte(1))
        .value(one_eth)
        .send()
        .await
        .expect("send deposit")
        .get_receipt()
        .await
        .expect("deposit receipt");
    assert!(receipt.status());
    assert_eq!(bridge.depositNonce().call().await.expect("nonce"), 1);

    let recipient = Address::repeat_byte(0x42);
    let block = provider.get_block_number().await.expect("block number");
    let now = provider
        .get_block_by_number(block.into())
        .await
        .expect("block")
        .expect("block exists")
        .header
        .timestamp;
    let batch = Bridge::Batch {
        token: ETH,
        nonce: U256::from(1),
        timeout: U256::from(now + 3_600),
        fee: U256::ZERO,
        recipients: vec![recipient],
        amounts: vec![one_eth / U256::from(4)],
    };
    let signatures =
        signing::sign_all(&set, &keys[..3], domain.batch_digest(&batch)).expect("sign");
    let receipt = bridge
        .submitBatch(set.to_abi(), signatures, batch)
        .send()
        .await
        .expect("send batch")
        .get_receipt()
        .await
        .expect("batch receipt");
    assert!(receipt.status(), "batch reverted on geth");
    assert_eq!(
        provider.get_balance(recipient).await.expect("balance"),
        one_eth / U256::from(4)
    );
    assert_eq!(
        bridge.lastBatchNonce().call().await.expect("batch nonce"),
        1
    );

    // The test token is mintable and can be deposited.
    let token = TestToken::new(test_token, &provider);
    token
        .mint(dev, one_eth)
        .send()
        .await
        .expect("mint")
        .get_receipt()
        .await
        .expect("mint receipt");
    assert_eq!(token.balanceOf(dev).call().await.expect("balance"), one_eth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_deploy_rejects_bad_input_with_a_clear_error() {
    let mut geth = Geth::start();
    geth.wait_ready().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let guardian = Address::repeat_byte(0x9a).to_string();

    let empty = run_deploy(
        &geth.url,
        dir.path(),
        "{\"nonce\": 0, \"signers\": []}",
        &["--guardian", &guardian, "--bridge-id", "0x01"],
    );
    assert!(!empty.status.success());
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("signer set is empty"),
        "{empty:?}"
    );

    let key = signer_keys().remove(0);
    let one = format!(
        "{{\"nonce\": 0, \"signers\": [{{\"address\": \"{}\", \"power\": 1}}]}}",
        key.address()
    );
    let zero_id = run_deploy(
        &geth.url,
        dir.path(),
        &one,
        &["--guardian", &guardian, "--bridge-id", "0x00"],
    );
    assert!(!zero_id.status.success());
    assert!(
        String::from_utf8_lossy(&zero_id.stderr).contains("--bridge-id must be non-zero"),
        "{zero_id:?}"
    );

    let unreachable = run_deploy(
        "http://127.0.0.1:1",
        dir.path(),
        &one,
        &["--guardian", &guardian, "--bridge-id", "0x01"],
    );
    assert!(!unreachable.status.success());
    assert!(
        String::from_utf8_lossy(&unreachable.stderr).contains("deploying to http://127.0.0.1:1"),
        "{unreachable:?}"
    );
}

/// Deploys the bridge on geth with a 4-member set; returns geth, the deployment and the
/// sidechain's bridge parameters for it.
async fn deployed_for_the_sidechain() -> (Geth, DeployedAddresses, sidechain_types::BridgeParams) {
    let mut geth = Geth::start();
    geth.wait_ready().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = signer_keys();
    let members: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "{{\"address\": \"{}\", \"power\": {}}}",
                k.address(),
                10 + i
            )
        })
        .collect();
    let signers_json = format!("{{\"nonce\": 0, \"signers\": [{}]}}", members.join(", "));
    let output = run_deploy(
        &geth.url,
        dir.path(),
        &signers_json,
        &[
            "--guardian",
            &Address::repeat_byte(0x9a).to_string(),
            "--bridge-id",
            "0xc0ffee",
            "--eth",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let deployed: DeployedAddresses = serde_json::from_slice(&output.stdout).expect("report");
    let params = sidechain_types::BridgeParams {
        l1_chain_id: deployed.chain_id,
        contract: sidechain_types::EthAddress(deployed.bridge.into_array()),
        bridge_id: deployed.bridge_id.0,
        deploy_block: 1,
        confirmations: 2,
        batch_max_size: 256,
        batch_max_wait_blocks: 5,
        batch_timeout_seconds: 600,
    };
    (geth, deployed, params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chains_batch_digest_is_the_deployed_contracts_batch_digest() {
    use sidechain_types::{BatchEntry, EthAddress, L1Amount, OutgoingBatch};
    let (geth, deployed, params) = deployed_for_the_sidechain().await;
    let provider = ProviderBuilder::new().connect_http(geth.url.parse().expect("url"));
    let bridge = Bridge::new(deployed.bridge, &provider);
    let mut huge = L1Amount::ZERO;
    huge.0[1] = 7; // beyond 128 bits: a refund the chain could not mint
    let batch = OutgoingBatch {
        nonce: 3,
        token: EthAddress([0x5a; 20]),
        timeout: 1_900_000_000,
        fee: 12_345,
        withdrawals: vec![
            BatchEntry {
                id: 9,
                refund: false,
                to: EthAddress([0x41; 20]),
                amount: L1Amount::from_u128(1_000),
            },
            BatchEntry {
                id: 0,
                refund: true,
                to: EthAddress([0x42; 20]),
                amount: huge,
            },
            BatchEntry {
                id: 4,
                refund: false,
                to: EthAddress([0x43; 20]),
                amount: L1Amount::from_u128(u128::MAX),
            },
        ],
        height: 10,
        signer_set_nonce: 0,
        signatures: Vec::new(),
        ready: false,
        ready_height: 0,
        settled: None,
        attestations: Vec::new(),
    };
    let ours = sidechain_app::bridge::l1::batch_digest(&params, &batch);
    let abi: Bridge::Batch = sidechain_app::bridge::l1::batch_to_abi(&batch).into();
    let theirs = bridge.batchDigest(abi).call().await.expect("batchDigest");
    assert_eq!(B256::from(ours), theirs);
    // Any field changes it.
    let mut other = batch.clone();
    other.timeout += 1;
    assert_ne!(
        sidechain_app::bridge::l1::batch_digest(&params, &other),
        ours
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chains_signer_set_digest_is_the_deployed_contracts_signer_set_digest() {
    use sidechain_types::EthAddress;
    let (geth, deployed, params) = deployed_for_the_sidechain().await;
    let provider = ProviderBuilder::new().connect_http(geth.url.parse().expect("url"));
    let bridge = Bridge::new(deployed.bridge, &provider);
    // The next set the chain would make from three validators of powers 5, 7, 9.
    let next = sidechain_app::bridge::l1::normalized_set(
        1,
        [
            (EthAddress([0x31; 20]), 9),
            (EthAddress([0x11; 20]), 5),
            (EthAddress([0x21; 20]), 7),
        ],
    )
    .expect("valid set");
    assert_eq!(next.signers[0], EthAddress([0x11; 20]), "sorted by address");
    let ours = sidechain_app::bridge::l1::signer_set_digest(&params, &next);
    let abi: Bridge::SignerSet = sidechain_app::bridge::l1::signer_set_to_abi(&next).into();
    let theirs = bridge
        .signerSetDigest(abi.clone())
        .call()
        .await
        .expect("signerSetDigest");
    assert_eq!(B256::from(ours), theirs);
    // And the genesis set the chain stores hashes to the checkpoint the contract holds.
    let keys = signer_keys();
    let genesis = sidechain_app::bridge::l1::normalized_set(
        0,
        keys.iter()
            .enumerate()
            .map(|(i, k)| (EthAddress(k.address().into_array()), 10 + i as u64)),
    )
    .expect("valid set");
    let genesis_abi: Bridge::SignerSet =
        sidechain_app::bridge::l1::signer_set_to_abi(&genesis).into();
    assert_eq!(
        bridge
            .signerSetHash(genesis_abi)
            .call()
            .await
            .expect("signerSetHash"),
        bridge
            .signerSetCheckpoint()
            .call()
            .await
            .expect("checkpoint")
    );
}
