//! WSP connectionless Push PDU carrying an OMA CP document, with SEC/MAC authentication.
//!
//! Facts from `/work/shared/spec/06-oma-cp.md` §2 (WAP-230-WSP §8.2.4.1 Push PDU, §8.4.2
//! content type and parameters, §8.1.2 uintvar; OMA ProvBoot SEC methods as implemented by
//! Intel cpclient `lib/src/wp.c`; Kannel `gw/ota_prov.c` for the sender side):
//!
//! ```text
//! TID (1) · PDU type 06 · HeadersLen (uintvar) · Content-Type · [headers] · body
//! Content-Type general form: value-length · media (B6 = 0x36 connectivity-wbxml)
//!                            · 91 8s (SEC) · 92 <40 upper-case hex> 00 (MAC)
//! ```
//!
//! The MAC is HMAC-SHA1 over the WBXML body, keyed per [`SecMethod`] (see [`Credentials`]).

use crate::wire::{Error, Result};
use hmac::{Hmac, KeyInit, Mac as _};
use sha1::Sha1;

/// UDP/SMS application port of the WAP push (connectionless WSP) client: 2948
/// (AOSP `SmsHeader.PORT_WAP_PUSH`; Kannel UDH `0B 84`; 06-oma-cp.md §1).
pub const PORT_WAP_PUSH: u16 = 2948;
/// Source port of connectionless WSP sessions: 9200 (WAP WDP port table; 06-oma-cp.md §1).
pub const PORT_WSP_CL: u16 = 9200;

/// WSP `uintvar` (WAP-230 §8.1.2): 7 bits per byte, big-endian, high bit = more bytes follow,
/// at most 5 bytes for 32 bits. The same encoding is WBXML's `mb_u_int32` (WAP-192 §5.1).
pub mod uintvar {
    use crate::wire::{Error, Result};

    /// Longest encoding of a 32-bit value.
    pub const MAX_LEN: usize = 5;

    /// Reads a uintvar; returns the value and the number of bytes consumed. Non-minimal
    /// encodings (leading `0x80` bytes) are accepted; more than 5 bytes or a value above
    /// `u32::MAX` is [`Error::BadLength`].
    pub fn read(data: &[u8]) -> Result<(u32, usize)> {
        let mut value: u64 = 0;
        for (i, &b) in data.iter().enumerate() {
            if i >= MAX_LEN {
                return Err(Error::BadLength);
            }
            value = (value << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                let v = u32::try_from(value).map_err(|_| Error::BadLength)?;
                return Ok((v, i + 1));
            }
        }
        if data.len() >= MAX_LEN {
            Err(Error::BadLength)
        } else {
            Err(Error::Truncated)
        }
    }

    /// Length of the minimal encoding of `value`.
    pub const fn len(value: u32) -> usize {
        match value {
            0..=0x7F => 1,
            0x80..=0x3FFF => 2,
            0x4000..=0x1F_FFFF => 3,
            0x20_0000..=0x0FFF_FFFF => 4,
            _ => 5,
        }
    }

    /// Writes the minimal encoding of `value`; returns its length.
    pub fn write(value: u32, buf: &mut [u8]) -> Result<usize> {
        let n = len(value);
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        for (i, b) in out.iter_mut().enumerate() {
            let shift = 7 * (n - 1 - i);
            let more = if i + 1 < n { 0x80 } else { 0 };
            // Shifts are < 35 and the mask keeps 7 bits, so the cast cannot truncate data.
            *b = more | ((value >> shift) & 0x7F) as u8;
        }
        Ok(n)
    }
}

/// WSP PDU type (WAP-230 Table 34); open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PduType(pub u8);

impl PduType {
    /// Push (`0x06`).
    pub const PUSH: PduType = PduType(0x06);
    /// Confirmed push (`0x07`), connection-oriented only.
    pub const CONFIRMED_PUSH: PduType = PduType(0x07);
}

/// Well-known content type `application/vnd.wap.connectivity-wbxml` (`0x36`, encoded `B6`;
/// AOSP `WspTypeDecoder`, tshark `wsp`).
pub const CONTENT_TYPE_CONNECTIVITY_WBXML: u32 = 0x36;
/// Well-known content type `application/vnd.wap.connectivity-xml` (`0x35`).
pub const CONTENT_TYPE_CONNECTIVITY_XML: u32 = 0x35;
/// Well-known parameter SEC (`0x11`, WSP 1.4 encoding version).
pub const PARAM_SEC: u8 = 0x11;
/// Well-known parameter MAC (`0x12`).
pub const PARAM_MAC: u8 = 0x12;

/// OMA ProvBoot security method carried in the SEC parameter (06-oma-cp.md §2); open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecMethod(pub u8);

impl SecMethod {
    /// Network shared secret: key = IMSI as TS 24.008 mobile identity.
    pub const NETWPIN: SecMethod = SecMethod(0);
    /// User PIN: key = the PIN in ASCII.
    pub const USERPIN: SecMethod = SecMethod(1);
    /// Both: key = IMSI mobile identity ‖ PIN in ASCII.
    pub const USERNETWPIN: SecMethod = SecMethod(2);
    /// User PIN with check digits: the PIN itself authenticates (see [`userpinmac_check_digits`]).
    pub const USERPINMAC: SecMethod = SecMethod(3);
}

