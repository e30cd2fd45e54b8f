//! SMPP 3.4 ESME: the provisioning stub's link to an SMSC (issue 5, DESIGN.md
//! "SMSC link").
//!
//! - [`codec`]: framing over `rusmpp`'s PDU types that survives malformed PDUs.
//! - [`session`]: `bind_transceiver`, `enquire_link`, reconnect with exponential
//!   back-off, a window of outstanding `submit_sm`, `deliver_sm_resp` only after the
//!   caller's [`DeliverHandler`] has stored the message, `generic_nack` for
//!   malformed PDUs without dropping the session, `unbind` on shutdown.
//!
//! Tested against an independent SMSC (the `smpp34` crate's server) in
//! `tests/links_smpp.rs`.

pub mod codec;
pub mod session;

pub use session::{
    DATA_CODING_BINARY, DeliverHandler, DeliveredSm, ESM_CLASS_UDHI, EsmeConfig, EsmeHandle,
    HandlerError, SessionState, SmppError, SubmitRequest, SubmitResponse, start,
};
