//! The handset's provisioning report ("IMTC", format version 1): how the stub learns
//! that a handset applied (or refused) the OMA CP settings it was sent, so the money can
//! move (issue 5, "When the device confirms configuration: a fee request …").
//!
//! Transport: a mobile-originated SMS to the stub's number, 8-bit data (TP-DCS `04`), no
//! UDH, exactly like the registration message (`docs/registration.md` §1); the stub
//! receives it as the `short_message` of a `deliver_sm`. Full description:
//! `docs/stub.md`, "Provisioning report (IMTC)".
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `49 4D 54 43` ("IMTC", *IMeiTrack Confirmation*) |
//! | 4 | 1 | version `01` |
//! | 5 | 1 | KID, as in the registration (key version high nibble, `2` = AES-CMAC) |
//! | 6 | 1 | result ([`ReportResult`]): `00` configured, others = refused with a reason |
//! | 7 | 1 | reserved, `00` |
//! | 8 | 10 | ICCID: EF.ICCID content unchanged (as in the registration) |
//! | 18 | 5 | counter of the **registration this report answers**, big-endian |
//! | 23 | 8 | device key id (u64 BE) from the device key that was used; `0` = none |
//! | 31 | 8 | MAC: first 8 bytes of AES-128-CMAC(K_reg, bytes 0..31) |
//!
//! The MAC key is the card's registration key (the same per-card key, same key version
//! rules); the different magic separates the domains, so a registration MAC never
//! verifies as a report and vice versa. No counter of its own: a report is idempotent
//! (the stub records a confirmation at most once per key issuance), so a replayed
//! report changes nothing.

use aes::Aes128;
use cmac::{Cmac, KeyInit, Mac};

/// Magic of a provisioning report.
pub const MAGIC: [u8; 4] = *b"IMTC";
/// Format version described here.
pub const VERSION: u8 = 1;
/// Length of a version-1 report.
pub const LEN: usize = 39;
/// Length of the MAC.
pub const MAC_LEN: usize = 8;
/// Bytes covered by the MAC.
pub const SIGNED_LEN: usize = LEN - MAC_LEN;

/// What the handset did with the settings. Open newtype: unknown codes survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportResult(pub u8);

impl ReportResult {
    /// Settings applied (APN inserted; device key, if any, verified, used and erased).
    pub const CONFIGURED: ReportResult = ReportResult(0x00);
    /// The OMA CP push failed its SEC/MAC check.
    pub const PUSH_MAC_FAILED: ReportResult = ReportResult(0x01);
    /// The device key names another IMEI.
    pub const KEY_WRONG_IMEI: ReportResult = ReportResult(0x02);
    /// The device key is bound to other APN settings.
    pub const KEY_WRONG_SETTINGS: ReportResult = ReportResult(0x03);
    /// The device key's signature did not verify (or it expired).
    pub const KEY_BAD_SIGNATURE: ReportResult = ReportResult(0x04);
    /// The user declined the settings.
    pub const USER_DECLINED: ReportResult = ReportResult(0x05);
    /// The document was incomplete or could not be decoded.
    pub const DOCUMENT_INVALID: ReportResult = ReportResult(0x06);
    /// Any other reason.
    pub const OTHER: ReportResult = ReportResult(0xFF);

    /// True for [`ReportResult::CONFIGURED`].
    pub fn is_configured(self) -> bool {
        self == Self::CONFIGURED
    }

    /// A stable label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::CONFIGURED => "configured",
            Self::PUSH_MAC_FAILED => "push_mac_failed",
            Self::KEY_WRONG_IMEI => "key_wrong_imei",
            Self::KEY_WRONG_SETTINGS => "key_wrong_settings",
            Self::KEY_BAD_SIGNATURE => "key_bad_signature",
            Self::USER_DECLINED => "user_declined",
            Self::DOCUMENT_INVALID => "document_invalid",
            _ => "other",
        }
    }
}

/// Why bytes are not a valid report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not 39 bytes.
    #[error("report is {0} bytes, expected 39")]
    BadLength(usize),
    /// Not "IMTC".
    #[error("not a provisioning report (magic)")]
    BadMagic,
    /// Another version.
    #[error("report version {0} not supported")]
    Unsupported(u8),
    /// KID algorithm not AES-CMAC, or key version 0.
    #[error("key identifier {0:#04x} not usable")]
    BadKeyId(u8),
    /// Reserved byte not zero.
    #[error("reserved byte not zero")]
    Reserved,
    /// The MAC does not verify under the card's key.
    #[error("MAC does not verify")]
    BadMac,
}

/// A provisioning report (owned; see the module docs for the layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportRepr {
    /// KID byte (key version << 4 | 2).
    pub key_id: u8,
    /// Outcome on the handset.
    pub result: ReportResult,
    /// EF.ICCID content.
    pub iccid: [u8; 10],
    /// Counter of the registration answered (0 ..= 2^40 − 1).
    pub registration_counter: u64,
    /// Device key id, 0 when no key was sent.
    pub device_key_id: u64,
}

fn cmac(key: &[u8; 16], data: &[u8]) -> [u8; 16] {
    let mut m = <Cmac<Aes128> as KeyInit>::new(&(*key).into());
    m.update(data);
    m.finalize().into_bytes().into()
}

impl ReportRepr {
    /// Always [`LEN`].
    pub fn buffer_len(&self) -> usize {
        LEN
    }

