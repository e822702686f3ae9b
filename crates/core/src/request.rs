//! One query on its way through the chain.
//!
//! The server parses a packet once into a [`Request`] (boxed and pooled per socket worker, so
//! moving it between plugins is a pointer move and building one allocates nothing), normalises
//! what every plugin would otherwise recompute (the lower-cased name, the client's size limit),
//! and lends the request a spare [`Message`] whose vectors keep their capacity across queries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::wire::message::HEADER_LEN;
use crate::wire::{
    encode, encode_transfer, Encoded, Flags, Message, Name, NameBuf, OptRef, QueryInfo,
    QuestionRef, RType, Rcode, TRANSFER_FRAME_LIMIT,
};

/// Transport the query arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    /// `udp` or `tcp`, as in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// Facts about the listener a request came in on, shared by all its requests.
#[derive(Debug, Default)]
pub struct ServerInfo {
    /// Metric label `server`, e.g. `dns://:53` or `dns://127.0.0.1:1053`.
    pub label: String,
    /// The listener's dispatcher, for lookups through the server
    /// ([`Request::lookup_through_server`]); bound by the server when it publishes it.
    pub resolver: crate::resolve::SelfResolver,
}

impl ServerInfo {
    /// Facts for a listener labelled `label` (resolver not bound yet).
    pub fn new(label: impl Into<String>) -> ServerInfo {
        ServerInfo {
            label: label.into(),
            resolver: crate::resolve::SelfResolver::default(),
        }
    }
}

/// A query being served.
pub struct Request {
    /// Header, question (original case) and EDNS of the query.
    pub info: QueryInfo,
    /// The question name in lower case, for lookups.
    pub qname_lower: NameBuf,
    /// The query bytes as received.
    pub raw: Vec<u8>,
    pub client: SocketAddr,
    pub local: SocketAddr,
    pub proto: Proto,
    /// When the packet was read.
    pub received: Instant,
    /// The server-block zone this query was routed by (longest match), lower case.
    pub zone: Name,
    /// The listener this query arrived on.
    pub server: Arc<ServerInfo>,
    /// Spare message lent to whoever builds the reply.
    spare: Message,
    /// Observes the size of the reply as written (set by `prometheus` for
    /// `coredns_dns_response_size_bytes`); the server takes it when it encodes the reply, so
    /// the size is that of the bytes sent and the reply is encoded once.
    pub reply_size_observer: Option<crate::metrics::Histogram>,
    /// How many lookups through the server led to this request (0 for a query from the
    /// network); see [`crate::resolve::MAX_DEPTH`].
    pub depth: u8,
}

impl Request {
    /// An empty request for a pool.
    pub fn empty(server: Arc<ServerInfo>) -> Request {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Request {
            info: QueryInfo::default(),
            qname_lower: NameBuf::new(),
            raw: Vec::with_capacity(512),
            client: unspecified,
            local: unspecified,
            proto: Proto::Udp,
            received: Instant::now(),
            zone: Name::root(),
            server,
            spare: Message::default(),
            reply_size_observer: None,
            depth: 0,
        }
    }

    /// Builds a request from a query (used by tests and by plugins that re-enter the chain).
    pub fn from_query(
        raw: &[u8],
        client: SocketAddr,
        proto: Proto,
    ) -> Result<Request, crate::wire::QueryError> {
        let mut r = Request::empty(Arc::new(ServerInfo::new("dns://:53")));
        r.raw.extend_from_slice(raw);
        r.client = client;
        r.proto = proto;
        r.parse()?;
        Ok(r)
    }

    /// Parses `raw` into `info` and refreshes the derived fields.
    pub fn parse(&mut self) -> Result<(), crate::wire::QueryError> {
        crate::wire::parse_query(&self.raw, &mut self.info)?;
        self.qname_lower.set_wire_lowercase(self.info.qname.wire());
        Ok(())
    }

    /// Replaces the question name (e.g. by `rewrite`), keeping `qname_lower` in step.
    pub fn set_qname(&mut self, wire: &[u8]) {
        self.info.qname.set_wire(wire);
        self.qname_lower.set_wire_lowercase(wire);
    }

    /// The question type.
    #[inline]
    pub fn qtype(&self) -> RType {
        self.info.qtype
    }

    /// The question class.
    #[inline]
    pub fn qclass(&self) -> u16 {
        self.info.qclass
    }

