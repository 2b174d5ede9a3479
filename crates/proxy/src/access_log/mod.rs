//! The core's access log: parsing its lines ([`parse_line`]), watching users who target
//! sensitive ports ([`ReconWatcher`]) and following the file as it grows and rotates
//! ([`LogTail`]).
//!
//! Forms written by V2Ray 4.34 (checked by running it):
//!
//! ```text
//! 2026/12/04 20:39:16 127.0.0.1:56878 accepted tcp:127.0.0.1:18098 [direct] email: KEY
//! 2026/12/04 20:39:38 [::1]:49476 accepted tcp:[::1]:18098 [direct] email: KEY
//! 2026/12/04 20:39:31 127.0.0.1:57902 accepted udp:127.0.0.1:18097 [direct] email: KEY
//! 2026/12/04 20:39:18 127.0.0.1:41284 accepted tcp:127.0.0.1:0 [api]
//! 2026/12/04 20:39:30 127.0.0.1:57888 rejected  v2ray.com/core/proxy/vmess/encoding: invalid user
//! ```
//!
//! Xray adds `from ` before the source, fractional seconds, and `[INBOUND >> OUTBOUND]`
//! (or `->`) in the brackets; those forms are read too.

mod recon;
mod tail;

use std::net::SocketAddr;

use chrono::NaiveDateTime;
use thiserror::Error;

pub use recon::{ReconEvent, ReconWatcher};
pub use tail::{LogTail, TailError, TailStart};

/// Maximum line length parsed; longer lines are rejected without further work.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Network of a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Tcp,
    Udp,
}

/// One accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// Time as the core wrote it (the core's local time, no zone).
    pub time: NaiveDateTime,
    pub source: SocketAddr,
    pub network: Network,
    /// Destination host name or IP address (IPv6 without brackets).
    pub dest_host: String,
    pub dest_port: u16,
    /// Inbound tag, when the core writes it (Xray and newer V2Ray do; 4.34 does not).
    pub inbound_tag: Option<String>,
    pub outbound_tag: Option<String>,
    /// The user key (`email`), absent for internal connections such as the API.
    pub user_key: Option<String>,
}

/// One connection the core refused (bad credentials, probes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub time: NaiveDateTime,
    pub source: SocketAddr,
    pub reason: String,
}

/// A parsed access-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLine {
    Accepted(AccessRecord),
    Rejected(RejectedRecord),
}

/// Errors for access-log lines that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AccessLogError {
    #[error("access-log line is longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("access-log line has no valid {0}")]
    Missing(&'static str),
    #[error("access-log line has an unknown status word; expected accepted or rejected")]
    UnknownStatus,
}

use AccessLogError::Missing;

/// Parses one line; never panics, whatever the input.
pub fn parse_line(line: &str) -> Result<AccessLine, AccessLogError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(AccessLogError::TooLong);
    }

    let line = line.trim_end_matches(['\r', '\n']);
    let (time, rest) = parse_time(line)?;
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("from ").unwrap_or(rest);
    let (source, rest) = rest.split_once(' ').ok_or(Missing("source"))?;
    let source = parse_source(source)?;
    let (status, rest) = rest.split_once(' ').unwrap_or((rest, ""));

    match status {
        "accepted" => parse_accepted(time, source, rest).map(AccessLine::Accepted),
        "rejected" => Ok(AccessLine::Rejected(RejectedRecord {
            time,
            source,
            reason: rest.trim().to_owned(),
        })),
        _ => Err(AccessLogError::UnknownStatus),
    }
}

/// `YYYY/MM/DD HH:MM:SS` with optional fractional seconds.
fn parse_time(line: &str) -> Result<(NaiveDateTime, &str), AccessLogError> {
    let mut fields = line.splitn(3, ' ');
    let date = fields.next().ok_or(Missing("time"))?;
    let clock = fields.next().ok_or(Missing("time"))?;
    let rest = fields.next().unwrap_or("");

    let text = format!("{date} {clock}");
    let time = NaiveDateTime::parse_from_str(&text, "%Y/%m/%d %H:%M:%S%.f")
        .map_err(|_| Missing("time"))?;

    Ok((time, rest))
}

/// `1.2.3.4:5`, `[::1]:5`, optionally prefixed by `tcp:`/`udp:`.
fn parse_source(text: &str) -> Result<SocketAddr, AccessLogError> {
    let text = text
        .strip_prefix("tcp:")
        .or_else(|| text.strip_prefix("udp:"))
        .unwrap_or(text);

    text.parse().map_err(|_| Missing("source"))
}

fn parse_accepted(
    time: NaiveDateTime,
    source: SocketAddr,
    rest: &str,
) -> Result<AccessRecord, AccessLogError> {
    let (destination, rest) = rest
        .trim_start()
        .split_once(' ')
        .unwrap_or((rest.trim(), ""));
    let (network, dest_host, dest_port) = parse_destination(destination)?;
    let (inbound_tag, outbound_tag, rest) = parse_route(rest.trim_start());
    let user_key = parse_email(rest);

    Ok(AccessRecord {
        time,
        source,
        network,
        dest_host,
        dest_port,
        inbound_tag,
        outbound_tag,
        user_key,
    })
}

/// `tcp:host:port`, `udp:[v6]:port`.
fn parse_destination(text: &str) -> Result<(Network, String, u16), AccessLogError> {
    let (network, address) = text.split_once(':').ok_or(Missing("destination"))?;
    let network = match network {
        "tcp" => Network::Tcp,
        "udp" => Network::Udp,
        _ => return Err(Missing("network")),
    };

    let (host, port) = address
        .rsplit_once(':')
        .ok_or(Missing("destination port"))?;
    let port = port.parse().map_err(|_| Missing("destination port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);

    if host.is_empty() {
        return Err(Missing("destination host"));
    }

    Ok((network, host.to_owned(), port))
}

/// `[outbound]` or `[inbound >> outbound]` / `[inbound -> outbound]`, then the rest.
fn parse_route(text: &str) -> (Option<String>, Option<String>, &str) {
    let Some(inner_and_rest) = text.strip_prefix('[') else {
        return (None, None, text);
    };
    let Some((inner, rest)) = inner_and_rest.split_once(']') else {
        return (None, None, text);
    };

    let split = inner
        .split_once(" >> ")
        .or_else(|| inner.split_once(" -> "));
    let tag = |value: &str| (!value.trim().is_empty()).then(|| value.trim().to_owned());

    match split {
        Some((inbound, outbound)) => (tag(inbound), tag(outbound), rest),
        None => (None, tag(inner), rest),
    }
}

/// Reads the user key after the last `email: `. The core writes the email last, and a
/// client-chosen destination name could contain `email: ` too.
fn parse_email(text: &str) -> Option<String> {
    let (_, after) = text.rsplit_once("email: ")?;
    let key = after.split_whitespace().next()?;
    Some(key.to_owned())
}

#[cfg(test)]
mod tests;
