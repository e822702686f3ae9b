//! `cairn-server`: listeners, dispatch, instance lifecycle and reload, HTTP endpoints.

pub mod dispatch;
mod sys;
pub mod tcp;
pub mod udp;