/// A MAC as carried in the MAC parameter: 20 HMAC-SHA1 bytes, written as 40 upper-case hex
/// characters (Kannel writes upper case; cpclient compares case-sensitively, 06-oma-cp.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 20]);

impl Mac {
    /// Length of the hex text form.
    pub const HEX_LEN: usize = 40;

    /// Parses 40 hex characters. Lower case is accepted here (tolerant reader); note that
    /// cpclient would reject it.
    pub fn from_hex(text: &[u8]) -> Result<Self> {
        if text.len() != Self::HEX_LEN {
            return Err(Error::BadLength);
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
            let hi = hex_nibble(pair.first().copied().unwrap_or(0))?;
            let lo = hex_nibble(pair.get(1).copied().unwrap_or(0))?;
            *o = (hi << 4) | lo;
        }
        Ok(Mac(out))
    }

    /// The 40-character upper-case hex text.
    pub fn to_hex(&self) -> [u8; 40] {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = [0u8; 40];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0.iter()) {
            if let [hi, lo] = pair {
                *hi = HEX[usize::from(b >> 4)];
                *lo = HEX[usize::from(b & 0x0F)];
            }
        }
        out
    }
}

fn hex_nibble(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(Error::BadValue),
    }
}

/// Media type of a WSP content type (WAP-230 §8.4.2.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media<'a> {
    /// Well-known media (short or long integer), e.g. [`CONTENT_TYPE_CONNECTIVITY_WBXML`].
    WellKnown(u32),
    /// Extension media: the type as text (without the terminating NUL).
    Text(&'a [u8]),
}

/// WSP Content-Type value with the OMA CP parameters (WAP-230 §8.4.2.24, 06-oma-cp.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// Media type.
    pub media: Media<'a>,
    /// SEC parameter (short-integer).
    pub sec: Option<SecMethod>,
    /// MAC parameter (text).
    pub mac: Option<Mac>,
    /// Other parameters, raw and contiguous (emitted after SEC and MAC).
    pub other_params: &'a [u8],
}

impl<'a> ContentType<'a> {
    /// Parses a content-type value that fills `data` exactly.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let first = *data.first().ok_or(Error::Truncated)?;
        if first >= 0x80 {
            // Constrained media, short-integer form.
            if data.len() != 1 {
                return Err(Error::TrailingData);
            }
            return Ok(ContentType {
                media: Media::WellKnown(u32::from(first & 0x7F)),
                sec: None,
                mac: None,
                other_params: &[],
            });
        }
        if first >= 0x20 {
            // Constrained media, extension-media text form.
            let (text, n) = read_text(data)?;
            if n != data.len() {
                return Err(Error::TrailingData);
            }
            return Ok(ContentType {
                media: Media::Text(text),
                sec: None,
                mac: None,
                other_params: &[],
            });
        }
        // General form: value-length, media, parameters.
        let (len, n) = read_value_length(data)?;
        let body = data.get(n..).ok_or(Error::Truncated)?;
        if body.len() != len {
            return Err(if body.len() < len {
                Error::Truncated
            } else {
                Error::TrailingData
            });
        }
        let (media, mut pos) = read_media(body)?;
        let mut ct = ContentType {
            media,
            sec: None,
            mac: None,
            other_params: &[],
        };
        let mut other: Option<(usize, usize)> = None;
        while pos < body.len() {
            let rest = body.get(pos..).ok_or(Error::Truncated)?;
            let tok = *rest.first().ok_or(Error::Truncated)?;
            if tok == 0x80 | PARAM_SEC {
                if ct.sec.is_some() {
                    return Err(Error::BadValue);
                }
                let v = *rest.get(1).ok_or(Error::Truncated)?;
                if v < 0x80 {
                    return Err(Error::BadValue);
                }
                ct.sec = Some(SecMethod(v & 0x7F));
                pos += 2;
            } else if tok == 0x80 | PARAM_MAC {
                if ct.mac.is_some() {
                    return Err(Error::BadValue);
                }
                let (text, n) = read_text(rest.get(1..).ok_or(Error::Truncated)?)?;
                ct.mac = Some(Mac::from_hex(text)?);
                pos += 1 + n;
            } else {
                let n = skip_parameter(rest)?;
                match &mut other {
                    None => other = Some((pos, pos + n)),
                    Some((_, end)) if *end == pos => *end = pos + n,
                    // Unknown parameters on both sides of SEC/MAC cannot be kept as one slice.
                    Some(_) => return Err(Error::Unsupported),
                }
                pos += n;
            }
        }
        if let Some((s, e)) = other {
            ct.other_params = body.get(s..e).ok_or(Error::Truncated)?;
        }
        Ok(ct)
    }

    fn params_len(&self) -> usize {
        let sec = if self.sec.is_some() { 2 } else { 0 };
        let mac = if self.mac.is_some() {
            2 + Mac::HEX_LEN
        } else {
            0
        };
        sec + mac + self.other_params.len()
    }

    fn media_len(&self) -> usize {
        match self.media {
            Media::WellKnown(v) if v < 0x80 => 1,
            Media::WellKnown(v) => 1 + long_int_len(v),
            Media::Text(t) => t.len() + 1 + usize::from(needs_quote(t)),
        }
    }

    fn is_constrained(&self) -> bool {
        self.params_len() == 0
            && match self.media {
                Media::WellKnown(v) => v < 0x80,
                Media::Text(_) => true,
            }
    }

    /// Length of the emitted value (short form when there are no parameters).
    pub fn buffer_len(&self) -> usize {
        if self.is_constrained() {
            return self.media_len();
        }
        let inner = self.media_len() + self.params_len();
        value_length_len(inner) + inner
    }

    /// Writes the value; returns its length. Parameters are written SEC, MAC, then others.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let need = self.buffer_len();
        let out = buf.get_mut(..need).ok_or(Error::BufferTooSmall)?;
        let mut pos = 0;
        if !self.is_constrained() {
            pos += write_value_length(self.media_len() + self.params_len(), out)?;
        }
        match self.media {
            Media::WellKnown(v) if v < 0x80 => {
                // v < 0x80, so the cast keeps every bit.
                put(out, &mut pos, &[0x80 | v as u8])?;
            }
            Media::WellKnown(v) => {
                let n = long_int_len(v);
                // n is 1..=4, which fits a short-length byte.
                put(out, &mut pos, &[n as u8])?;
                let be = v.to_be_bytes();
                put(out, &mut pos, be.get(4 - n..).ok_or(Error::BadValue)?)?;
            }
            Media::Text(t) => {
                if t.contains(&0) {
                    return Err(Error::BadValue);
                }
                if needs_quote(t) {
                    put(out, &mut pos, &[0x7F])?;
                }
                put(out, &mut pos, t)?;
                put(out, &mut pos, &[0])?;
            }
        }
        if let Some(sec) = self.sec {
            if sec.0 >= 0x80 {
                return Err(Error::BadValue);
            }
            put(out, &mut pos, &[0x80 | PARAM_SEC, 0x80 | sec.0])?;
        }
        if let Some(mac) = self.mac {
            put(out, &mut pos, &[0x80 | PARAM_MAC])?;
            put(out, &mut pos, &mac.to_hex())?;
            put(out, &mut pos, &[0])?;
        }
        put(out, &mut pos, self.other_params)?;
        Ok(pos)
    }
}