    /// The question name as a [`Name`], original case.
    pub fn qname(&self) -> Name {
        self.info.qname.to_name()
    }

    /// DNSSEC OK bit.
    pub fn dnssec_ok(&self) -> bool {
        self.info.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// The largest reply this client takes: 65535 on TCP; on UDP the EDNS size (at least 512)
    /// or 512 without EDNS.
    pub fn max_reply_size(&self) -> usize {
        match self.proto {
            Proto::Tcp => 65535,
            Proto::Udp => match self.info.edns {
                Some(e) => usize::from(e.udp_size.max(512)),
                None => 512,
            },
        }
    }

    /// Starts a reply: header copied from the query (id, opcode, RD, CD), QR set,
    /// NOERROR, empty sections that keep their capacity from earlier queries.
    pub fn reply(&mut self) -> Message {
        let mut m = std::mem::take(&mut self.spare);
        m.clear();
        m.id = self.info.id;
        m.opcode = self.info.opcode;
        m.flags = Flags {
            qr: true,
            rd: self.info.flags.rd,
            cd: self.info.flags.cd,
            ..Flags::default()
        };
        m
    }

    /// A reply with only a response code (REFUSED, SERVFAIL, ...).
    pub fn reply_rcode(&mut self, rcode: Rcode) -> Message {
        let mut m = self.reply();
        m.rcode = rcode;
        m
    }

    /// Encodes `msg` as the reply to this query into `out` (appended): the question as asked,
    /// the client's OPT mirrored (or a bare OPT for an extended rcode), compressed and
    /// truncated to what the client accepts. Feeds and clears [`Self::reply_size_observer`].
    pub fn encode_reply(&mut self, msg: &Message, out: &mut Vec<u8>) -> Encoded {
        let start = out.len();
        let question = (!self.info.question.is_empty()).then(|| QuestionRef {
            name: self.info.qname.wire(),
            qtype: self.info.qtype,
            qclass: self.info.qclass,
        });
        let opt = match self.info.edns {
            Some(e) => Some(OptRef {
                udp_size: e.udp_size.max(512),
                dnssec_ok: e.dnssec_ok,
                options: msg.edns.as_ref().map_or(&[][..], |e| &e.options),
            }),
            None if msg.rcode.0 > 15 => Some(OptRef {
                udp_size: 512,
                dnssec_ok: false,
                options: &[],
            }),
            None => None,
        };
        let limit = self.max_reply_size().max(HEADER_LEN);
        let encoded = encode(msg, question, opt, limit, out);
        if let Some(h) = self.reply_size_observer.take() {
            h.observe((out.len() - start) as f64);
        }
        encoded
    }

    /// True when `msg` answers a zone transfer with records to stream (AXFR, or IXFR
    /// answered by a full transfer): the server then writes it with
    /// [`Self::encode_transfer`] over TCP.
    pub fn is_transfer_stream(&self, msg: &Message) -> bool {
        matches!(self.info.qtype, RType::AXFR | RType::IXFR)
            && msg.rcode == Rcode::NOERROR
            && msg.answer.len() > 1
    }

    /// Encodes a transfer reply as TCP frames (length-prefixed messages of at most
    /// [`TRANSFER_FRAME_LIMIT`] bytes) appended to `out`.
    pub fn encode_transfer(&mut self, msg: &Message, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        let question = (!self.info.question.is_empty()).then(|| QuestionRef {
            name: self.info.qname.wire(),
            qtype: self.info.qtype,
            qclass: self.info.qclass,
        });
        let frames = encode_transfer(msg, question, TRANSFER_FRAME_LIMIT, out);
        if let Some(h) = self.reply_size_observer.take() {
            h.observe((out.len() - start) as f64);
        }
        frames
    }

    /// Gives a written reply's storage back for the next query.
    pub fn recycle(&mut self, mut reply: Message) {
        if reply.answer.capacity() + reply.additional.capacity() + reply.authority.capacity()
            > self.spare.answer.capacity()
                + self.spare.additional.capacity()
                + self.spare.authority.capacity()
        {
            reply.clear();
            self.spare = reply;
        }
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Request({} {} {} from {})",
            self.info.qname,
            self.info.qtype,
            crate::wire::types::class_name(self.info.qclass),
            self.client
        )
    }
}
