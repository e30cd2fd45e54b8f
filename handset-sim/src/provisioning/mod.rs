//! The handset's provisioning side (issue 6): OMA Client Provisioning pushes over SMS,
//! the device-key provisioning session, the APN store and the MMS application.
//!
//! Layers, bottom up (`/work/shared/spec/06-oma-cp.md`, `provisioning-stub/docs/device-key.md`):
//!
//! - [`reassembly`]: concatenated SMS → one WAP push ([`Reassembler`], virtual time,
//!   out of order, duplicates ignored, clean timeouts);
//! - [`apn`]: the handset's [`ApnStore`] and the mapping from a CP document to
//!   [`provisioning_stub::keys::ApnSettings`];
//! - [`session`]: the device-key [`ProvisioningSession`] (open → verified → closed; the key
//!   is zeroized on every path);
//! - [`client`]: [`ProvisioningClient`], MT messages in: WSP push, SEC/MAC check with the
//!   card's IMSI or a user PIN, replay record, standard settings or a session, and a
//!   verdict to the [`ResultReporter`] ([`report`]);
//! - [`mms`]: [`MmsApp`], disabled until an APN routes to the manufacturer's MMSC, then an
//!   HTTP POST of an `m-send-req` to it.
//!
//! Codecs are not written here: SMS, WSP and WBXML come from `applet::wire`, the device
//! key from `provisioning_stub::keys`.
//!
//! # How far key erasure goes
//!
//! The device key is a signed statement, not a secret, but the design asks that it is
//! used once and erased. Every buffer this module owns that held it is zeroizing: the
//! reassembly segments and the reassembled push ([`zeroize::Zeroizing`]), the decoded key
//! bytes, the [`provisioning_stub::keys::DeviceKey`] (zeroized on drop) and the signed
//! message built for verification. [`ProvisioningClient::holds_bytes`] inspects every live
//! structure (pending segments, APN store, replay record) for the key's bytes or its hex
//! text, and the session types make it impossible to reach the key after close (each
//! transition consumes the previous state). Not covered: copies inside
//! `ed25519-dalek`'s verification (stack temporaries), the [`crate::network::ShortMessage`]s
//! the SMSC simulator delivered (owned by the caller, plain `Vec`s) and freed memory that
//! the allocator may have copied during a `Vec` growth before it was wrapped.

pub mod apn;
pub mod client;
pub mod mms;
pub mod reassembly;
pub mod report;
pub mod session;

pub use apn::{ApnEntry, ApnSource, ApnStore, ApnStoreError};
pub use client::{ClientConfig, ProvisioningClient};
pub use mms::{MmsApp, MmsError, MmsResponse, MmsStatus};
pub use reassembly::{CompletePush, Expired, Reassembler, ReassemblyError};
pub use report::{
    Outcome, ProvisionalSmsReporter, ProvisioningReport, RecordingReporter, RejectReason,
    ResultReporter,
};
pub use session::{ClosedSession, HandsetIdentity, ProvisioningSession, VerifiedSession};