/// A text value needs the quote `0x7F` unless it starts with a byte in `0x20..0x7F`.
fn needs_quote(t: &[u8]) -> bool {
    !t.first().is_some_and(|&b| (0x20..0x7F).contains(&b))
}

fn put(out: &mut [u8], pos: &mut usize, bytes: &[u8]) -> Result<()> {
    let end = pos.checked_add(bytes.len()).ok_or(Error::BufferTooSmall)?;
    out.get_mut(*pos..end)
        .ok_or(Error::BufferTooSmall)?
        .copy_from_slice(bytes);
    *pos = end;
    Ok(())
}

fn long_int_len(v: u32) -> usize {
    let bits = 32 - v.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

fn value_length_len(len: usize) -> usize {
    if len <= 30 {
        1
    } else {
        1 + uintvar::len(u32::try_from(len).unwrap_or(u32::MAX))
    }
}

fn write_value_length(len: usize, out: &mut [u8]) -> Result<usize> {
    if len <= 30 {
        // len <= 30 fits a byte.
        *out.first_mut().ok_or(Error::BufferTooSmall)? = len as u8;
        Ok(1)
    } else {
        *out.first_mut().ok_or(Error::BufferTooSmall)? = 0x1F;
        let v = u32::try_from(len).map_err(|_| Error::BadLength)?;
        Ok(1 + uintvar::write(v, out.get_mut(1..).ok_or(Error::BufferTooSmall)?)?)
    }
}

/// Value-length (WAP-230 §8.4.2.2): `0..=30` direct, `31` + uintvar. Returns (length, consumed).
fn read_value_length(data: &[u8]) -> Result<(usize, usize)> {
    let b = *data.first().ok_or(Error::Truncated)?;
    match b {
        0..=30 => Ok((usize::from(b), 1)),
        31 => {
            let (v, n) = uintvar::read(data.get(1..).ok_or(Error::Truncated)?)?;
            Ok((usize::try_from(v).map_err(|_| Error::BadLength)?, 1 + n))
        }
        _ => Err(Error::BadValue),
    }
}

/// Text-string (WAP-230 §8.4.2.1): optional quote `0x7F`, bytes, NUL. Returns (text, consumed).
fn read_text(data: &[u8]) -> Result<(&[u8], usize)> {
    let skip = usize::from(data.first() == Some(&0x7F));
    let rest = data.get(skip..).ok_or(Error::Truncated)?;
    let len = rest.iter().position(|&b| b == 0).ok_or(Error::Truncated)?;
    Ok((rest.get(..len).ok_or(Error::Truncated)?, skip + len + 1))
}

/// Media-type inside the general form: integer-value or text. Returns (media, consumed).
fn read_media(data: &[u8]) -> Result<(Media<'_>, usize)> {
    let b = *data.first().ok_or(Error::Truncated)?;
    match b {
        0x80..=0xFF => Ok((Media::WellKnown(u32::from(b & 0x7F)), 1)),
        1..=4 => {
            let n = usize::from(b);
            let bytes = data.get(1..1 + n).ok_or(Error::Truncated)?;
            let v = bytes.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x));
            Ok((Media::WellKnown(v), 1 + n))
        }
        0x20..=0x7F => {
            let (t, n) = read_text(data)?;
            Ok((Media::Text(t), n))
        }
        _ => Err(Error::Unsupported),
    }
}

