//! Batched UDP receive and send (`recvmmsg`/`sendmmsg`), interface addresses and heap
//! trimming: the only unsafe code in Cairn.
//!
//! One system call moves up to [`BATCH`] datagrams, which measurably cuts CPU per packet
//! under load. The `mmsghdr` arrays are built on the stack for each call and point into
//! buffers owned by [`RecvBatch`], so nothing that crosses an `.await` holds a raw pointer.
#![allow(unsafe_code)]
// The mmsghdr, iovec and buffer arrays are parallel: indexing them together is clearest.
#![allow(clippy::needless_range_loop)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// Receive buffer per datagram; a larger query is truncated and answered FORMERR.
pub const RECV_BUF: usize = 4096;

/// Buffers for one `recvmmsg` call.
pub struct RecvBatch {
    bufs: Vec<Box<[u8; RECV_BUF]>>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: [usize; BATCH],
    truncated: [bool; BATCH],
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: (0..BATCH).map(|_| Box::new([0u8; RECV_BUF])).collect(),
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
            addrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            lens: [0; BATCH],
            truncated: [false; BATCH],
        }
    }
}

impl RecvBatch {
    /// Datagram `i` of the last call: (bytes, source, truncated by the buffer).
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>, bool) {
        (
            &self.bufs[i][..self.lens[i]],
            from_storage(&self.addrs[i]),
            self.truncated[i],
        )
    }
}

/// Receives up to [`BATCH`] datagrams without blocking. `WouldBlock` when none is queued.
pub fn recv_batch(fd: RawFd, batch: &mut RecvBatch) -> io::Result<usize> {
    // SAFETY: zeroed iovec/mmsghdr are valid; every pointer set below points into `batch`,
    // which outlives the call, with the lengths of the buffers it points to.
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = zeroed();
        let mut msgs: [libc::mmsghdr; BATCH] = zeroed();
        for i in 0..BATCH {
            iovs[i].iov_base = batch.bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = RECV_BUF;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_storage).cast();
            msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        let n = libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            batch.lens[i] = (msgs[i].msg_len as usize).min(RECV_BUF);
            batch.truncated[i] = msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        }
        Ok(n)
    }
}

/// Sends datagrams with one `sendmmsg` call; returns how many went out.
pub fn send_batch(fd: RawFd, items: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    let n = items.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: as in `recv_batch`; the pointers reference `items` and local arrays that live
    // across the call. sendmmsg does not write through msg_iov/msg_name.
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = zeroed();
        let mut msgs: [libc::mmsghdr; BATCH] = zeroed();
        let mut addrs: [libc::sockaddr_storage; BATCH] = zeroed();
        for i in 0..n {
            let (data, to) = items[i];
            iovs[i].iov_base = data.as_ptr() as *mut libc::c_void;
            iovs[i].iov_len = data.len();
            let len = to_storage(to, &mut addrs[i]);
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            msgs[i].msg_hdr.msg_namelen = len;
        }
        let sent = libc::sendmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT);
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(addr: SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin: &mut libc::sockaddr_in =
                unsafe { &mut *(s as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin: &mut libc::sockaddr_in6 =
                unsafe { &mut *(s as *mut _ as *mut libc::sockaddr_in6) };
            sin.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin.sin6_port = a.port().to_be();
            sin.sin6_addr.s6_addr = a.ip().octets();
            sin.sin6_flowinfo = a.flowinfo();
            sin.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// The addresses of the network interface `name` (empty when there is none).
pub fn interface_addrs(name: &str) -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read and then free once.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_name.is_null() || ifa.ifa_addr.is_null() {
                continue;
            }
            let ifname = std::ffi::CStr::from_ptr(ifa.ifa_name);
            if ifname.to_bytes() != name.as_bytes() {
                continue;
            }
            let storage = ifa.ifa_addr as *const libc::sockaddr_storage;
            let family = i32::from((*ifa.ifa_addr).sa_family);
            if family == libc::AF_INET || family == libc::AF_INET6 {
                let mut s: libc::sockaddr_storage = zeroed();
                let len = if family == libc::AF_INET {
                    size_of::<libc::sockaddr_in>()
                } else {
                    size_of::<libc::sockaddr_in6>()
                };
                std::ptr::copy_nonoverlapping(
                    storage.cast::<u8>(),
                    (&mut s as *mut libc::sockaddr_storage).cast::<u8>(),
                    len,
                );
                if let Some(a) = from_storage(&s) {
                    out.push(a.ip());
                }
            }
        }
        libc::freeifaddrs(list);
    }
    out
}

/// Gives the pages of freed heap memory back to the system (glibc's `malloc_trim`).
///
/// Loading a cluster parses hundreds of megabytes of JSON into short-lived buffers; glibc
/// keeps the freed chunks mapped inside its arenas, so without this a process that holds
/// 30 MB of index stays at over 100 MB resident after the first sync. Returns true when
/// memory was released. A no-op where the C library is not glibc.
pub fn release_free_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks and madvises the allocator's own free chunks; it
        // takes the arena locks itself and has no preconditions.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
