//! Text for people, one JSON object for scripts.

use serde::Serialize;

use crate::Ctx;

/// Prints `value` as JSON when `--json` is set, else the text `human` builds.
pub fn print<T: Serialize>(ctx: &Ctx, value: &T, human: impl FnOnce() -> String) {
    if ctx.json {
        match serde_json::to_string(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot render JSON: {e}"),
        }
    } else {
        println!("{}", human());
    }
}

/// Reports a failure: the chain of causes on stderr, and with `--json` an object on stdout that
/// carries the result code when there is one.
pub fn fail(json: bool, e: &anyhow::Error) {
    if json {
        let code = e
            .downcast_ref::<sidechain_client::Error>()
            .and_then(|e| match e {
                sidechain_client::Error::Rejected { code, .. } => Some(*code),
                _ => None,
            });
        let hash = e
            .downcast_ref::<sidechain_client::Error>()
            .and_then(|e| match e {
                sidechain_client::Error::Rejected { hash, .. } => Some(hash.clone()),
                _ => None,
            });
        println!(
            "{}",
            serde_json::json!({ "error": format!("{e:#}"), "code": code, "hash": hash })
        );
    }
    eprintln!("error: {e:#}");
}
