//! Address ranges in configuration (admin allowlist, trusted proxies), parsed strictly.
//!
//! Entries are rejected unless written in canonical form: no leading zeros in IPv4 octets, no
//! shortened IPv4 forms (`10.1`), no host bits outside the prefix. A loose parser is how an
//! allowlist silently ends up allowing more than its author meant.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// One address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Whether `ip` lies in this range. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
    /// compared as the IPv4 address it carries; other IPv6 forms never match an IPv4 range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical_ip(ip))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Maps an IPv4-mapped IPv6 address to IPv4 and leaves every other address alone.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        IpAddr::V4(_) => ip,
    }
}

/// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or an IPv6 prefix.
pub fn parse_cidr(raw: &str) -> Result<Cidr, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("an address range must not be empty".into());
    }
    let (address, prefix) = match trimmed.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (trimmed, None),
    };
    // The standard parser rejects leading zeros and shortened IPv4 forms.
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("{trimmed:?} is not an IPv4 or IPv6 address in canonical form"))?;
    let ip = canonical_ip(ip);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let length = match prefix {
        None => max,
        Some(prefix) => {
            if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!("{trimmed:?} has an invalid prefix length"));
            }
            if prefix.len() > 1 && prefix.starts_with('0') {
                return Err(format!(
                    "{trimmed:?} has a prefix length with a leading zero"
                ));
            }
            prefix
                .parse::<u8>()
                .map_err(|_| format!("{trimmed:?} has an invalid prefix length"))?
        }
    };
    let net = IpNet::new(ip, length)
        .map_err(|_| format!("{trimmed:?}: the prefix length must be at most {max}"))?;
    if net.network() != ip {
        return Err(format!(
            "{trimmed:?} has bits set outside the prefix; write {}",
            net.trunc()
        ));
    }
    Ok(Cidr(net))
}

/// A list of ranges from configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(Vec<Cidr>);

impl CidrList {
    pub fn new(ranges: Vec<Cidr>) -> Self {
        Self(ranges)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Cidr> {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for CidrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Vec::<String>::deserialize(deserializer)?;
        raw.iter()
            .map(|entry| parse_cidr(entry))
            .collect::<Result<Vec<_>, _>>()
            .map(CidrList)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_is_strict() {
        let cases = [
            // canonical IPv4 range
            ("10.0.0.0/8", true),
            // single address
            ("192.0.2.7", true),
            // IPv6 prefix
            ("2001:db8::/32", true),
            // leading zero in an octet
            ("010.0.0.0/8", false),
            // shortened form
            ("10.1/16", false),
            // hexadecimal octet
            ("0x0a.0.0.0/8", false),
            // host bits set
            ("10.0.0.1/8", false),
            // prefix too long
            ("10.0.0.0/33", false),
            // prefix with leading zero
            ("10.0.0.0/08", false),
            // empty prefix
            ("10.0.0.0/", false),
            // garbage
            ("localhost", false),
            ("", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(parse_cidr(raw).is_ok(), ok, "{raw}");
        }
    }

    #[test]
    fn mapped_ipv6_matches_ipv4_range_but_compatible_does_not() {
        let range = parse_cidr("10.0.0.0/8").unwrap();
        assert!(range.contains("10.1.2.3".parse().unwrap()));
        assert!(range.contains("::ffff:10.1.2.3".parse().unwrap()));
        // IPv4-compatible addresses are plain IPv6 addresses.
        assert!(!range.contains("::10.1.2.3".parse().unwrap()));
        assert!(!range.contains("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn mapped_entry_is_stored_as_ipv4() {
        let range = parse_cidr("::ffff:192.0.2.1").unwrap();
        assert!(range.contains("192.0.2.1".parse().unwrap()));
    }
}
