use cairn_core::setup::BindLine;
use cairn_core::testing::setup;

use super::address::check;
use crate::registry::spec;

fn line(addrs: &[&str], except: &[&str]) -> BindLine {
    BindLine {
        addrs: addrs.iter().map(ToString::to_string).collect(),
        except: except.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn collects_addresses_and_exclusions_per_line() {
    for (corefile, want) in [
        (". {\n bind 1.2.3.4\n}", vec![line(&["1.2.3.4"], &[])]),
        (
            ". {\n bind 1.2.3.4 ::5\n}",
            vec![line(&["1.2.3.4", "::5"], &[])],
        ),
        (
            ". {\n bind ::1 1.2.3.4 ::5 127.9.9.0\n}",
            vec![line(&["::1", "1.2.3.4", "::5", "127.9.9.0"], &[])],
        ),
        (
            ". {\n bind 1.2.3.4 lo\n}",
            vec![line(&["1.2.3.4", "lo"], &[])],
        ),
        (
            ". {\n bind 127.0.0.1\n bind ::1\n}",
            vec![line(&["127.0.0.1"], &[]), line(&["::1"], &[])],
        ),
        (
            ". {\n bind lo {\n  except 127.0.0.1\n }\n}",
            vec![line(&["lo"], &["127.0.0.1"])],
        ),
        (
            // An `except` belongs to its own line: 192.0.2.1 is not excluded by the first.
            ". {\n bind eth0 lo {\n  except 10.0.0.1 fe80::1\n  except lo\n }\n bind 192.0.2.1\n}",
            vec![
                line(&["eth0", "lo"], &["10.0.0.1", "fe80::1", "lo"]),
                line(&["192.0.2.1"], &[]),
            ],
        ),
        (
            ". {\n bind eth0.100 br-1a2b_c ens3\n}",
            vec![line(&["eth0.100", "br-1a2b_c", "ens3"], &[])],
        ),
    ] {
        let s = setup(spec("bind"), corefile, None).unwrap();
        assert_eq!(s.settings.bind, want, "{corefile}");
        assert!(s.plugins.is_empty(), "bind adds no handler");
    }
}

#[test]
fn errors_name_the_line() {
    for (corefile, line, want) in [
        (
            ". {\n bind\n}",
            2,
            "plugin/bind: at least one address or interface name is expected",
        ),
        (
            ". {\n bind 1.2.3.4\n\n bind 1.2.3.300\n}",
            4,
            "plugin/bind: not a valid IP address or interface name: \"1.2.3.300\"",
        ),
        (
            ". {\n bind ::1 1.2.3.4 no/one\n}",
            2,
            "plugin/bind: not a valid IP address or interface name: \"no/one\"",
        ),
        (
            ". {\n bind averyveryverylong0\n}",
            2,
            "plugin/bind: not a valid IP address or interface name: \"averyveryverylong0\"",
        ),
        (
            ". {\n bind fe80::1%eth0\n}",
            2,
            "plugin/bind: not a valid IP address or interface name: \"fe80::1%eth0\"",
        ),
        (
            ". {\n bind lo {\n  except\n }\n}",
            3,
            "plugin/bind: at least one address or interface must be given to except",
        ),
        (
            ". {\n bind lo {\n  except 127.0.0.1 ::g\n }\n}",
            3,
            "plugin/bind: not a valid IP address or interface name: \"::g\"",
        ),
        (
            ". {\n bind lo {\n  only 127.0.0.1\n }\n}",
            3,
            "unknown property 'only'",
        ),
    ] {
        let err = setup(spec("bind"), corefile, None).err().unwrap();
        assert_eq!(err.line, line, "{corefile}");
        assert_eq!(err.message, want, "{corefile}");
        assert!(err
            .to_string()
            .starts_with(&format!("Corefile:{line} - Error during parsing:")));
    }
}

#[test]
fn address_or_interface_name() {
    for ok in [
        "0.0.0.0",
        "::",
        "::ffff:10.0.0.1",
        "2001:db8::53",
        "lo",
        "eth0",
        "eth0.100",
        "wlp2s0",
        "veth-1_a",
        "a23456789012345",
        "cni0",
    ] {
        assert!(check(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        ".",
        "..",
        "1.2.3",
        "10.0.0.256",
        "1.2.3.4.5",
        "a234567890123456",
        "eth 0",
        "eth0:1",
        "fe80::1%eth0",
        "[::1]",
        "1.2.3.4:53",
    ] {
        assert!(check(bad).is_err(), "{bad:?}");
    }
}
