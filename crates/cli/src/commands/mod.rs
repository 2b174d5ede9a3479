//! One module per subcommand.

pub mod admin;
pub mod audit;
pub mod backup;
pub mod doctor;
pub mod incident;
pub mod migrate;
pub mod serve;
pub mod tls;
pub mod user;

use std::io::BufRead;

use anyhow::Context as _;
use zeroize::Zeroizing;

/// Reads one line from standard input without its line ending, for `--password-stdin`.
pub fn read_password_line() -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    if trimmed.is_empty() {
        anyhow::bail!(
            "no password on standard input; pipe one line, for example: printf '%s\\n' \"$PASSWORD\" | spiritus admin create NAME --password-stdin"
        );
    }
    Ok(Zeroizing::new(trimmed.to_owned()))
}