/// Skips one parameter (WAP-230 §8.4.2.4: typed = integer token + value, untyped = text token +
/// value) using the generic value shapes of §8.4.1.2. Returns the bytes consumed.
fn skip_parameter(data: &[u8]) -> Result<usize> {
    let name = skip_value(data)?;
    let value = skip_value(data.get(name..).ok_or(Error::Truncated)?)?;
    Ok(name + value)
}

/// Skips one field value by its first byte: `0..=30` length-prefixed, `31` uintvar-length,
/// `32..=127` NUL-terminated text, `128..=255` one byte.
fn skip_value(data: &[u8]) -> Result<usize> {
    let b = *data.first().ok_or(Error::Truncated)?;
    let n = match b {
        0..=31 => {
            let (len, n) = read_value_length(data)?;
            n.checked_add(len).ok_or(Error::BadLength)?
        }
        32..=127 => read_text(data)?.1,
        _ => 1,
    };
    if n > data.len() {
        return Err(Error::Truncated);
    }
    Ok(n)
}

/// A connectionless WSP Push PDU (WAP-230 §8.2.4.1, §8.2.1 TID), zero-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushPdu<'a> {
    /// Transaction id (Kannel uses `01`).
    pub tid: u8,
    /// Content type with SEC/MAC.
    pub content_type: ContentType<'a>,
    /// Further headers, raw (inside HeadersLen, after the content type).
    pub headers: &'a [u8],
    /// The body: the WBXML document the MAC covers.
    pub body: &'a [u8],
}

impl<'a> PushPdu<'a> {
    /// Parses a connectionless Push PDU (PDU type `06` only).
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let tid = *data.first().ok_or(Error::Truncated)?;
        let ty = *data.get(1).ok_or(Error::Truncated)?;
        if PduType(ty) != PduType::PUSH {
            return Err(Error::BadTag);
        }
        let (hlen, n) = uintvar::read(data.get(2..).ok_or(Error::Truncated)?)?;
        let hstart = 2 + n;
        let hend = hstart
            .checked_add(usize::try_from(hlen).map_err(|_| Error::BadLength)?)
            .ok_or(Error::BadLength)?;
        let headers = data.get(hstart..hend).ok_or(Error::Truncated)?;
        let ct_len = content_type_len(headers)?;
        let content_type = ContentType::parse(headers.get(..ct_len).ok_or(Error::Truncated)?)?;
        Ok(PushPdu {
            tid,
            content_type,
            headers: headers.get(ct_len..).ok_or(Error::Truncated)?,
            body: data.get(hend..).ok_or(Error::Truncated)?,
        })
    }

    fn headers_len(&self) -> usize {
        self.content_type.buffer_len() + self.headers.len()
    }

    /// Length of the emitted PDU.
    pub fn buffer_len(&self) -> usize {
        let h = self.headers_len();
        2 + uintvar::len(u32::try_from(h).unwrap_or(u32::MAX)) + h + self.body.len()
    }

    /// Writes the PDU; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let need = self.buffer_len();
        let out = buf.get_mut(..need).ok_or(Error::BufferTooSmall)?;
        let mut pos = 0;
        put(out, &mut pos, &[self.tid, PduType::PUSH.0])?;
        let h = u32::try_from(self.headers_len()).map_err(|_| Error::BadLength)?;
        pos += uintvar::write(h, out.get_mut(pos..).ok_or(Error::BufferTooSmall)?)?;
        pos += self
            .content_type
            .emit(out.get_mut(pos..).ok_or(Error::BufferTooSmall)?)?;
        put(out, &mut pos, self.headers)?;
        put(out, &mut pos, self.body)?;
        Ok(pos)
    }

    /// Checks the MAC of this push against `creds` (see [`Credentials::verify`]).
    pub fn verify(&self, creds: &Credentials<'_>) -> Result<bool> {
        match (self.content_type.sec, self.content_type.mac) {
            (Some(sec), Some(mac)) => creds.verify(sec, self.body, &mac),
            _ => Err(Error::BadValue),
        }
    }
}

/// Length of the content-type value at the start of the headers (by its first byte).
fn content_type_len(headers: &[u8]) -> Result<usize> {
    skip_value(headers)
}

