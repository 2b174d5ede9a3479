//! The one function that decides a request's client address.
//!
//! The socket's peer address is the client, unless the peer is a configured trusted proxy.
//! Only then are forwarding headers read (`Forwarded`, else `X-Forwarded-For`), from the
//! right: proxies append, so the right-most address that is not itself a trusted proxy is the
//! first one no trusted party vouches against. `X-Real-IP`, `True-Client-IP` and similar
//! headers are never read, because any client can send them.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use spiritus_app::config::{CidrList, network_canonical_ip};

/// Returns the client address of a request that arrived from `peer`.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &CidrList) -> IpAddr {
    let peer_ip = network_canonical_ip(peer.ip());
    if !trusted.contains(peer_ip) {
        return peer_ip;
    }
    let hops = forwarded_hops(headers);
    let mut last_trusted = peer_ip;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if trusted.contains(*ip) => last_trusted = *ip,
            Some(ip) => return *ip,
            // An entry no trusted proxy would write: stop at the last hop we trust.
            None => return last_trusted,
        }
    }
    last_trusted
}

/// The addresses in the forwarding headers, left to right; `None` for an entry that is not
/// an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (name, value) = pair.trim().split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| value.trim())
                    })
                    .and_then(parse_hop)
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| parse_hop(entry.trim()))
        .collect()
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]`, `"[2001:db8::1]:443"` or `2001:db8::1`.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let unquoted = raw.trim().trim_matches('"');
    if let Ok(ip) = unquoted.parse::<IpAddr>() {
        return Some(network_canonical_ip(ip));
    }
    if let Ok(socket) = unquoted.parse::<SocketAddr>() {
        return Some(network_canonical_ip(socket.ip()));
    }
    let bracketed = unquoted.strip_prefix('[')?.split(']').next()?;
    bracketed.parse::<IpAddr>().ok().map(network_canonical_ip)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use spiritus_app::config::parse_cidr;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn trusted() -> CidrList {
        CidrList::new(vec![parse_cidr("10.0.0.0/8").unwrap()])
    }

    #[test]
    fn client_ip_resolution() {
        let untrusted_peer: SocketAddr = "198.51.100.9:5000".parse().unwrap();
        let proxy_peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let cases: Vec<(&str, SocketAddr, HeaderMap, &str)> = vec![
            (
                "untrusted peer's forwarding headers are ignored",
                untrusted_peer,
                headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]),
                "198.51.100.9",
            ),
            (
                "trusted proxy: right-most untrusted entry",
                proxy_peer,
                headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.5")]),
                "203.0.113.5",
            ),
            (
                "trusted proxy chain is skipped",
                proxy_peer,
                headers(&[("x-forwarded-for", "203.0.113.5, 10.0.0.7")]),
                "203.0.113.5",
            ),
            (
                "Forwarded header with IPv6 and port",
                proxy_peer,
                headers(&[("forwarded", "for=\"[2001:db8::17]:4711\";proto=https")]),
                "2001:db8::17",
            ),
            (
                "garbage right of the trusted hops falls back to the last trusted hop",
                proxy_peer,
                headers(&[("x-forwarded-for", "not-an-ip")]),
                "10.0.0.2",
            ),
            (
                "X-Real-IP and True-Client-IP are never read",
                proxy_peer,
                headers(&[("x-real-ip", "1.1.1.1"), ("true-client-ip", "1.1.1.1")]),
                "10.0.0.2",
            ),
            (
                "mapped IPv6 peer is the IPv4 address",
                "[::ffff:198.51.100.9]:1".parse().unwrap(),
                HeaderMap::new(),
                "198.51.100.9",
            ),
        ];
        for (case, peer, headers, expected) in cases {
            assert_eq!(
                client_ip(peer, &headers, &trusted()).to_string(),
                expected,
                "{case}"
            );
        }
    }
}
