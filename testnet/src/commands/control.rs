//! Controlling nodes of a running network: logs, kill, pause, resume, restart, down, reset.

use std::{
    fs,
    io::{Read, Seek, SeekFrom},
    path::Path,
    time::Duration,
};

use nix::sys::signal::Signal;

use crate::{
    bins::Binaries,
    network::Network,
    process::{self, ProcState, ProcessKind},
    Error, Result,
};

/// `testnet logs NODE`: the last lines of each process's log, then new lines with `--follow`.
pub async fn logs(
    net: &Network,
    node: &str,
    lines: usize,
    follow: bool,
    only: Option<&str>,
) -> Result<()> {
    let entry = net.node(node)?;
    let paths = net.paths(&entry.name);
    let kinds: Vec<ProcessKind> = ProcessKind::of_node(&paths)
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == k.name()))
        .collect();
    if kinds.is_empty() {
        return Err(Error::State(format!(
            "no process called `{}`; {node} runs {}",
            only.unwrap_or_default(),
            ProcessKind::of_node(&paths)
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut offsets = Vec::new();
    for kind in &kinds {
        let path = kind.log_file(&paths);
        let text = fs::read_to_string(&path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        for line in &all[all.len().saturating_sub(lines)..] {
            println!("[{}] {line}", kind.name());
        }
        offsets.push(u64::try_from(text.len()).unwrap_or(0));
    }
    if !follow {
        return Ok(());
    }
    let mut partial = vec![String::new(); kinds.len()];
    loop {
        for (i, kind) in kinds.iter().enumerate() {
            let path = kind.log_file(&paths);
            let Ok(mut f) = fs::File::open(&path) else {
                continue;
            };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < offsets[i] {
                offsets[i] = 0;
            }
            if len == offsets[i] {
                continue;
            }
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(offsets[i])).is_ok() && f.read_to_end(&mut buf).is_ok() {
                offsets[i] += u64::try_from(buf.len()).unwrap_or(0);
                partial[i].push_str(&String::from_utf8_lossy(&buf));
                while let Some(pos) = partial[i].find('\n') {
                    let line: String = partial[i].drain(..=pos).collect();
                    println!("[{}] {}", kind.name(), line.trim_end());
                }
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

fn signal_report(
    net: &Network,
    node: &str,
    sig: Signal,
    only: Option<ProcessKind>,
    verb: &str,
) -> Result<()> {
    let entry = net.node(node)?;
    for (kind, pid) in net.signal_node(entry, sig, only)? {
        println!("{verb} {} of {node} (pid {pid})", kind.name());
    }
    Ok(())
}

/// How long `kill` waits for the kernel to reap a killed process and release its ports.
const KILL_WAIT: Duration = Duration::from_secs(15);

/// `testnet kill NODE [--process P]`: SIGKILL to the node's processes (or only `P`), as a
/// crash would. Returns once they are gone and their ports free, so a restart right after
/// finds the node's ports unused.
pub fn kill(net: &Network, node: &str, only: Option<ProcessKind>) -> Result<()> {
    signal_report(net, node, Signal::SIGKILL, only, "killed")?;
    let entry = net.node(node)?;
    let paths = net.paths(node);
    let kinds: Vec<ProcessKind> = ProcessKind::of_node(&paths)
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == *k))
        .collect();
    let start = std::time::Instant::now();
    loop {
        let alive = kinds
            .iter()
            .any(|k| process::recorded(*k, &paths).state != ProcState::Dead);
        let held: Vec<u16> = kinds
            .iter()
            .flat_map(|k| k.ports(&paths, entry))
            .filter(|p| process::is_listening(*p))
            .collect();
        if !alive && held.is_empty() {
            break;
        }
        if start.elapsed() > KILL_WAIT {
            return Err(Error::Process(format!(
                "{node}'s processes were killed but {} after {} s; check `testnet status`",
                if alive {
                    "one is still alive".to_string()
                } else {
                    format!("ports {held:?} are still held")
                },
                KILL_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("`testnet restart {node}` starts it again");
    Ok(())
}

/// `testnet pause NODE [--process P]`: SIGSTOP to the node's processes (or only `P`).
pub fn pause(net: &Network, node: &str, only: Option<ProcessKind>) -> Result<()> {
    signal_report(net, node, Signal::SIGSTOP, only, "paused")?;
    println!("`testnet resume {node}` continues it");
    Ok(())
}

/// `testnet resume NODE [--process P]`: SIGCONT to the node's processes (or only `P`).
pub fn resume(net: &Network, node: &str, only: Option<ProcessKind>) -> Result<()> {
    signal_report(net, node, Signal::SIGCONT, only, "resumed")
}

/// `testnet restart NODE [--process P]`: stop what runs of the node (or only `P`), then start
/// whichever of its processes are not running.
pub fn restart(net: &Network, node: &str, only: Option<ProcessKind>) -> Result<()> {
    let bins = Binaries::locate()?;
    let entry = net.node(node)?;
    let stopped = match only {
        Some(kind) => process::stop(kind, &net.paths(node), crate::network::STOP_GRACE)?,
        None => net.stop_node(entry)?,
    };
    if stopped {
        println!("stopped {node}");
    }
    let children = net.start_node(&bins, entry)?;
    for child in &children {
        println!("started pid {}", child.id());
    }
    println!(
        "{node} is starting; its RPC is {} (`testnet status` shows when it has caught up)",
        entry.rpc_url()
    );
    Ok(())
}

/// `testnet down`: stops the foreground launcher if one runs, then every process.
pub fn down(net: &Network) -> Result<usize> {
    let launcher = net.launcher_pid_file();
    if let Some(pid) = process::read_pid(&launcher) {
        // Only a launcher of this very network: its command line names the testnet binary.
        let own = std::env::current_exe().ok();
        let marker = own
            .as_deref()
            .and_then(Path::file_name)
            .map(Path::new)
            .unwrap_or(Path::new("testnet"));
        if process::proc_state(pid, marker) != ProcState::Dead {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
            for _ in 0..200 {
                if process::proc_state(pid, marker) == ProcState::Dead {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = fs::remove_file(&launcher);
    }
    net.stop_all()
}

/// `testnet reset`: stops everything and deletes the network's home.
pub fn reset(home: &Path) -> Result<()> {
    match Network::open(home) {
        Ok(net) => {
            down(&net)?;
        }
        Err(Error::Genesis(sidechain_genesis::Error::NoNetwork(_))) => {
            if !home.exists() {
                println!("nothing to reset: {} does not exist", home.display());
                return Ok(());
            }
            let empty = fs::read_dir(home)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                return Err(Error::State(format!(
                    "{} holds no network.json, so it is not a testnet home; refusing to delete it",
                    home.display()
                )));
            }
        }
        Err(e) => return Err(e),
    }
    fs::remove_dir_all(home).map_err(|e| Error::io(home, e))?;
    println!(
        "removed {}; `testnet up` makes a new network",
        home.display()
    );
    Ok(())
}
