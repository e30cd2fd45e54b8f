//! SMPP 3.4 server side of the SMSC (SMPP 3.4 specification, issue 12-Oct-1999),
//! a thin tokio layer over the synchronous [`Smsc`](super::smsc::Smsc) core:
//!
//! * [`frame`]: PDU framing, pure (`rusmpp` decodes bodies);
//! * `connection`: one ESME session (bind with system_id/password, `submit_sm` →
//!   `submit_sm_resp`, `deliver_sm` out with a window and retry until
//!   `deliver_sm_resp`, `enquire_link`, `unbind`, `generic_nack` for undecodable PDUs);
//! * [`server`]: the accept loop, [`run`].
//!
//! Time: the session asks the core with the handle's clock, so throttling
//! (`ESME_RTHROTTLED` above `max_submits_per_second` per 1000 ms window) is in
//! wall-clock milliseconds for a wall clock and in virtual ones for a manual clock.

pub mod frame;
pub mod server;

mod connection;

pub use connection::{c_str, deliver_sm, submit_payload};
pub use server::run;
