//! The applet's registration message (project format, version 1).
//!
//! Sent by the card as the 8-bit user data of one MO SMS (SEND SHORT MESSAGE, no UDH)
//! when it sees a handset for the first time, when the handset changed, or when it
//! repeats an unacknowledged registration. The full byte layout, the versioning rules
//! and the server's checks are in `docs/registration.md`; this module is the codec.
//!
//! Fields are carried in the byte forms the card already holds, so the card copies
//! instead of converting: IMEI / IMEISV as the TS 24.008 §10.5.1.4 mobile-identity
//! values of CAT tags `14` / `62` (`/work/shared/spec/03-imei.md` §3), ICCID as the
//! 10-byte EF.ICCID content and IMSI as the 9-byte EF.IMSI content
//! (`/work/shared/spec/01-apdu.md` §5). Integrity uses the same primitives as
//! TS 102 225 secured packets (`/work/shared/spec/05-ota-security.md` §6): a 5-byte
//! big-endian counter and an 8-byte cryptographic checksum = the first 8 bytes of
//! AES-128-CMAC (RFC 4493) under the per-card registration key, over every byte before it.
//!
//! ```text
//! off size field
//!   0    4 magic "IMTR" 49 4D 54 52
//!   4    1 version 01
//!   5    1 KID: key version (b8..b5) | algorithm (b4..b1 = 2, AES-CMAC)
//!   6    1 event kind
//!   7    1 flags
//!   8   10 ICCID (EF.ICCID)
//!  18    9 IMSI (EF.IMSI)
//!  27    5 counter, big-endian
//!  32    8 IMEI (mobile identity, type 010)
//!  40    9 IMEISV (mobile identity, type 011)       only if flags.IMEISV_PRESENT
//!   .    8 previous IMEI (mobile identity, type 010) only if flags.PREVIOUS_IMEI_PRESENT
//!   .    8 MAC
//! ```

use aes::Aes128;
use cmac::{Cmac, KeyInit, Mac};

use super::{Error, Result};

/// The four magic bytes `"IMTR"` that open every registration message (`docs/registration.md` §2).
///
/// They are the first bytes under the MAC, so a MAC computed over any other message type
/// of this project (which uses a different magic) never verifies as a registration.
pub const MAGIC: [u8; 4] = *b"IMTR";

/// The only format version this codec reads and writes (`docs/registration.md` §4).
pub const VERSION: u8 = 1;

/// Length of the truncated AES-CMAC at the end of the message.
pub const MAC_LEN: usize = 8;

/// Length of the fixed part (magic … IMEI) before the optional fields.
pub const FIXED_LEN: usize = 40;

/// Shortest message: no IMEISV, no previous IMEI (48 bytes).
pub const MIN_LEN: usize = FIXED_LEN + MAC_LEN;

/// Longest message: IMEISV and previous IMEI present (65 bytes, well under the
/// 140-octet 8-bit SMS user data of 3GPP TS 23.040 §9.2.3.24).
pub const MAX_LEN: usize = FIXED_LEN + IMEISV_LEN + IMEI_LEN + MAC_LEN;

/// Largest value the 5-byte counter can carry (2^40 − 1).
pub const COUNTER_MAX: u64 = (1 << 40) - 1;

const IMEI_LEN: usize = 8;
const IMEISV_LEN: usize = 9;
const ICCID_LEN: usize = 10;
const IMSI_LEN: usize = 9;
const COUNTER_LEN: usize = 5;

/// Why [`RegistrationRepr::verify`] rejected a message.
///
/// A bad MAC is kept apart from a malformed message so the server can count forgeries
/// (or a key mismatch after a key rotation) separately from garbage
/// (`docs/registration.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifyError {
    /// The bytes are not a well-formed version-1 registration message.
    Malformed(Error),
    /// The message is well formed but its MAC does not match under the given key.
    BadMac,
}

