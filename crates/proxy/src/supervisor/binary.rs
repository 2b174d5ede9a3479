//! Finding the core executable, asking its version, and letting it check a config file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::settings::CoreKind;

/// Time allowed for `-version` and `-test` runs.
const QUICK_RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// Names looked up on `PATH` when no binary is configured, in order.
pub const SEARCHED_NAMES: [&str; 2] = ["xray", "v2ray"];

/// Finds the configured binary (a path, or a name looked up on `PATH`), else `xray`, else `v2ray`.
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, String> {
    match configured {
        Some(path) if path.components().count() > 1 => {
            if is_executable(path) {
                Ok(path.to_path_buf())
            } else {
                Err(format!(
                    "core.binary {} is not an executable file",
                    path.display()
                ))
            }
        }
        Some(name) => find_on_path(&name.to_string_lossy())
            .ok_or_else(|| format!("core.binary {} was not found on PATH", name.display())),
        None => SEARCHED_NAMES
            .iter()
            .find_map(|name| find_on_path(name))
            .ok_or_else(|| {
                "neither xray nor v2ray was found on PATH; install one or set core.binary"
                    .to_owned()
            }),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;

    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The first line of the core's version output and the core kind it names.
pub async fn version(binary: &Path) -> Result<(String, CoreKind), String> {
    for flag in ["-version", "version"] {
        let Ok(output) = quick_run(binary, &[flag]).await else {
            continue;
        };

        let text = String::from_utf8_lossy(&output.stdout);
        let first_line = text.lines().next().unwrap_or("").trim().to_owned();

        if let Some(kind) = CoreKind::from_version_output(&first_line) {
            return Ok((first_line, kind));
        }
    }

    Err(format!(
        "{} did not print a V2Ray or Xray version",
        binary.display()
    ))
}

/// Runs `binary -test -config FILE`; on refusal returns the core's explanation.
pub async fn check_config(binary: &Path, config: &Path) -> Result<(), String> {
    let config = config.to_string_lossy();
    let output = quick_run(binary, &["-test", "-config", &config]).await?;

    if output.status.success() {
        return Ok(());
    }

    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let reason: Vec<&str> = text
        .lines()
        .filter(|line| !line.contains("Reading config") && !line.trim().is_empty())
        .collect();

    Err(reason.join(" | "))
}

async fn quick_run(binary: &Path, args: &[&str]) -> Result<std::process::Output, String> {
    let child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("could not run {}: {error}", binary.display()))?;

    match tokio::time::timeout(QUICK_RUN_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(format!("could not run {}: {error}", binary.display())),
        Err(_) => Err(format!(
            "{} {} did not finish in time",
            binary.display(),
            args.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_configured_binary_is_reported_not_panicked() {
        let error = locate(Some(Path::new("/nonexistent/xray"))).unwrap_err();

        assert!(error.contains("not an executable file"), "{error}");
    }

    #[test]
    fn unknown_name_on_path_is_reported() {
        let error = locate(Some(Path::new("no-such-core-binary"))).unwrap_err();

        assert!(error.contains("not found on PATH"), "{error}");
    }

    #[test]
    fn version_output_names_the_kind() {
        let cases = [
            // Debian's v2ray
            (
                "V2Ray 4.34.0 (user) 20230518-074445 (go1.19.8 linux/amd64)",
                Some(CoreKind::V2ray),
            ),
            // Xray
            (
                "Xray 1.8.4 (Xray, Penetrates Everything.) c1c1ba5 (go1.21.1 linux/amd64)",
                Some(CoreKind::Xray),
            ),
            // something else
            ("sing-box version 1.8.0", None),
        ];

        for (text, expected) in cases {
            assert_eq!(CoreKind::from_version_output(text), expected, "{text}");
        }
    }
}
