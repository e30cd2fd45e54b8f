//! Device key: the manufacturer-signed authorisation bound to one IMEI and one set
//! of APN settings (DESIGN.md "Device key"; format in `docs/device-key.md`).
//!
//! Binary layout, version 1 (all integers big-endian):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | `version` = 0x01 |
//! | 1 | 1 | `flags`: bit 0 = `expires_at` present, other bits 0 |
//! | 2 | 8 | `key_id`: the manufacturer's issuance id (u64) |
//! | 10 | 15 | `imei`: 15 ASCII digits, Luhn-valid (3GPP TS 23.003 §6.2.1, Annex B) |
//! | 25 | 32 | `apn_digest`: SHA-256 of [`ApnSettings::canonical_encoding`] |
//! | 57 | 8 | `issued_at`: Unix seconds, UTC |
//! | 65 | 8 | `expires_at`: Unix seconds, UTC (only if flag bit 0) |
//! | 65 or 73 | 16 | `nonce`: random |
//! | 81 or 89 | 64 | `signature`: Ed25519 (RFC 8032 §5.1) over [`SIGNING_CONTEXT`] ‖ bytes 0.. |
//!
//! Total 145 bytes (153 with `expires_at`). In the OMA CP document the key travels as
//! upper-case hex in `VENDORCONFIG`/`DEVKEY` (`applet::wire::omacp`); the manufacturer
//! key server's JSON carries it as base64url without padding (RFC 4648 §5), see
//! [`DeviceKey::to_text`] (`docs/device-key.md`, "How the key travels").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::{CryptoRngCore, OsRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Version byte of the layout described in this module.
pub const DEVICE_KEY_VERSION: u8 = 0x01;

/// Domain-separation prefix: the signature covers `SIGNING_CONTEXT` followed by the
/// encoded key without its signature, so a signature made for another purpose with
/// the same Ed25519 key can never be passed off as a device key.
pub const SIGNING_CONTEXT: &[u8] = b"imeitrack device-key v1\0";

/// Flag bit 0: the `expires_at` field is present.
pub const FLAG_EXPIRES_AT: u8 = 0x01;

/// Length of the encoding without `expires_at`.
pub const DEVICE_KEY_LEN: usize = 145;
/// Length of the encoding with `expires_at`.
pub const DEVICE_KEY_LEN_WITH_EXPIRY: usize = 153;

/// Version byte that opens [`ApnSettings::canonical_encoding`].
pub const APN_ENCODING_VERSION: u8 = 0x01;

/// Errors from decoding, verifying or issuing device keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Fewer bytes than the layout needs.
    #[error("device key truncated")]
    Truncated,
    /// More bytes than the layout describes.
    #[error("device key has trailing data")]
    TrailingData,
    /// `version` is not [`DEVICE_KEY_VERSION`].
    #[error("unsupported device key version {0:#04x}")]
    UnsupportedVersion(u8),
    /// A reserved flag bit is set.
    #[error("reserved flag bits set: {0:#04x}")]
    BadFlags(u8),
    /// The IMEI is not 15 digits with a valid Luhn check digit.
    #[error("IMEI is not 15 Luhn-valid digits")]
    BadImei,
    /// The text form is not base64url without padding.
    #[error("device key text is not base64url")]
    BadText,
    /// An APN settings field is longer than 65535 bytes.
    #[error("APN settings field too long")]
    ApnFieldTooLong,
    /// The key was issued for another IMEI.
    #[error("device key is bound to another IMEI")]
    WrongImei,
    /// The key was issued for other APN settings.
    #[error("device key is bound to other APN settings")]
    WrongApnSettings,
    /// The Ed25519 signature does not verify under the manufacturer's public key.
    #[error("device key signature invalid")]
    BadSignature,
    /// `expires_at` lies in the past.
    #[error("device key expired")]
    Expired,
}

/// Result alias for this module.
pub type Result<T> = core::result::Result<T, KeyError>;