impl From<Error> for VerifyError {
    fn from(e: Error) -> Self {
        VerifyError::Malformed(e)
    }
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VerifyError::Malformed(e) => write!(f, "malformed registration: {e}"),
            VerifyError::BadMac => f.write_str("registration MAC mismatch"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// Why the card sends a registration (`docs/registration.md` §3, byte 6).
///
/// Open newtype: unknown values parse and round-trip; a version-1 server treats the
/// kind as advisory (every kind registers the new IMEI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKind(pub u8);

impl EventKind {
    /// The card has no stored IMEI: first handset ever seen (previous IMEI absent).
    pub const FIRST_USE: EventKind = EventKind(0x01);
    /// The handset's IMEI differs from the stored one (previous IMEI present).
    pub const HANDSET_CHANGED: EventKind = EventKind(0x02);
    /// Repetition of an unacknowledged registration, same identities, fresh counter.
    pub const RETRY: EventKind = EventKind(0x03);
}

/// Key identifier byte (`docs/registration.md` §3, byte 5), laid out like the KID of
/// ETSI TS 102 225 (`/work/shared/spec/05-ota-security.md` §2): key version in
/// b8..b5, algorithm in b4..b1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u8);

impl KeyId {
    /// Algorithm nibble for AES-128-CMAC truncated to 8 bytes (TS 102 225 KID `x2`).
    pub const ALG_AES_CMAC: u8 = 0x2;

    /// The KID for registration-key version `version` (1..=15) with AES-CMAC.
    ///
    /// Returns `None` for version 0 or above 15.
    pub const fn aes_cmac(version: u8) -> Option<KeyId> {
        if version >= 1 && version <= 15 {
            Some(KeyId((version << 4) | Self::ALG_AES_CMAC))
        } else {
            None
        }
    }

    /// The key version (b8..b5), which selects one of the card's registration keys.
    pub const fn key_version(self) -> u8 {
        self.0 >> 4
    }

    /// The algorithm nibble (b4..b1); only [`KeyId::ALG_AES_CMAC`] is defined in version 1.
    pub const fn algorithm(self) -> u8 {
        self.0 & 0x0F
    }

    fn check(self) -> Result<()> {
        if self.algorithm() != Self::ALG_AES_CMAC {
            return Err(Error::Unsupported);
        }
        if self.key_version() == 0 {
            return Err(Error::BadValue);
        }
        Ok(())
    }
}

/// Flags byte (`docs/registration.md` §3, byte 7). Bits not named here are reserved and
/// must be 0 in version 1 (a parser rejects them with [`Error::BadValue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// b1: the IMEISV field is present.
    pub const IMEISV_PRESENT: u8 = 0x01;
    /// b2: the previous-IMEI field is present.
    pub const PREVIOUS_IMEI_PRESENT: u8 = 0x02;
    /// b3: digit 15 of the new IMEI is a spare `0`, not the Luhn check digit.
    pub const IMEI_DIGIT15_SPARE: u8 = 0x04;
    /// Every bit version 1 defines.
    pub const DEFINED: u8 =
        Self::IMEISV_PRESENT | Self::PREVIOUS_IMEI_PRESENT | Self::IMEI_DIGIT15_SPARE;

    /// Whether all bits of `mask` are set.
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// What digit 15 of an IMEI holds (3GPP TS 23.003 §6.2.1, TS 22.016 §3;
/// `/work/shared/spec/03-imei.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digit15 {
    /// Digit 15 equals the Luhn check digit of the first 14 digits.
    CheckDigit,
    /// Digit 15 is `0` and the Luhn check digit of the first 14 digits is not `0`
    /// (the handset sent the spare digit instead of the check digit).
    Spare,
}

impl Digit15 {
    /// Classify the IMEI mobile identity `imei` (8 bytes, type 010, odd).
    ///
    /// Errors with [`Error::BadValue`] if the bytes are not an IMEI mobile identity, or if
    /// digit 15 is neither the Luhn check digit nor `0`: the card must then treat the
    /// IMEI as unavailable (`/work/shared/spec/03-imei.md` §3, decoder checks).
    pub fn classify(imei: &[u8; 8]) -> Result<Digit15> {
        check_imei(imei)?;
        let mut digits = [0u8; 15];
        imei_digits(imei, &mut digits);
        let (body, last) = digits.split_at(14);
        let d15 = last.first().copied().unwrap_or(0xFF);
        if d15 == luhn(body) {
            Ok(Digit15::CheckDigit)
        } else if d15 == 0 {
            Ok(Digit15::Spare)
        } else {
            Err(Error::BadValue)
        }
    }
}

/// Luhn check digit of `digits` (each 0..=9), as in 3GPP TS 23.003 Annex B.
fn luhn(digits: &[u8]) -> u8 {
    let mut sum: u32 = 0;
    for (i, &d) in digits.iter().rev().enumerate() {
        let v = if i % 2 == 0 {
            let x = u32::from(d) * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            u32::from(d)
        };
        sum += v;
    }
    ((10 - sum % 10) % 10) as u8
}

/// Digits of a checked IMEI mobile identity, in order.
fn imei_digits(imei: &[u8; 8], out: &mut [u8; 15]) {
    let mut slots = out.iter_mut();
    if let Some(s) = slots.next() {
        *s = imei[0] >> 4;
    }
    for &b in &imei[1..] {
        if let Some(s) = slots.next() {
            *s = b & 0x0F;
        }
        if let Some(s) = slots.next() {
            *s = b >> 4;
        }
    }
}

/// TS 24.008 §10.5.1.4 IMEI: type 010, odd, 15 decimal digits.
fn check_imei(mi: &[u8; 8]) -> Result<()> {
    if mi[0] & 0x0F != 0x0A || mi[0] >> 4 > 9 {
        return Err(Error::BadValue);
    }
    if mi[1..].iter().any(|&b| b & 0x0F > 9 || b >> 4 > 9) {
        return Err(Error::BadValue);
    }
    Ok(())
}

/// TS 24.008 §10.5.1.4 IMEISV: type 011, even, 16 decimal digits, last high nibble `F`.
fn check_imeisv(mi: &[u8; 9]) -> Result<()> {
    let [first, middle @ .., last] = mi;
    if first & 0x0F != 0x03 || first >> 4 > 9 {
        return Err(Error::BadValue);
    }
    if middle.iter().any(|&b| b & 0x0F > 9 || b >> 4 > 9) {
        return Err(Error::BadValue);
    }
    if last & 0x0F > 9 || last >> 4 != 0x0F {
        return Err(Error::BadValue);
    }
    Ok(())
}

/// AES-128-CMAC (RFC 4493) over the concatenation of `parts`.
fn aes_cmac(key: &[u8; 16], parts: &[&[u8]]) -> Cmac<Aes128> {
    let mut mac = <Cmac<Aes128> as KeyInit>::new(&(*key).into());
    for p in parts {
        mac.update(p);
    }
    mac
}

/// Take `N` bytes at `*pos` and advance.
fn take<'a, const N: usize>(bytes: &'a [u8], pos: &mut usize) -> Result<&'a [u8; N]> {
    let end = pos.checked_add(N).ok_or(Error::Truncated)?;
    let s = bytes.get(*pos..end).ok_or(Error::Truncated)?;
    *pos = end;
    s.try_into().map_err(|_| Error::Truncated)
}

