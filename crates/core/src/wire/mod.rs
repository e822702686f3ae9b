//! The DNS wire format, written for Cairn's hot path: strict query parsing without
//! allocation, a [`Message`] value for building answers, and an encoder with compression and
//! truncation. Independent clients (hickory, `dig`) check it in the tests.

pub mod encode;
pub mod message;
pub mod name;
pub mod rdata;
pub mod types;

pub use encode::{encode, encode_transfer, Encoded, OptRef, QuestionRef, TRANSFER_FRAME_LIMIT};
pub use message::{parse_query, Edns, Flags, Message, QueryEdns, QueryError, QueryInfo, Question};
pub use name::{Name, NameBuf, NameError};
pub use rdata::{RData, Record, Soa};
pub use types::{RType, Rcode, CLASS_ANY, CLASS_CH, CLASS_IN};

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message truncated")]
    Truncated,
    #[error("bad name: {0}")]
    Name(#[from] NameError),
    #[error("malformed record data")]
    BadRdata,
    #[error("more than one question")]
    BadQuestionCount,
    #[error("misplaced or duplicate OPT record")]
    BadOpt,
    #[error("bytes after the last record")]
    TrailingBytes,
}

#[cfg(test)]
mod tests;
