//! Targets for the configuration file, subscription requests and the proxy core's access log.

use std::io::Write;

use spiritus_app::config::load_config;
use spiritus_app::subscription::{looks_like_token, token_hash};
use spiritus_proxy::{detect_format, parse_line};

use crate::{split_two, text};

/// `spiritus.toml`: any file gives a configuration or an error with a position, never a
/// panic. The file is written to a temporary folder because loading reads a path.
pub fn config_toml(data: &[u8]) {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).is_err() {
        return;
    }
    let _ = load_config(file.path(), Vec::<(String, String)>::new());
}

/// `/sub/{token}` with its `format` query and User-Agent: the shape check and the format
/// choice never panic, and only 43-character tokens are ever looked up.
pub fn subscription_token(data: &[u8]) {
    let (token, rest) = split_two(data);
    let (format, user_agent) = split_two(rest);
    let token = text(token);
    if looks_like_token(&token) {
        assert_eq!(token.len(), 43, "only 43-character tokens are looked up");
        let _ = token_hash(&token);
    }
    let format = text(format);
    let user_agent = text(user_agent);
    let _ = detect_format(Some(&user_agent), Some(&format));
    let _ = detect_format(Some(&user_agent), None);
}

/// Parses one line of the core's access log.
pub fn access_log_line(data: &[u8]) {
    let _ = parse_line(&text(data));
}
