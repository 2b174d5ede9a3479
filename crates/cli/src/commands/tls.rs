//! `spiritus tls pin`.

use spiritus_app::bootstrap::{DataDir, prepare};
use spiritus_server::tls::{default_paths, ensure_self_signed, spki_pin_of_file};

use crate::cli::{GlobalArgs, TlsCommand};

pub fn run(global: &GlobalArgs, command: &TlsCommand) -> anyhow::Result<()> {
    match command {
        TlsCommand::Pin => {
            let data_dir = DataDir::new(global.data_dir.clone());
            let prepared = prepare(&data_dir, global.config.as_deref(), std::env::vars())?;
            let cert = match &prepared.config.tls.cert {
                Some(cert) => cert.clone(),
                None => {
                    ensure_self_signed(&data_dir.tls(), &[])?;
                    default_paths(&data_dir.tls()).0
                }
            };
            println!("{}", spki_pin_of_file(&cert)?);
        }
    }
    Ok(())
}
