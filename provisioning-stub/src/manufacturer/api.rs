//! JSON bodies of the key server's HTTP API (`docs/manufacturer.md`).

use serde::{Deserialize, Serialize};

use crate::keys::{ApnSettings, Imei};

/// `POST /v1/keys` request. The operator is not in the body: it is the common name
/// of the TLS client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// The handset's IMEI (15 digits, Luhn-valid).
    pub imei: Imei,
    /// The APN settings the key authorises.
    pub apn_settings: ApnSettings,
}

/// `POST /v1/keys` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    /// Issuance id (= the device key's `key_id`).
    pub key_id: u64,
    /// The device key, text form (base64url, `docs/device-key.md`).
    pub device_key: String,
    /// Issue time, Unix seconds.
    pub issued_at: u64,
    /// Expiry, Unix seconds, if the server sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// `POST /v1/confirmations` request: the device key was downloaded to the handset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRequest {
    /// Issuance id from [`IssuedKey::key_id`].
    pub key_id: u64,
}

/// `POST /v1/confirmations` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Issuance id.
    pub key_id: u64,
    /// When the first confirmation was recorded, Unix seconds.
    pub confirmed_at: u64,
    /// `true` when this key had been confirmed before (idempotent repeat).
    pub already_confirmed: bool,
}

/// One line of a [`Statement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// Issuance id.
    pub key_id: u64,
    /// IMEI the key was issued for.
    pub imei: Imei,
    /// Issue time, Unix seconds.
    pub issued_at: u64,
    /// Download confirmation time, if confirmed.
    pub confirmed_at: Option<u64>,
}

/// `GET /v1/statement` response: what the calling operator owes the manufacturer.
/// The fee is due per **confirmed** download (an issued but never delivered key
/// costs nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Operator id (client certificate common name).
    pub operator: String,
    /// ISO 4217 currency code of the fee.
    pub currency: String,
    /// Fee per confirmed key, minor units.
    pub fee_per_key_minor: u64,
    /// Keys issued to this operator.
    pub keys_issued: u64,
    /// Keys confirmed as downloaded.
    pub keys_confirmed: u64,
    /// Amount owed, minor units (`keys_confirmed × fee_per_key_minor`).
    pub owed_minor: u64,
    /// Every issuance, by key id.
    pub lines: Vec<StatementLine>,
}

/// Error body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Human-readable reason.
    pub error: String,
}
