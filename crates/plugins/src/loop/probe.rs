//! The probe: a HINFO query for `<random>.<random>.<zone>` sent by the process to its own
//! listener once the configuration serves, retried every second for up to 30 seconds until
//! an exchange gets a reply.
//!
//! The name is drawn from the thread-local CSPRNG (seeded by the OS), because a predictable
//! name lets anyone trigger the detection from outside (CVE-2026-26018 in CoreDNS).
//!
//! The service waits for the server's "installed" hook before the first probe: during a
//! reload the previous configuration answers until the swap, and a probe it answered would say
//! nothing about the new one. A reply to a probe this plugin never saw means exactly that (or
//! that a plugin earlier in the chain answers the name, so the probe cannot loop through this
//! block); it is retried a few times before probing ends.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::Instant;

use cairn_core::setup::Shutdown;
use cairn_core::wire::{encode, Message, Name, NameError, QuestionRef, RType, CLASS_IN};

use super::Loop;

/// When and how long to probe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// How long one exchange waits for its reply (CoreDNS: miekg/dns's default, 2 s).
    pub attempt_timeout: Duration,
    /// Pause after an exchange that failed.
    pub retry_every: Duration,
    /// Probing ends this long after it started, answered or not.
    pub give_up_after: Duration,
    /// How long probe queries are still counted after the answered exchange (late copies of a
    /// loop; CoreDNS waits 2 s before disabling itself).
    pub grace: Duration,
    /// Replies to probes this plugin did not see, before probing ends anyway.
    pub max_unseen: u32,
}

impl Schedule {
    /// CoreDNS's timing.
    pub const DEFAULT: Schedule = Schedule {
        attempt_timeout: Duration::from_secs(2),
        retry_every: Duration::from_secs(1),
        give_up_after: Duration::from_secs(30),
        grace: Duration::from_secs(2),
        max_unseen: 3,
    };
}

/// A fresh probe name under `zone`: two decimal labels below 2^62, as CoreDNS draws them.
pub(crate) fn random_name(zone: &Name) -> Result<Name, NameError> {
    let mut rng = rand::rng();
    let a: u64 = rng.random_range(0..1u64 << 62);
    let b: u64 = rng.random_range(0..1u64 << 62);
    zone.prepend_label(b.to_string().as_bytes())?
        .prepend_label(a.to_string().as_bytes())
}

/// The probe query: `name` HINFO IN, RD set (as miekg/dns's `SetQuestion`), no EDNS.
pub(crate) fn query_bytes(name: &Name, id: u16) -> Vec<u8> {
    let mut m = Message {
        id,
        ..Message::default()
    };
    m.flags.rd = true;
    let mut out = Vec::with_capacity(64);
    encode(
        &m,
        Some(QuestionRef {
            name: name.wire(),
            qtype: RType::HINFO,
            qclass: CLASS_IN,
        }),
        None,
        512,
        &mut out,
    );
    out
}

/// Sends `query` to `target` over UDP and waits up to `timeout` for a reply with its id. Any
/// reply counts, whatever its rcode.
pub(crate) async fn exchange(
    target: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> io::Result<()> {
    let local = if target.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(target).await?;
    sock.send(query).await?;
    let mut buf = [0u8; 512];
    tokio::time::timeout(timeout, async {
        loop {
            let n = sock.recv(&mut buf).await?;
            // A response (QR) with our id; anything else is not ours.
            if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id && buf[2] & 0x80 != 0 {
                return Ok(());
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply to the loop probe"))?
}

/// Waits for `d` unless shutdown comes first; false on shutdown.
async fn pause(d: Duration, shutdown: &mut Shutdown) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        () = shutdown.wait() => false,
    }
}

/// The probing service of one block. `installed` brings the destination (and its printed
/// form) once the configuration serves; it is dropped when it never will.
pub(crate) async fn run(
    plugin: Arc<Loop>,
    installed: oneshot::Receiver<(SocketAddr, String)>,
    mut shutdown: Shutdown,
    schedule: Schedule,
) {
    let (target, printed) = tokio::select! {
        t = installed => match t {
            Ok(t) => t,
            Err(_) => {
                // Served without this block's listener (or never served): nothing to probe.
                plugin.stop_checking();
                return;
            }
        },
        () = shutdown.wait() => return,
    };
    plugin.set_listen(printed.clone());
    let deadline = Instant::now() + schedule.give_up_after;
    let mut unseen = 0;
    let answered = loop {
        if Instant::now() >= deadline {
            break false;
        }
        plugin.reset_seen();
        let id: u16 = rand::random();
        let query = query_bytes(plugin.qname(), id);
        let result = tokio::select! {
            r = exchange(target, &query, id, schedule.attempt_timeout) => r,
            () = shutdown.wait() => return,
        };
        plugin.exchanged();
        if plugin.is_looping() {
            return;
        }
        if result.is_ok() {
            if plugin.seen() > 0 {
                break true;
            }
            unseen += 1;
            if unseen >= schedule.max_unseen {
                break true;
            }
        }
        if !pause(schedule.retry_every, &mut shutdown).await {
            return;
        }
    };
    if answered {
        if !pause(schedule.grace, &mut shutdown).await {
            return;
        }
    } else {
        cairn_core::warning!(
            "loop",
            "no reply from {printed} to the loop probe within {}; loop detection for zone {:?} is off",
            cairn_core::duration::format_std(schedule.give_up_after),
            plugin.zone().to_string()
        );
    }
    plugin.stop_checking();
}
