use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;

fn time(h: u32, m: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 4)
        .and_then(|d| d.and_hms_opt(h, m, s))
        .unwrap()
}

fn accepted(line: &str) -> AccessRecord {
    match parse_line(line) {
        Ok(AccessLine::Accepted(record)) => record,
        other => panic!("expected an accepted record for {line:?}, got {other:?}"),
    }
}

#[test]
fn v2ray_434_lines_parse_with_user_key() {
    // the plain IPv4 form written by 4.34
    let record = accepted(
        "2026/12/04 20:39:16 127.0.0.1:56878 accepted tcp:127.0.0.1:18098 [direct] email: key-1",
    );
    assert_eq!(record.time, time(20, 39, 16));
    assert_eq!(record.source, "127.0.0.1:56878".parse().unwrap());
    assert_eq!(record.network, Network::Tcp);
    assert_eq!(
        (record.dest_host.as_str(), record.dest_port),
        ("127.0.0.1", 18098)
    );
    assert_eq!(record.inbound_tag, None);
    assert_eq!(record.outbound_tag.as_deref(), Some("direct"));
    assert_eq!(record.user_key.as_deref(), Some("key-1"));

    // IPv6 source and destination in brackets
    let record =
        accepted("2026/12/04 20:39:38 [::1]:49476 accepted tcp:[::1]:18098 [direct] email: key-1");
    assert_eq!(record.source, "[::1]:49476".parse().unwrap());
    assert_eq!(record.dest_host, "::1");

    // udp, and a domain destination routed to the blackhole
    let record = accepted(
        "2026/12/04 20:39:31 127.0.0.1:57902 accepted udp:example.com:53 [blocked] email: k",
    );
    assert_eq!(record.network, Network::Udp);
    assert_eq!(
        (record.dest_host.as_str(), record.dest_port),
        ("example.com", 53)
    );
    assert_eq!(record.outbound_tag.as_deref(), Some("blocked"));

    // internal api connection without email
    let record = accepted("2026/12/04 20:39:18 127.0.0.1:41284 accepted tcp:127.0.0.1:0 [api]");
    assert_eq!(record.user_key, None);
    assert_eq!(record.outbound_tag.as_deref(), Some("api"));
}

#[test]
fn rejected_lines_keep_the_reason() {
    let line = "2026/12/04 20:39:30 127.0.0.1:57888 rejected  v2ray.com/core/proxy/vmess/encoding: invalid user";

    let Ok(AccessLine::Rejected(record)) = parse_line(line) else {
        panic!("expected a rejected record");
    };

    assert_eq!(record.time, time(20, 39, 30));
    assert_eq!(
        record.reason,
        "v2ray.com/core/proxy/vmess/encoding: invalid user"
    );
}

#[test]
fn xray_forms_are_read() {
    // "from", fractional seconds and inbound >> outbound
    let record = accepted(
        "2026/12/04 01:02:03.123456 from 203.0.113.9:4444 accepted tcp:example.com:443 [vless-tcp-443 >> direct] email: k2",
    );
    assert_eq!(record.inbound_tag.as_deref(), Some("vless-tcp-443"));
    assert_eq!(record.outbound_tag.as_deref(), Some("direct"));
    assert_eq!(record.user_key.as_deref(), Some("k2"));

    // "->" when routed by a rule, source with network prefix
    let record = accepted(
        "2026/12/04 01:02:03 from tcp:[2001:db8::2]:1 accepted udp:[2001:db8::1]:22 [in -> blocked] email: k3",
    );
    assert_eq!(record.inbound_tag.as_deref(), Some("in"));
    assert_eq!(record.outbound_tag.as_deref(), Some("blocked"));
    assert_eq!(record.dest_host, "2001:db8::1");
}

#[test]
fn destination_name_cannot_forge_user_key() {
    let record = accepted(
        "2026/12/04 01:02:03 1.2.3.4:5 accepted tcp:x:80 [direct] email: victim [direct] email: attacker",
    );

    assert_eq!(record.user_key.as_deref(), Some("attacker"));
}

#[test]
fn broken_lines_are_errors() {
    let cases = [
        // empty
        ("", AccessLogError::Missing("time")),
        // truncated after the time
        ("2026/12/04 20:39:16", AccessLogError::Missing("source")),
        // garbage time
        (
            "2026/13/04 20:39:16 1.2.3.4:5 accepted tcp:a:1",
            AccessLogError::Missing("time"),
        ),
        // truncated destination
        (
            "2026/12/04 20:39:16 1.2.3.4:5 accepted tcp:",
            AccessLogError::Missing("destination port"),
        ),
        // unknown network
        (
            "2026/12/04 20:39:16 1.2.3.4:5 accepted quic:a:1",
            AccessLogError::Missing("network"),
        ),
        // unknown status
        (
            "2026/12/04 20:39:16 1.2.3.4:5 opened tcp:a:1",
            AccessLogError::UnknownStatus,
        ),
        // port out of range
        (
            "2026/12/04 20:39:16 1.2.3.4:5 accepted tcp:a:65536",
            AccessLogError::Missing("destination port"),
        ),
    ];

    for (line, expected) in cases {
        assert_eq!(parse_line(line), Err(expected), "line {line:?}");
    }

    assert_eq!(
        parse_line(&"x".repeat(MAX_LINE_BYTES + 1)),
        Err(AccessLogError::TooLong)
    );
}

proptest! {
    #[test]
    fn parser_never_panics(line in any::<String>()) {
        let _ = parse_line(&line);
    }

    #[test]
    fn parser_never_panics_on_mutated_real_lines(cut in 0usize..120, junk in ".{0,8}") {
        let line = "2026/12/04 20:39:38 [::1]:49476 accepted tcp:[::1]:18098 [a >> b] email: key-1";
        let mut mutated: String = line.chars().take(cut).collect();
        mutated.push_str(&junk);
        let _ = parse_line(&mutated);
    }
}
