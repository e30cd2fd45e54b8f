//! BER-TLV and COMPREHENSION-TLV (ETSI TS 101 220 §7, ETSI TS 102 223 Annex C).
//!
//! Two tag schemes share one length coding:
//!
//! * **BER-TLV** (TS 101 220 §7.1.1, §7.2): the outer templates of toolkit data, one tag
//!   byte such as `D0` (proactive command) or `D1`..`DB` (ENVELOPEs) — [`BerTag`], [`BerTlv`].
//! * **COMPREHENSION-TLV** (TS 101 220 §7.1.1.1/§7.1.1.2, TS 102 223 Annex C): the toolkit
//!   data objects inside. One-byte tag: bit 8 = CR (comprehension required), bits 7..1 =
//!   tag value `01`..`7E`; first byte `7F` introduces the three-byte form `7F hi lo` whose
//!   top bit is CR and whose low 15 bits are the tag value. First bytes `00`, `80` and `FF`
//!   are invalid — [`Tag`], [`ComprehensionTag`], [`ComprehensionTlv`], [`ComprehensionTlvIter`].
//!
//! Length (TS 101 220 §7.1.2): `00`–`7F` one byte, `81 xx` for 128..255, `82 xxxx` for
//! 256..65535, `83 xxxxxx` for 65536..16777215. Non-minimal forms (e.g. `81 05`) and the
//! indefinite form `80` are rejected with [`Error::BadLength`]; the encoder is always minimal.
//!
//! [`Writer`] appends TLVs into a caller buffer without allocating.

use super::{Error, Result};

/// Largest length the four length forms can express (`83 FF FF FF`), TS 101 220 §7.1.2.
pub const MAX_LENGTH: usize = 0xFF_FFFF;

/// Parses a BER/COMPREHENSION-TLV length field (TS 101 220 §7.1.2).
///
/// Returns `(length, bytes consumed)`. Rejects `80`, `84`.. and non-minimal encodings
/// ([`Error::BadLength`]); [`Error::Truncated`] when the field itself is cut short.
/// Does not check that `length` bytes follow.
pub fn parse_length(buf: &[u8]) -> Result<(usize, usize)> {
    let first = *buf.first().ok_or(Error::Truncated)?;
    let n = match first {
        0x00..=0x7F => return Ok((usize::from(first), 1)),
        0x81 => 1,
        0x82 => 2,
        0x83 => 3,
        _ => return Err(Error::BadLength),
    };
    let bytes = buf.get(1..1 + n).ok_or(Error::Truncated)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    // Minimal form: the value must need exactly this many bytes.
    let min = match n {
        1 => 0x80,
        2 => 0x100,
        _ => 0x1_0000,
    };
    if len < min {
        return Err(Error::BadLength);
    }
    Ok((len, 1 + n))
}

/// Number of bytes the minimal length field for `len` takes (1..=4).
///
/// Lengths above [`MAX_LENGTH`] report 4; [`emit_length`] rejects them.
pub const fn length_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else if len < 0x100 {
        2
    } else if len < 0x1_0000 {
        3
    } else {
        4
    }
}

/// Writes the minimal length field for `len` at the start of `buf` (TS 101 220 §7.1.2).
///
/// Returns the number of bytes written; [`Error::BadLength`] above [`MAX_LENGTH`],
/// [`Error::BufferTooSmall`] if `buf` is too short.
pub fn emit_length(len: usize, buf: &mut [u8]) -> Result<usize> {
    if len > MAX_LENGTH {
        return Err(Error::BadLength);
    }
    let n = length_len(len);
    let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
    // Truncating casts are intended: each byte takes its 8 bits of `len`.
    match out {
        [b] => *b = len as u8,
        [p, b] => {
            *p = 0x81;
            *b = len as u8;
        }
        [p, h, l] => {
            *p = 0x82;
            *h = (len >> 8) as u8;
            *l = len as u8;
        }
        [p, h, m, l] => {
            *p = 0x83;
            *h = (len >> 16) as u8;
            *m = (len >> 8) as u8;
            *l = len as u8;
        }
        _ => return Err(Error::BadLength),
    }
    Ok(n)
}

