//! One module per group of subcommands.

pub mod control;
pub mod status;
pub mod up;
pub mod validators;

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The network home as an absolute path (pid files and process command lines need one).
pub fn absolute_home(home: &Path) -> Result<PathBuf> {
    if home.is_absolute() {
        return Ok(home.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?;
    Ok(cwd.join(home))
}