/// An IMEI: 14 digits plus the Luhn check digit (3GPP TS 23.003 §6.2.1 and Annex B),
/// stored as 15 ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Imei([u8; 15]);

impl Imei {
    /// Parses 15 ASCII digits and checks the Luhn digit (TS 23.003 Annex B).
    pub fn parse(text: &str) -> Result<Self> {
        let bytes: [u8; 15] = text.as_bytes().try_into().map_err(|_| KeyError::BadImei)?;
        Self::from_ascii(bytes)
    }

    /// Checks 15 ASCII digits as they appear in the device key.
    pub fn from_ascii(bytes: [u8; 15]) -> Result<Self> {
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(KeyError::BadImei);
        }
        // Luhn over digit values (TS 23.003 Annex B), by `applet::wire::imei`.
        if !applet::wire::imei::luhn_verify(&bytes.map(|b| b - b'0')) {
            return Err(KeyError::BadImei);
        }
        Ok(Self(bytes))
    }

    /// The 15 ASCII digits.
    pub fn as_bytes(&self) -> &[u8; 15] {
        &self.0
    }

    /// The IMEI as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl core::fmt::Debug for Imei {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Imei({})", self.as_str())
    }
}

impl core::fmt::Display for Imei {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Imei {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for Imei {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Imei {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Imei::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Luhn check digit (ASCII) over ASCII digits, as TS 23.003 Annex B computes it for
/// the IMEI: double every second digit counted from the right-most of `body`.
/// Delegates to [`applet::wire::imei::luhn_check_digit`] (one implementation for the
/// applet, the handset and the stub); a non-digit in `body` yields `b'?'`, which never
/// matches a check digit.
pub fn luhn_check_digit(body: &[u8]) -> u8 {
    crate::devices::luhn_check_digit(body)
        .checked_add(b'0')
        .filter(u8::is_ascii_digit)
        .unwrap_or(b'?')
}

/// The APN settings a device key is bound to: the values the OMA CP document
/// carries (OMA-WAP-ProvCont 1.1: NAPDEF `NAP-ADDRESS`, `AUTHNAME`, `AUTHSECRET`;
/// APPLICATION w4 `ADDR` for the MMSC; PXLOGICAL/PXPHYSICAL `PXADDR`, `PORTNBR`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Zeroize)]
pub struct ApnSettings {
    /// Access point name (NAPDEF NAP-ADDRESS), exactly as carried; no case folding.
    pub apn: String,
    /// Authentication name (NAPAUTHINFO AUTHNAME).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Authentication secret (NAPAUTHINFO AUTHSECRET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// MMSC URL (APPLICATION w4 ADDR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmsc: Option<String>,
    /// WAP/MMS proxy address (PXPHYSICAL PXADDR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Proxy port (PORT PORTNBR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<u16>,
}

/// Tags of the canonical APN settings encoding (see `docs/device-key.md`).
mod apn_tag {
    pub const APN: u8 = 0x01;
    pub const USERNAME: u8 = 0x02;
    pub const PASSWORD: u8 = 0x03;
    pub const MMSC: u8 = 0x04;
    pub const PROXY: u8 = 0x05;
    pub const PROXY_PORT: u8 = 0x06;
}

impl ApnSettings {
    /// Settings with only an APN name.
    pub fn new(apn: impl Into<String>) -> Self {
        Self {
            apn: apn.into(),
            ..Self::default()
        }
    }

