//! `edns0` rules: setting, appending, replacing and removing EDNS0 options of the request
//! (local options with fixed or per-query data, NSID, client subnet), and the `revert` that
//! keeps the change out of the response.
//!
//! The semantics are CoreDNS's code (where its README says otherwise, the code wins): every
//! rule first makes sure the request has an OPT record; `set` overwrites the first matching
//! option or adds one; `replace` only overwrites; `append` on a local option with fixed
//! data adds a second one even when the code is there already, while `append` with variable
//! data, or of a subnet option, does nothing when one is there; `unset` removes every
//! matching option.

use std::net::IpAddr;

use cairn_core::wire::name::write_presentation;
use cairn_core::{Proto, Request};

pub use super::draft::Draft;
use super::response::{Applied, AppliedList};
use super::rule::Outcome;
use super::text::TextBuf;

/// EDNS0 option code of NSID (RFC 5001).
pub const NSID: u16 = 3;
/// EDNS0 option code of the client subnet (RFC 7871).
pub const SUBNET: u16 = 8;

/// What a rule does with a matching option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Set,
    Append,
    Replace,
    Unset,
}

/// A per-query value for a local option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    QName,
    QType,
    ClientIp,
    ClientPort,
    Protocol,
    ServerIp,
    ServerPort,
}

impl Variable {
    /// The `{name}` forms CoreDNS knows.
    pub fn from_text(s: &str) -> Option<Variable> {
        Some(match s {
            "{qname}" => Variable::QName,
            "{qtype}" => Variable::QType,
            "{client_ip}" => Variable::ClientIp,
            "{client_port}" => Variable::ClientPort,
            "{protocol}" => Variable::Protocol,
            "{server_ip}" => Variable::ServerIp,
            "{server_port}" => Variable::ServerPort,
            _ => return None,
        })
    }
}

/// The data of a local option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalData {
    Fixed(Vec<u8>),
    Variable(Variable),
    /// A metadata label (`{plugin/label}`). Cairn has no metadata plugin, so the label never
    /// has a value and the rule never applies, as in CoreDNS without a provider for it.
    Metadata(String),
}

/// An `edns0` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edns0Rule {
    Local {
        action: Action,
        code: u16,
        data: LocalData,
        revert: bool,
    },
    Nsid {
        action: Action,
        revert: bool,
    },
    Subnet {
        action: Action,
        v4_bits: u8,
        v6_bits: u8,
        revert: bool,
    },
}

/// The family CoreDNS files a client under: IPv4 (also IPv4-mapped IPv6) or IPv6.
fn client_v4(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

/// Writes the address in the client's family (4 or 16 bytes); false when it has no form
/// in that family.
fn push_ip(out: &mut DataBuf, ip: IpAddr, v4_family: bool) -> bool {
    match (v4_family, ip) {
        (true, IpAddr::V4(a)) => out.extend(&a.octets()),
        (true, IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => out.extend(&v4.octets()),
            None => false,
        },
        (false, IpAddr::V4(a)) => out.extend(&a.to_ipv6_mapped().octets()),
        (false, IpAddr::V6(a)) => out.extend(&a.octets()),
    }
}

/// The data of a variable for this query, written to `out`; false when there is none.
fn variable_data(v: Variable, draft: &Draft, req: &Request, out: &mut DataBuf) -> bool {
    let v4_family = client_v4(req.client.ip()).is_some();
    match v {
        Variable::QName => {
            let mut t = TextBuf::new();
            write_presentation(draft.qname.wire(), &mut t).is_ok()
                && out.extend(t.as_str().as_bytes())
        }
        Variable::QType => out.extend(&draft.qtype.0.to_be_bytes()),
        Variable::ClientIp => push_ip(out, req.client.ip(), v4_family),
        Variable::ServerIp => push_ip(out, req.local.ip(), v4_family),
        Variable::ClientPort => out.extend(&req.client.port().to_be_bytes()),
        Variable::ServerPort => out.extend(&req.local.port().to_be_bytes()),
        Variable::Protocol => out.extend(match req.proto {
            Proto::Udp => b"udp",
            Proto::Tcp => b"tcp",
        }),
    }
}

/// The client subnet option data (RFC 7871 section 6): family, source prefix length, scope
/// 0, and the masked address cut to the bytes the prefix covers.
fn subnet_data(req: &Request, v4_bits: u8, v6_bits: u8, out: &mut DataBuf) {
    match client_v4(req.client.ip()) {
        Some(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4_bits)).unwrap_or(0);
            let addr = (u32::from(v4) & mask).to_be_bytes();
            out.extend(&1u16.to_be_bytes());
            out.extend(&[v4_bits, 0]);
            out.extend(&addr[..usize::from(v4_bits).div_ceil(8)]);
        }
        None => {
            let IpAddr::V6(v6) = req.client.ip() else {
                return;
            };
            let mask = u128::MAX.checked_shl(128 - u32::from(v6_bits)).unwrap_or(0);
            let addr = (u128::from(v6) & mask).to_be_bytes();
            out.extend(&2u16.to_be_bytes());
            out.extend(&[v6_bits, 0]);
            out.extend(&addr[..usize::from(v6_bits).div_ceil(8)]);
        }
    }
}

