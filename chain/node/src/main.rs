//! `sidechaind`: the sidechain's ABCI application process. CometBFT connects to it over TCP.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use sidechain_store::Store;
use sidechaind::{
    abci::{Consensus, Handle, Info, Mempool, Snapshot},
    metrics::Metrics,
    node::Node,
    server::{self, Services},
};

/// mimalloc: block execution and tree updates allocate and free many small objects (ADR 6).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "sidechaind",
    version,
    about = "The sidechain's ABCI 2.0 application for CometBFT v0.38"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve ABCI to CometBFT.
    ///
    /// Example: sidechaind start --home ~/.sidechain/node0/app --abci 127.0.0.1:26658 --metrics 127.0.0.1:26660
    /// and in CometBFT's config.toml: proxy_app = "tcp://127.0.0.1:26658", abci = "socket".
    Start {
        /// Directory holding the node's database (created if missing).
        #[arg(long, env = "SIDECHAIND_HOME")]
        home: PathBuf,
        /// Where the ABCI server listens: HOST:PORT, or unix:PATH for a Unix socket (cheaper for
        /// CometBFT on the same machine: proxy_app = "unix://PATH").
        #[arg(long, default_value = "127.0.0.1:26658", value_parser = parse_abci)]
        abci: AbciListen,
        /// Address the Prometheus metrics endpoint (GET /metrics, and GET /health) listens on.
        #[arg(long, default_value = "127.0.0.1:26660")]
        metrics: SocketAddr,
        /// Log format; the level comes from RUST_LOG (default: info).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Most transactions the node admits to the mempool at once. Set it to CometBFT's
        /// `[mempool] size` (networks written by `sidechain-genesis` use 10000); the node then
        /// answers `mempool_full` itself, so CometBFT never drops a transaction it admitted.
        #[arg(long, default_value_t = sidechaind::node::DEFAULT_MEMPOOL_SIZE)]
        mempool_size: usize,
    },
    /// Print the last committed height and app hash of a database, without starting.
    Info {
        #[arg(long, env = "SIDECHAIND_HOME")]
        home: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl From<LogFormat> for sidechain_telemetry::LogFormat {
    fn from(f: LogFormat) -> Self {
        match f {
            LogFormat::Text => sidechain_telemetry::LogFormat::Text,
            LogFormat::Json => sidechain_telemetry::LogFormat::Json,
        }
    }
}

/// Where `sidechaind start` serves ABCI.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AbciListen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for AbciListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AbciListen::Tcp(addr) => write!(f, "{addr}"),
            AbciListen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

fn parse_abci(s: &str) -> Result<AbciListen, String> {
    if let Some(path) = s
        .strip_prefix("unix://")
        .or_else(|| s.strip_prefix("unix:"))
    {
        if path.is_empty() {
            return Err(
                "unix: needs a socket path, for example unix:/var/run/sidechaind.sock".into(),
            );
        }
        return Ok(AbciListen::Unix(PathBuf::from(path)));
    }
    s.parse()
        .map(AbciListen::Tcp)
        .map_err(|_| format!("`{s}` is neither HOST:PORT (127.0.0.1:26658) nor unix:PATH"))
}

/// Makes `path` free for a new socket: a file left by a stopped sidechaind is removed; a socket
/// another process still serves is an error.
fn claim_socket(path: &std::path::Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!(
            "another process serves ABCI on {}; stop it or pick another --abci",
            path.display()
        );
    }
    std::fs::remove_file(path)
        .with_context(|| format!("cannot remove the stale socket {}", path.display()))
}

fn open_store(home: &std::path::Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(home)
        .with_context(|| format!("cannot create home directory {}", home.display()))?;
    Ok(Store::open(&home.join("db"))?)
}

/// One thread: every ABCI call takes the node's lock in turn anyway, and on a machine shared
/// with CometBFT extra runtime threads only add wake-ups and context switches.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Info { home, json } => {
            let store = open_store(&home)?;
            let c = store.committed();
            let hash = sidechaind::node::hex(&c.app_hash);
            if json {
                println!("{}", serde_json_line(c.height, &hash));
            } else {
                println!("height {}  app hash {hash}", c.height);
            }
            Ok(())
        }
        Command::Start {
            home,
            abci,
            metrics,
            log_format,
            mempool_size,
        } => {
            sidechain_telemetry::init(log_format.into())?;
            let store = open_store(&home)?;
            let committed = store.committed();
            tracing::info!(home = %home.display(), height = committed.height, "database opened");
            let m = Metrics::new();
            let metrics_listener =
                tokio::net::TcpListener::bind(metrics)
                    .await
                    .with_context(|| {
                        format!(
                        "cannot listen for metrics on {metrics}; pick a free port with --metrics"
                    )
                    })?;
            tokio::spawn(m.clone().serve(metrics_listener));
            let handle = Handle::new(Node::new(store, m.clone()).with_mempool_limit(mempool_size));
            let services = Services {
                consensus: Consensus(handle.clone()),
                mempool: Mempool::new(handle.clone()),
                info: Info(handle.clone()),
                snapshot: Snapshot,
            };
            // Fail early with a clear message when the address is taken.
            match &abci {
                AbciListen::Tcp(addr) => {
                    std::net::TcpListener::bind(addr).with_context(|| {
                        format!("cannot listen for ABCI on {addr}; pick a free port with --abci")
                    })?;
                }
                AbciListen::Unix(path) => claim_socket(path)?,
            }
            tracing::info!(%abci, %metrics, "serving ABCI; waiting for CometBFT");
            m.set_serving();
            let serve = async {
                match &abci {
                    AbciListen::Tcp(addr) => server::serve_tcp(*addr, services).await,
                    AbciListen::Unix(path) => server::serve_unix(path, services).await,
                }
            };
            let result = tokio::select! {
                r = serve => r.map_err(|e| anyhow::anyhow!("ABCI server stopped: {e}")),
                _ = shutdown_signal() => {
                    tracing::info!("shutting down");
                    Ok(())
                }
            };
            if let AbciListen::Unix(path) = &abci {
                let _ = std::fs::remove_file(path);
            }
            result
        }
    }
}

fn serde_json_line(height: u64, hash: &str) -> String {
    format!("{{\"height\":{height},\"app_hash\":\"{hash}\"}}")
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abci_addresses_parse_as_tcp_or_unix() {
        assert_eq!(
            parse_abci("127.0.0.1:26658"),
            Ok(AbciListen::Tcp("127.0.0.1:26658".parse().unwrap()))
        );
        assert_eq!(
            parse_abci("unix:/run/s.sock"),
            Ok(AbciListen::Unix("/run/s.sock".into()))
        );
        assert_eq!(
            parse_abci("unix:///run/s.sock"),
            Ok(AbciListen::Unix("/run/s.sock".into()))
        );
        assert!(parse_abci("unix:").unwrap_err().contains("socket path"));
        assert!(parse_abci("localhost").unwrap_err().contains("HOST:PORT"));
    }

    #[test]
    fn a_stale_socket_is_removed_and_a_served_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abci.sock");
        let served = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(claim_socket(&path)
            .unwrap_err()
            .to_string()
            .contains("another process"));
        drop(served);
        // The file stays behind, as after a SIGKILL.
        assert!(path.exists());
        claim_socket(&path).unwrap();
        assert!(!path.exists());
    }
}