    /// Canonical encoding: `APN_ENCODING_VERSION`, then for each present field in tag
    /// order (01 apn, 02 username, 03 password, 04 mmsc, 05 proxy, 06 proxy port) the
    /// tag, a 2-byte big-endian length and the value (UTF-8 bytes exactly as given;
    /// the port as 2 bytes big-endian). The APN tag is always present. Held in
    /// `Zeroizing` because it may contain the authentication secret.
    pub fn canonical_encoding(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![APN_ENCODING_VERSION]);
        let fields: [(u8, Option<&[u8]>); 5] = [
            (apn_tag::APN, Some(self.apn.as_bytes())),
            (
                apn_tag::USERNAME,
                self.username.as_deref().map(str::as_bytes),
            ),
            (
                apn_tag::PASSWORD,
                self.password.as_deref().map(str::as_bytes),
            ),
            (apn_tag::MMSC, self.mmsc.as_deref().map(str::as_bytes)),
            (apn_tag::PROXY, self.proxy.as_deref().map(str::as_bytes)),
        ];
        for (tag, value) in fields {
            if let Some(value) = value {
                let len = u16::try_from(value.len()).map_err(|_| KeyError::ApnFieldTooLong)?;
                out.push(tag);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(value);
            }
        }
        if let Some(port) = self.proxy_port {
            out.push(apn_tag::PROXY_PORT);
            out.extend_from_slice(&2u16.to_be_bytes());
            out.extend_from_slice(&port.to_be_bytes());
        }
        Ok(out)
    }

    /// SHA-256 (FIPS 180-4) of [`Self::canonical_encoding`].
    pub fn digest(&self) -> Result<[u8; 32]> {
        let encoding = self.canonical_encoding()?;
        Ok(Sha256::digest(encoding.as_slice()).into())
    }
}

/// A decoded device key (layout in the module documentation). Zeroized on drop: the
/// handset erases the key after one provisioning session (DESIGN.md).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DeviceKey {
    /// Layout version ([`DEVICE_KEY_VERSION`]).
    pub version: u8,
    /// The manufacturer's issuance id; download confirmations refer to it.
    pub key_id: u64,
    /// The IMEI the key is bound to, 15 ASCII digits.
    pub imei: [u8; 15],
    /// SHA-256 of the canonical APN settings encoding.
    pub apn_digest: [u8; 32],
    /// Issue time, Unix seconds UTC.
    pub issued_at: u64,
    /// Expiry, Unix seconds UTC, if any.
    pub expires_at: Option<u64>,
    /// Random nonce: two keys for the same IMEI and settings differ.
    pub nonce: [u8; 16],
    /// Ed25519 signature over [`SIGNING_CONTEXT`] ‖ [`DeviceKey::signed_bytes`].
    pub signature: [u8; 64],
}

impl core::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("imei", &String::from_utf8_lossy(&self.imei))
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Encoded length: [`DEVICE_KEY_LEN`] or [`DEVICE_KEY_LEN_WITH_EXPIRY`].
    pub fn buffer_len(&self) -> usize {
        if self.expires_at.is_some() {
            DEVICE_KEY_LEN_WITH_EXPIRY
        } else {
            DEVICE_KEY_LEN
        }
    }

