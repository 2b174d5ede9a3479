//! The web dashboard: a page and its static files, all embedded in the binary.
//!
//! `GET /` returns the page, which loads one stylesheet and ES modules from `/assets/`. The
//! files are hand-written (no build step) and live in `crates/server/dashboard/`. Nothing is
//! inline and nothing comes from another origin, so the page runs under the strict
//! Content-Security-Policy of [`crate::headers`]. The page itself is never cached; the assets
//! are revalidated with their ETag (`Cache-Control: no-cache`), so an upgraded binary is picked
//! up at once and an unchanged file costs a 304.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    content_type: &'static str,
    body: &'static [u8],
    etag: String,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        (
            $name,
            $type,
            include_bytes!(concat!("../../dashboard/", $name)).as_slice(),
        )
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `/assets/` besides the subscription page's stylesheet.
const FILES: &[(&str, &str, &[u8])] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/api.js", JS),
    asset!("js/digits.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/format.js", JS),
    asset!("js/forms.js", JS),
    asset!("js/i18n.js", JS),
    asset!("js/jalali.js", JS),
    asset!("js/main.js", JS),
    asset!("js/messages.js", JS),
    asset!("js/passkeys.js", JS),
    asset!("js/validate.js", JS),
    asset!("js/pages/audit.js", JS),
    asset!("js/pages/login.js", JS),
    asset!("js/pages/security.js", JS),
    asset!("js/pages/system.js", JS),
    asset!("js/pages/user.js", JS),
    asset!("js/pages/users.js", JS),
];

/// The page at `/`.
const INDEX: &str = include_str!("../../dashboard/index.html");

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, body)| {
            let digest = Sha256::digest(body);
            let etag = format!("\"{}\"", hex_prefix(&digest));
            (
                *name,
                Asset {
                    content_type,
                    body,
                    etag,
                },
            )
        })
        .collect()
});

fn hex_prefix(digest: &[u8]) -> String {
    digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `GET /`: the dashboard page. The security-headers layer marks it `no-store`.
pub async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

/// `GET /assets/{*file}`: one embedded file, or 404.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.get(file.as_str()) else {
        return crate::error::error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such dashboard file",
            None,
        );
    };
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let revalidated = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|presented| presented.as_bytes() == etag.as_bytes());
    if revalidated {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, etag),
            cache,
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of every embedded page, script and stylesheet.
    fn texts() -> Vec<(&'static str, &'static str)> {
        let mut texts = vec![("index.html", INDEX)];
        for (name, _, body) in FILES {
            texts.push((name, std::str::from_utf8(body).unwrap()));
        }
        texts
    }

    #[test]
    fn nothing_is_inline_or_from_another_origin() {
        for (name, text) in texts() {
            // The SVG namespace is a name, not a load.
            let lower = text
                .to_ascii_lowercase()
                .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            for banned in [
                " style=",
                "<style",
                "innerhtml",
                "outerhtml",
                "insertadjacenthtml",
                "document.write",
                "eval(",
                "new function",
                "http://",
                "https://",
                "javascript:",
            ] {
                assert!(!lower.contains(banned), "{name} contains {banned:?}");
            }
        }
        assert!(!INDEX.contains("<script>"), "inline script in the page");
    }

    #[test]
    fn every_module_the_scripts_import_is_embedded() {
        for (name, text) in texts() {
            let dir = name.rsplit_once('/').map_or("", |(dir, _)| dir);
            for line in text
                .lines()
                .filter(|line| line.trim_start().starts_with("import "))
            {
                let Some(start) = line.find("from '") else {
                    continue;
                };
                let target = &line[start + 6..];
                let target = &target[..target.find('\'').unwrap()];
                let resolved = resolve(dir, target);
                assert!(
                    ASSETS.contains_key(resolved.as_str()),
                    "{name} imports {target}"
                );
            }
        }
    }

    #[test]
    fn every_file_in_the_folder_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboard");
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let embedded = name == "index.html" || ASSETS.contains_key(name.as_str());
                assert!(embedded, "{name} is in the folder but not embedded");
            }
        }
    }

    fn resolve(dir: &str, target: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|part| !part.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }
}
