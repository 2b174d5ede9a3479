use proptest::prelude::*;
use uuid::Uuid;

use super::*;

const ID: Uuid = Uuid::from_u128(0x8d1a3c5e_2b4f_4c6d_9e8f_0a1b2c3d4e5f);

fn profile(protocol: Protocol, credential: Credential) -> ClientProfile {
    ClientProfile {
        protocol,
        remark: "Ali Rezaei".to_owned(),
        host: "vpn.example.com".to_owned(),
        port: 443,
        credential,
        transport: Transport::Tcp,
        security: LinkSecurity::None,
    }
}

#[test]
fn url_links_encode_remark_and_parameters() {
    let mut vless = profile(Protocol::Vless, Credential::Id(ID));
    vless.transport = Transport::Ws {
        path: "/ws?ed=2048".to_owned(),
        host: Some("cdn.example.com".to_owned()),
    };
    vless.security = LinkSecurity::Tls {
        sni: "vpn.example.com".to_owned(),
        allow_insecure: false,
    };

    assert_eq!(
        vless.to_link(),
        "vless://8d1a3c5e-2b4f-4c6d-9e8f-0a1b2c3d4e5f@vpn.example.com:443?encryption=none\
         &type=ws&path=%2Fws%3Fed%3D2048&host=cdn.example.com&security=tls&sni=vpn.example.com\
         #Ali%20Rezaei"
    );
}

#[test]
fn trojan_password_cannot_break_out_of_user_part() {
    let trojan = profile(
        Protocol::Trojan,
        Credential::Password("p@ss:w/rd#?".to_owned()),
    );

    assert_eq!(
        trojan.to_link(),
        "trojan://p%40ss%3Aw%2Frd%23%3F@vpn.example.com:443?type=tcp&security=none#Ali%20Rezaei"
    );
}

#[test]
fn shadowsocks_link_follows_sip002() {
    let ss = profile(
        Protocol::Shadowsocks,
        Credential::Shadowsocks {
            method: ShadowsocksMethod::Aes256Gcm,
            password: "secret".to_owned(),
        },
    );

    // base64url("aes-256-gcm:secret") without padding
    assert_eq!(
        ss.to_link(),
        "ss://YWVzLTI1Ni1nY206c2VjcmV0@vpn.example.com:443#Ali%20Rezaei"
    );
}

#[test]
fn vmess_link_is_base64_of_v2rayn_json() {
    let link = profile(Protocol::Vmess, Credential::Id(ID)).to_link();
    let body = link.strip_prefix("vmess://").unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap(),
    )
    .unwrap();

    assert_eq!(json["v"], "2");
    assert_eq!(json["ps"], "Ali Rezaei");
    assert_eq!(json["add"], "vpn.example.com");
    assert_eq!(json["port"], "443");
    assert_eq!(json["id"], ID.to_string());
    assert_eq!(json["aid"], "0");
    assert_eq!(json["net"], "tcp");
    assert_eq!(json["tls"], "");
}

#[test]
fn ipv6_hosts_are_bracketed_and_read_back() {
    let mut vless = profile(Protocol::Vless, Credential::Id(ID));
    vless.host = "2001:db8::1".to_owned();

    let link = vless.to_link();

    assert!(link.contains("@[2001:db8::1]:443?"), "{link}");
    assert_eq!(ClientProfile::parse_link(&link).unwrap(), vless);
}

#[test]
fn profiles_follow_settings_and_user() {
    let user = CoreUser::new("key", ID, "pw");
    let endpoint = ClientEndpoint {
        host: "h.example".to_owned(),
        remark: "bob".to_owned(),
    };

    let links = share_links(&CoreSettings::default(), &user, &endpoint);

    assert_eq!(links.len(), 3);
    assert!(links[0].starts_with("vmess://"));
    assert!(links[1].starts_with("vless://8d1a3c5e"));
    assert!(links[2].starts_with("trojan://pw@h.example:10088?"));
    assert!(links[2].ends_with("#bob%20%5Btrojan-tcp-10088%5D"));
}

