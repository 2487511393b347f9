//! A generated network on disk and the lifecycle of its nodes.

use std::{
    path::{Path, PathBuf},
    process::Child,
    time::Duration,
};

use nix::sys::signal::Signal;
use sidechain_genesis::{ports, Layout, Manifest, NodeEntry, NodePaths};

use crate::{
    bins::Binaries,
    process::{self, ProcState, ProcessKind, Recorded},
    Error, Result,
};

/// How long a process may take to listen after it started.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process may take to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(15);

/// The processes of one node as recorded.
#[derive(Debug, Clone)]
pub struct NodeProcesses {
    pub processes: Vec<Recorded>,
}

impl NodeProcesses {
    pub fn get(&self, kind: ProcessKind) -> Option<&Recorded> {
        self.processes.iter().find(|r| r.kind == kind)
    }
    pub fn all_alive(&self) -> bool {
        self.processes.iter().all(|r| r.state != ProcState::Dead)
    }
    pub fn any_alive(&self) -> bool {
        self.processes.iter().any(|r| r.state != ProcState::Dead)
    }
    pub fn any_paused(&self) -> bool {
        self.processes.iter().any(|r| r.state == ProcState::Paused)
    }
    /// One word for the node: running, paused, stopped or partial (one process died).
    pub fn summary(&self) -> &'static str {
        if self.any_paused() {
            "paused"
        } else if self.all_alive() {
            "running"
        } else if self.any_alive() {
            "partial"
        } else {
            "stopped"
        }
    }
}

#[derive(Debug, Clone)]
pub struct Network {
    pub layout: Layout,
    pub manifest: Manifest,
}

impl Network {
    pub fn open(home: &Path) -> Result<Self> {
        let manifest = Manifest::load(home)?;
        Ok(Network {
            layout: Layout::new(home),
            manifest,
        })
    }

    pub fn home(&self) -> &Path {
        &self.layout.home
    }

    pub fn paths(&self, name: &str) -> NodePaths {
        self.layout.node(name)
    }

    pub fn node(&self, name: &str) -> Result<&NodeEntry> {
        Ok(self.manifest.node(name)?)
    }

    pub fn launcher_pid_file(&self) -> PathBuf {
        self.home().join("launcher.pid")
    }

    pub fn processes(&self, entry: &NodeEntry) -> NodeProcesses {
        let paths = self.paths(&entry.name);
        NodeProcesses {
            processes: ProcessKind::of_node(&paths)
                .into_iter()
                .map(|k| process::recorded(k, &paths))
                .collect(),
        }
    }

    pub fn any_running(&self) -> bool {
        self.manifest
            .nodes
            .iter()
            .any(|n| self.processes(n).any_alive())
    }

    /// Starts whichever processes of the node are not running, in order; checks first that
    /// none of the node's ports is held by another program.
    pub fn start_node(&self, bins: &Binaries, entry: &NodeEntry) -> Result<Vec<Child>> {
        let procs = self.processes(entry);
        if !procs.any_alive() {
            ports::ensure_free([(entry.name.as_str(), &entry.ports)])?;
        }
        let paths = self.paths(&entry.name);
        let mut children = Vec::new();
        for kind in ProcessKind::of_node(&paths) {
            if procs.get(kind).is_some_and(|r| r.state != ProcState::Dead) {
                continue;
            }
            children.push(process::start(kind, bins, &paths, entry, START_TIMEOUT)?);
        }
        Ok(children)
    }

    /// Stops the node's processes in order; returns whether any was running.
    pub fn stop_node(&self, entry: &NodeEntry) -> Result<bool> {
        let paths = self.paths(&entry.name);
        let mut any = false;
        for kind in ProcessKind::of_node_stop_order(&paths) {
            any |= process::stop(kind, &paths, STOP_GRACE)?;
        }
        Ok(any)
    }

    /// Sends `sig` to every live process of the node (or only to `only`); fails when none
    /// was alive.
    pub fn signal_node(
        &self,
        entry: &NodeEntry,
        sig: Signal,
        only: Option<ProcessKind>,
    ) -> Result<Vec<(ProcessKind, i32)>> {
        let paths = self.paths(&entry.name);
        let mut hit = Vec::new();
        for kind in ProcessKind::of_node_stop_order(&paths)
            .into_iter()
            .filter(|k| only.is_none_or(|o| o == *k))
        {
            let r = process::recorded(kind, &paths);
            if process::signal(kind, &paths, sig)? {
                hit.push((kind, r.pid.unwrap_or_default()));
            }
        }
        if hit.is_empty() {
            return Err(Error::State(format!(
                "{}{} is not running; start it with `testnet restart {}`",
                only.map(|k| format!("{} of ", k.name()))
                    .unwrap_or_default(),
                entry.name,
                entry.name
            )));
        }
        Ok(hit)
    }
}

impl Network {
    /// Stops the whole network: every node's relayer, then all CometBFT processes (so none runs
    /// without its application), then all applications, then the L1 if the network has one.
    /// Each gets SIGTERM, then SIGKILL after the grace period. Returns how many were running.
    pub fn stop_all(&self) -> Result<usize> {
        let mut stopped = 0;
        for kind in ProcessKind::STOP_ORDER {
            for entry in &self.manifest.nodes {
                let paths = self.paths(&entry.name);
                if process::signal(kind, &paths, Signal::SIGTERM)? {
                    stopped += 1;
                    let _ = process::signal(kind, &paths, Signal::SIGCONT);
                }
            }
            for entry in &self.manifest.nodes {
                process::stop(kind, &self.paths(&entry.name), STOP_GRACE)?;
            }
        }
        let l1 = crate::l1::stop(&crate::l1::L1Paths::new(self.home()), STOP_GRACE)?;
        Ok(stopped + usize::from(l1))
    }
}