/// One-byte BER-TLV tag of a toolkit template (TS 101 220 §7.2, TS 102 223 §9.1).
///
/// Open newtype: unknown tags survive a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BerTag(pub u8);

impl BerTag {
    /// `CF` — reserved for TS 102 226 (RAM/RFM); listed in TS 101 220 §7.2.
    pub const RESERVED_CF: BerTag = BerTag(0xCF);
    /// `D0` — proactive command (FETCH response), TS 102 223 §6.6.
    pub const PROACTIVE_COMMAND: BerTag = BerTag(0xD0);
    /// `D1` — SMS-PP download ENVELOPE, TS 102 223 §7.1 / TS 31.111 §7.1.1.
    pub const SMS_PP_DOWNLOAD: BerTag = BerTag(0xD1);
    /// `D2` — cell broadcast download ENVELOPE, TS 31.111 §7.1.2.
    pub const CELL_BROADCAST_DOWNLOAD: BerTag = BerTag(0xD2);
    /// `D3` — menu selection ENVELOPE, TS 102 223 §7.2.
    pub const MENU_SELECTION: BerTag = BerTag(0xD3);
    /// `D4` — call control ENVELOPE, TS 102 223 §7.3.
    pub const CALL_CONTROL: BerTag = BerTag(0xD4);
    /// `D5` — MO short message control ENVELOPE, TS 31.111 §7.3.
    pub const MO_SHORT_MESSAGE_CONTROL: BerTag = BerTag(0xD5);
    /// `D6` — event download ENVELOPE, TS 102 223 §7.5.
    pub const EVENT_DOWNLOAD: BerTag = BerTag(0xD6);
    /// `D7` — timer expiration ENVELOPE, TS 102 223 §7.4.
    pub const TIMER_EXPIRATION: BerTag = BerTag(0xD7);
    /// `D9` — USSD download ENVELOPE, TS 31.111 §7.1.3.
    pub const USSD_DOWNLOAD: BerTag = BerTag(0xD9);
    /// `DA` — MMS transfer status ENVELOPE, TS 31.111.
    pub const MMS_TRANSFER_STATUS: BerTag = BerTag(0xDA);
    /// `DB` — MMS notification download ENVELOPE, TS 31.111.
    pub const MMS_NOTIFICATION_DOWNLOAD: BerTag = BerTag(0xDB);

    /// Whether the byte is a valid one-byte BER tag here: not `00`/`FF` and not the
    /// multi-byte escape (low five bits `11111`, ISO/IEC 8825-1 §8.1.2.4), which toolkit
    /// templates never use.
    pub const fn is_valid(self) -> bool {
        self.0 != 0x00 && self.0 != 0xFF && (self.0 & 0x1F) != 0x1F
    }
}

/// A BER-TLV data object borrowed from a buffer (TS 101 220 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BerTlv<'a> {
    /// Template tag.
    pub tag: BerTag,
    /// Value bytes (for toolkit templates: a COMPREHENSION-TLV list).
    pub value: &'a [u8],
}

impl<'a> BerTlv<'a> {
    /// Parses one BER-TLV at the start of `buf`; returns it and the bytes after it.
    ///
    /// [`Error::BadTag`] for `00`/`FF`, [`Error::Unsupported`] for a multi-byte tag.
    pub fn parse_prefix(buf: &'a [u8]) -> Result<(Self, &'a [u8])> {
        let tag = BerTag(*buf.first().ok_or(Error::Truncated)?);
        if tag.0 == 0x00 || tag.0 == 0xFF {
            return Err(Error::BadTag);
        }
        if !tag.is_valid() {
            return Err(Error::Unsupported);
        }
        let rest = buf.get(1..).ok_or(Error::Truncated)?;
        let (len, n) = parse_length(rest)?;
        let end = n.checked_add(len).ok_or(Error::BadLength)?;
        let value = rest.get(n..end).ok_or(Error::Truncated)?;
        let after = rest.get(end..).ok_or(Error::Truncated)?;
        Ok((BerTlv { tag, value }, after))
    }

