//! The processes of a node: how each is started, where its pid and log live, and how to tell
//! whether the pid on file is still that process.
//!
//! Every process runs in its own session (`setsid`), so a Ctrl-C in the launcher's terminal
//! reaches the launcher only, which then stops the nodes in order, and processes started with
//! `--detach` outlive the launcher. Pids are kept in `<node>/run/<process>.pid`.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use sidechain_genesis::{AbciEndpoint, NodeEntry, NodePaths};

use crate::{bins::Binaries, Error, Result};

/// One kind of per-node process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcessKind {
    /// `sidechaind`, the ABCI application.
    App,
    /// `cometbft`, consensus and RPC.
    Consensus,
    /// `bridge-relayer`, on networks with an L1 (its home holds `relayer.toml`).
    Relayer,
}

impl ProcessKind {
    /// In start order: the application must listen before CometBFT connects to it; the
    /// relayer talks to CometBFT's RPC.
    pub const START_ORDER: [ProcessKind; 3] = [
        ProcessKind::App,
        ProcessKind::Consensus,
        ProcessKind::Relayer,
    ];
    /// In stop order: the relayer, then CometBFT, so it never runs without its application.
    pub const STOP_ORDER: [ProcessKind; 3] = [
        ProcessKind::Relayer,
        ProcessKind::Consensus,
        ProcessKind::App,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProcessKind::App => "sidechaind",
            ProcessKind::Consensus => "cometbft",
            ProcessKind::Relayer => "relayer",
        }
    }

    /// Parses a `--process` value.
    pub fn parse(name: &str) -> Result<Self> {
        Self::START_ORDER
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::State(format!(
                    "unknown process `{name}`; use one of {}",
                    Self::START_ORDER.map(|k| k.name()).join(", ")
                ))
            })
    }

    /// Whether a node runs this process: the relayer only on networks with an L1.
    pub fn runs_on(self, node: &NodePaths) -> bool {
        match self {
            ProcessKind::Relayer => node.relayer().join("relayer.toml").exists(),
            ProcessKind::App | ProcessKind::Consensus => true,
        }
    }

    /// The kinds a node runs, in start order.
    pub fn of_node(node: &NodePaths) -> Vec<ProcessKind> {
        Self::START_ORDER
            .into_iter()
            .filter(|k| k.runs_on(node))
            .collect()
    }

    /// The kinds a node runs, in stop order.
    pub fn of_node_stop_order(node: &NodePaths) -> Vec<ProcessKind> {
        Self::STOP_ORDER
            .into_iter()
            .filter(|k| k.runs_on(node))
            .collect()
    }

    pub fn pid_file(self, node: &NodePaths) -> PathBuf {
        node.run().join(format!("{}.pid", self.name()))
    }

    pub fn log_file(self, node: &NodePaths) -> PathBuf {
        node.logs().join(format!("{}.log", self.name()))
    }

    /// The home directory in the process's command line; it identifies the process as ours.
    fn home(self, node: &NodePaths) -> PathBuf {
        match self {
            ProcessKind::App => node.app(),
            ProcessKind::Consensus => node.cometbft(),
            ProcessKind::Relayer => node.relayer(),
        }
    }

    /// Program and arguments.
    pub fn command(
        self,
        bins: &Binaries,
        node: &NodePaths,
        entry: &NodeEntry,
    ) -> (PathBuf, Vec<String>) {
        let home = self.home(node).display().to_string();
        match self {
            ProcessKind::App => (
                bins.sidechaind.clone(),
                vec![
                    "start".into(),
                    "--home".into(),
                    home,
                    "--abci".into(),
                    node.abci_endpoint(entry.ports.abci).listen_arg(),
                    "--metrics".into(),
                    format!("127.0.0.1:{}", entry.ports.app_metrics),
                    "--log-format".into(),
                    "text".into(),
                    "--mempool-size".into(),
                    sidechain_genesis::cometbft::MEMPOOL_SIZE.to_string(),
                ],
            ),
            ProcessKind::Consensus => (
                bins.cometbft.clone(),
                vec!["start".into(), "--home".into(), home],
            ),
            ProcessKind::Relayer => (
                bins.bridge_relayer.clone(),
                vec![
                    "start".into(),
                    "--home".into(),
                    home,
                    "--log-format".into(),
                    "text".into(),
                ],
            ),
        }
    }

    /// The TCP ports the process listens on (for `kill`, which waits until they are free).
    pub fn ports(self, node: &NodePaths, entry: &NodeEntry) -> Vec<u16> {
        match self {
            ProcessKind::App => match node.abci_endpoint(entry.ports.abci) {
                AbciEndpoint::Unix(_) => vec![entry.ports.app_metrics],
                AbciEndpoint::Tcp(port) => vec![port, entry.ports.app_metrics],
            },
            ProcessKind::Consensus => vec![
                entry.ports.p2p,
                entry.ports.rpc,
                entry.ports.cometbft_metrics,
            ],
            // the mesh port is 0 (none) in a manifest from before the mesh
            ProcessKind::Relayer => [entry.ports.relayer, entry.ports.mesh]
                .into_iter()
                .filter(|p| *p != 0)
                .collect(),
        }
    }

    /// Whether the process accepts connections yet (the application on its ABCI socket or
    /// port, CometBFT on its RPC port), and a description of where, for errors.
    pub fn readiness(self, node: &NodePaths, entry: &NodeEntry) -> (bool, String) {
        match self {
            ProcessKind::App => match node.abci_endpoint(entry.ports.abci) {
                AbciEndpoint::Unix(path) => (
                    is_listening_unix(&path),
                    format!("socket {}", path.display()),
                ),
                AbciEndpoint::Tcp(port) => (is_listening(port), format!("port {port}")),
            },
            ProcessKind::Consensus => (
                is_listening(entry.ports.rpc),
                format!("port {}", entry.ports.rpc),
            ),
            ProcessKind::Relayer => (
                is_listening(entry.ports.relayer),
                format!("port {} (metrics)", entry.ports.relayer),
            ),
        }
    }
}

