use std::collections::HashSet;

use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::links::{Credential, LinkSecurity};
use crate::settings::{Protocol, ShadowsocksMethod, Transport};

fn sample_profiles() -> Vec<ClientProfile> {
    let base = |protocol, credential, transport, security| ClientProfile {
        protocol,
        remark: "sara".to_owned(),
        host: "vpn.example.com".to_owned(),
        port: 443,
        credential,
        transport,
        security,
    };
    let tls = LinkSecurity::Tls {
        sni: "vpn.example.com".to_owned(),
        allow_insecure: false,
    };
    let ws = Transport::Ws {
        path: "/ws".to_owned(),
        host: Some("cdn.example.com".to_owned()),
    };

    vec![
        base(
            Protocol::Vmess,
            Credential::Id(Uuid::from_u128(7)),
            ws,
            tls.clone(),
        ),
        base(
            Protocol::Vless,
            Credential::Id(Uuid::from_u128(8)),
            Transport::Tcp,
            LinkSecurity::None,
        ),
        base(
            Protocol::Vless,
            Credential::Id(Uuid::from_u128(9)),
            Transport::Tcp,
            LinkSecurity::Reality {
                sni: "www.example.org".to_owned(),
                public_key: "pubkey".to_owned(),
                short_id: "abcd".to_owned(),
                fingerprint: "chrome".to_owned(),
            },
        ),
        base(
            Protocol::Trojan,
            Credential::Password("pw".to_owned()),
            Transport::Tcp,
            tls,
        ),
        base(
            Protocol::Trojan,
            Credential::Password("pw".to_owned()),
            Transport::Tcp,
            LinkSecurity::None,
        ),
        base(
            Protocol::Shadowsocks,
            Credential::Shadowsocks {
                method: ShadowsocksMethod::Aes128Gcm,
                password: "pw".to_owned(),
            },
            Transport::Tcp,
            LinkSecurity::None,
        ),
    ]
}

#[test]
fn format_follows_query_then_user_agent() {
    use SubscriptionFormat::*;
    let cases: [(Option<&str>, Option<&str>, SubscriptionFormat); 16] = [
        // nothing known: base64 links
        (None, None, Base64),
        // the query wins over the client
        (Some("v2rayNG/1.8.5"), Some("clash"), Clash),
        // empty query is no query
        (Some("ClashMetaForAndroid/2.8"), Some(""), Clash),
        (None, Some("singbox"), SingBox),
        (None, Some("links"), Links),
        (None, Some("HTML"), Html),
        // link-importing apps
        (Some("v2rayNG/1.8.5"), None, Base64),
        (Some("v2rayN/6.23"), None, Base64),
        (
            Some("HiddifyNext/0.13.6 (android) like ClashMeta v2ray sing-box"),
            None,
            Base64,
        ),
        (
            Some("NekoBox/Android/1.2.9 (Prefer ClashMeta Format)"),
            None,
            Base64,
        ),
        (Some("Streisand/1.5"), None, Base64),
        // sing-box family
        (Some("SFA/1.8.0 (sing-box 1.8.0)"), None, SingBox),
        (Some("sing-box 1.9.0"), None, SingBox),
        // clash family
        (Some("mihomo/1.18.1"), None, Clash),
        (Some("Stash/2.4.7 Clash/1.9.0"), None, Clash),
        // a browser gets the page
        (
            Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"),
            None,
            Html,
        ),
    ];

    for (user_agent, query, expected) in cases {
        assert_eq!(
            detect_format(user_agent, query).unwrap(),
            expected,
            "{user_agent:?} {query:?}"
        );
    }
}

#[test]
fn unknown_format_query_is_an_error() {
    assert!(matches!(
        detect_format(None, Some("yaml2")),
        Err(SubscriptionError::UnknownFormat(name)) if name == "yaml2"
    ));
}

#[test]
fn userinfo_header_has_the_standard_shape() {
    assert_eq!(
        userinfo_header(10, 20, 1_000_000_000, Some(1_767_225_600)),
        "upload=10; download=20; total=1000000000; expire=1767225600"
    );
    assert_eq!(
        userinfo_header(0, 0, 0, None),
        "upload=0; download=0; total=0"
    );
}

