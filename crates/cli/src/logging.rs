//! Log output: human-readable lines on standard error, and the same lines in `log.file`
//! when configured (fail2ban reads that file).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. Keep the returned guard alive so buffered lines reach the
/// file before exit.
pub fn init(level: &str, file: Option<&Path>) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(level))
        .map_err(|error| anyhow::anyhow!("log.level {level:?} is not a valid filter: {error}"))?;
    let stderr = fmt::layer().with_writer(std::io::stderr).with_ansi(false);

    let (file_layer, guard) = match file {
        Some(path) => {
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    anyhow::anyhow!("cannot open log.file {}: {error}", path.display())
                })?;
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(opened);
            (
                Some(fmt::layer().with_writer(writer).with_ansi(false)),
                Some(guard),
            )
        }
        None => (None, None),
    };

    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .try_init()
        .map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))?;
    Ok(guard)
}

/// A minimal logger for commands that run before the configuration is read.
pub fn init_console() {
    let _ = tracing_subscriber::registry()
        .with(EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with(fmt::layer().with_writer(std::io::stderr).with_ansi(false))
        .try_init();
}
