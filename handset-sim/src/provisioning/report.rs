//! The result of a provisioning push, as the handset reports it back to the stub so
//! billing can follow (DESIGN.md flow: "report success → ledger: key delivered").
//!
//! The stub defines the confirmation SMS (`provisioning-stub/src/confirmation.rs`, branch
//! `stub-serve`, not on main yet). Until it lands, the handset side speaks through the
//! [`ResultReporter`] trait; [`RecordingReporter`] keeps reports for tests and
//! [`ProvisionalSmsReporter`] turns them into an MO [`ShortMessage`] with a provisional text
//! format (documented on the type) that the real format will replace.

use super::apn::{ApnStoreError, SettingsError};
use super::reassembly::ReassemblyError;
use crate::network::ShortMessage;
use provisioning_stub::keys::KeyError;

/// Why a push was not applied. [`RejectReason::code`] gives a short stable code for the
/// confirmation message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The segments could not be reassembled (bad header, inconsistent total, …).
    #[error("reassembly: {0}")]
    Reassembly(#[from] ReassemblyError),
    /// Parts were missing when the reassembly timer ran out.
    #[error("timed out waiting for parts {missing:?}")]
    Timeout {
        /// Parts that never arrived.
        missing: Vec<u8>,
    },
    /// Not 8-bit data (TS 23.038 §4): a WAP push cannot be carried in 7-bit text.
    #[error("data coding {0:#04x} is not 8-bit")]
    NotEightBit(u8),
    /// The WSP push PDU does not parse (WAP-230 §8.2.4.1).
    #[error("malformed WSP push")]
    BadWsp,
    /// Content type other than `application/vnd.wap.connectivity-wbxml`.
    #[error("content type is not application/vnd.wap.connectivity-wbxml")]
    UnsupportedContentType,
    /// No SEC/MAC and the handset does not accept unauthenticated pushes.
    #[error("push not authenticated (no SEC/MAC)")]
    Unauthenticated,
    /// The SEC method needs a secret the handset does not have (IMSI or user PIN).
    #[error("no credentials for the push's SEC method")]
    MissingCredentials,
    /// The MAC does not match (06-oma-cp.md §2).
    #[error("MAC verification failed")]
    BadMac,
    /// The WBXML document does not decode (offset in the WBXML body).
    #[error("WBXML document invalid at offset {0}")]
    BadDocument(usize),
    /// The settings could not be taken from the document.
    #[error("settings: {0}")]
    Settings(#[from] SettingsError),
    /// The DEVKEY value is not a device key (docs/device-key.md layout).
    #[error("device key malformed: {0}")]
    BadDeviceKey(KeyError),
    /// The handset profile has no manufacturer public key to verify a device key with.
    #[error("no manufacturer public key in the handset profile")]
    NoManufacturerKey,
    /// The device key is bound to another IMEI.
    #[error("device key is for another IMEI")]
    WrongImei,
    /// The device key is bound to other APN settings.
    #[error("device key is bound to other APN settings")]
    WrongApnSettings,
    /// The device key's signature does not verify.
    #[error("device key signature invalid")]
    BadSignature,
    /// The device key has expired.
    #[error("device key expired")]
    Expired,
    /// The same push (or the same device key issuance) was applied before.
    #[error("replay of an applied push")]
    Replay,
    /// The APN store is full.
    #[error("{0}")]
    Store(#[from] ApnStoreError),
}

impl RejectReason {
    /// Short stable code (provisional confirmation format, see [`ProvisionalSmsReporter`]).
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Reassembly(_) => "SEGMENT",
            RejectReason::Timeout { .. } => "TIMEOUT",
            RejectReason::NotEightBit(_) => "DCS",
            RejectReason::BadWsp => "WSP",
            RejectReason::UnsupportedContentType => "CTYPE",
            RejectReason::Unauthenticated => "NOSEC",
            RejectReason::MissingCredentials => "NOCRED",
            RejectReason::BadMac => "MAC",
            RejectReason::BadDocument(_) => "WBXML",
            RejectReason::Settings(_) => "SETTINGS",
            RejectReason::BadDeviceKey(_) => "KEYFMT",
            RejectReason::NoManufacturerKey => "NOMFRKEY",
            RejectReason::WrongImei => "IMEI",
            RejectReason::WrongApnSettings => "APN",
            RejectReason::BadSignature => "SIG",
            RejectReason::Expired => "EXPIRED",
            RejectReason::Replay => "REPLAY",
            RejectReason::Store(_) => "FULL",
        }
    }

    /// Maps a verification error of `provisioning_stub::keys`.
    pub fn from_key_error(e: KeyError) -> Self {
        match e {
            KeyError::WrongImei => RejectReason::WrongImei,
            KeyError::WrongApnSettings => RejectReason::WrongApnSettings,
            KeyError::BadSignature => RejectReason::BadSignature,
            KeyError::Expired => RejectReason::Expired,
            other => RejectReason::BadDeviceKey(other),
        }
    }
}

