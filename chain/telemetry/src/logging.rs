//! `tracing` for a process: one subscriber, filtered by `RUST_LOG`, writing to stderr.

use std::{fmt, io::IsTerminal, str::FromStr};

use tracing_subscriber::EnvFilter;

use crate::{Error, Result};

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(Error::BadLogFormat(other.to_string())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Installs the process's subscriber: events at the levels `RUST_LOG` asks for (`info` when
/// it is unset or not a valid filter) go to stderr in `format`. Colour codes are written only
/// when stderr is a terminal, so log files stay plain text.
///
/// Call it once, early in `main`; a second call fails and changes nothing.
pub fn init(format: LogFormat) -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| Error::LoggingAlreadySet(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_their_names_and_print_back() {
        for f in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(f.to_string().parse::<LogFormat>().unwrap(), f);
        }
        let e = "yaml".parse::<LogFormat>().unwrap_err();
        assert!(e.to_string().contains("`text` or `json`"), "{e}");
    }

    #[test]
    fn a_second_init_fails_instead_of_replacing_the_first() {
        init(LogFormat::Json).unwrap();
        let e = init(LogFormat::Text).unwrap_err();
        assert!(matches!(e, Error::LoggingAlreadySet(_)), "{e:?}");
        tracing::info!("still logging through the first subscriber");
    }
}
