//! Server block keys: schemes, ports, zone normalisation and validation, CIDR expansion.

use cairn_corefile::{parse_key, AddressError, Transport, ZoneAddr};

fn one(key: &str) -> (Transport, String, Option<u16>) {
    let v = parse_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(v.len(), 1, "{key}: {v:?}");
    (v[0].transport, v[0].zone.clone(), v[0].port)
}

fn zones(key: &str) -> Vec<String> {
    parse_key(key)
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .into_iter()
        .map(|z| z.zone)
        .collect()
}

#[test]
fn key_table() {
    use Transport::*;
    let cases: &[(&str, Transport, &str, Option<u16>)] = &[
        (".", Dns, ".", None),
        (".:53", Dns, ".", Some(53)),
        ("example.org", Dns, "example.org.", None),
        ("example.org.", Dns, "example.org.", None),
        ("Example.ORG:1053", Dns, "example.org.", Some(1053)),
        ("dns://example.org", Dns, "example.org.", None),
        ("dns://.:5300", Dns, ".", Some(5300)),
        ("DNS://example.org", Dns, "example.org.", None),
        ("tls://example.org", Tls, "example.org.", None),
        ("tls://.:853", Tls, ".", Some(853)),
        (
            "https://example.org:8443",
            Https,
            "example.org.",
            Some(8443),
        ),
        ("https3://example.org", Https3, "example.org.", None),
        ("quic://example.org", Quic, "example.org.", None),
        ("grpc://example.org:0", Grpc, "example.org.", Some(0)),
        ("cluster.local:65535", Dns, "cluster.local.", Some(65535)),
        ("in-addr.arpa", Dns, "in-addr.arpa.", None),
        ("_tcp.example.org", Dns, "_tcp.example.org.", None),
        ("10.0.0.1", Dns, "10.0.0.1.", None),
        (
            "0/25.2.0.192.in-addr.arpa",
            Dns,
            "0/25.2.0.192.in-addr.arpa.",
            None,
        ),
        ("10.0.0.0/24", Dns, "0.0.10.in-addr.arpa.", None),
        ("10.0.0.0/24:53", Dns, "0.0.10.in-addr.arpa.", Some(53)),
        (
            "dns://10.0.0.0/24:1053",
            Dns,
            "0.0.10.in-addr.arpa.",
            Some(1053),
        ),
        ("10.0.0.0/8", Dns, "10.in-addr.arpa.", None),
        ("10.1.2.3/8", Dns, "10.in-addr.arpa.", None),
        ("192.168.1.7/32", Dns, "7.1.168.192.in-addr.arpa.", None),
        ("0.0.0.0/0", Dns, "in-addr.arpa.", None),
        ("fd00::/8", Dns, "d.f.ip6.arpa.", None),
        ("2001:db8::/32", Dns, "8.b.d.0.1.0.0.2.ip6.arpa.", None),
        (
            "2001:db8::/32:53",
            Dns,
            "8.b.d.0.1.0.0.2.ip6.arpa.",
            Some(53),
        ),
        ("::/0", Dns, "ip6.arpa.", None),
    ];
    for (key, t, zone, port) in cases {
        assert_eq!(one(key), (*t, zone.to_string(), *port), "key {key}");
    }
}

#[test]
fn ipv4_cidr_expansion() {
    let z = zones("10.0.0.0/17");
    assert_eq!(z.len(), 128);
    assert_eq!(z[0], "0.0.10.in-addr.arpa.");
    assert_eq!(z[1], "1.0.10.in-addr.arpa.");
    assert_eq!(z[127], "127.0.10.in-addr.arpa.");

    let z = zones("10.0.0.0/27");
    assert_eq!(z.len(), 32);
    assert_eq!(z[0], "0.0.0.10.in-addr.arpa.");
    assert_eq!(z[31], "31.0.0.10.in-addr.arpa.");

    // Host bits are cleared before expansion.
    let z = zones("10.0.0.200/25");
    assert_eq!(z.len(), 128);
    assert_eq!(z[0], "128.0.0.10.in-addr.arpa.");
    assert_eq!(z[127], "255.0.0.10.in-addr.arpa.");

    let z = zones("172.16.0.0/12");
    assert_eq!(z.len(), 16);
    assert_eq!(z[0], "16.172.in-addr.arpa.");
    assert_eq!(z[15], "31.172.in-addr.arpa.");

    assert_eq!(zones("128.0.0.0/1").len(), 128);
    assert_eq!(zones("128.0.0.0/1")[127], "255.in-addr.arpa.");
    assert_eq!(
        zones("10.0.0.0/23"),
        ["0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa."]
    );

    // Every address of the key shares transport and port.
    for a in parse_key("tls://10.0.0.0/30:853").unwrap() {
        assert_eq!((a.transport, a.port), (Transport::Tls, Some(853)));
    }
}