    /// Checks everything but the MAC; returns the report.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReportError> {
        if bytes.len() < 5 {
            return Err(ReportError::BadLength(bytes.len()));
        }
        if bytes[..4] != MAGIC {
            return Err(ReportError::BadMagic);
        }
        if bytes[4] != VERSION {
            return Err(ReportError::Unsupported(bytes[4]));
        }
        let b: &[u8; LEN] = bytes
            .try_into()
            .map_err(|_| ReportError::BadLength(bytes.len()))?;
        let kid = b[5];
        if kid & 0x0F != 0x02 || kid >> 4 == 0 {
            return Err(ReportError::BadKeyId(kid));
        }
        if b[7] != 0 {
            return Err(ReportError::Reserved);
        }
        let mut iccid = [0u8; 10];
        iccid.copy_from_slice(&b[8..18]);
        let mut counter = [0u8; 8];
        counter[3..].copy_from_slice(&b[18..23]);
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&b[23..31]);
        Ok(ReportRepr {
            key_id: kid,
            result: ReportResult(b[6]),
            iccid,
            registration_counter: u64::from_be_bytes(counter),
            device_key_id: u64::from_be_bytes(key_id),
        })
    }

    /// Parses and checks the MAC under the card's key (constant-time compare).
    pub fn verify(bytes: &[u8], key: &[u8; 16]) -> Result<Self, ReportError> {
        let repr = Self::parse(bytes)?;
        let mut m = <Cmac<Aes128> as KeyInit>::new(&(*key).into());
        m.update(&bytes[..SIGNED_LEN]);
        m.verify_truncated_left(&bytes[SIGNED_LEN..])
            .map_err(|_| ReportError::BadMac)?;
        Ok(repr)
    }

    /// Writes the report with its MAC under `key`; returns [`LEN`]. `None` if `buf` is
    /// shorter than [`LEN`] or the counter does not fit 40 bits.
    pub fn emit_signed(&self, key: &[u8; 16], buf: &mut [u8]) -> Option<usize> {
        if self.registration_counter >= 1 << 40 {
            return None;
        }
        let out = buf.get_mut(..LEN)?;
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = self.key_id;
        out[6] = self.result.0;
        out[7] = 0;
        out[8..18].copy_from_slice(&self.iccid);
        out[18..23].copy_from_slice(&self.registration_counter.to_be_bytes()[3..]);
        out[23..31].copy_from_slice(&self.device_key_id.to_be_bytes());
        let tag = cmac(key, &out[..SIGNED_LEN]);
        out[SIGNED_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        Some(LEN)
    }

    /// [`ReportRepr::emit_signed`] into a new vector.
    pub fn to_signed_vec(&self, key: &[u8; 16]) -> Option<Vec<u8>> {
        let mut v = vec![0; LEN];
        self.emit_signed(key, &mut v)?;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Key and ICCID (8949001012345678902) of the registration worked example
    /// (docs/registration.md §6).
    const KEY: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0xFF,
    ];
    const ICCID: [u8; 10] = [0x98, 0x94, 0x00, 0x01, 0x21, 0x43, 0x65, 0x87, 0x09, 0xF2];

    /// Worked example of docs/stub.md: configured, counter 42, key id 7. MAC computed
    /// independently with Python `cryptography` 48 (`CMAC(algorithms.AES(key))` over the
    /// 31 signed bytes): `E76ED1851079CD49`.
    const EXAMPLE: &str =
        "494D544301120000989400012143658709F2000000002A0000000000000007E76ED1851079CD49";

    fn example() -> ReportRepr {
        ReportRepr {
            key_id: 0x12,
            result: ReportResult::CONFIGURED,
            iccid: ICCID,
            registration_counter: 42,
            device_key_id: 7,
        }
    }

    #[test]
    fn worked_example() {
        let bytes = example().to_signed_vec(&KEY).unwrap();
        assert_eq!(hex::encode_upper(&bytes), EXAMPLE);
        assert_eq!(ReportRepr::verify(&bytes, &KEY).unwrap(), example());
    }

    #[test]
    fn rejections() {
        let good = hex::decode(EXAMPLE).unwrap();
        let mut bad_mac = good.clone();
        bad_mac[38] ^= 1;
        assert_eq!(ReportRepr::verify(&bad_mac, &KEY), Err(ReportError::BadMac));
        assert_eq!(
            ReportRepr::verify(&good, &[0; 16]),
            Err(ReportError::BadMac)
        );
        let mut tampered = good.clone();
        tampered[6] = 0x05; // result changed after signing
        assert_eq!(
            ReportRepr::verify(&tampered, &KEY),
            Err(ReportError::BadMac)
        );
        assert_eq!(
            ReportRepr::parse(&good[..38]),
            Err(ReportError::BadLength(38))
        );
        let mut reg = good.clone();
        reg[3] = b'R';
        assert_eq!(ReportRepr::parse(&reg), Err(ReportError::BadMagic));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(ReportRepr::parse(&v2), Err(ReportError::Unsupported(2)));
        let mut kid = good.clone();
        kid[5] = 0x11;
        assert_eq!(ReportRepr::parse(&kid), Err(ReportError::BadKeyId(0x11)));
        let mut res = good;
        res[7] = 1;
        assert_eq!(ReportRepr::parse(&res), Err(ReportError::Reserved));
    }

    proptest! {
        #[test]
        fn round_trip(kv in 1u8..16, result: u8, iccid: [u8; 10], counter in 0u64..(1 << 40), key_id: u64, key: [u8; 16]) {
            let r = ReportRepr { key_id: kv << 4 | 2, result: ReportResult(result), iccid, registration_counter: counter, device_key_id: key_id };
            let bytes = r.to_signed_vec(&key).unwrap();
            prop_assert_eq!(ReportRepr::verify(&bytes, &key).unwrap(), r);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ReportRepr::verify(&bytes, &KEY);
        }
    }
}