#[test]
fn base64_answer_decodes_to_the_link_list() {
    let profiles = sample_profiles();

    let encoded = render(&profiles, SubscriptionFormat::Base64).unwrap();
    let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    let lines: Vec<&str> = decoded.lines().collect();

    assert_eq!(
        decoded,
        render(&profiles, SubscriptionFormat::Links).unwrap()
    );
    assert_eq!(lines.len(), profiles.len());
    for (line, profile) in lines.iter().zip(&profiles) {
        assert_eq!(&ClientProfile::parse_link(line).unwrap(), profile);
    }
}

fn required(object: &Value, fields: &[&str]) {
    for field in fields {
        assert!(!object[field].is_null(), "{field} missing in {object}");
    }
}

#[test]
fn singbox_document_has_required_fields_and_resolvable_groups() {
    let text = render(&sample_profiles(), SubscriptionFormat::SingBox).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let outbounds = document["outbounds"].as_array().unwrap();

    let tags: HashSet<&str> = outbounds
        .iter()
        .map(|o| o["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), outbounds.len(), "tags must be unique");

    for outbound in outbounds {
        match outbound["type"].as_str().unwrap() {
            "vmess" | "vless" => required(outbound, &["server", "server_port", "uuid"]),
            "trojan" => required(outbound, &["server", "server_port", "password"]),
            "shadowsocks" => required(outbound, &["server", "server_port", "method", "password"]),
            "selector" | "urltest" => {
                for member in outbound["outbounds"].as_array().unwrap() {
                    assert!(tags.contains(member.as_str().unwrap()), "{member} unknown");
                }
            }
            "direct" => {}
            other => panic!("unexpected outbound type {other}"),
        }
    }

    assert!(tags.contains(document["route"]["final"].as_str().unwrap()));
    assert_eq!(document["inbounds"][0]["type"], "mixed");

    let reality = outbounds
        .iter()
        .find(|o| !o["tls"]["reality"].is_null())
        .unwrap();
    assert_eq!(reality["tls"]["reality"]["public_key"], "pubkey");
    assert_eq!(reality["tls"]["utls"]["fingerprint"], "chrome");
}

#[test]
fn clash_document_parses_back_with_required_fields() {
    let text = render(&sample_profiles(), SubscriptionFormat::Clash).unwrap();
    let document: Value = serde_yaml_ng::from_str(&text).unwrap();
    let proxies = document["proxies"].as_array().unwrap();

    // the trojan profile without TLS cannot be expressed in clash
    assert_eq!(proxies.len(), sample_profiles().len() - 1);

    let names: HashSet<&str> = proxies
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for proxy in proxies {
        required(proxy, &["name", "type", "server", "port"]);
        match proxy["type"].as_str().unwrap() {
            "vmess" => required(proxy, &["uuid", "alterId", "cipher"]),
            "vless" => required(proxy, &["uuid"]),
            "trojan" => required(proxy, &["password", "sni"]),
            "ss" => required(proxy, &["cipher", "password"]),
            other => panic!("unexpected proxy type {other}"),
        }
    }

    for group in document["proxy-groups"].as_array().unwrap() {
        required(group, &["name", "type", "proxies"]);
        for member in group["proxies"].as_array().unwrap() {
            let member = member.as_str().unwrap();
            assert!(
                names.contains(member) || member == "auto",
                "{member} unknown"
            );
        }
    }

    assert_eq!(document["rules"][0], "MATCH,PROXY");
    assert_eq!(
        document["proxies"][0]["ws-opts"]["headers"]["Host"],
        "cdn.example.com"
    );
}

#[test]
fn repeated_remarks_get_unique_names() {
    let names = unique_names(&sample_profiles());

    assert_eq!(names[0], "sara");
    assert_eq!(names[1], "sara #2");
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
}

#[test]
fn empty_subscription_renders_valid_documents() {
    let singbox: Value =
        serde_json::from_str(&render(&[], SubscriptionFormat::SingBox).unwrap()).unwrap();
    let clash: Value =
        serde_yaml_ng::from_str(&render(&[], SubscriptionFormat::Clash).unwrap()).unwrap();

    assert_eq!(singbox["outbounds"][0]["outbounds"][0], "direct");
    assert_eq!(clash["proxy-groups"][0]["proxies"][0], "DIRECT");
}
