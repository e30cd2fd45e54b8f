//! The provisioning session a device key opens (DESIGN.md "Device key";
//! `provisioning-stub/docs/device-key.md`).
//!
//! States are types and every transition consumes the previous state (rustls style):
//!
//! ```text
//! ProvisioningSession::open(key bytes, APN entry)   (decodes the key)
//!   └─ verify(identity, now) ──> VerifiedSession     (IMEI, APN digest, signature, expiry)
//!        └─ apply(store) ──────> ClosedSession       (APN inserted, key gone)
//! any failure ─────────────────> ClosedSession       (APN unchanged, key gone)
//! ```
//!
//! The key lives only inside the open/verified session, in a
//! [`provisioning_stub::keys::DeviceKey`] (zeroized on drop) and, while decoding, a
//! [`Zeroizing`] buffer. [`ClosedSession`] keeps the public `key_id` and the outcome, never
//! the key. Dropping a session in any state zeroizes the key.

use ed25519_dalek::{Signature, VerifyingKey};
use provisioning_stub::keys::{ApnSettings, DeviceKey, Imei, KeyError, SIGNING_CONTEXT};
use zeroize::Zeroizing;

use super::apn::{ApnEntry, ApnSource, ApnStore};
use super::report::RejectReason;

/// What the handset knows about itself for a device-key check: its IMEI and the
/// manufacturer's Ed25519 public key (both belong to the handset profile; the profile type
/// is another module's, so this small struct is what the session asks for).
#[derive(Debug, Clone)]
pub struct HandsetIdentity {
    /// This handset's IMEI (15 digits, Luhn-valid).
    pub imei: Imei,
    /// The manufacturer's public key; `None` = the handset cannot accept device keys.
    pub manufacturer_key: Option<VerifyingKey>,
}

/// An open session: a decoded (not yet verified) device key and the APN it would insert.
pub struct ProvisioningSession {
    key: DeviceKey,
    entry: ApnEntry,
}

impl core::fmt::Debug for ProvisioningSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProvisioningSession")
            .field("key_id", &self.key.key_id)
            .field("apn", &self.entry.settings.apn)
            .finish_non_exhaustive()
    }
}

/// A session whose key verified; only [`VerifiedSession::apply`] remains.
pub struct VerifiedSession {
    key: DeviceKey,
    entry: ApnEntry,
}

impl core::fmt::Debug for VerifiedSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedSession")
            .field("key_id", &self.key.key_id)
            .finish_non_exhaustive()
    }
}

/// A finished session: no key, only what may be reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSession {
    /// `key_id` of the key (public issuance id), when it decoded.
    pub key_id: Option<u64>,
    /// `nonce` of the key, when it decoded (the replay record uses `(key_id, nonce)`).
    pub nonce: Option<[u8; 16]>,
    /// The inserted APN, or why nothing was inserted.
    pub result: Result<String, RejectReason>,
}

impl ProvisioningSession {
    /// Opens a session from the key's binary form (docs/device-key.md). A malformed key
    /// closes the session at once.
    pub fn open(key_bytes: Zeroizing<Vec<u8>>, entry: ApnEntry) -> Result<Self, ClosedSession> {
        let decoded = DeviceKey::decode(&key_bytes);
        drop(key_bytes);
        match decoded {
            Ok(key) => Ok(ProvisioningSession { key, entry }),
            Err(e) => Err(ClosedSession {
                key_id: None,
                nonce: None,
                result: Err(RejectReason::BadDeviceKey(e)),
            }),
        }
    }

    /// The key's issuance id.
    pub fn key_id(&self) -> u64 {
        self.key.key_id
    }

    /// The key's nonce.
    pub fn nonce(&self) -> [u8; 16] {
        self.key.nonce
    }

    /// Closes the session without applying anything (e.g. a replay found by the caller).
    pub fn reject(self, reason: RejectReason) -> ClosedSession {
        ClosedSession {
            key_id: Some(self.key.key_id),
            nonce: Some(self.key.nonce),
            result: Err(reason),
        }
    }

    /// Checks, in the order of `DeviceKey::verify_at`: IMEI binding, APN settings binding,
    /// Ed25519 signature (strict) under the manufacturer's key, expiry against `now_unix`.
    pub fn verify(
        self,
        identity: &HandsetIdentity,
        now_unix: u64,
    ) -> Result<VerifiedSession, ClosedSession> {
        let Some(pk) = identity.manufacturer_key.as_ref() else {
            return Err(self.reject(RejectReason::NoManufacturerKey));
        };
        match verify_key(
            &self.key,
            pk,
            &identity.imei,
            &self.entry.settings,
            now_unix,
        ) {
            Ok(()) => Ok(VerifiedSession {
                key: self.key,
                entry: self.entry,
            }),
            Err(e) => Err(self.reject(RejectReason::from_key_error(e))),
        }
    }
}

impl VerifiedSession {
    /// Inserts the APN (marked with the key's issuance id) and closes the session.
    pub fn apply(self, store: &mut ApnStore) -> ClosedSession {
        let key_id = self.key.key_id;
        let nonce = self.key.nonce;
        let mut entry = self.entry;
        entry.source = ApnSource::DeviceKey { key_id };
        let apn = entry.settings.apn.clone();
        let result = store
            .insert(entry)
            .map(|()| apn)
            .map_err(RejectReason::from);
        ClosedSession {
            key_id: Some(key_id),
            nonce: Some(nonce),
            result,
        }
    }
}

/// `DeviceKey::verify_at` with the signed message held in a zeroizing buffer (the stub's
/// version builds it in a plain `Vec`).
fn verify_key(
    key: &DeviceKey,
    pk: &VerifyingKey,
    imei: &Imei,
    settings: &ApnSettings,
    now_unix: u64,
) -> Result<(), KeyError> {
    if &key.imei != imei.as_bytes() {
        return Err(KeyError::WrongImei);
    }
    if key.apn_digest != settings.digest()? {
        return Err(KeyError::WrongApnSettings);
    }
    let signed = Zeroizing::new(key.signed_bytes());
    let mut message = Zeroizing::new(Vec::with_capacity(SIGNING_CONTEXT.len() + signed.len()));
    message.extend_from_slice(SIGNING_CONTEXT);
    message.extend_from_slice(&signed);
    pk.verify_strict(&message, &Signature::from_bytes(&key.signature))
        .map_err(|_| KeyError::BadSignature)?;
    match key.expires_at {
        Some(t) if now_unix >= t => Err(KeyError::Expired),
        _ => Ok(()),
    }
}
