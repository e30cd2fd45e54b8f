//! Network simulator: networks and operators, an SMS centre, its SMPP 3.4 server side
//! and fault injection.
//!
//! Layers, innermost first:
//!
//! * [`message`]: the host-side [`ShortMessage`] (addresses, PID, DCS, UDH, user data);
//! * [`operator`]: [`Network`]s with PLMN/LAC/cell and SMSC address, [`Operator`]s
//!   (MNO or MVNO with its own MCC/MNC on a host network), handset attachment and
//!   coverage, location information;
//! * [`fault`]: loss, latency, forced RP-ERROR, SMSC outages; the seeded [`Rng`];
//! * [`smsc`]: the SMSC core, a pure synchronous state machine driven by virtual time;
//! * [`receipt`]: SMPP delivery receipt text;
//! * [`handle`]: [`SmscHandle`] (shared core + [`Clock`]);
//! * [`smpp`]: the SMPP server ([`smpp::run`]), tokio.

pub mod fault;
pub mod handle;
pub mod message;
pub mod operator;
pub mod receipt;
pub mod smpp;
pub mod smsc;

pub use fault::{DownWindow, Faults, Rng, RpCause};
pub use handle::{Clock, SmscHandle};
pub use message::ShortMessage;
pub use operator::{LocationInformation, Network, Networks, Operator, Plmn};
pub use smsc::{
    BindError, BindKind, EsmeAccount, EsmeDelivery, Event, MoOutcome, MtDelivery, SessionId, Smsc,
    SmscConfig, SubmitError,
};