    /// The bytes the signature covers (everything before the signature), without
    /// the [`SIGNING_CONTEXT`] prefix.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        out.push(self.version);
        out.push(if self.expires_at.is_some() {
            FLAG_EXPIRES_AT
        } else {
            0
        });
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.imei);
        out.extend_from_slice(&self.apn_digest);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        if let Some(expires_at) = self.expires_at {
            out.extend_from_slice(&expires_at.to_be_bytes());
        }
        out.extend_from_slice(&self.nonce);
        out
    }

    /// Encodes the key (layout in the module documentation).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(self.signed_bytes());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes a key; checks layout, version, flags and the IMEI digits, but not the
    /// signature or bindings (use [`DeviceKey::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        let version = r.byte()?;
        if version != DEVICE_KEY_VERSION {
            return Err(KeyError::UnsupportedVersion(version));
        }
        let flags = r.byte()?;
        if flags & !FLAG_EXPIRES_AT != 0 {
            return Err(KeyError::BadFlags(flags));
        }
        let key_id = u64::from_be_bytes(r.array()?);
        let imei: [u8; 15] = r.array()?;
        Imei::from_ascii(imei)?;
        let apn_digest = r.array()?;
        let issued_at = u64::from_be_bytes(r.array()?);
        let expires_at = if flags & FLAG_EXPIRES_AT != 0 {
            Some(u64::from_be_bytes(r.array()?))
        } else {
            None
        };
        let nonce = r.array()?;
        let signature = r.array()?;
        if !r.0.is_empty() {
            return Err(KeyError::TrailingData);
        }
        Ok(Self {
            version,
            key_id,
            imei,
            apn_digest,
            issued_at,
            expires_at,
            nonce,
            signature,
        })
    }

    /// Text form of the manufacturer key server's JSON (`device_key`): base64url without
    /// padding (RFC 4648 §5). Not the OMA CP form: there the key is upper-case hex in
    /// `DEVKEY` (`applet::wire::omacp`).
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.encode().as_slice()))
    }

    /// Parses the text form of [`DeviceKey::to_text`].
    pub fn from_text(text: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| KeyError::BadText)?,
        );
        Self::decode(&bytes)
    }

    /// Checks, in this order: the IMEI binding, the APN settings binding, and the
    /// Ed25519 signature (strict verification, RFC 8032 §5.1.7 with canonical `S`
    /// and no small-order keys) under the manufacturer's `public_key`.
    pub fn verify(
        &self,
        public_key: &VerifyingKey,
        imei: &Imei,
        apn_settings: &ApnSettings,
    ) -> Result<()> {
        if &self.imei != imei.as_bytes() {
            return Err(KeyError::WrongImei);
        }
        if self.apn_digest != apn_settings.digest()? {
            return Err(KeyError::WrongApnSettings);
        }
        let mut message = SIGNING_CONTEXT.to_vec();
        message.extend_from_slice(&self.signed_bytes());
        public_key
            .verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| KeyError::BadSignature)
    }

    /// [`DeviceKey::verify`] plus an expiry check against `now` (Unix seconds).
    pub fn verify_at(
        &self,
        public_key: &VerifyingKey,
        imei: &Imei,
        apn_settings: &ApnSettings,
        now: u64,
    ) -> Result<()> {
        self.verify(public_key, imei, apn_settings)?;
        match self.expires_at {
            Some(expires_at) if now >= expires_at => Err(KeyError::Expired),
            _ => Ok(()),
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let (first, rest) = self.0.split_first().ok_or(KeyError::Truncated)?;
        self.0 = rest;
        Ok(*first)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(KeyError::Truncated)?;
        self.0 = rest;
        head.try_into().map_err(|_| KeyError::Truncated)
    }
}

/// The manufacturer's Ed25519 signing key. `SigningKey` zeroizes its secret on drop.
pub struct DeviceKeySigner {
    key: SigningKey,
}

impl core::fmt::Debug for DeviceKeySigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceKeySigner")
            .field("public_key", &self.key.verifying_key())
            .finish_non_exhaustive()
    }
}

impl DeviceKeySigner {
    /// A fresh random signing key (from the operating system's RNG).
    pub fn generate() -> Self {
        Self {
            key: SigningKey::generate(&mut OsRng),
        }
    }

    /// A signing key from its 32-byte secret seed (RFC 8032 §5.1.5).
    pub fn from_seed(seed: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The secret seed, for writing a dev key file.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// Loads the seed from its hex form (64 hex digits, surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), seed.as_mut_slice()).ok()?;
        Some(Self::from_seed(&seed))
    }

    /// The seed as 64 lower-case hex digits.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.seed().as_slice()))
    }

    /// The public key handsets verify against.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Issues a device key with a random nonce.
    pub fn issue(
        &self,
        key_id: u64,
        imei: &Imei,
        apn_settings: &ApnSettings,
        issued_at: u64,
        expires_at: Option<u64>,
    ) -> Result<DeviceKey> {
        self.issue_with_rng(
            key_id,
            imei,
            apn_settings,
            issued_at,
            expires_at,
            &mut OsRng,
        )
    }

    /// Issues a device key, drawing the nonce from `rng` (tests pass a seeded RNG).
    pub fn issue_with_rng(
        &self,
        key_id: u64,
        imei: &Imei,
        apn_settings: &ApnSettings,
        issued_at: u64,
        expires_at: Option<u64>,
        rng: &mut impl CryptoRngCore,
    ) -> Result<DeviceKey> {
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let mut key = DeviceKey {
            version: DEVICE_KEY_VERSION,
            key_id,
            imei: *imei.as_bytes(),
            apn_digest: apn_settings.digest()?,
            issued_at,
            expires_at,
            nonce,
            signature: [0; 64],
        };
        let mut message = SIGNING_CONTEXT.to_vec();
        message.extend_from_slice(&key.signed_bytes());
        key.signature = self.key.sign(&message).to_bytes();
        Ok(key)
    }
}

