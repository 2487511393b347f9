//! `testnet`: a local multi-validator sidechain network in one command.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use testnet::{
    commands::{self, control, status, up::UpArgs, validators},
    network::Network,
    process::ProcessKind,
    DEFAULT_HOME, HOME_ENV, INTERNAL_EXEC,
};

#[derive(Debug, Parser)]
#[command(
    name = "testnet",
    version,
    about = "Run a local multi-validator sidechain network and control its nodes",
    after_help = "Examples:\n  testnet up                      4 validators in the foreground; Ctrl-C stops them\n  testnet up --detach --validators 2 --home /tmp/net --base-port 30000\n  testnet status --json\n  testnet kill node1 && testnet restart node1\n  testnet kill node1 --process cometbft && testnet restart node1 --process cometbft\n  testnet add-validator\n  testnet down"
)]
struct Cli {
    /// Directory of the network (keys, configs, data, logs, pids).
    #[arg(long, global = true, env = HOME_ENV, default_value = DEFAULT_HOME)]
    home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the network if the home holds none, start every node, wait for blocks.
    Up(UpArgs),
    /// Every node's processes, height, app hash, peers and voting power.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// A node's process logs.
    Logs {
        node: String,
        /// Keep printing new lines until Ctrl-C.
        #[arg(long, short)]
        follow: bool,
        /// Lines of history to show per process.
        #[arg(long, short = 'n', default_value_t = 100)]
        lines: usize,
        /// Only this process (cometbft, sidechaind or relayer).
        #[arg(long)]
        process: Option<String>,
    },
    /// SIGKILL a node's processes (or one of them), as a crash would; returns once they are
    /// gone and their ports free.
    Kill {
        node: String,
        /// Only this process: cometbft, sidechaind or relayer (default: all of the node's).
        #[arg(long, value_parser = parse_process)]
        process: Option<ProcessKind>,
    },
    /// SIGSTOP a node's processes (or one of them).
    Pause {
        node: String,
        #[arg(long, value_parser = parse_process)]
        process: Option<ProcessKind>,
    },
    /// SIGCONT a paused node's processes (or one of them).
    Resume {
        node: String,
        #[arg(long, value_parser = parse_process)]
        process: Option<ProcessKind>,
    },
    /// Stop a node's processes (or one of them) if they run and start them again.
    Restart {
        node: String,
        #[arg(long, value_parser = parse_process)]
        process: Option<ProcessKind>,
    },
    /// Stop every process of the network (the data stays; `up` starts it again).
    Down,
    /// Stop everything and delete the network's home.
    Reset,
    /// Start a new node that syncs and becomes a validator through an on-chain proposal
    /// approved by more than 2/3 of the current voting power.
    AddValidator {
        /// Name of the new node (default nodeN).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value_t = sidechain_genesis::spec::DEFAULT_POWER)]
        power: u64,
        /// Seconds to wait for syncing and for the change to apply.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        #[arg(long)]
        json: bool,
    },
    /// Remove a validator from the set through an on-chain proposal.
    RemoveValidator {
        node: String,
        /// Also stop the node's processes once it has left the set.
        #[arg(long)]
        stop: bool,
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        #[arg(long)]
        json: bool,
    },
}

fn parse_process(s: &str) -> Result<ProcessKind, String> {
    ProcessKind::parse(s).map_err(|e| e.to_string())
}

/// `testnet internal-exec PROGRAM ARGS..`: become a session leader, then turn into PROGRAM
/// (same pid), so that the launcher's terminal signals never reach the node's processes.
fn internal_exec(mut args: std::env::ArgsOs) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some(program) = args.next() else {
        eprintln!("{INTERNAL_EXEC}: no program given");
        return ExitCode::FAILURE;
    };
    if let Err(e) = nix::unistd::setsid() {
        eprintln!("{INTERNAL_EXEC}: setsid failed: {e}");
        return ExitCode::FAILURE;
    }
    let err = std::process::Command::new(&program).args(args).exec();
    eprintln!(
        "{INTERNAL_EXEC}: cannot run {}: {err}",
        PathBuf::from(program).display()
    );
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == INTERNAL_EXEC) {
        return internal_exec(args);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = commands::absolute_home(&cli.home)?;
    match cli.command {
        Command::Up(args) => commands::up::run(&home, args).await?,
        Command::Status { json } => {
            let net = Network::open(&home)?;
            let v = status::collect(&net).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                status::print_table(&v);
            }
        }
        Command::Logs {
            node,
            follow,
            lines,
            process,
        } => {
            control::logs(
                &Network::open(&home)?,
                &node,
                lines,
                follow,
                process.as_deref(),
            )
            .await?
        }
        Command::Kill { node, process } => control::kill(&Network::open(&home)?, &node, process)?,
        Command::Pause { node, process } => control::pause(&Network::open(&home)?, &node, process)?,
        Command::Resume { node, process } => {
            control::resume(&Network::open(&home)?, &node, process)?
        }
        Command::Restart { node, process } => {
            control::restart(&Network::open(&home)?, &node, process)?
        }
        Command::Down => {
            let n = control::down(&Network::open(&home)?)?;
            println!(
                "stopped {n} processes; `testnet up --home {}` starts the network again",
                home.display()
            );
        }
        Command::Reset => control::reset(&home)?,
        Command::AddValidator {
            name,
            power,
            timeout,
            json,
        } => validators::add(&home, name, power, Duration::from_secs(timeout), json).await?,
        Command::RemoveValidator {
            node,
            stop,
            timeout,
            json,
        } => validators::remove(&home, &node, stop, Duration::from_secs(timeout), json).await?,
    }
    Ok(())
}
