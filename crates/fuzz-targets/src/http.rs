//! Targets for request parts: forwarding headers and user JSON bodies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use spiritus_app::config::{CidrList, parse_cidr};
use spiritus_core::user::{ExpireDays, Note, TrafficLimit, UserName};
use spiritus_server::client_ip::client_ip;
use spiritus_server::extract::{fields, parse_strict};
use spiritus_server::routes::users::{CreateBody, PatchBody};

/// Header names the input's lines are spread over, in turn.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/// `X-Forwarded-For` and `Forwarded` (one header value per input line): a client that is not
/// a trusted proxy is always its socket address, whatever it sends.
pub fn forwarded_headers(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for (index, line) in data.split(|byte| *byte == b'\n').enumerate() {
        let name = HeaderName::from_static(FORWARDING_HEADERS[index % FORWARDING_HEADERS.len()]);
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(name, value);
        }
    }
    let Ok(loopback) = parse_cidr("127.0.0.0/8") else {
        panic!("parsing the range 127.0.0.0/8 failed");
    };
    let trusted = CidrList::new(vec![loopback]);
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 443);
    assert_eq!(
        client_ip(stranger, &headers, &trusted),
        stranger.ip(),
        "an untrusted client chose its own address"
    );
    let proxy = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 443);
    let _ = client_ip(proxy, &headers, &trusted);
}

/// User create and update bodies: the strict parse of the real request types, then the
/// field checks the handlers run.
pub fn user_json(data: &[u8]) {
    let _ = parse_strict::<CreateBody>(data);
    let _ = parse_strict::<PatchBody>(data);
    let Ok(body) = parse_strict::<Map<String, Value>>(data) else {
        return;
    };
    let field = |name: &str| body.get(name).cloned();
    if let Ok(name) = fields::string("name", field("name")) {
        let _ = UserName::parse("name", &name);
    }
    if let Ok(gb) = fields::number("traffic_limit_gb", field("traffic_limit_gb")) {
        let _ = TrafficLimit::from_gb("traffic_limit_gb", gb);
    }
    if let Ok(days) = fields::integer("expire_days", field("expire_days")) {
        let _ = ExpireDays::parse("expire_days", days);
    }
    if let Ok(Some(note)) = fields::optional_string("note", field("note")) {
        let _ = Note::parse("note", &note);
    }
    if let Ok(names) = fields::string_list("names", field("names")) {
        for name in names {
            let _ = UserName::parse("names", &name);
        }
    }
}