/// The secrets a SEC method needs (06-oma-cp.md §2, cpclient `cpc_authenticate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credentials<'a> {
    /// The IMSI as ASCII digits (6–15), for NETWPIN and USERNETWPIN.
    pub imsi: Option<&'a [u8]>,
    /// The user PIN as typed (ASCII), for USERPIN and USERNETWPIN.
    pub user_pin: Option<&'a [u8]>,
}

/// Longest PIN accepted when building a key (keeps the key buffer fixed-size).
pub const MAX_PIN_LEN: usize = 64;
/// Length of an IMSI mobile identity for 15 digits.
pub const IMSI_IDENTITY_MAX: usize = 8;

/// IMSI as a TS 24.008 §10.5.1.4 mobile identity value (without IEI and length): first byte =
/// digit 1 in the high nibble and type `1` (IMSI) with the odd flag `8` in the low nibble,
/// then the other digits nibble-swapped, `F` padding when the digit count is even. This is the
/// NETWPIN key cpclient uses (EF.IMSI bytes 2..9 for 15 digits). Returns the length written.
pub fn imsi_mobile_identity(imsi: &[u8], out: &mut [u8]) -> Result<usize> {
    if !(6..=15).contains(&imsi.len()) || !imsi.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadValue);
    }
    let n = imsi.len() / 2 + 1;
    let dst = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
    let odd = !imsi.len().is_multiple_of(2);
    let digit = |i: usize| imsi.get(i).map_or(0x0F, |d| d - b'0');
    for (k, b) in dst.iter_mut().enumerate() {
        *b = if k == 0 {
            (digit(0) << 4) | if odd { 0x09 } else { 0x01 }
        } else {
            (digit(2 * k) << 4) | digit(2 * k - 1)
        };
    }
    Ok(n)
}

/// HMAC-SHA1 of `data` under `key` (RFC 2104).
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    // HMAC accepts keys of any length, so construction cannot fail.
    if let Ok(mut m) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) {
        m.update(data);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

impl Credentials<'_> {
    /// Builds the HMAC key for `sec` into `out`; returns its length.
    /// NETWPIN = IMSI identity; USERPIN = PIN; USERNETWPIN = IMSI identity ‖ PIN. USERPINMAC
    /// uses the first half of the PIN (see [`userpinmac_check_digits`]).
    pub fn key(&self, sec: SecMethod, out: &mut [u8]) -> Result<usize> {
        let pin = || self.user_pin.ok_or(Error::BadValue);
        let imsi = || self.imsi.ok_or(Error::BadValue);
        let mut pos = 0;
        match sec {
            SecMethod::NETWPIN => pos += imsi_mobile_identity(imsi()?, out)?,
            SecMethod::USERPIN => put(out, &mut pos, pin()?)?,
            SecMethod::USERNETWPIN => {
                pos += imsi_mobile_identity(imsi()?, out)?;
                put(out, &mut pos, pin()?)?;
            }
            SecMethod::USERPINMAC => {
                let p = pin()?;
                put(out, &mut pos, p.get(..p.len() / 2).ok_or(Error::BadValue)?)?;
            }
            _ => return Err(Error::Unsupported),
        }
        Ok(pos)
    }

    /// Computes the MAC for `sec` over `body` (NETWPIN, USERPIN, USERNETWPIN).
    pub fn mac(&self, sec: SecMethod, body: &[u8]) -> Result<Mac> {
        if sec == SecMethod::USERPINMAC {
            return Err(Error::Unsupported);
        }
        let mut key = [0u8; IMSI_IDENTITY_MAX + MAX_PIN_LEN];
        let n = self.key(sec, &mut key)?;
        Ok(Mac(hmac_sha1(
            key.get(..n).ok_or(Error::BufferTooSmall)?,
            body,
        )))
    }

    /// Verifies a received push: for NETWPIN/USERPIN/USERNETWPIN, `mac` must equal the HMAC
    /// (compared in constant time); for USERPINMAC the PIN's check digits must match and `mac`
    /// is ignored (cpclient behaviour). `Ok(false)` = authentication failed.
    pub fn verify(&self, sec: SecMethod, body: &[u8], mac: &Mac) -> Result<bool> {
        if sec == SecMethod::USERPINMAC {
            let pin = self.user_pin.ok_or(Error::BadValue)?;
            return userpinmac_verify(pin, body);
        }
        let mut key = [0u8; IMSI_IDENTITY_MAX + MAX_PIN_LEN];
        let n = self.key(sec, &mut key)?;
        let mut m =
            <Hmac<Sha1> as KeyInit>::new_from_slice(key.get(..n).ok_or(Error::BufferTooSmall)?)
                .map_err(|_| Error::BadLength)?;
        m.update(body);
        Ok(m.verify_slice(&mac.0).is_ok())
    }
}

/// USERPINMAC check digits: digit *i* = (HMAC-SHA1(user_part, body) byte *i*) mod 10 for
/// *i* < N = `user_part.len()`, written as ASCII into `out` (cpclient; 06-oma-cp.md §2).
/// The PIN to type is `user_part ‖ check digits`. N is limited to 20 (the HMAC length).
pub fn userpinmac_check_digits(user_part: &[u8], body: &[u8], out: &mut [u8]) -> Result<usize> {
    let n = user_part.len();
    if n == 0 || n > 20 {
        return Err(Error::BadLength);
    }
    let h = hmac_sha1(user_part, body);
    let dst = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
    for (d, b) in dst.iter_mut().zip(h.iter()) {
        *d = b'0' + b % 10;
    }
    Ok(n)
}

