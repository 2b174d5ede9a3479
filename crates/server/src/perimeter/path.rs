//! What a request path means to the perimeter, whatever its spelling.
//!
//! The router matches the path exactly as sent, but a path can be spelled many ways:
//! `//api/admin`, `/api/./admin`, `/x/../api/admin`, `/api/%61dmin`, `/API/Admin`,
//! `/api/admin;x=1`, `/api/admin./users`, `/api\admin`. Two rules close that gap:
//!
//! 1. The perimeter decides on the *normalised* path: percent escapes decoded (repeatedly, so
//!    double encoding is seen through), backslashes read as slashes, `;` parameters, empty,
//!    `.` and trailing-dot spellings dropped, `..` resolved, letters lowered. Any spelling that
//!    a lenient server, proxy or future router might take for an admin path is classified as
//!    one, so the allowlist, client-certificate and geo checks apply to it.
//! 2. A path that is not in canonical form is then refused with 400 before routing, so no
//!    alternative spelling ever reaches a handler, even from an allowed client.
//!
//! Because the checks run first and the canonical-form rule second, an attacker probing
//! spellings from outside the allowlist is rejected and audited as an allowlist denial rather
//! than getting a plain 400.

/// Rounds of percent-decoding applied before classification (so `%2561` becomes `a`).
const DECODE_ROUNDS: usize = 3;

/// The part of the API a path belongs to, which selects the perimeter checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `/api/admin/*` and `/api/auth/*`: allowlist, client certificate and geo checks.
    Admin,
    /// The rest of `/api/*`: geo checks.
    Api,
    /// `/sub/*`, `/healthz` and anything else: no perimeter checks.
    Public,
}

/// A request path as the perimeter sees it.
#[derive(Debug, Clone)]
pub struct RequestPath {
    pub area: Area,
    /// Whether the path is spelled the one way the router knows.
    pub canonical: bool,
}

impl RequestPath {
    pub fn inspect(raw: &str) -> Self {
        let segments = normalised_segments(raw);
        Self {
            area: classify(&segments),
            canonical: is_canonical(raw),
        }
    }
}

fn classify(segments: &[String]) -> Area {
    match segments {
        [first, second, ..] if first == "api" => {
            if second.starts_with("admin") || second.starts_with("auth") {
                Area::Admin
            } else {
                Area::Api
            }
        }
        [first] if first == "api" => Area::Api,
        _ => Area::Public,
    }
}

/// The lower-case segments of a path after decoding and resolving every alternative spelling.
fn normalised_segments(raw: &str) -> Vec<String> {
    let mut decoded = raw.to_owned();
    for _ in 0..DECODE_ROUNDS {
        let next = percent_decode_lossy(&decoded);
        if next == decoded {
            break;
        }
        decoded = next;
    }
    let lowered = decoded.replace('\\', "/").to_lowercase();
    let mut segments: Vec<String> = Vec::new();
    for segment in lowered.split('/') {
        let without_parameters = segment.split(';').next().unwrap_or_default();
        match without_parameters.trim() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => {
                let trimmed = other.trim_end_matches(['.', ' ']);
                if !trimmed.is_empty() {
                    segments.push(trimmed.to_owned());
                }
            }
        }
    }
    segments
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept or replaced, never fatal.
fn percent_decode_lossy(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(value) = hex_pair(bytes.get(index + 1), bytes.get(index + 2))
        {
            out.push(value);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: Option<&u8>, low: Option<&u8>) -> Option<u8> {
    let digit = |byte: Option<&u8>| (*byte? as char).to_digit(16);
    let value = digit(high)? * 16 + digit(low)?;
    u8::try_from(value).ok()
}

/// Whether `raw` is written the single way the router matches: it starts with `/`, has no
/// empty, `.` or `..` segment, no segment ending in a dot, no trailing slash, no `;` and no
/// backslash, and percent-encodes only bytes that have no plain spelling.
pub fn is_canonical(raw: &str) -> bool {
    if raw == "/" {
        return true;
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return false;
    };
    if raw.contains([';', '\\']) {
        return false;
    }
    rest.split('/').all(|segment| {
        !segment.is_empty() && !segment.ends_with('.') && escapes_are_needed(segment)
    })
}

/// Every `%XX` escape in `segment` is well-formed and stands for a byte that must be escaped:
/// not a letter, digit, `-`, `.`, `_`, `~`, `/`, `\` or `%`.
fn escapes_are_needed(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let Some(value) = hex_pair(bytes.get(index + 1), bytes.get(index + 2)) else {
                return false;
            };
            if value.is_ascii_alphanumeric() || b"-._~/\\%".contains(&value) {
                return false;
            }
            index += 3;
        } else {
            index += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_admin_path_is_classified_as_admin() {
        let cases = [
            // the canonical path
            "/api/admin/users",
            // doubled slashes
            "//api//admin/users",
            // dot segments
            "/api/./admin/users",
            "/x/../api/admin/users",
            "/api/x/../admin/users",
            // percent-encoded letter, slash and dot segment
            "/api/%61dmin/users",
            "/api%2fadmin/users",
            "/api/%2e/admin/users",
            "/api/%2E%2E/api/admin",
            // double encoding
            "/api/%2561dmin/users",
            // letter case
            "/API/Admin/users",
            // trailing slash and trailing dots
            "/api/admin/",
            "/api/admin./users",
            "/api/admin../users",
            // matrix parameters
            "/api/admin;x=1/users",
            "/api;x/admin/users",
            // backslash
            "/api\\admin\\users",
            // the auth routes too
            "/api/auth/login",
            "/api/%41UTH/login",
        ];
        for raw in cases {
            assert_eq!(RequestPath::inspect(raw).area, Area::Admin, "{raw}");
        }
    }

    #[test]
    fn other_paths_are_classified_by_their_first_segments() {
        let cases = [
            ("/api/openapi.json", Area::Api),
            ("/api", Area::Api),
            ("/sub/abc", Area::Public),
            ("/healthz", Area::Public),
            ("/", Area::Public),
            ("/api/admin/../../sub/x", Area::Public),
        ];
        for (raw, area) in cases {
            assert_eq!(RequestPath::inspect(raw).area, area, "{raw}");
        }
    }

    #[test]
    fn only_canonical_spellings_are_canonical() {
        let cases = [
            ("/api/admin/users", true),
            ("/", true),
            ("/sub/AbC-_x", true),
            // an escape with no plain spelling
            ("/api/admin/users/a%20b", true),
            ("//api/admin/users", false),
            ("/api/./admin", false),
            ("/api/../admin", false),
            ("/api/admin/", false),
            ("/api/admin.", false),
            ("/api/%61dmin", false),
            ("/api%2fadmin", false),
            ("/api/%2e", false),
            ("/api/%25", false),
            ("/api/%zz", false),
            ("/api/%6", false),
            ("/api;x/admin", false),
            ("/api\\admin", false),
            ("*", false),
            ("", false),
        ];
        for (raw, canonical) in cases {
            assert_eq!(is_canonical(raw), canonical, "{raw}");
        }
    }
}
