use std::sync::Arc;

use cairn_core::testing::{lines, on_the_wire, query_from, run, setup, StubNext};
use cairn_core::wire::{RType, Rcode};
use cairn_core::Proto;

use crate::registry::spec;

#[test]
fn answers_with_client_address_and_port() {
    let s = setup(spec("whoami"), "example.org {\n whoami\n}", None).unwrap();
    let next = StubNext::new(Rcode::SERVFAIL);
    let chain = s.chain_with(next.clone());
    for (client, proto, want) in [
        (
            "10.240.0.1:40212",
            Proto::Udp,
            vec![
                "Www.Example.org.\t0\tIN\tA\t10.240.0.1",
                "_udp.Www.Example.org.\t0\tIN\tSRV\t0 0 40212 .",
            ],
        ),
        (
            "[2001:db8::1]:53000",
            Proto::Tcp,
            vec![
                "Www.Example.org.\t0\tIN\tAAAA\t2001:db8::1",
                "_tcp.Www.Example.org.\t0\tIN\tSRV\t0 0 53000 .",
            ],
        ),
    ] {
        let req = query_from("Www.Example.org.", RType::A, client.parse().unwrap(), proto);
        let (req, result) = run(&chain, req);
        let msg = result.unwrap();
        let wire = on_the_wire(&req, &msg);
        assert!(wire.flags.aa);
        assert_eq!(wire.rcode, Rcode::NOERROR);
        assert!(wire.answer.is_empty());
        assert_eq!(lines(&wire.additional), want);
    }
    assert_eq!(next.calls(), 0, "whoami never calls next");
    let _ = Arc::clone(&next);
}

#[test]
fn rejects_arguments() {
    let err = setup(spec("whoami"), "example.org {\n whoami extra\n}", None)
        .err()
        .unwrap();
    assert_eq!(err.line, 2);
    assert!(
        err.to_string()
            .starts_with("Corefile:2 - Error during parsing:"),
        "{err}"
    );
}