/// Parses a public key from 64 hex digits.
pub fn verifying_key_from_hex(text: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1 TEST 1 secret key, used here only as a fixed, public test seed.
    const RFC8032_TEST1_SEED: &str =
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    /// RFC 8032 §7.1 TEST 1 public key for that seed.
    const RFC8032_TEST1_PUBLIC: &str =
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    /// A widely cited example IMEI (body 49015420323751, Luhn check digit 8 computed as
    /// TS 23.003 Annex B describes); not a real handset.
    const IMEI: &str = "490154203237518";

    fn apn() -> ApnSettings {
        ApnSettings {
            apn: "mms.example".into(),
            username: None,
            password: None,
            mmsc: Some("http://mmsc.example/mms".into()),
            proxy: Some("10.0.0.1".into()),
            proxy_port: Some(8080),
        }
    }

    struct CountingRng(u8);
    impl rand_core::RngCore for CountingRng {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
        fn try_fill_bytes(
            &mut self,
            dest: &mut [u8],
        ) -> core::result::Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for CountingRng {}

    fn signer() -> DeviceKeySigner {
        DeviceKeySigner::from_hex(RFC8032_TEST1_SEED).unwrap()
    }

    #[test]
    fn rfc8032_seed_gives_rfc8032_public_key() {
        assert_eq!(
            hex::encode(signer().verifying_key().as_bytes()),
            RFC8032_TEST1_PUBLIC
        );
    }

    #[test]
    fn rfc8032_test1_signature_of_empty_message() {
        // RFC 8032 §7.1 TEST 1: signature of the empty message.
        let sig = signer().key.sign(b"");
        assert_eq!(
            hex::encode(sig.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn luhn_matches_ts23003_annex_b_example() {
        // Check digit computed by hand per TS 23.003 Annex B (double every second digit
        // from the right of the 14-digit body, sum digits, complement to a multiple of 10).
        assert_eq!(luhn_check_digit(b"49015420323751"), b'8');
        assert!(Imei::parse(IMEI).is_ok());
        assert_eq!(Imei::parse("490154203237519"), Err(KeyError::BadImei));
        assert_eq!(Imei::parse("49015420323751"), Err(KeyError::BadImei));
        assert_eq!(Imei::parse("49015420323751a"), Err(KeyError::BadImei));
        // A non-digit body never yields a digit (the applet's Luhn refuses values > 9).
        assert_eq!(luhn_check_digit(b"4901542032375x"), b'?');
    }

    /// The stub's ASCII helper and `applet::wire::imei` agree on every IMEI body of a
    /// sample (they are one implementation now; this pins the ASCII ↔ value mapping).
    #[test]
    fn luhn_is_the_applet_luhn() {
        for n in (0u64..100_000_000_000_000).step_by(7_919_000_000_003) {
            let body = format!("{n:014}");
            let values: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
            let d = applet::wire::imei::luhn_check_digit(&values).unwrap();
            assert_eq!(luhn_check_digit(body.as_bytes()), b'0' + d);
            assert!(Imei::parse(&format!("{body}{d}")).is_ok());
        }
    }

    #[test]
    fn canonical_encoding_bytes() {
        // Layout from docs/device-key.md §"APN settings digest".
        let enc = ApnSettings::new("ab").canonical_encoding().unwrap();
        assert_eq!(enc.as_slice(), [0x01, 0x01, 0x00, 0x02, b'a', b'b']);
        let mut s = ApnSettings::new("a");
        s.proxy_port = Some(0x1F90);
        s.mmsc = Some("m".into());
        assert_eq!(
            s.canonical_encoding().unwrap().as_slice(),
            [
                0x01, 0x01, 0x00, 0x01, b'a', 0x04, 0x00, 0x01, b'm', 0x06, 0x00, 0x02, 0x1F, 0x90
            ]
        );
    }

    #[test]
    fn issue_encode_decode_verify() {
        let imei = Imei::parse(IMEI).unwrap();
        let key = signer()
            .issue_with_rng(7, &imei, &apn(), 1_700_000_000, None, &mut CountingRng(0))
            .unwrap();
        let bytes = key.encode();
        assert_eq!(bytes.len(), DEVICE_KEY_LEN);
        assert_eq!(&bytes[..2], [0x01, 0x00]);
        assert_eq!(&bytes[2..10], 7u64.to_be_bytes());
        assert_eq!(&bytes[10..25], IMEI.as_bytes());
        let decoded = DeviceKey::decode(&bytes).unwrap();
        assert_eq!(decoded, key);
        let text = key.to_text();
        assert_eq!(text.len(), 194);
        assert_eq!(DeviceKey::from_text(&text).unwrap(), key);
        let pk = signer().verifying_key();
        decoded.verify(&pk, &imei, &apn()).unwrap();
    }

    #[test]
    fn verify_rejects_other_imei_other_apn_other_signer_and_tampering() {
        let imei = Imei::parse(IMEI).unwrap();
        let pk = signer().verifying_key();
        let key = signer().issue(9, &imei, &apn(), 100, Some(200)).unwrap();
        assert_eq!(key.encode().len(), DEVICE_KEY_LEN_WITH_EXPIRY);
        let other_imei = Imei::parse("356938035643809").unwrap();
        assert_eq!(
            key.verify(&pk, &other_imei, &apn()),
            Err(KeyError::WrongImei)
        );
        let mut other_apn = apn();
        other_apn.proxy_port = Some(8081);
        assert_eq!(
            key.verify(&pk, &imei, &other_apn),
            Err(KeyError::WrongApnSettings)
        );
        let rogue = DeviceKeySigner::generate().verifying_key();
        assert_eq!(
            key.verify(&rogue, &imei, &apn()),
            Err(KeyError::BadSignature)
        );
        let mut tampered = key.clone();
        tampered.key_id = 10;
        assert_eq!(
            tampered.verify(&pk, &imei, &apn()),
            Err(KeyError::BadSignature)
        );
        key.verify_at(&pk, &imei, &apn(), 199).unwrap();
        assert_eq!(
            key.verify_at(&pk, &imei, &apn(), 200),
            Err(KeyError::Expired)
        );
    }

    #[test]
    fn decode_rejects_malformed() {
        let imei = Imei::parse(IMEI).unwrap();
        let key = signer().issue(1, &imei, &apn(), 1, None).unwrap();
        let bytes = key.encode();
        assert_eq!(DeviceKey::decode(&bytes[..144]), Err(KeyError::Truncated));
        let mut long = bytes.to_vec();
        long.push(0);
        assert_eq!(DeviceKey::decode(&long), Err(KeyError::TrailingData));
        let mut v = bytes.to_vec();
        v[0] = 2;
        assert_eq!(DeviceKey::decode(&v), Err(KeyError::UnsupportedVersion(2)));
        let mut f = bytes.to_vec();
        f[1] = 0x02;
        assert_eq!(DeviceKey::decode(&f), Err(KeyError::BadFlags(2)));
        let mut i = bytes.to_vec();
        i[24] ^= 1;
        assert_eq!(DeviceKey::decode(&i), Err(KeyError::BadImei));
        assert_eq!(DeviceKey::from_text("not base64!"), Err(KeyError::BadText));
    }

    #[test]
    fn random_bytes_never_panic_the_decoder() {
        let mut rng = CountingRng(3);
        for len in 0..200 {
            let mut buf = vec![0u8; len];
            rand_core::RngCore::fill_bytes(&mut rng, &mut buf);
            let _ = DeviceKey::decode(&buf);
            if len > 1 {
                buf[0] = 1;
                buf[1] &= 1;
                let _ = DeviceKey::decode(&buf);
            }
        }
    }

    /// The worked example of `docs/device-key.md`.
    #[test]
    fn worked_example() {
        let imei = Imei::parse(IMEI).unwrap();
        let settings = ApnSettings {
            apn: "mms.example".into(),
            username: None,
            password: None,
            mmsc: Some("http://mmsc.example/mms".into()),
            proxy: Some("10.0.0.1".into()),
            proxy_port: Some(8080),
        };
        let enc = settings.canonical_encoding().unwrap();
        let key = signer()
            .issue_with_rng(
                1,
                &imei,
                &settings,
                1_767_225_600,
                None,
                &mut CountingRng(0),
            )
            .unwrap();
        println!("apn encoding {}", hex::encode(enc.as_slice()));
        println!("apn digest {}", hex::encode(settings.digest().unwrap()));
        println!("key {}", hex::encode(key.encode().as_slice()));
        println!("text {}", key.to_text().as_str());
        assert_eq!(hex::encode(enc.as_slice()), WORKED_APN_ENCODING);
        assert_eq!(hex::encode(key.encode().as_slice()), WORKED_KEY_HEX);
        assert_eq!(key.to_text().as_str(), WORKED_KEY_TEXT);
    }

    const WORKED_APN_ENCODING: &str = "0101000b6d6d732e6578616d706c65040017687474703a2f2f6d6d73632e6578616d706c652f6d6d7305000831302e302e302e310600021f90";
    const WORKED_KEY_HEX: &str = "01000000000000000001343930313534323033323337353138a6fdd06da3b547bb195c6bbe8a6ae608918730013938ae6a7e1718e424572c46000000006955b900000102030405060708090a0b0c0d0e0f1d35fcf72f5f018e636662dd0044206531c099f80cb2f399263c87c499a04ad51eca1f64403f1db5372f3744624f986766b9c08a908693363b11b532e1fd8c08";
    const WORKED_KEY_TEXT: &str = "AQAAAAAAAAAAATQ5MDE1NDIwMzIzNzUxOKb90G2jtUe7GVxrvopq5giRhzABOTiuan4XGOQkVyxGAAAAAGlVuQAAAQIDBAUGBwgJCgsMDQ4PHTX89y9fAY5jZmLdAEQgZTHAmfgMsvOZJjyHxJmgStUeyh9kQD8dtTcvN0RiT5hnZrnAipCGkzY7EbUy4f2MCA";

    proptest::proptest! {
        #[test]
        fn prop_round_trip(key_id: u64, issued_at: u64, expires_at: Option<u64>, nonce: [u8; 16],
                           sig in proptest::collection::vec(proptest::num::u8::ANY, 64), digest: [u8; 32]) {
            let key = DeviceKey {
                version: DEVICE_KEY_VERSION, key_id, imei: *Imei::parse(IMEI).unwrap().as_bytes(),
                apn_digest: digest, issued_at, expires_at, nonce,
                signature: sig.as_slice().try_into().unwrap(),
            };
            let bytes = key.encode();
            proptest::prop_assert_eq!(bytes.len(), key.buffer_len());
            proptest::prop_assert_eq!(DeviceKey::decode(&bytes).unwrap(), key.clone());
            proptest::prop_assert_eq!(DeviceKey::from_text(&key.to_text()).unwrap(), key);
        }

        #[test]
        fn prop_random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = DeviceKey::decode(&bytes);
            let _ = DeviceKey::from_text(&String::from_utf8_lossy(&bytes));
        }
    }
}