/// What the kernel says about a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    /// Stopped by SIGSTOP (`testnet pause`).
    Paused,
    Dead,
}

impl ProcState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Paused => "paused",
            ProcState::Dead => "stopped",
        }
    }
}

/// State of `pid`, counting it dead unless its command line mentions `marker` (so a recycled
/// pid is never taken for ours) and counting zombies as dead.
pub fn proc_state(pid: i32, marker: &Path) -> ProcState {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return ProcState::Dead;
    };
    let marker = marker.as_os_str().as_encoded_bytes();
    if !cmdline.windows(marker.len()).any(|w| w == marker) {
        return ProcState::Dead;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcState::Dead;
    };
    // The state follows the parenthesised command name, which may itself hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    match state {
        Some("Z") | Some("X") | Some("x") | None => ProcState::Dead,
        Some("T") | Some("t") => ProcState::Paused,
        Some(_) => ProcState::Running,
    }
}

/// A node's process as recorded on disk.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub kind: ProcessKind,
    pub pid: Option<i32>,
    pub state: ProcState,
}

pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The recorded process of `kind` in `node` and its state.
pub fn recorded(kind: ProcessKind, node: &NodePaths) -> Recorded {
    let pid = read_pid(&kind.pid_file(node));
    let state = pid
        .map(|p| proc_state(p, &kind.home(node)))
        .unwrap_or(ProcState::Dead);
    Recorded { kind, pid, state }
}

/// Sends `signal` to a recorded process if it is alive; returns whether it was.
pub fn signal(kind: ProcessKind, node: &NodePaths, sig: Signal) -> Result<bool> {
    let r = recorded(kind, node);
    match (r.pid, r.state) {
        (Some(pid), ProcState::Running | ProcState::Paused) => {
            nix::sys::signal::kill(Pid::from_raw(pid), sig).map_err(|e| {
                Error::Process(format!("sending {sig} to {} (pid {pid}): {e}", kind.name()))
            })?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether a TCP port on 127.0.0.1 (or any address) is in LISTEN state, read from
/// `/proc/net/tcp{,6}` so that checking opens no connection to the process.
pub fn is_listening(port: u16) -> bool {
    let want = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|file| {
        fs::read_to_string(file).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let mut cols = line.split_whitespace();
                let local = cols.nth(1).unwrap_or_default();
                let state = cols.nth(1).unwrap_or_default();
                state == "0A" && local.rsplit_once(':').is_some_and(|(_, p)| p == want)
            })
        })
    })
}

/// Whether a Unix socket at `path` is listening, read from `/proc/net/unix` (flag
/// `__SO_ACCEPTCON`), so that checking opens no connection to the process.
pub fn is_listening_unix(path: &Path) -> bool {
    let want = path.as_os_str().to_string_lossy();
    fs::read_to_string("/proc/net/unix").is_ok_and(|text| {
        text.lines().skip(1).any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.get(3).is_some_and(|flags| flags.ends_with("10000"))
                && cols.get(7).is_some_and(|p| *p == want)
        })
    })
}