/// Verifies a USERPINMAC PIN of 2N digits against `body` (constant-time digit comparison).
pub fn userpinmac_verify(pin: &[u8], body: &[u8]) -> Result<bool> {
    if pin.is_empty() || !pin.len().is_multiple_of(2) || pin.len() > 40 {
        return Err(Error::BadLength);
    }
    let (user, check) = pin.split_at(pin.len() / 2);
    let mut expect = [0u8; 20];
    let n = userpinmac_check_digits(user, body, &mut expect)?;
    let diff = expect
        .iter()
        .take(n)
        .zip(check.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(diff == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unhex(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s.split_whitespace().collect::<std::string::String>()).unwrap()
    }

    extern crate std;

    /// The 54-byte NAPDEF document (research `tools-on-these-machines.md` §5, xml2wbxml output).
    const DOC54: &str = "030b6a0045c65501871106034e4150310001871006ab018707060354657374000187080603696e7465726e6574000187090689010101";

    /// The 151-byte document of 06-oma-cp.md §4 (xml2wbxml -n output).
    const DOC151: &str = "03 0B 6A 00 C5 45 03 31 2E 31 00 01 C6 55 01
        87 11 06 03 4E 41 50 31 00 01 87 10 06 AB 01 87 07 06 03 4D 4D 53 00 01
        87 08 06 03 6D 6D 73 2E 65 78 61 6D 70 6C 65 00 01 87 09 06 89 01
        C6 5A 01 87 0C 06 9A 01 87 0D 06 03 75 73 65 72 00 01 87 0E 06 03 70 61 73 73 00 01 01 01
        C6 00 01 55 01 87 36 00 00 06 03 77 34 00 01 87 22 06 03 4E 41 50 31 00 01
        87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C 65 2F 6D 6D 73 00 01
        01 01";

    fn mac_hex(m: &Mac) -> std::string::String {
        std::string::String::from_utf8(m.to_hex().to_vec()).unwrap()
    }

    /// uintvar examples (WAP-230 §8.1.2): 0x7F, 0x80 = `81 00`, 0x3FFF, max u32.
    #[test]
    fn uintvar_vectors() {
        for (v, bytes) in [
            (0u32, &[0x00][..]),
            (0x2F, &[0x2F]),
            (0x80, &[0x81, 0x00]),
            (0x3FFF, &[0xFF, 0x7F]),
            (0x4000, &[0x81, 0x80, 0x00]),
            (u32::MAX, &[0x8F, 0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut out = [0u8; 5];
            assert_eq!(uintvar::write(v, &mut out), Ok(bytes.len()));
            assert_eq!(&out[..bytes.len()], bytes);
            assert_eq!(uintvar::read(bytes), Ok((v, bytes.len())));
        }
        assert_eq!(uintvar::read(&[0x80]), Err(Error::Truncated));
        assert_eq!(
            uintvar::read(&[0x90, 0x80, 0x80, 0x80, 0x00]),
            Err(Error::BadLength)
        );
        assert_eq!(uintvar::read(&[0x80; 6]), Err(Error::BadLength));
        assert_eq!(
            uintvar::write(0x80, &mut [0u8; 1]),
            Err(Error::BufferTooSmall)
        );
    }

    /// IMSI 001010123456789 → `09 10 10 10 32 54 76 98` (06-oma-cp.md §2 table).
    #[test]
    fn imsi_identity() {
        let mut out = [0u8; 8];
        assert_eq!(imsi_mobile_identity(b"001010123456789", &mut out), Ok(8));
        assert_eq!(out, [0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98]);
        // Even digit count: type nibble 1 and an F pad (TS 24.008 §10.5.1.4).
        let mut out = [0u8; 8];
        assert_eq!(imsi_mobile_identity(b"00101012345678", &mut out), Ok(8));
        assert_eq!(out, [0x01, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0xF8]);
        assert_eq!(
            imsi_mobile_identity(b"00101A", &mut out),
            Err(Error::BadValue)
        );
    }

    /// The MAC table of 06-oma-cp.md §2 over the 151-byte document.
    #[test]
    fn mac_table() {
        let body = unhex(DOC151);
        assert_eq!(body.len(), 151);
        let c = Credentials {
            imsi: Some(b"001010123456789"),
            user_pin: Some(b"1234"),
        };
        let netw = c.mac(SecMethod::NETWPIN, &body).unwrap();
        assert_eq!(mac_hex(&netw), "83C52EAFF1683711A6812DC1D6CBB5C3AD7BE698");
        let user = c.mac(SecMethod::USERPIN, &body).unwrap();
        assert_eq!(mac_hex(&user), "667F2D53AEFBAF5647560FE28C609136A96FA24E");
        let both = c.mac(SecMethod::USERNETWPIN, &body).unwrap();
        assert_eq!(mac_hex(&both), "C8FF20F61AC6095C864B0AD07499BDA6D2640E18");
        let mut key = [0u8; 20];
        assert_eq!(c.key(SecMethod::USERNETWPIN, &mut key), Ok(12));
        assert_eq!(
            &key[..12],
            &unhex("09 10 10 10 32 54 76 98 31 32 33 34")[..]
        );
        // Kannel-style NETWPIN (ASCII IMSI as the key), for contrast only.
        assert_eq!(
            hmac_sha1(b"001010123456789", &body),
            Mac::from_hex(b"495F0FA7129A57C09238178E370D54D3235B5311")
                .unwrap()
                .0
        );
        // USERPINMAC, user part "12345" → PIN to type "1234513630".
        let mut digits = [0u8; 5];
        assert_eq!(userpinmac_check_digits(b"12345", &body, &mut digits), Ok(5));
        assert_eq!(&digits, b"13630");
        assert_eq!(userpinmac_verify(b"1234513630", &body), Ok(true));
        assert_eq!(userpinmac_verify(b"1234513631", &body), Ok(false));
        let pm = Credentials {
            imsi: None,
            user_pin: Some(b"1234513630"),
        };
        assert_eq!(
            pm.verify(SecMethod::USERPINMAC, &body, &Mac([0; 20])),
            Ok(true)
        );
        assert_eq!(c.verify(SecMethod::NETWPIN, &body, &netw), Ok(true));
        assert_eq!(c.verify(SecMethod::NETWPIN, &body, &user), Ok(false));
        assert_eq!(c.verify(SecMethod::USERNETWPIN, &body, &both), Ok(true));
        assert_eq!(
            c.verify(SecMethod(9), &body, &both),
            Err(Error::Unsupported)
        );
    }

    /// The 201-byte NETWPIN push of 06-oma-cp.md §4: parse, verify, re-emit byte-exactly.
    #[test]
    fn push_201() {
        let mut pdu = unhex(
            "01 06 2F 1F 2D B6 91 80 92
             38 33 43 35 32 45 41 46 46 31 36 38 33 37 31 31 41 36 38 31 32 44 43 31 44 36 43 42 42 35 43 33 41 44 37 42 45 36 39 38 00",
        );
        pdu.extend(unhex(DOC151));
        assert_eq!(pdu.len(), 201);
        let p = PushPdu::parse(&pdu).unwrap();
        assert_eq!(p.tid, 1);
        assert_eq!(
            p.content_type.media,
            Media::WellKnown(CONTENT_TYPE_CONNECTIVITY_WBXML)
        );
        assert_eq!(p.content_type.sec, Some(SecMethod::NETWPIN));
        assert_eq!(p.body.len(), 151);
        assert!(p.headers.is_empty());
        let c = Credentials {
            imsi: Some(b"001010123456789"),
            user_pin: None,
        };
        assert_eq!(p.verify(&c), Ok(true));
        let other = Credentials {
            imsi: Some(b"001010123456788"),
            user_pin: None,
        };
        assert_eq!(p.verify(&other), Ok(false));
        let mut out = [0u8; 256];
        assert_eq!(p.buffer_len(), 201);
        assert_eq!(p.emit(&mut out), Ok(201));
        assert_eq!(&out[..201], &pdu[..]);
        assert_eq!(p.emit(&mut out[..200]), Err(Error::BufferTooSmall));
    }

    /// Kannel 1.4.5 sendota USERPIN push header (research §6) over the 54-byte document;
    /// MAC `090226FD…F00887` = HMAC-SHA1("1234", WBXML).
    #[test]
    fn kannel_sendota_userpin() {
        let mut pdu = unhex("01 06 2F 1F 2D B6 91 81 92");
        pdu.extend(b"090226FDB2BF907302D6FF8FBD098CDA69F00887\0");
        pdu.extend(unhex(DOC54));
        let p = PushPdu::parse(&pdu).unwrap();
        assert_eq!(p.content_type.sec, Some(SecMethod::USERPIN));
        assert_eq!(p.body, &unhex(DOC54)[..]);
        let c = Credentials {
            imsi: None,
            user_pin: Some(b"1234"),
        };
        assert_eq!(p.verify(&c), Ok(true));
        // Built from scratch, the same bytes come out.
        let ct = ContentType {
            media: Media::WellKnown(CONTENT_TYPE_CONNECTIVITY_WBXML),
            sec: Some(SecMethod::USERPIN),
            mac: Some(c.mac(SecMethod::USERPIN, p.body).unwrap()),
            other_params: &[],
        };
        let built = PushPdu {
            tid: 1,
            content_type: ct,
            headers: &[],
            body: p.body,
        };
        let mut out = [0u8; 200];
        let n = built.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &pdu[..]);
    }

    /// Unauthenticated short form `01 06 01 B6` (research §4 tshark bonus).
    #[test]
    fn short_form() {
        let pdu = [0x01, 0x06, 0x01, 0xB6, 0x03, 0x0B, 0x6A, 0x00];
        let p = PushPdu::parse(&pdu).unwrap();
        assert_eq!(p.content_type.sec, None);
        assert_eq!(p.body, &pdu[4..]);
        assert_eq!(p.verify(&Credentials::default()), Err(Error::BadValue));
        let mut out = [0u8; 8];
        assert_eq!(p.emit(&mut out), Ok(8));
        assert_eq!(out, pdu);
        // Not a push; truncated headers.
        assert_eq!(
            PushPdu::parse(&[0x01, 0x07, 0x01, 0xB6]),
            Err(Error::BadTag)
        );
        assert_eq!(
            PushPdu::parse(&[0x01, 0x06, 0x05, 0xB6]),
            Err(Error::Truncated)
        );
        // Extra header after the content type (X-WAP-Application-ID `AF 84`) stays raw.
        let pdu = [0x01, 0x06, 0x03, 0xB6, 0xAF, 0x84, 0x03];
        let p = PushPdu::parse(&pdu).unwrap();
        assert_eq!(p.headers, &[0xAF, 0x84]);
        let mut out = [0u8; 7];
        assert_eq!(p.emit(&mut out), Ok(7));
        assert_eq!(out, pdu);
    }

    /// Content type with an extra parameter (charset `81 EA` = UTF-8) kept raw; text media.
    #[test]
    fn content_type_forms() {
        let c = ContentType::parse(&[0x03, 0xB6, 0x91, 0x81]).unwrap();
        assert_eq!(c.sec, Some(SecMethod::USERPIN));
        assert_eq!(
            ContentType::parse(&[0x04, 0xB6, 0x91, 0x81]),
            Err(Error::Truncated)
        );
        let bytes = [0x05, 0xB6, 0x91, 0x81, 0x81, 0xEA];
        let c = ContentType::parse(&bytes).unwrap();
        assert_eq!(c.other_params, &[0x81, 0xEA]);
        let mut out = [0u8; 6];
        assert_eq!(c.emit(&mut out), Ok(6));
        assert_eq!(out, bytes);
        let text = b"application/vnd.wap.connectivity-wbxml\0";
        let c = ContentType::parse(text).unwrap();
        assert_eq!(c.media, Media::Text(&text[..text.len() - 1]));
        let mut out = [0u8; 64];
        assert_eq!(c.emit(&mut out), Ok(text.len()));
        // Long-integer media (2 bytes): general form `03 02 01 36`.
        let c = ContentType::parse(&[0x03, 0x02, 0x01, 0x36]).unwrap();
        assert_eq!(c.media, Media::WellKnown(0x136));
        assert_eq!(c.emit(&mut out), Ok(4));
        assert_eq!(&out[..4], &[0x03, 0x02, 0x01, 0x36]);
        // Lower-case MAC is accepted by the reader.
        assert!(Mac::from_hex(b"090226fdb2bf907302d6ff8fbd098cda69f00887").is_ok());
        assert_eq!(
            Mac::from_hex(b"090226FDB2BF907302D6FF8FBD098CDA69F0088G"),
            Err(Error::BadValue)
        );
    }

    fn arb_ct() -> impl Strategy<Value = (u32, Option<u8>, Option<[u8; 20]>)> {
        (
            prop_oneof![0u32..0x80, 0x80u32..=u32::MAX],
            proptest::option::of(0u8..0x80),
            proptest::option::of(proptest::array::uniform20(any::<u8>())),
        )
    }

    proptest! {
        #[test]
        fn uintvar_roundtrip(v in any::<u32>()) {
            let mut out = [0u8; 5];
            let n = uintvar::write(v, &mut out).unwrap();
            prop_assert_eq!(n, uintvar::len(v));
            prop_assert_eq!(uintvar::read(&out[..n]), Ok((v, n)));
        }

        #[test]
        fn push_roundtrip((media, sec, mac) in arb_ct(), tid in any::<u8>(),
                          body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let ct = ContentType { media: Media::WellKnown(media), sec: sec.map(SecMethod), mac: mac.map(Mac), other_params: &[] };
            let p = PushPdu { tid, content_type: ct, headers: &[], body: &body };
            let mut out = std::vec![0u8; p.buffer_len()];
            let n = p.emit(&mut out).unwrap();
            prop_assert_eq!(n, out.len());
            let q = PushPdu::parse(&out).unwrap();
            prop_assert_eq!(q, p);
            let mut again = std::vec![0u8; n];
            prop_assert_eq!(q.emit(&mut again), Ok(n));
            prop_assert_eq!(again, out);
        }

        #[test]
        fn push_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(p) = PushPdu::parse(&bytes) {
                let _ = p.verify(&Credentials { imsi: Some(b"001010123456789"), user_pin: Some(b"12") });
                let mut out = [0u8; 200];
                let _ = p.emit(&mut out);
            }
            let _ = ContentType::parse(&bytes);
        }

        #[test]
        fn mac_hex_roundtrip(m in proptest::array::uniform20(any::<u8>())) {
            prop_assert_eq!(Mac::from_hex(&Mac(m).to_hex()), Ok(Mac(m)));
        }
    }
}
