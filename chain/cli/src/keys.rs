//! `sidechain keys`.

use clap::Subcommand;

use crate::{output, Ctx};

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create a new random key.
    ///
    /// Example: sidechain keys add alice --json
    Add { name: String },
    /// List every key with its address.
    List,
    /// Show a key's address and public key.
    Show { name: String },
}

pub fn run(ctx: &Ctx, cmd: KeysCmd) -> anyhow::Result<()> {
    let ks = ctx.keystore();
    match cmd {
        KeysCmd::Add { name } => {
            let k = ks.add(&name)?;
            output::print(ctx, &k, || {
                format!(
                    "created key `{}`\naddress {}\nstored in {}",
                    k.name,
                    k.address,
                    ks.dir().display()
                )
            });
        }
        KeysCmd::List => {
            let keys = ks.list()?;
            output::print(ctx, &keys, || {
                if keys.is_empty() {
                    format!(
                        "no keys in {}; create one with `sidechain keys add NAME`",
                        ks.dir().display()
                    )
                } else {
                    keys.iter()
                        .map(|k| format!("{:<16} {}", k.name, k.address))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
        KeysCmd::Show { name } => {
            let k = ks.show(&name)?;
            output::print(ctx, &k, || {
                format!(
                    "name        {}\naddress     {}\npublic key  {}",
                    k.name, k.address, k.public_key
                )
            });
        }
    }
    Ok(())
}