/// Zero-copy view of a structurally valid version-1 registration message.
///
/// [`Registration::new_checked`] checks the structure (magic, version, KID algorithm,
/// flags, exact length, mobile-identity form, digit-15 flag) but not the MAC; use
/// [`Registration::verify_mac`] or [`RegistrationRepr::verify`] for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration<'a> {
    bytes: &'a [u8],
    signed: &'a [u8],
    key_id: KeyId,
    event: EventKind,
    flags: Flags,
    iccid: &'a [u8; ICCID_LEN],
    imsi: &'a [u8; IMSI_LEN],
    counter: u64,
    imei: &'a [u8; IMEI_LEN],
    imeisv: Option<&'a [u8; IMEISV_LEN]>,
    previous_imei: Option<&'a [u8; IMEI_LEN]>,
    mac: &'a [u8; MAC_LEN],
}

impl<'a> Registration<'a> {
    /// Check the structure of `bytes` (the whole SMS user data) and split it into fields.
    ///
    /// Errors: [`Error::Truncated`] if shorter than the flags announce,
    /// [`Error::TrailingData`] if longer, [`Error::BadTag`] for a wrong magic,
    /// [`Error::Unsupported`] for another version or MAC algorithm,
    /// [`Error::BadValue`] for reserved flag bits, key version 0, a malformed
    /// mobile identity or a digit-15 flag that disagrees with the IMEI.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self> {
        let mut pos = 0;
        let magic: &[u8; 4] = take(bytes, &mut pos)?;
        if *magic != MAGIC {
            return Err(Error::BadTag);
        }
        let [version, kid, event, flags] = *take::<4>(bytes, &mut pos)?;
        if version != VERSION {
            return Err(Error::Unsupported);
        }
        let key_id = KeyId(kid);
        key_id.check()?;
        let flags = Flags(flags);
        if flags.0 & !Flags::DEFINED != 0 {
            return Err(Error::BadValue);
        }
        let iccid = take(bytes, &mut pos)?;
        let imsi = take(bytes, &mut pos)?;
        let counter = take::<COUNTER_LEN>(bytes, &mut pos)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let imei: &[u8; IMEI_LEN] = take(bytes, &mut pos)?;
        let imeisv = if flags.contains(Flags::IMEISV_PRESENT) {
            Some(take::<IMEISV_LEN>(bytes, &mut pos)?)
        } else {
            None
        };
        let previous_imei = if flags.contains(Flags::PREVIOUS_IMEI_PRESENT) {
            Some(take::<IMEI_LEN>(bytes, &mut pos)?)
        } else {
            None
        };
        let signed = bytes.get(..pos).ok_or(Error::Truncated)?;
        let mac = take(bytes, &mut pos)?;
        if pos != bytes.len() {
            return Err(Error::TrailingData);
        }
        let d15 = Digit15::classify(imei)?;
        if (d15 == Digit15::Spare) != flags.contains(Flags::IMEI_DIGIT15_SPARE) {
            return Err(Error::BadValue);
        }
        if let Some(sv) = imeisv {
            check_imeisv(sv)?;
        }
        if let Some(prev) = previous_imei {
            check_imei(prev)?;
        }
        Ok(Registration {
            bytes,
            signed,
            key_id,
            event: EventKind(event),
            flags,
            iccid,
            imsi,
            counter,
            imei,
            imeisv,
            previous_imei,
            mac,
        })
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every byte before the MAC: the MAC input.
    pub fn signed_part(&self) -> &'a [u8] {
        self.signed
    }

    /// Format version (always [`VERSION`] for a checked view).
    pub fn version(&self) -> u8 {
        VERSION
    }

    /// Key identifier: which registration key version the MAC is under.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Why the card sent this registration.
    pub fn event(&self) -> EventKind {
        self.event
    }

    /// The flags byte as sent.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// What digit 15 of the new IMEI holds (from the flags; checked against the digits).
    pub fn imei_digit15(&self) -> Digit15 {
        if self.flags.contains(Flags::IMEI_DIGIT15_SPARE) {
            Digit15::Spare
        } else {
            Digit15::CheckDigit
        }
    }

    /// EF.ICCID content (10 bytes, swapped BCD, `F`-padded; 01-apdu.md §5).
    pub fn iccid(&self) -> &'a [u8; 10] {
        self.iccid
    }

    /// EF.IMSI content (9 bytes: length byte + mobile identity; 01-apdu.md §5).
    pub fn imsi(&self) -> &'a [u8; 9] {
        self.imsi
    }

    /// The card's registration counter (0 ..= [`COUNTER_MAX`]).
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// New IMEI, TS 24.008 mobile identity as in CAT tag `14` (8 bytes).
    pub fn imei(&self) -> &'a [u8; 8] {
        self.imei
    }

    /// New IMEISV, TS 24.008 mobile identity as in CAT tag `62` (9 bytes), if sent.
    pub fn imeisv(&self) -> Option<&'a [u8; 9]> {
        self.imeisv
    }

    /// The IMEI the card had stored before this event (8 bytes), if sent.
    pub fn previous_imei(&self) -> Option<&'a [u8; 8]> {
        self.previous_imei
    }

    /// The 8-byte truncated AES-CMAC.
    pub fn mac(&self) -> &'a [u8; 8] {
        self.mac
    }

    /// Check the MAC under `key` in constant time (RustCrypto `verify_truncated_left`,
    /// which compares with `subtle`).
    pub fn verify_mac(&self, key: &[u8; 16]) -> core::result::Result<(), VerifyError> {
        aes_cmac(key, &[self.signed])
            .verify_truncated_left(self.mac)
            .map_err(|_| VerifyError::BadMac)
    }

    /// The owned representation of this message (the MAC is dropped).
    pub fn to_repr(&self) -> RegistrationRepr {
        RegistrationRepr {
            key_id: self.key_id,
            event: self.event,
            iccid: *self.iccid,
            imsi: *self.imsi,
            counter: self.counter,
            imei: *self.imei,
            imeisv: self.imeisv.copied(),
            previous_imei: self.previous_imei.copied(),
        }
    }
}