    /// Parses a buffer that must hold exactly one BER-TLV ([`Error::TrailingData`] otherwise).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let (tlv, rest) = Self::parse_prefix(buf)?;
        if !rest.is_empty() {
            return Err(Error::TrailingData);
        }
        Ok(tlv)
    }

    /// Encoded size: tag, minimal length field, value.
    pub fn buffer_len(&self) -> usize {
        1 + length_len(self.value.len()) + self.value.len()
    }

    /// Writes the object into `buf`; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.put_ber_header(self.tag, self.value.len())?;
        w.put_slice(self.value)?;
        Ok(w.finish())
    }
}

/// A COMPREHENSION-TLV tag value with the CR bit masked off (TS 102 223 §9.3,
/// TS 101 220 §7.2).
///
/// One-byte tags carry values `01`..`7E`, three-byte tags `0001`..`7FFF`. Open newtype
/// with named constants for the toolkit objects this project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u16);

impl Tag {
    /// `01` command details, TS 102 223 §8.6.
    pub const COMMAND_DETAILS: Tag = Tag(0x01);
    /// `02` device identities, TS 102 223 §8.7.
    pub const DEVICE_IDENTITIES: Tag = Tag(0x02);
    /// `03` result, TS 102 223 §8.12.
    pub const RESULT: Tag = Tag(0x03);
    /// `04` duration, TS 102 223 §8.8.
    pub const DURATION: Tag = Tag(0x04);
    /// `05` alpha identifier, TS 102 223 §8.2.
    pub const ALPHA_IDENTIFIER: Tag = Tag(0x05);
    /// `06` address, TS 102 223 §8.1.
    pub const ADDRESS: Tag = Tag(0x06);
    /// `0B` 3GPP SMS TPDU, TS 31.111 §8.13.
    pub const SMS_TPDU: Tag = Tag(0x0B);
    /// `0D` text string, TS 102 223 §8.15.
    pub const TEXT_STRING: Tag = Tag(0x0D);
    /// `13` location information, TS 31.111 §8.19.
    pub const LOCATION_INFORMATION: Tag = Tag(0x13);
    /// `14` IMEI, TS 31.111 §8.20.
    pub const IMEI: Tag = Tag(0x14);
    /// `19` event list, TS 102 223 §8.25.
    pub const EVENT_LIST: Tag = Tag(0x19);
    /// `1B` location status, TS 31.111 §8.27.
    pub const LOCATION_STATUS: Tag = Tag(0x1B);
    /// `1E` icon identifier, TS 102 223 §8.31.
    pub const ICON_IDENTIFIER: Tag = Tag(0x1E);
    /// `24` timer identifier, TS 102 223 §8.37.
    pub const TIMER_IDENTIFIER: Tag = Tag(0x24);
    /// `25` timer value, TS 102 223 §8.38.
    pub const TIMER_VALUE: Tag = Tag(0x25);
    /// `26` date-time and time zone, TS 102 223 §8.39.
    pub const DATE_TIME_TIME_ZONE: Tag = Tag(0x26);
    /// `2B` immediate response, TS 102 223 §8.43.
    pub const IMMEDIATE_RESPONSE: Tag = Tag(0x2B);
    /// `2D` language, TS 102 223 §8.45.
    pub const LANGUAGE: Tag = Tag(0x2D);
    /// `47` network access name, TS 31.111 §8.70.
    pub const NETWORK_ACCESS_NAME: Tag = Tag(0x47);
    /// `62` IMEISV, TS 31.111 §8.84.
    pub const IMEISV: Tag = Tag(0x62);
}

/// A COMPREHENSION-TLV tag as it appears on the wire: value, CR flag and form
/// (TS 101 220 §7.1.1.1 one-byte, §7.1.1.2 three-byte).
///
/// Keeping `cr` and `three_byte` lets every received object re-emit byte for byte.
/// Compare objects by [`Tag`] (`self.tag`), never by raw byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ComprehensionTag {
    /// Tag value with CR masked off.
    pub tag: Tag,
    /// Comprehension required (bit 8 of the one-byte form, top bit of the 15-bit word).
    pub cr: bool,
    /// Encoded in the three-byte `7F hi lo` form. Forced on emit for values above `7E`.
    pub three_byte: bool,
}

