//! Shared harness of the process-level tests: it drives the real binaries (`testnet`,
//! `sidechain`, `genesis`, and through them `sidechaind` and CometBFT) as a user would, and
//! guarantees that every network it started is stopped, even when a test fails.

#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use serde_json::Value;

/// Networks of one test binary run one at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

pub mod bridge;

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where `cargo build` put the workspace's binaries: the directory above the test
/// executable's `deps/`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// A workspace binary; fails with the fix when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (`make build`)",
        path.display()
    );
    path
}

/// The directory holding `cometbft`.
pub fn cometbft_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIDECHAIN_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let project = manifest.parent().expect("workspace root").join(".bin");
    if project.join("cometbft").is_file() {
        return project;
    }
    PathBuf::from("/work/main/.bin")
}

/// How long one command of a test may run before it is killed and the test fails naming it.
/// `testnet up` of 4 validators with an L1 takes well under a minute; nothing a test runs
/// should come near this.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(300);

/// Runs a binary with `args`, with SIDECHAIN_BIN_DIR set; returns its output. A command still
/// running after [`COMMAND_DEADLINE`] is killed and the test panics with what it printed.
pub fn run(program: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .env("SIDECHAIN_BIN_DIR", cometbft_dir())
        .env_remove("SIDECHAIN_TESTNET_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    // Drain both pipes on their own threads so that a chatty command cannot block on a full
    // pipe while we wait for it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > COMMAND_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                let out = Output {
                    status: std::os::unix::process::ExitStatusExt::from_raw(9),
                    stdout: stdout.join().unwrap_or_default(),
                    stderr: stderr.join().unwrap_or_default(),
                };
                panic!(
                    "{} {} still ran after {} s and was killed:\n{}",
                    program.display(),
                    args.join(" "),
                    COMMAND_DEADLINE.as_secs(),
                    text(&out)
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {}: {e}", program.display()),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs and expects success.
pub fn ok(program: &Path, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{} {} failed:\n{}",
        program.display(),
        args.join(" "),
        text(&out)
    );
    out
}

/// The last JSON value a command printed on stdout (progress may come before it).
pub fn json_of(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Ok(v) = serde_json::from_str(stdout.trim()) {
        return v;
    }
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
        .unwrap_or_else(|| panic!("no JSON in output:\n{}", text(out)))
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {} s waiting for {what}",
            timeout.as_secs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A plain HTTP GET of CometBFT's RPC, returning the `result` object.
pub fn rpc(url: &str, path: &str) -> Option<Value> {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(hostport).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n")?.1;
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("result").cloned()
}

pub fn height_of(url: &str) -> Option<u64> {
    rpc(url, "/status")?["sync_info"]["latest_block_height"]
        .as_str()?
        .parse()
        .ok()
}

/// App hash in the header of block `h` (the state after block `h - 1`).
pub fn header_app_hash(url: &str, h: u64) -> Option<String> {
    rpc(url, &format!("/block?height={h}"))?["block"]["header"]["app_hash"]
        .as_str()
        .map(str::to_string)
}

/// A network started with `testnet up --detach` in a temporary home; dropping it runs
/// `testnet down`, then SIGKILLs any pid left on file.
pub struct Net {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub status: Value,
}

impl Net {
    /// Starts `validators` validators from `base_port`, without the L1 and relayers (the
    /// tests of the sidechain alone do not need them).
    pub fn up(validators: usize, base_port: u16) -> Net {
        Self::up_with(validators, base_port, &["--no-l1"])
    }

    /// Starts the whole stack: the L1 with the bridge deployed, `validators` validators and
    /// their relayers.
    pub fn up_with_l1(validators: usize, base_port: u16, extra: &[&str]) -> Net {
        Self::up_with(validators, base_port, extra)
    }

    pub fn up_with(validators: usize, base_port: u16, extra: &[&str]) -> Net {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("net");
        let mut net = Net {
            dir,
            home,
            status: Value::Null,
        };
        let n = validators.to_string();
        let base = base_port.to_string();
        let mut args = vec![
            "up",
            "--detach",
            "--home",
            net.home_str(),
            "--validators",
            &n,
            "--base-port",
            &base,
        ];
        args.extend_from_slice(extra);
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        ok(&bin("testnet"), &refs);
        net.status = net.status();
        net
    }

    pub fn home_str(&self) -> &str {
        self.home.to_str().expect("utf-8 temp path")
    }

    pub fn testnet(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--home", self.home_str()]);
        run(&bin("testnet"), &all)
    }

    pub fn testnet_ok(&self, args: &[&str]) -> Output {
        let out = self.testnet(args);
        assert!(
            out.status.success(),
            "testnet {} failed:\n{}",
            args.join(" "),
            text(&out)
        );
        out
    }

    pub fn status(&self) -> Value {
        json_of(&self.testnet_ok(&["status", "--json"]))
    }

    pub fn node<'a>(status: &'a Value, name: &str) -> &'a Value {
        status["nodes"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["name"] == name))
            .unwrap_or_else(|| panic!("no node {name} in status {status}"))
    }

    pub fn rpc_of(&self, name: &str) -> String {
        Self::node(&self.status, name)["rpc"]
            .as_str()
            .expect("rpc")
            .to_string()
    }

    pub fn names(&self) -> Vec<String> {
        self.status["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["name"].as_str().map(str::to_string))
            .collect()
    }

    pub fn client_home(&self) -> String {
        self.status["client_home"]
            .as_str()
            .expect("client_home")
            .to_string()
    }

    pub fn faucet(&self) -> String {
        self.status["faucet_key"]
            .as_str()
            .expect("faucet_key")
            .to_string()
    }

    pub fn denom(&self) -> String {
        self.status["native_denom"]
            .as_str()
            .expect("native_denom")
            .to_string()
    }

    /// `sidechain --home <client home> --node <rpc> ARGS`.
    pub fn cli(&self, node_rpc: &str, args: &[&str]) -> Output {
        let home = self.client_home();
        let mut all = vec!["--home", home.as_str(), "--node", node_rpc];
        all.extend_from_slice(args);
        run(&bin("sidechain"), &all)
    }

    pub fn cli_json(&self, node_rpc: &str, args: &[&str]) -> Value {
        let out = self.cli(node_rpc, args);
        assert!(
            out.status.success(),
            "sidechain {} failed:\n{}",
            args.join(" "),
            text(&out)
        );
        json_of(&out)
    }

    /// `sidechain tx transfer` of the native denom that must succeed; returns its JSON.
    pub fn transfer(&self, node_rpc: &str, from: &str, to: &str, amount: &str) -> Value {
        let denom = self.denom();
        self.cli_json(
            node_rpc,
            &[
                "tx", "transfer", "--from", from, "--to", to, "--amount", amount, "--denom",
                &denom, "--json",
            ],
        )
    }

    /// Creates a key in the client home and returns its address.
    pub fn new_account(&self, name: &str) -> String {
        let rpc = self.rpc_of("node0");
        let v = self.cli_json(&rpc, &["keys", "add", name, "--json"]);
        v["address"].as_str().expect("address").to_string()
    }

    pub fn balance(&self, rpc: &str, address: &str) -> u128 {
        let denom = self.denom();
        let v = self.cli_json(
            rpc,
            &["query", "balance", address, "--denom", &denom, "--json"],
        );
        v["amount"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("bad balance {v}"))
    }

    /// `query account --json` of an address.
    pub fn account(&self, rpc: &str, address: &str) -> Value {
        self.cli_json(rpc, &["query", "account", address, "--json"])
    }

    /// Waits until every listed node is at height `h` or more.
    pub fn wait_all_at(&self, nodes: &[&str], h: u64, timeout: Duration) {
        for n in nodes {
            let url = self.rpc_of(n);
            wait_for(&format!("{n} to reach height {h}"), timeout, || {
                height_of(&url).filter(|x| *x >= h)
            });
        }
    }

    /// Asserts that every listed node has the same app hash in each header from 1 to `upto`.
    pub fn assert_same_app_hashes(&self, nodes: &[&str], from: u64, upto: u64) {
        for h in from..=upto {
            let mut first: Option<(String, String)> = None;
            for n in nodes {
                let url = self.rpc_of(n);
                let hash = wait_for(
                    &format!("block {h} from {n}"),
                    Duration::from_secs(30),
                    || header_app_hash(&url, h),
                );
                match &first {
                    None => first = Some((n.to_string(), hash)),
                    Some((m, other)) => {
                        assert_eq!(&hash, other, "app hash of block {h}: {n} and {m} disagree")
                    }
                }
            }
        }
    }

    fn pids_on_file(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        if let Some(pid) = std::fs::read_to_string(self.home.join("l1/geth.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            pids.push(pid);
        }
        let Ok(nodes) = std::fs::read_dir(self.home.join("nodes")) else {
            return pids;
        };
        for node in nodes.flatten() {
            let Ok(files) = std::fs::read_dir(node.path().join("run")) else {
                continue;
            };
            for f in files.flatten() {
                if let Some(pid) = std::fs::read_to_string(f.path())
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                {
                    pids.push(pid);
                }
            }
        }
        pids
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let home = self.home_str().to_string();
        let _ = run(&bin_dir().join("testnet"), &["down", "--home", &home]);
        // Fallback: whatever is still recorded and still ours (its command line names the home).
        for pid in self.pids_on_file() {
            let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&home))
                .unwrap_or(false);
            if ours {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}