/// Outcome of one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Settings applied; the APN store now holds these APNs.
    Configured {
        /// APNs inserted or replaced.
        apns: Vec<String>,
    },
    /// Nothing applied.
    Rejected(RejectReason),
}

/// What the handset reports about one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningReport {
    /// The push's originator (TP-OA), where the confirmation goes.
    pub to: String,
    /// `key_id` of the device key when the push carried one that decoded.
    pub key_id: Option<u64>,
    /// Result.
    pub outcome: Outcome,
}

impl ProvisioningReport {
    /// True for [`Outcome::Configured`].
    pub fn is_configured(&self) -> bool {
        matches!(self.outcome, Outcome::Configured { .. })
    }

    /// The reject reason, if rejected.
    pub fn reason(&self) -> Option<&RejectReason> {
        match &self.outcome {
            Outcome::Rejected(r) => Some(r),
            Outcome::Configured { .. } => None,
        }
    }
}

/// Where the handset sends provisioning results (the stub's confirmation SMS when the
/// stub's format lands; a recorder in tests).
pub trait ResultReporter {
    /// Called once per push that reached a verdict (applied, rejected or timed out).
    fn report(&mut self, report: &ProvisioningReport);
}

/// Keeps every report (tests, scenario logs).
#[derive(Debug, Clone, Default)]
pub struct RecordingReporter {
    /// Reports in order.
    pub reports: Vec<ProvisioningReport>,
}

impl ResultReporter for RecordingReporter {
    fn report(&mut self, report: &ProvisioningReport) {
        self.reports.push(report.clone());
    }
}

impl<R: ResultReporter + ?Sized> ResultReporter for &mut R {
    fn report(&mut self, report: &ProvisioningReport) {
        (**self).report(report);
    }
}

/// Builds an MO confirmation SMS (8-bit, no UDH) per report, **provisional format** until
/// `provisioning-stub/src/confirmation.rs` lands:
///
/// ```text
/// IMEITRACK CP1 OK <key_id|->
/// IMEITRACK CP1 REJECT <key_id|-> <code>
/// ```
///
/// (`code` = [`RejectReason::code`]). Messages are collected in `outbox`; the caller submits
/// them (e.g. `Smsc::submit_mo`).
#[derive(Debug, Clone)]
pub struct ProvisionalSmsReporter {
    /// The handset's MSISDN (TP-OA the network will stamp anyway).
    pub from: String,
    /// Confirmations to send.
    pub outbox: Vec<ShortMessage>,
}

impl ProvisionalSmsReporter {
    /// A reporter for the handset `from`.
    pub fn new(from: impl Into<String>) -> Self {
        ProvisionalSmsReporter {
            from: from.into(),
            outbox: Vec::new(),
        }
    }

    /// The provisional confirmation text of `report`.
    pub fn text(report: &ProvisioningReport) -> String {
        let key = report
            .key_id
            .map_or_else(|| "-".to_owned(), |k| k.to_string());
        match &report.outcome {
            Outcome::Configured { .. } => format!("IMEITRACK CP1 OK {key}"),
            Outcome::Rejected(r) => format!("IMEITRACK CP1 REJECT {key} {}", r.code()),
        }
    }
}

impl ResultReporter for ProvisionalSmsReporter {
    fn report(&mut self, report: &ProvisioningReport) {
        self.outbox.push(ShortMessage::new(
            self.from.clone(),
            report.to.clone(),
            0x00,
            0x04,
            Self::text(report).into_bytes(),
        ));
    }
}