/// Owned content of a registration message (everything but version, flags and MAC,
/// which the emitter derives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegistrationRepr {
    /// Which registration key version signs the message (b4..b1 must be AES-CMAC).
    pub key_id: KeyId,
    /// Why the card sends the message.
    pub event: EventKind,
    /// EF.ICCID content, copied unchanged (opaque to this codec).
    pub iccid: [u8; 10],
    /// EF.IMSI content, copied unchanged (opaque to this codec).
    pub imsi: [u8; 9],
    /// Registration counter, 0 ..= [`COUNTER_MAX`]; strictly increasing per card.
    pub counter: u64,
    /// New IMEI as a TS 24.008 mobile identity (CAT tag `14` value).
    pub imei: [u8; 8],
    /// New IMEISV as a TS 24.008 mobile identity (CAT tag `62` value), if known.
    pub imeisv: Option<[u8; 9]>,
    /// Previously stored IMEI as a TS 24.008 mobile identity, if any.
    pub previous_imei: Option<[u8; 8]>,
}

impl RegistrationRepr {
    /// Parse the structure of `bytes` (no MAC check; see [`RegistrationRepr::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Registration::new_checked(bytes).map(|r| r.to_repr())
    }

    /// Parse `bytes` and check its MAC under `key`.
    ///
    /// The MAC is checked only after the structure; a structural error is
    /// [`VerifyError::Malformed`], a wrong MAC [`VerifyError::BadMac`]. The caller still
    /// has to check counter freshness (`docs/registration.md` §5).
    pub fn verify(bytes: &[u8], key: &[u8; 16]) -> core::result::Result<Self, VerifyError> {
        let view = Registration::new_checked(bytes)?;
        view.verify_mac(key)?;
        Ok(view.to_repr())
    }

    /// Length of the emitted message including the MAC (48, 56, 57 or 65 bytes).
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN
            + self.imeisv.map_or(0, |_| IMEISV_LEN)
            + self.previous_imei.map_or(0, |_| IMEI_LEN)
            + MAC_LEN
    }

    /// The flags byte this message is emitted with.
    ///
    /// Errors with [`Error::BadValue`] if the IMEI is not a valid IMEI mobile identity
    /// (see [`Digit15::classify`]).
    pub fn flags(&self) -> Result<Flags> {
        let mut f = 0;
        if self.imeisv.is_some() {
            f |= Flags::IMEISV_PRESENT;
        }
        if self.previous_imei.is_some() {
            f |= Flags::PREVIOUS_IMEI_PRESENT;
        }
        if Digit15::classify(&self.imei)? == Digit15::Spare {
            f |= Flags::IMEI_DIGIT15_SPARE;
        }
        Ok(Flags(f))
    }

    /// Emit the message into `buf` and append the MAC under `key`; returns the length.
    ///
    /// Errors: [`Error::BufferTooSmall`]; [`Error::BadValue`] for a counter above
    /// [`COUNTER_MAX`], key version 0 or a malformed mobile identity;
    /// [`Error::Unsupported`] for a KID algorithm other than AES-CMAC. Every message it
    /// writes parses back to `self`.
    pub fn emit_signed(&self, key: &[u8; 16], buf: &mut [u8]) -> Result<usize> {
        self.key_id.check()?;
        if self.counter > COUNTER_MAX {
            return Err(Error::BadValue);
        }
        let flags = self.flags()?;
        if let Some(sv) = &self.imeisv {
            check_imeisv(sv)?;
        }
        if let Some(prev) = &self.previous_imei {
            check_imei(prev)?;
        }
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let (signed, mac_out) = out.split_at_mut(len - MAC_LEN);
        let counter = self.counter.to_be_bytes();
        let parts: [&[u8]; 8] = [
            &MAGIC,
            &[VERSION, self.key_id.0, self.event.0, flags.0],
            &self.iccid,
            &self.imsi,
            counter.get(3..).ok_or(Error::BadValue)?,
            &self.imei,
            self.imeisv.as_ref().map_or(&[][..], |v| &v[..]),
            self.previous_imei.as_ref().map_or(&[][..], |v| &v[..]),
        ];
        let mut pos = 0;
        for p in parts {
            let end = pos + p.len();
            signed
                .get_mut(pos..end)
                .ok_or(Error::BufferTooSmall)?
                .copy_from_slice(p);
            pos = end;
        }
        let tag = aes_cmac(key, &[signed]).finalize().into_bytes();
        mac_out.copy_from_slice(tag.get(..MAC_LEN).ok_or(Error::BadValue)?);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    // Offsets of docs/registration.md §3.
    const OFF_VERSION: usize = 4;
    const OFF_KID: usize = 5;
    const OFF_EVENT: usize = 6;
    const OFF_FLAGS: usize = 7;
    const OFF_COUNTER: usize = 27;
    const OFF_IMEI: usize = 32;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// RFC 4493 §4, AES-128 example key.
    const RFC4493_KEY: [u8; 16] = [
        0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
        0x3c,
    ];

    #[test]
    fn cmac_rfc4493_example_1_empty() {
        // RFC 4493 §4 Example 1: Mlen = 0.
        let tag = aes_cmac(&RFC4493_KEY, &[]).finalize().into_bytes();
        assert_eq!(tag[..], h("bb1d6929 e9593728 7fa37d12 9b756746")[..]);
    }

    #[test]
    fn cmac_rfc4493_example_2_one_block() {
        // RFC 4493 §4 Example 2: Mlen = 128.
        let m = h("6bc1bee2 2e409f96 e93d7e11 7393172a");
        let tag = aes_cmac(&RFC4493_KEY, &[&m]).finalize().into_bytes();
        assert_eq!(tag[..], h("070a16b4 6b4d4144 f79bdd9d d04a287c")[..]);
        // Split input gives the same tag (update is streaming).
        let tag2 = aes_cmac(&RFC4493_KEY, &[&m[..5], &m[5..]])
            .finalize()
            .into_bytes();
        assert_eq!(tag, tag2);
    }

    #[test]
    fn luhn_vectors() {
        // /work/shared/spec/03-imei.md §2: 49015420323751 → 8, 35209900176148 → 1.
        assert_eq!(luhn(&[4, 9, 0, 1, 5, 4, 2, 0, 3, 2, 3, 7, 5, 1]), 8);
        assert_eq!(luhn(&[3, 5, 2, 0, 9, 9, 0, 0, 1, 7, 6, 1, 4, 8]), 1);
    }

    #[test]
    fn digit15_classify() {
        // 03-imei.md §3: IMEI 490154203237518 → 4A 09 51 24 30 32 57 81.
        assert_eq!(
            Digit15::classify(&[0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81]),
            Ok(Digit15::CheckDigit)
        );
        // Same IMEI with digit 15 = 0 (spare, TS 22.016 §3).
        assert_eq!(
            Digit15::classify(&[0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01]),
            Ok(Digit15::Spare)
        );
        // Digit 15 = 7: neither.
        assert_eq!(
            Digit15::classify(&[0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x71]),
            Err(Error::BadValue)
        );
        // Type IMSI (001) instead of IMEI.
        assert_eq!(
            Digit15::classify(&[0x49, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81]),
            Err(Error::BadValue)
        );
    }

    /// Key of the worked example in docs/registration.md §6.
    const EXAMPLE_KEY: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0xFF,
    ];

    /// Fields of the worked example in docs/registration.md §6: ICCID 8949001012345678902
    /// (Luhn-valid, ITU-T E.118; EF.ICCID nibble-swapped, `F` pad),
    /// IMSI 001010123456789 (EF.IMSI from 01-apdu.md §5), IMEI 490154203237518 and
    /// IMEISV 4901542032375101 (03-imei.md §3), previous IMEI 352099001761481
    /// (03-imei.md §2), key version 1, counter 42.
    fn example_repr() -> RegistrationRepr {
        RegistrationRepr {
            key_id: KeyId::aes_cmac(1).unwrap(),
            event: EventKind::HANDSET_CHANGED,
            iccid: h("98 94 00 01 21 43 65 87 09 F2").try_into().unwrap(),
            imsi: h("08 09 10 10 10 32 54 76 98").try_into().unwrap(),
            counter: 42,
            imei: h("4A 09 51 24 30 32 57 81").try_into().unwrap(),
            imeisv: Some(h("43 09 51 24 30 32 57 01 F1").try_into().unwrap()),
            previous_imei: Some(h("3A 25 90 09 10 67 41 18").try_into().unwrap()),
        }
    }

    /// docs/registration.md §6. The 57 signed bytes were laid out by hand from the doc's
    /// table and the MAC computed independently with Python `cryptography` 48.0.0
    /// (`CMAC(algorithms.AES(key))`, full tag DA0A7FDBDB6380A7 AF719EAF1BE4BB04).
    const EXAMPLE_HEX: &str = "494D5452 01 12 02 03 \
        98 94 00 01 21 43 65 87 09 F2 \
        08 09 10 10 10 32 54 76 98 \
        00 00 00 00 2A \
        4A 09 51 24 30 32 57 81 \
        43 09 51 24 30 32 57 01 F1 \
        3A 25 90 09 10 67 41 18 \
        DA 0A 7F DB DB 63 80 A7";

    #[test]
    fn worked_example() {
        let r = example_repr();
        let mut buf = [0u8; 140];
        let n = r.emit_signed(&EXAMPLE_KEY, &mut buf).unwrap();
        assert_eq!(n, MAX_LEN);
        assert_eq!(hex::encode_upper(&buf[..n]), EXAMPLE_HEX.replace(' ', ""));
        assert_eq!(RegistrationRepr::verify(&buf[..n], &EXAMPLE_KEY), Ok(r));
        let v = Registration::new_checked(&buf[..n]).unwrap();
        assert_eq!(v.imei_digit15(), Digit15::CheckDigit);
        assert_eq!(v.counter(), 42);
        assert_eq!(&buf[OFF_IMEI..OFF_IMEI + 8], &r.imei[..]);
        assert_eq!(v.key_id().key_version(), 1);
    }

    #[test]
    fn minimal_first_use_with_spare_digit() {
        let r = RegistrationRepr {
            event: EventKind::FIRST_USE,
            imei: h("4A 09 51 24 30 32 57 01").try_into().unwrap(),
            imeisv: None,
            previous_imei: None,
            ..example_repr()
        };
        let mut buf = [0u8; MIN_LEN];
        assert_eq!(r.emit_signed(&EXAMPLE_KEY, &mut buf), Ok(MIN_LEN));
        assert_eq!(buf[OFF_FLAGS], Flags::IMEI_DIGIT15_SPARE);
        let v = Registration::new_checked(&buf).unwrap();
        assert_eq!(v.imei_digit15(), Digit15::Spare);
        assert_eq!(v.imeisv(), None);
        assert_eq!(RegistrationRepr::verify(&buf, &EXAMPLE_KEY), Ok(r));
        // One byte short of the output.
        assert_eq!(
            r.emit_signed(&EXAMPLE_KEY, &mut buf[..MIN_LEN - 1]),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn wrong_key_is_bad_mac() {
        let mut buf = [0u8; MAX_LEN];
        example_repr().emit_signed(&EXAMPLE_KEY, &mut buf).unwrap();
        let mut other = EXAMPLE_KEY;
        other[15] ^= 1;
        assert_eq!(
            RegistrationRepr::verify(&buf, &other),
            Err(VerifyError::BadMac)
        );
    }

    #[test]
    fn every_single_byte_tamper_is_rejected() {
        let mut buf = [0u8; MAX_LEN];
        example_repr().emit_signed(&EXAMPLE_KEY, &mut buf).unwrap();
        for i in 0..MAX_LEN {
            for bit in 0..8 {
                let mut t = buf;
                t[i] ^= 1 << bit;
                let res = RegistrationRepr::verify(&t, &EXAMPLE_KEY);
                assert!(
                    matches!(res, Err(VerifyError::BadMac | VerifyError::Malformed(_))),
                    "byte {i} bit {bit}: {res:?}"
                );
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_errors() {
        let mut buf = [0u8; MAX_LEN + 1];
        example_repr()
            .emit_signed(&EXAMPLE_KEY, &mut buf[..MAX_LEN])
            .unwrap();
        for n in 0..MAX_LEN {
            assert_eq!(
                RegistrationRepr::parse(&buf[..n])
                    .err()
                    .map(|e| e == Error::Truncated),
                Some(true),
                "len {n}"
            );
        }
        assert_eq!(RegistrationRepr::parse(&buf), Err(Error::TrailingData));
    }

    #[test]
    fn header_errors() {
        let mut buf = [0u8; MAX_LEN];
        example_repr().emit_signed(&EXAMPLE_KEY, &mut buf).unwrap();
        let with = |i: usize, v: u8| {
            let mut t = buf;
            t[i] = v;
            RegistrationRepr::parse(&t)
        };
        assert_eq!(with(0, b'X'), Err(Error::BadTag));
        assert_eq!(with(OFF_VERSION, 2), Err(Error::Unsupported));
        assert_eq!(with(OFF_KID, 0x11), Err(Error::Unsupported));
        assert_eq!(with(OFF_KID, 0x02), Err(Error::BadValue));
        assert_eq!(with(OFF_FLAGS, 0x0B), Err(Error::BadValue));
        assert_eq!(with(OFF_FLAGS, 0x07), Err(Error::BadValue)); // spare flag, but CD is Luhn
        // Unknown event kinds are structural data: they parse (open newtype).
        assert_eq!(with(OFF_EVENT, 0x7F).map(|r| r.event), Ok(EventKind(0x7F)));
    }

    #[test]
    fn emit_rejects_invalid_content() {
        let key = &EXAMPLE_KEY;
        let mut buf = [0u8; MAX_LEN];
        let r = example_repr();
        let bad = RegistrationRepr {
            counter: COUNTER_MAX + 1,
            ..r
        };
        assert_eq!(bad.emit_signed(key, &mut buf), Err(Error::BadValue));
        let ok = RegistrationRepr {
            counter: COUNTER_MAX,
            ..r
        };
        assert_eq!(ok.emit_signed(key, &mut buf), Ok(MAX_LEN));
        assert_eq!(&buf[OFF_COUNTER..OFF_COUNTER + 5], &[0xFF; 5]);
        let bad = RegistrationRepr {
            key_id: KeyId(0x13),
            ..r
        };
        assert_eq!(bad.emit_signed(key, &mut buf), Err(Error::Unsupported));
        let bad = RegistrationRepr {
            imeisv: Some([0x43, 0, 0, 0, 0, 0, 0, 0, 0x00]),
            ..r
        };
        assert_eq!(bad.emit_signed(key, &mut buf), Err(Error::BadValue));
        let bad = RegistrationRepr {
            previous_imei: Some([0x4A, 0xA0, 0, 0, 0, 0, 0, 0]),
            ..r
        };
        assert_eq!(bad.emit_signed(key, &mut buf), Err(Error::BadValue));
    }

    fn digits(n: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..10, n)
    }

    /// IMEI mobile identity from 14 digits, with digit 15 = Luhn or spare 0.
    fn imei_mi(d: &[u8], spare: bool) -> [u8; 8] {
        let cd = if spare { 0 } else { luhn(&d[..14]) };
        let mut all = d[..14].to_vec();
        all.push(cd);
        let mut mi = [0u8; 8];
        mi[0] = (all[0] << 4) | 0x0A;
        for i in 0..7 {
            mi[1 + i] = all[1 + 2 * i] | (all[2 + 2 * i] << 4);
        }
        mi
    }

    fn imeisv_mi(d: &[u8]) -> [u8; 9] {
        let mut mi = [0u8; 9];
        mi[0] = (d[0] << 4) | 0x03;
        for i in 0..7 {
            mi[1 + i] = d[1 + 2 * i] | (d[2 + 2 * i] << 4);
        }
        mi[8] = d[15] | 0xF0;
        mi
    }

    prop_compose! {
        fn arb_repr()(
            kv in 1u8..16,
            event in any::<u8>(),
            iccid in any::<[u8; 10]>(),
            imsi in any::<[u8; 9]>(),
            counter in 0..=COUNTER_MAX,
            imei in digits(14),
            spare in any::<bool>(),
            sv in proptest::option::of(digits(16)),
            prev in proptest::option::of(digits(14)),
        ) -> RegistrationRepr {
            RegistrationRepr {
                key_id: KeyId::aes_cmac(kv).unwrap(),
                event: EventKind(event),
                iccid,
                imsi,
                counter,
                imei: imei_mi(&imei, spare),
                imeisv: sv.map(|d| imeisv_mi(&d)),
                previous_imei: prev.map(|d| imei_mi(&d, false)),
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip(r in arb_repr(), key in any::<[u8; 16]>()) {
            let mut buf = [0u8; 140];
            let n = r.emit_signed(&key, &mut buf).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert!(n <= 140);
            prop_assert_eq!(RegistrationRepr::verify(&buf[..n], &key), Ok(r));
            // emit(parse(b)) == b for canonical bytes.
            let parsed = RegistrationRepr::parse(&buf[..n]).unwrap();
            let mut again = [0u8; 140];
            let m = parsed.emit_signed(&key, &mut again).unwrap();
            prop_assert_eq!(&buf[..n], &again[..m]);
        }

        #[test]
        fn tamper_one_byte(r in arb_repr(), key in any::<[u8; 16]>(), i in any::<prop::sample::Index>(), x in 1u8..=255) {
            let mut buf = [0u8; 140];
            let n = r.emit_signed(&key, &mut buf).unwrap();
            let i = i.index(n);
            buf[i] ^= x;
            prop_assert!(RegistrationRepr::verify(&buf[..n], &key).is_err());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160), key in any::<[u8; 16]>()) {
            let _ = RegistrationRepr::parse(&bytes);
            let _ = RegistrationRepr::verify(&bytes, &key);
        }

        #[test]
        fn random_body_with_valid_header_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..80), flags in 0u8..8) {
            let mut bytes = b"IMTR\x01\x12\x01".to_vec();
            bytes.push(flags);
            bytes.extend_from_slice(&tail);
            let _ = RegistrationRepr::verify(&bytes, &EXAMPLE_KEY);
        }
    }
}