/// Option data built per query, on the stack (a name in presentation form fits).
pub struct DataBuf {
    buf: [u8; 1024],
    len: usize,
}

impl DataBuf {
    fn new() -> DataBuf {
        DataBuf {
            buf: [0; 1024],
            len: 0,
        }
    }

    /// Appends; false when it does not fit.
    fn extend(&mut self, data: &[u8]) -> bool {
        let end = self.len + data.len();
        if end > self.buf.len() {
            return false;
        }
        self.buf[self.len..end].copy_from_slice(data);
        self.len = end;
        true
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Edns0Rule {
    pub fn apply<'r>(
        &'r self,
        draft: &mut Draft,
        req: &Request,
        applied: &mut AppliedList<'r>,
    ) -> Outcome {
        match self {
            Edns0Rule::Local {
                action,
                code,
                data,
                revert,
            } => {
                let mut buf = DataBuf::new();
                let value = match data {
                    LocalData::Fixed(d) => &d[..],
                    LocalData::Variable(v) => {
                        if !variable_data(*v, draft, req, &mut buf) {
                            return Outcome::Ignored;
                        }
                        buf.as_slice()
                    }
                    LocalData::Metadata(_) => return Outcome::Ignored,
                };
                let fixed = matches!(data, LocalData::Fixed(_));
                edit(draft, req, applied, *action, *code, value, *revert, fixed)
            }
            Edns0Rule::Nsid { action, revert } => {
                edit(draft, req, applied, *action, NSID, &[], *revert, true)
            }
            Edns0Rule::Subnet {
                action,
                v4_bits,
                v6_bits,
                revert,
            } => {
                let mut buf = DataBuf::new();
                subnet_data(req, *v4_bits, *v6_bits, &mut buf);
                edit(
                    draft,
                    req,
                    applied,
                    *action,
                    SUBNET,
                    buf.as_slice(),
                    *revert,
                    false,
                )
            }
        }
    }
}

/// The common edit. `append_anyway`: an `append` adds the option even when one with the
/// code is there (CoreDNS's local-with-fixed-data and NSID rules).
#[allow(clippy::too_many_arguments)]
fn edit<'r>(
    draft: &mut Draft,
    req: &Request,
    applied: &mut AppliedList<'r>,
    action: Action,
    code: u16,
    value: &[u8],
    revert: bool,
    append_anyway: bool,
) -> Outcome {
    let opt = draft.opt(req);
    if action == Action::Unset {
        opt.remove_all(code);
        return Outcome::Done;
    }
    let found = opt.find(code);
    if let Some((start, data)) = found {
        match action {
            Action::Set | Action::Replace => {
                if revert {
                    applied.push(Applied::EdnsRestore {
                        code,
                        data: opt.options[data].into(),
                    });
                }
                opt.set_data(start, value);
                return Outcome::Done;
            }
            _ if !append_anyway => return Outcome::Ignored,
            _ => {}
        }
    }
    match action {
        Action::Set | Action::Append => {
            opt.append(code, value);
            if revert {
                applied.push(Applied::EdnsRemove { code });
            }
            Outcome::Done
        }
        _ => Outcome::Ignored,
    }
}