#[test]
fn malformed_links_are_refused() {
    let cases = [
        // unknown scheme
        ("http://example.com", LinkParseError::UnknownScheme),
        // vmess body is not base64
        ("vmess://%%%", LinkParseError::Invalid("base64 body")),
        // no user part
        (
            "vless://example.com:443",
            LinkParseError::Missing("user part"),
        ),
        // no port
        ("trojan://pw@example.com", LinkParseError::Missing("port")),
        // port out of range
        (
            "trojan://pw@example.com:70000",
            LinkParseError::Invalid("port"),
        ),
        // vless id must be a uuid
        ("vless://nope@example.com:1", LinkParseError::Invalid("id")),
        // unknown shadowsocks cipher
        (
            "ss://cmM0LW1kNTpwdw@example.com:1",
            LinkParseError::Invalid("cipher"),
        ),
    ];

    for (link, expected) in cases {
        assert_eq!(
            ClientProfile::parse_link(link),
            Err(expected),
            "link {link}"
        );
    }
}

fn any_host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z]{2,6}){0,2}",
        any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string()),
    ]
}

fn any_security(reality_allowed: bool) -> BoxedStrategy<LinkSecurity> {
    let tls = (".{0,20}", any::<bool>()).prop_map(|(sni, allow_insecure)| LinkSecurity::Tls {
        sni,
        allow_insecure,
    });
    let reality = (
        ".{0,12}",
        "[A-Za-z0-9_-]{0,43}",
        "[0-9a-f]{0,16}",
        "[a-z]{0,8}",
    )
        .prop_map(
            |(sni, public_key, short_id, fingerprint)| LinkSecurity::Reality {
                sni,
                public_key,
                short_id,
                fingerprint,
            },
        );

    if reality_allowed {
        prop_oneof![Just(LinkSecurity::None), tls, reality].boxed()
    } else {
        prop_oneof![Just(LinkSecurity::None), tls].boxed()
    }
}

fn any_transport() -> impl Strategy<Value = Transport> {
    prop_oneof![
        Just(Transport::Tcp),
        ("/.{0,20}", proptest::option::of("[a-z.]{1,20}"))
            .prop_map(|(path, host)| Transport::Ws { path, host }),
    ]
}

fn any_profile() -> impl Strategy<Value = ClientProfile> {
    let base = (".{0,30}", any_host(), 1u16.., any::<u128>(), ".{0,30}");

    (
        base,
        0..4u8,
        any_transport(),
        any_security(true),
        any_security(false),
    )
        .prop_map(
            |((remark, host, port, id, password), which, transport, security, plain_security)| {
                let (protocol, credential, transport, security) = match which {
                    0 => (
                        Protocol::Vmess,
                        Credential::Id(Uuid::from_u128(id)),
                        transport,
                        plain_security,
                    ),
                    1 => (
                        Protocol::Vless,
                        Credential::Id(Uuid::from_u128(id)),
                        transport,
                        security,
                    ),
                    2 => (
                        Protocol::Trojan,
                        Credential::Password(password),
                        transport,
                        plain_security,
                    ),
                    _ => (
                        Protocol::Shadowsocks,
                        Credential::Shadowsocks {
                            method: ShadowsocksMethod::Chacha20IetfPoly1305,
                            password,
                        },
                        Transport::Tcp,
                        LinkSecurity::None,
                    ),
                };
                ClientProfile {
                    protocol,
                    remark,
                    host,
                    port,
                    credential,
                    transport,
                    security,
                }
            },
        )
}

proptest! {
    #[test]
    fn every_link_reads_back_as_the_same_profile(profile in any_profile()) {
        let link = profile.to_link();

        prop_assert_eq!(ClientProfile::parse_link(&link), Ok(profile));
    }

    #[test]
    fn links_never_panic_and_stay_on_one_line(remark in any::<String>(), host in any::<String>()) {
        for protocol in [Protocol::Vmess, Protocol::Vless, Protocol::Trojan, Protocol::Shadowsocks] {
            let mut profile = profile(protocol, Credential::Id(ID));
            profile.remark = remark.clone();
            profile.host = host.clone();

            let link = profile.to_link();

            prop_assert!(!link.contains(['\n', '\r', ' ']), "{}", link);
        }
    }

    #[test]
    fn parser_never_panics(text in any::<String>(), body in any::<String>()) {
        let _ = ClientProfile::parse_link(&text);
        for scheme in ["vmess://", "vless://", "trojan://", "ss://"] {
            let _ = ClientProfile::parse_link(&format!("{scheme}{body}"));
        }
    }
}