#[test]
fn ipv6_cidr_expansion() {
    let z = zones("2001:db8:1:2::/64");
    assert_eq!(z, ["2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."]);

    let z = zones("2001:db8:1:4::/62");
    assert_eq!(
        z,
        [
            "4.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            "5.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            "6.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            "7.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
        ]
    );
    assert_eq!(zones("fd00::/7"), ["c.f.ip6.arpa.", "d.f.ip6.arpa."]);
    let z = zones("2001:db8::1/128");
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].split('.').count(), 32 + 3);
    assert!(z[0].starts_with("1.0.0.0."));
    assert_eq!(zones("2001:db8::/125").len(), 8);
}

#[test]
fn error_table() {
    let long_label = format!("{}.org", "a".repeat(64));
    let long_name = format!("{}org", "abcdefghi.".repeat(26));
    let cases: Vec<(&str, AddressError)> = vec![
        ("unix://example.org", AddressError::UnixScheme),
        (
            "udp://example.org",
            AddressError::UnknownScheme("udp".into()),
        ),
        ("://example.org", AddressError::UnknownScheme("".into())),
        ("", AddressError::EmptyZone("".into())),
        (":53", AddressError::EmptyZone(":53".into())),
        ("dns://", AddressError::EmptyZone("dns://".into())),
        (
            "example.org:",
            AddressError::MissingPort("example.org:".into()),
        ),
        (
            "example.org:70000",
            AddressError::InvalidPort("70000".into()),
        ),
        (
            "example.org:99999999999999999999",
            AddressError::InvalidPort("99999999999999999999".into()),
        ),
        (
            "10.0.0.0/33",
            AddressError::InvalidCidr("10.0.0.0/33".into()),
        ),
        ("10.0.0.0/x", AddressError::InvalidCidr("10.0.0.0/x".into())),
        ("10.0.0.0/", AddressError::InvalidCidr("10.0.0.0/".into())),
        ("fd00::/129", AddressError::InvalidCidr("fd00::/129".into())),
        (
            "example..org",
            AddressError::EmptyLabel("example..org".into()),
        ),
        (
            ".example.org",
            AddressError::EmptyLabel(".example.org".into()),
        ),
        ("..", AddressError::EmptyLabel("..".into())),
        (
            "example.org:abc",
            AddressError::InvalidCharacter {
                zone: "example.org:abc".into(),
                ch: ':',
            },
        ),
        (
            "exa mple.org",
            AddressError::InvalidCharacter {
                zone: "exa mple.org".into(),
                ch: ' ',
            },
        ),
        (
            "exämple.org",
            AddressError::InvalidCharacter {
                zone: "exämple.org".into(),
                ch: 'ä',
            },
        ),
        (
            "example.org/x",
            AddressError::InvalidCharacter {
                zone: "example.org/x".into(),
                ch: '/',
            },
        ),
        (
            "(snippet)",
            AddressError::InvalidCharacter {
                zone: "(snippet)".into(),
                ch: '(',
            },
        ),
        (
            "{$ZONE}",
            AddressError::InvalidCharacter {
                zone: "{$ZONE}".into(),
                ch: '{',
            },
        ),
        (
            long_label.as_str(),
            AddressError::LabelTooLong {
                zone: long_label.clone(),
                label: "a".repeat(64),
            },
        ),
        (
            long_name.as_str(),
            AddressError::ZoneTooLong(long_name.clone()),
        ),
    ];
    for (key, want) in cases {
        assert_eq!(parse_key(key), Err(want), "key {key:?}");
    }
    // Messages are readable.
    assert_eq!(
        parse_key("unix://x").unwrap_err().to_string(),
        "'unix://' is not a listener scheme"
    );
}

#[test]
fn length_limits_at_the_edge() {
    // 63-byte label is fine; a 253-character name (254 with the root dot) is the maximum.
    assert!(parse_key(&format!("{}.org", "a".repeat(63))).is_ok());
    let max = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(max.len(), 253);
    assert!(parse_key(&max).is_ok());
    assert!(parse_key(&format!("{max}.")).is_ok());
    assert!(parse_key(&format!("{max}e")).is_err());
}

#[test]
fn transport_properties() {
    let want = [
        (Transport::Dns, "dns", 53),
        (Transport::Tls, "tls", 853),
        (Transport::Https, "https", 443),
        (Transport::Https3, "https3", 443),
        (Transport::Quic, "quic", 853),
        (Transport::Grpc, "grpc", 443),
    ];
    for (t, scheme, port) in want {
        assert_eq!(t.scheme(), scheme);
        assert_eq!(t.default_port(), port);
        assert_eq!(Transport::from_scheme(scheme), Some(t));
        assert_eq!(t.to_string(), scheme);
    }
    assert_eq!(Transport::from_scheme("unix"), None);
}

#[test]
fn zone_addr_display_and_effective_port() {
    let a = ZoneAddr {
        transport: Transport::Dns,
        zone: "example.org.".into(),
        port: None,
    };
    assert_eq!(a.to_string(), "dns://example.org.");
    assert_eq!(a.effective_port(1053), 1053);
    let b = ZoneAddr {
        port: Some(5353),
        ..a.clone()
    };
    assert_eq!(b.to_string(), "dns://example.org.:5353");
    assert_eq!(b.effective_port(1053), 5353);
    let c = ZoneAddr {
        transport: Transport::Tls,
        ..a
    };
    assert_eq!(c.effective_port(1053), 853);
}