/// Starts `program` with `args` in its own session (through the launcher's `internal-exec`),
/// stdout and stderr appended to `log_path` after a header line, and records its pid in
/// `pid_file`. Does not wait for it to be ready.
pub fn spawn_logged(
    program: &Path,
    args: &[String],
    log_path: &Path,
    pid_file: &Path,
) -> Result<Child> {
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| Error::io(log_path, e))?;
    let _ = writeln!(
        log,
        "==== testnet: starting {} {} ====",
        program.display(),
        args.join(" ")
    );
    let err_log = log.try_clone().map_err(|e| Error::io(log_path, e))?;
    let launcher =
        std::env::current_exe().map_err(|e| Error::io(Path::new("/proc/self/exe"), e))?;
    let child = Command::new(launcher)
        .arg(crate::INTERNAL_EXEC)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(|e| Error::Process(format!("starting {}: {e}", program.display())))?;
    fs::write(pid_file, format!("{}\n", child.id())).map_err(|e| Error::io(pid_file, e))?;
    Ok(child)
}

/// Starts one process of a node in its own session, output appended to its log file; waits
/// until it listens on its ready port. Returns the child handle (the launcher reaps it in
/// foreground mode; dropping it leaves the process running).
pub fn start(
    kind: ProcessKind,
    bins: &Binaries,
    node: &NodePaths,
    entry: &NodeEntry,
    timeout: Duration,
) -> Result<Child> {
    let (program, args) = kind.command(bins, node, entry);
    fs::create_dir_all(node.logs()).map_err(|e| Error::io(&node.logs(), e))?;
    fs::create_dir_all(node.run()).map_err(|e| Error::io(&node.run(), e))?;
    let log_path = kind.log_file(node);
    let pid_file = kind.pid_file(node);
    let mut child = spawn_logged(&program, &args, &log_path, &pid_file)?;
    let pid = child.id();
    tracing::debug!(node = %entry.name, process = kind.name(), pid, "started");

    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::Process(format!(
                "{} of {} exited ({status}) while starting; its log {} ends with:\n{}",
                kind.name(),
                entry.name,
                log_path.display(),
                tail(&log_path, 15)
            )));
        }
        let (ready, place) = kind.readiness(node, entry);
        if ready {
            return Ok(child);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Process(format!(
                "{} of {} did not listen on {place} within {} s; its log {} ends with:\n{}",
                kind.name(),
                entry.name,
                timeout.as_secs(),
                log_path.display(),
                tail(&log_path, 15)
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops one process: SIGTERM (and SIGCONT, in case it is paused), then SIGKILL if it has not
/// exited within `grace`. Removes its pid file.
pub fn stop(kind: ProcessKind, node: &NodePaths, grace: Duration) -> Result<bool> {
    stop_recorded(kind.name(), &kind.pid_file(node), &kind.home(node), grace)
}

/// Stops the process recorded in `pid_file` if it is alive and its command line names
/// `marker`: SIGTERM (and SIGCONT, in case it is paused), then SIGKILL if it has not exited
/// within `grace`. Removes the pid file; returns whether it was alive. `name` is for messages.
pub fn stop_recorded(name: &str, pid_file: &Path, marker: &Path, grace: Duration) -> Result<bool> {
    let alive = || read_pid(pid_file).filter(|p| proc_state(*p, marker) != ProcState::Dead);
    let Some(pid) = alive() else {
        let _ = fs::remove_file(pid_file);
        return Ok(false);
    };
    let target = Pid::from_raw(pid);
    nix::sys::signal::kill(target, Signal::SIGTERM)
        .map_err(|e| Error::Process(format!("sending SIGTERM to {name} (pid {pid}): {e}")))?;
    let _ = nix::sys::signal::kill(target, Signal::SIGCONT);
    let start = Instant::now();
    while alive().is_some() {
        if start.elapsed() > grace {
            tracing::warn!(
                process = name,
                "did not stop within {} s; killing it",
                grace.as_secs()
            );
            let _ = nix::sys::signal::kill(target, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() > grace * 3 {
            return Err(Error::Process(format!(
                "{name} (pid {pid}) does not die even after SIGKILL"
            )));
        }
    }
    let _ = fs::remove_file(pid_file);
    Ok(true)
}

/// The last `n` lines of a file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_running_and_a_foreign_marker_is_not_ours() {
        let me = i32::try_from(std::process::id()).unwrap();
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap();
        assert_eq!(proc_state(me, Path::new(name)), ProcState::Running);
        assert_eq!(
            proc_state(me, Path::new("/no/such/home/anywhere")),
            ProcState::Dead
        );
        assert_eq!(proc_state(i32::MAX, Path::new(name)), ProcState::Dead);
    }

    #[test]
    fn sees_a_listening_port() {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(is_listening(port));
        drop(l);
        assert!(!is_listening(port));
    }

    #[test]
    fn sees_a_listening_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abci.sock");
        assert!(!is_listening_unix(&path));
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(is_listening_unix(&path));
        drop(l);
        assert!(!is_listening_unix(&path));
    }
}
