//! Export of blocked client addresses as an nftables ruleset for the host firewall.
//!
//! The ruleset replaces its own table atomically when loaded with `nft -f`: it declares the
//! table (a no-op if it exists), deletes it, and defines it again, so loading a newer export
//! never fails on elements that are already there and never leaves stale ones. Each element
//! carries the block's remaining time as its timeout, so the kernel lifts it when the panel
//! would.

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use spiritus_store::IpBlock;

/// Name of the nftables table the export owns.
pub const NFT_TABLE: &str = "spiritus_blocklist";

/// Renders `blocks` as an nftables script. Blocks already expired at `now` and addresses that
/// do not parse are left out.
pub fn nftables_ruleset(blocks: &[IpBlock], now: DateTime<Utc>) -> String {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for block in blocks {
        let Ok(ip) = block.ip.parse::<IpAddr>() else {
            continue;
        };
        let seconds = (block.expires_at - now).num_seconds();
        if seconds <= 0 {
            continue;
        }
        let element = format!("{ip} timeout {seconds}s");
        match ip {
            IpAddr::V4(_) => v4.push(element),
            IpAddr::V6(_) => v6.push(element),
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/sbin/nft -f");
    let _ = writeln!(
        out,
        "# Addresses blocked by Spiritus at {}: {} IPv4, {} IPv6.",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        v4.len(),
        v6.len()
    );
    let _ = writeln!(
        out,
        "# Load with: nft -f FILE (replaces the table {NFT_TABLE})."
    );
    let _ = writeln!(out, "table inet {NFT_TABLE}");
    let _ = writeln!(out, "delete table inet {NFT_TABLE}");
    let _ = writeln!(out, "table inet {NFT_TABLE} {{");
    write_set(&mut out, "blocked_v4", "ipv4_addr", &v4);
    write_set(&mut out, "blocked_v6", "ipv6_addr", &v6);
    let _ = writeln!(out, "\tchain input {{");
    let _ = writeln!(
        out,
        "\t\ttype filter hook input priority filter - 10; policy accept;"
    );
    let _ = writeln!(out, "\t\tip saddr @blocked_v4 drop");
    let _ = writeln!(out, "\t\tip6 saddr @blocked_v6 drop");
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "}}");
    out
}

fn write_set(out: &mut String, name: &str, kind: &str, elements: &[String]) {
    let _ = writeln!(out, "\tset {name} {{");
    let _ = writeln!(out, "\t\ttype {kind}");
    let _ = writeln!(out, "\t\tflags timeout");
    if !elements.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(", "));
    }
    let _ = writeln!(out, "\t}}");
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn block(ip: &str, now: DateTime<Utc>, seconds: i64) -> IpBlock {
        IpBlock {
            ip: ip.into(),
            reason: "test".into(),
            expires_at: now + Duration::seconds(seconds),
        }
    }

    #[test]
    fn ruleset_splits_families_and_keeps_remaining_time() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let blocks = [
            block("203.0.113.9", now, 3600),
            block("2001:db8::7", now, 60),
            block("198.51.100.1", now, -5),
            block("not an address", now, 60),
        ];
        let rules = nftables_ruleset(&blocks, now);
        assert!(
            rules.contains("elements = { 203.0.113.9 timeout 3600s }"),
            "{rules}"
        );
        assert!(
            rules.contains("elements = { 2001:db8::7 timeout 60s }"),
            "{rules}"
        );
        assert!(!rules.contains("198.51.100.1"));
        assert!(!rules.contains("not an address"));
        assert!(rules.contains("ip saddr @blocked_v4 drop"));
        assert!(rules.contains("ip6 saddr @blocked_v6 drop"));
    }

    #[test]
    fn empty_sets_have_no_elements_line() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let rules = nftables_ruleset(&[], now);
        assert!(!rules.contains("elements"), "{rules}");
        assert!(rules.contains("type ipv4_addr"));
        assert!(rules.contains("type ipv6_addr"));
    }
}