impl ComprehensionTag {
    /// One-byte form (if the value allows it) with the given CR flag.
    pub const fn new(tag: Tag, cr: bool) -> Self {
        ComprehensionTag {
            tag,
            cr,
            three_byte: false,
        }
    }

    /// Whether this tag is emitted in the one-byte form.
    pub const fn is_short(&self) -> bool {
        !self.three_byte && self.tag.0 >= 0x01 && self.tag.0 <= 0x7E
    }

    /// Parses a tag at the start of `buf`; returns it and the number of bytes consumed.
    ///
    /// [`Error::BadTag`] for first bytes `00`, `80`, `FF` and for three-byte value `0000`.
    pub fn parse(buf: &[u8]) -> Result<(Self, usize)> {
        let first = *buf.first().ok_or(Error::Truncated)?;
        match first {
            0x00 | 0x80 | 0xFF => Err(Error::BadTag),
            0x7F => {
                let hi = *buf.get(1).ok_or(Error::Truncated)?;
                let lo = *buf.get(2).ok_or(Error::Truncated)?;
                let word = u16::from_be_bytes([hi, lo]);
                let tag = Tag(word & 0x7FFF);
                if tag.0 == 0 {
                    return Err(Error::BadTag);
                }
                Ok((
                    ComprehensionTag {
                        tag,
                        cr: word & 0x8000 != 0,
                        three_byte: true,
                    },
                    3,
                ))
            }
            _ => Ok((
                ComprehensionTag {
                    tag: Tag(u16::from(first & 0x7F)),
                    cr: first & 0x80 != 0,
                    three_byte: false,
                },
                1,
            )),
        }
    }

    /// Encoded size: 1 or 3.
    pub const fn buffer_len(&self) -> usize {
        if self.is_short() { 1 } else { 3 }
    }

    /// Writes the tag; [`Error::BadTag`] for value `0000` or above `7FFF`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.tag.0 == 0 || self.tag.0 > 0x7FFF {
            return Err(Error::BadTag);
        }
        let cr = if self.cr { 0x80u8 } else { 0 };
        if self.is_short() {
            let b = buf.first_mut().ok_or(Error::BufferTooSmall)?;
            // is_short() guarantees the value fits in 7 bits.
            *b = cr | (self.tag.0 as u8);
            Ok(1)
        } else {
            let out = buf.get_mut(..3).ok_or(Error::BufferTooSmall)?;
            let [hi, lo] = self.tag.0.to_be_bytes();
            out.copy_from_slice(&[0x7F, cr | hi, lo]);
            Ok(3)
        }
    }
}

/// A COMPREHENSION-TLV data object borrowed from a buffer (TS 102 223 Annex C).
///
/// Also the representation of unknown toolkit objects: tag (with CR and form) and raw
/// value round-trip byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComprehensionTlv<'a> {
    /// Tag as encoded.
    pub tag: ComprehensionTag,
    /// Value bytes.
    pub value: &'a [u8],
}

impl<'a> ComprehensionTlv<'a> {
    /// Parses one object at the start of `buf`; returns it and the bytes after it.
    pub fn parse_prefix(buf: &'a [u8]) -> Result<(Self, &'a [u8])> {
        let (tag, t) = ComprehensionTag::parse(buf)?;
        let rest = buf.get(t..).ok_or(Error::Truncated)?;
        let (len, n) = parse_length(rest)?;
        let end = n.checked_add(len).ok_or(Error::BadLength)?;
        let value = rest.get(n..end).ok_or(Error::Truncated)?;
        let after = rest.get(end..).ok_or(Error::Truncated)?;
        Ok((ComprehensionTlv { tag, value }, after))
    }

    /// Parses a buffer that must hold exactly one object ([`Error::TrailingData`] otherwise).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let (tlv, rest) = Self::parse_prefix(buf)?;
        if !rest.is_empty() {
            return Err(Error::TrailingData);
        }
        Ok(tlv)
    }

    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        self.tag.buffer_len() + length_len(self.value.len()) + self.value.len()
    }

    /// Writes the object into `buf`; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.put_comprehension(self.tag, self.value)?;
        Ok(w.finish())
    }
}

