//! Resolving host-name TOs once at setup (CoreDNS 1.14.4+): through the `resolver`
//! addresses when given (A then AAAA over UDP, each resolver in turn), else through the
//! system resolver.
//!
//! This runs while a configuration is built, never per query; a name that does not resolve
//! fails the setup, so a reload with a broken name keeps the running configuration.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use cairn_core::wire::{encode, Message, Name, QuestionRef, RData, RType, CLASS_IN};

/// How long one resolver gets for one question (CoreDNS's client timeouts).
const TIMEOUT: Duration = Duration::from_secs(2);

/// The addresses of `hostname`.
pub fn lookup(hostname: &str, resolvers: &[SocketAddr]) -> Result<Vec<IpAddr>, String> {
    if resolvers.is_empty() {
        return system(hostname);
    }
    let name = Name::parse(hostname, None).map_err(|e| e.to_string())?;
    let mut last = String::from("no addresses found");
    for &resolver in resolvers {
        let mut ips = Vec::new();
        match ask(resolver, &name, RType::A) {
            Ok(found) => ips.extend(found),
            Err(e) => {
                last = e;
                continue;
            }
        }
        match ask(resolver, &name, RType::AAAA) {
            Ok(found) => ips.extend(found),
            Err(e) if ips.is_empty() => {
                last = e;
                continue;
            }
            Err(_) => {}
        }
        if !ips.is_empty() {
            return Ok(ips);
        }
    }
    Err(last)
}

fn system(hostname: &str) -> Result<Vec<IpAddr>, String> {
    let mut ips: Vec<IpAddr> = Vec::new();
    for a in (hostname, 0u16)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
    {
        if !ips.contains(&a.ip()) {
            ips.push(a.ip());
        }
    }
    if ips.is_empty() {
        return Err(format!("no addresses found for {hostname:?}"));
    }
    Ok(ips)
}

/// One question to one resolver over UDP; the addresses of that type in the answer.
fn ask(resolver: SocketAddr, name: &Name, qtype: RType) -> Result<Vec<IpAddr>, String> {
    let local: SocketAddr = if resolver.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).map_err(|e| e.to_string())?;
    sock.connect(resolver).map_err(|e| e.to_string())?;
    let id = super::policy::random_id();
    let mut query = Message {
        id,
        ..Message::default()
    };
    query.flags.rd = true;
    let mut out = Vec::with_capacity(64);
    encode(
        &query,
        Some(QuestionRef {
            name: name.wire(),
            qtype,
            qclass: CLASS_IN,
        }),
        None,
        512,
        &mut out,
    );
    sock.send(&out).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("read udp {resolver}: i/o timeout"))?;
        sock.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("read udp {resolver}: i/o timeout"))
            }
            Err(e) => return Err(format!("read udp {resolver}: {e}")),
        };
        let Ok(reply) = Message::parse(&buf[..n]) else {
            continue;
        };
        if reply.id != id || !reply.flags.qr {
            continue;
        }
        return Ok(reply
            .answer
            .iter()
            .filter_map(|r| match r.data {
                RData::A(a) if qtype == RType::A => Some(IpAddr::V4(a)),
                RData::Aaaa(a) if qtype == RType::AAAA => Some(IpAddr::V6(a)),
                _ => None,
            })
            .collect());
    }
}