/// Iterator over a COMPREHENSION-TLV list (e.g. the value of a `D0` template or a
/// TERMINAL RESPONSE data field).
///
/// Yields `Ok(object)` for each object; on the first malformed object it yields that
/// error once and then stops.
#[derive(Debug, Clone)]
pub struct ComprehensionTlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> ComprehensionTlvIter<'a> {
    /// Iterates over the objects in `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        ComprehensionTlvIter {
            rest: buf,
            failed: false,
        }
    }

    /// Bytes not yet consumed (empty after the end; the failing bytes after an error).
    pub const fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Checks that the whole list is well formed; returns the number of objects.
    pub fn validate(buf: &'a [u8]) -> Result<usize> {
        let mut count = 0usize;
        for item in ComprehensionTlvIter::new(buf) {
            item?;
            count += 1;
        }
        Ok(count)
    }
}

impl<'a> Iterator for ComprehensionTlvIter<'a> {
    type Item = Result<ComprehensionTlv<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match ComprehensionTlv::parse_prefix(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for ComprehensionTlvIter<'_> {}

/// Appends bytes and TLVs into a caller-supplied buffer.
///
/// Every `put_*` either writes completely or fails with [`Error::BufferTooSmall`]
/// (leaving the position unchanged).
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Finishes; returns the number of bytes written.
    pub const fn finish(self) -> usize {
        self.pos
    }

    /// The unwritten tail of the buffer.
    fn tail(&mut self) -> Result<&mut [u8]> {
        self.buf.get_mut(self.pos..).ok_or(Error::BufferTooSmall)
    }

    /// Appends raw bytes.
    pub fn put_slice(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        let out = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        out.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends one byte.
    pub fn put_u8(&mut self, byte: u8) -> Result<()> {
        self.put_slice(&[byte])
    }

    /// Appends a minimal length field.
    pub fn put_length(&mut self, len: usize) -> Result<()> {
        let n = emit_length(len, self.tail()?)?;
        self.pos += n;
        Ok(())
    }

    /// Appends a COMPREHENSION-TLV tag.
    pub fn put_comprehension_tag(&mut self, tag: ComprehensionTag) -> Result<()> {
        let n = tag.emit(self.tail()?)?;
        self.pos += n;
        Ok(())
    }

    /// Appends a COMPREHENSION-TLV tag and length; the caller appends `len` value bytes.
    pub fn put_comprehension_header(&mut self, tag: ComprehensionTag, len: usize) -> Result<()> {
        let start = self.pos;
        self.put_comprehension_tag(tag)?;
        self.put_length(len).inspect_err(|_| self.pos = start)
    }

    /// Appends a complete COMPREHENSION-TLV.
    pub fn put_comprehension(&mut self, tag: ComprehensionTag, value: &[u8]) -> Result<()> {
        let start = self.pos;
        self.put_comprehension_header(tag, value.len())?;
        self.put_slice(value).inspect_err(|_| self.pos = start)
    }

    /// Appends a BER-TLV tag and length; the caller appends `len` value bytes.
    pub fn put_ber_header(&mut self, tag: BerTag, len: usize) -> Result<()> {
        if !tag.is_valid() {
            return Err(Error::BadTag);
        }
        let start = self.pos;
        self.put_u8(tag.0)?;
        self.put_length(len).inspect_err(|_| self.pos = start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    extern crate std;

    #[test]
    fn lengths_all_forms() {
        // TS 101 220 §7.1.2 / 02-cat.md §1: 00-7F, 81 xx, 82 xxxx, 83 xxxxxx.
        assert_eq!(parse_length(&[0x00]), Ok((0, 1)));
        assert_eq!(parse_length(&[0x7F]), Ok((127, 1)));
        assert_eq!(parse_length(&[0x81, 0x80]), Ok((128, 2)));
        assert_eq!(parse_length(&[0x81, 0xFF]), Ok((255, 2)));
        assert_eq!(parse_length(&[0x82, 0x01, 0x00]), Ok((256, 3)));
        assert_eq!(parse_length(&[0x83, 0x01, 0x00, 0x00]), Ok((65536, 4)));
        assert_eq!(parse_length(&[0x83, 0xFF, 0xFF, 0xFF]), Ok((MAX_LENGTH, 4)));
    }

    #[test]
    fn lengths_rejected() {
        // Non-minimal forms: AOSP ComprehensionTlv rejects "81 <0x80" (02-cat.md §1).
        assert_eq!(parse_length(&[0x81, 0x7F]), Err(Error::BadLength));
        assert_eq!(parse_length(&[0x82, 0x00, 0xFF]), Err(Error::BadLength));
        assert_eq!(
            parse_length(&[0x83, 0x00, 0xFF, 0xFF]),
            Err(Error::BadLength)
        );
        assert_eq!(parse_length(&[0x80]), Err(Error::BadLength));
        assert_eq!(parse_length(&[0x84, 1, 0, 0, 0]), Err(Error::BadLength));
        assert_eq!(parse_length(&[0x82, 0x01]), Err(Error::Truncated));
        assert_eq!(parse_length(&[]), Err(Error::Truncated));
    }

    #[test]
    fn length_emit_minimal() {
        let mut b = [0u8; 4];
        for (len, want) in [
            (0usize, "00"),
            (0x7F, "7F"),
            (0x80, "8180"),
            (0xFF, "81FF"),
            (0x100, "820100"),
            (0xFFFF, "82FFFF"),
            (0x1_0000, "83010000"),
        ] {
            let n = emit_length(len, &mut b).unwrap();
            assert_eq!(&b[..n], &h(want)[..], "len {len}");
            assert_eq!(n, length_len(len));
        }
        assert_eq!(emit_length(MAX_LENGTH + 1, &mut b), Err(Error::BadLength));
        assert_eq!(emit_length(0x100, &mut b[..2]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn tags() {
        // TS 101 220 §7.1.1: CR = bit 8; 00/80/FF invalid (AOSP ComprehensionTlv, 02-cat.md §2).
        assert_eq!(
            ComprehensionTag::parse(&[0x81]),
            Ok((ComprehensionTag::new(Tag::COMMAND_DETAILS, true), 1))
        );
        assert_eq!(
            ComprehensionTag::parse(&[0x14]),
            Ok((ComprehensionTag::new(Tag::IMEI, false), 1))
        );
        for bad in [0x00u8, 0x80, 0xFF] {
            assert_eq!(ComprehensionTag::parse(&[bad]), Err(Error::BadTag));
        }
        // Three-byte form: 7F, CR in the top bit of the 16-bit word.
        let (t, n) = ComprehensionTag::parse(&[0x7F, 0x80, 0x62]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(t.tag, Tag(0x62));
        assert!(t.cr && t.three_byte);
        let mut b = [0u8; 3];
        assert_eq!(t.emit(&mut b), Ok(3));
        assert_eq!(b, [0x7F, 0x80, 0x62]);
        // Values above 7E force the three-byte form.
        let t = ComprehensionTag::new(Tag(0x1234), false);
        assert_eq!(t.emit(&mut b), Ok(3));
        assert_eq!(b, [0x7F, 0x12, 0x34]);
        assert_eq!(
            ComprehensionTag::parse(&[0x7F, 0x80, 0x00]),
            Err(Error::BadTag)
        );
        assert_eq!(
            ComprehensionTag::parse(&[0x7F, 0x80]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn iterate_terminal_response_imei() {
        // 02-cat.md §9 step 3 (tshark-verified): TERMINAL RESPONSE data field.
        let tr = h("81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81");
        let items: std::vec::Vec<_> = ComprehensionTlvIter::new(&tr).map(|r| r.unwrap()).collect();
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0].tag,
            ComprehensionTag::new(Tag::COMMAND_DETAILS, true)
        );
        assert_eq!(items[0].value, &[0x01, 0x26, 0x01]);
        assert_eq!(items[3].tag, ComprehensionTag::new(Tag::IMEI, false));
        assert_eq!(items[3].value.len(), 8);
        // Re-emit every object through the writer: byte-exact.
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        for it in &items {
            w.put_comprehension(it.tag, it.value).unwrap();
        }
        let n = w.finish();
        assert_eq!(&out[..n], &tr[..]);
    }

    #[test]
    fn iterator_stops_after_error() {
        // A good object, then a truncated one, then garbage never reached.
        let b = h("83 01 00 84 05 01 00 00");
        let mut it = ComprehensionTlvIter::new(&b);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next(), Some(Err(Error::Truncated)));
        assert_eq!(it.next(), None);
        assert_eq!(ComprehensionTlvIter::validate(&b), Err(Error::Truncated));
        // 00 as a tag byte (AOSP stops there).
        let b = h("83 01 00 00 00");
        assert_eq!(ComprehensionTlvIter::validate(&b), Err(Error::BadTag));
    }

    #[test]
    fn ber_template() {
        // 02-cat.md §9: MORE TIME proactive command.
        let b = h("D0 09 81 03 01 02 00 82 02 81 82");
        let t = BerTlv::parse(&b).unwrap();
        assert_eq!(t.tag, BerTag::PROACTIVE_COMMAND);
        assert_eq!(t.value.len(), 9);
        let mut out = [0u8; 16];
        let n = t.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &b[..]);
        assert_eq!(t.buffer_len(), n);
        let mut extra = b.clone();
        extra.push(0x00);
        assert_eq!(BerTlv::parse(&extra), Err(Error::TrailingData));
        assert_eq!(BerTlv::parse(&b[..5]), Err(Error::Truncated));
        assert_eq!(BerTlv::parse(&[0xFF, 0x00]), Err(Error::BadTag));
        assert_eq!(BerTlv::parse(&[0x1F, 0x00]), Err(Error::Unsupported));
        // Long form 81 xx for a value of 0x80 bytes.
        let mut long = std::vec![0xD1, 0x81, 0x80];
        long.extend(std::iter::repeat_n(0u8, 0x80));
        let t = BerTlv::parse(&long).unwrap();
        assert_eq!(t.value.len(), 0x80);
        let mut out = [0u8; 0x90];
        assert_eq!(t.emit(&mut out), Ok(0x83));
        assert_eq!(&out[..0x83], &long[..]);
    }

    #[test]
    fn writer_buffer_too_small_keeps_position() {
        let mut out = [0u8; 4];
        let mut w = Writer::new(&mut out);
        w.put_u8(1).unwrap();
        assert_eq!(
            w.put_comprehension(ComprehensionTag::new(Tag::RESULT, true), &[0, 0]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(w.position(), 1);
        w.put_comprehension(ComprehensionTag::new(Tag::RESULT, true), &[0])
            .unwrap();
        assert_eq!(w.finish(), 4);
        assert_eq!(out, [1, 0x83, 0x01, 0x00]);
    }

    fn arb_ctag() -> impl Strategy<Value = ComprehensionTag> {
        prop_oneof![
            (1u16..=0x7E, any::<bool>()).prop_map(|(t, cr)| ComprehensionTag::new(Tag(t), cr)),
            (1u16..=0x7FFF, any::<bool>()).prop_map(|(t, cr)| ComprehensionTag {
                tag: Tag(t),
                cr,
                three_byte: true
            }),
        ]
    }

    proptest! {
        #[test]
        fn ctlv_round_trip(tag in arb_ctag(), value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let tlv = ComprehensionTlv { tag, value: &value };
            let mut out = [0u8; 320];
            let n = tlv.emit(&mut out).unwrap();
            prop_assert_eq!(n, tlv.buffer_len());
            let back = ComprehensionTlv::parse(&out[..n]).unwrap();
            prop_assert_eq!(back, tlv);
        }

        #[test]
        fn canonical_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Whatever parses re-emits byte for byte (minimal lengths, preserved tag form).
            if let Ok(tlv) = ComprehensionTlv::parse(&bytes) {
                let mut out = [0u8; 80];
                let n = tlv.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &bytes[..]);
            }
            if let Ok(tlv) = BerTlv::parse(&bytes) {
                let mut out = [0u8; 80];
                let n = tlv.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &bytes[..]);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_length(&bytes);
            let _ = ComprehensionTag::parse(&bytes);
            let _ = BerTlv::parse(&bytes);
            let count = ComprehensionTlvIter::new(&bytes).count();
            prop_assert!(count <= bytes.len());
        }
    }
}
