//! OMA Client Provisioning 1.1 documents in WBXML (`wap-provisioningdoc`, public id `0x0B`).
//!
//! Layering (`/work/shared/spec/06-oma-cp.md`): SMS (UDH port 2948) → WSP push
//! ([`crate::wire::wsp`]) → this module's WBXML document.
//!
//! | module | job |
//! | --- | --- |
//! | [`tables`] | PROV 1.0 / OMA CP 1.1 code pages (tags, attribute-start, attribute-value tokens) |
//! | [`encode`] | [`Encoder`]: writes a document into a caller buffer, deterministic tokenisation |
//! | [`decode`] | [`Decoder`]: streaming event parser, tolerant of mixed value tokenisation |
//! | [`doc`] | [`ProvisioningDoc`]: typed look-ups (NAPDEF, APPLICATION w4, device key) |
//!
//! This module holds the WBXML 1.3 framing shared by both directions: global tokens and the
//! document [`Header`] (WAP-192-WBXML §5.4–§5.8, digested in 06-oma-cp.md §3).

pub mod decode;
pub mod doc;
pub mod encode;
pub mod tables;

pub use decode::{AttrValue, DecodeError, Decoder, Event, Extension, Piece, Pieces};
pub use doc::{
    Application, Characteristic, Characteristics, DEVKEY_PARM, DeviceKey, NapAuthInfo, Napdef,
    Parm, Parms, ProvisioningDoc, VENDOR_NAME,
};
pub use encode::Encoder;

use crate::wire::wsp::uintvar;
use crate::wire::{Error, Result};

/// WBXML global tokens (WAP-192-WBXML §7.1), valid on every code page.
pub mod token {
    /// Change the code page of the current state (tag or attribute); next byte = page.
    pub const SWITCH_PAGE: u8 = 0x00;
    /// End of an attribute list or of an element's content.
    pub const END: u8 = 0x01;
    /// Character entity; an `mb_u_int32` code point follows.
    pub const ENTITY: u8 = 0x02;
    /// Inline string, NUL-terminated.
    pub const STR_I: u8 = 0x03;
    /// Unknown tag / attribute name, `mb_u_int32` string-table index follows (no flags).
    pub const LITERAL: u8 = 0x04;
    /// Inline extension strings 0–2 (`termstr` follows).
    pub const EXT_I_0: u8 = 0x40;
    /// See [`EXT_I_0`].
    pub const EXT_I_1: u8 = 0x41;
    /// See [`EXT_I_0`].
    pub const EXT_I_2: u8 = 0x42;
    /// Processing instruction (attribute list follows, ended by `END`).
    pub const PI: u8 = 0x43;
    /// Literal tag with content.
    pub const LITERAL_C: u8 = 0x44;
    /// Extension tokens 0–2 with a string-table reference (`mb_u_int32` follows).
    pub const EXT_T_0: u8 = 0x80;
    /// See [`EXT_T_0`].
    pub const EXT_T_1: u8 = 0x81;
    /// See [`EXT_T_0`].
    pub const EXT_T_2: u8 = 0x82;
    /// String-table reference (`mb_u_int32` byte offset follows).
    pub const STR_T: u8 = 0x83;
    /// Literal tag with attributes.
    pub const LITERAL_A: u8 = 0x84;
    /// Single-byte extension tokens 0–2.
    pub const EXT_0: u8 = 0xC0;
    /// See [`EXT_0`].
    pub const EXT_1: u8 = 0xC1;
    /// See [`EXT_0`].
    pub const EXT_2: u8 = 0xC2;
    /// Opaque data (`mb_u_int32` length, then bytes).
    pub const OPAQUE: u8 = 0xC3;
    /// Literal tag with attributes and content.
    pub const LITERAL_AC: u8 = 0xC4;

    /// Tag-token flag: the element has attributes (§5.8.2).
    pub const TAG_ATTRS: u8 = 0x80;
    /// Tag-token flag: the element has content (§5.8.2).
    pub const TAG_CONTENT: u8 = 0x40;

    /// True for the 20 global tokens (`x0`–`x4` in each quarter of the byte range).
    pub const fn is_global(b: u8) -> bool {
        (b & 0x3F) <= 0x04
    }
}

/// WBXML version byte for 1.3 (major − 1 in the high nibble, minor in the low nibble).
pub const VERSION_1_3: u8 = 0x03;
/// WBXML public identifier of "-//WAPFORUM//DTD PROV 1.0//EN", used for CP 1.0 and 1.1 alike.
pub const PUBLIC_ID_PROV: u32 = 0x0B;
/// WBXML public identifier "unknown or missing" (the root element then decides).
pub const PUBLIC_ID_UNKNOWN: u32 = 0x01;
/// The formal public identifier string of the PROV DTD.
pub const PUBLIC_ID_PROV_STR: &str = "-//WAPFORUM//DTD PROV 1.0//EN";
/// IANA MIBenum of UTF-8, the charset this project writes.
pub const CHARSET_UTF8: u32 = 106;

/// How the header names the document type (WBXML 1.3 §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicId<'a> {
    /// A well-known public identifier, e.g. [`PUBLIC_ID_PROV`].
    Known(u32),
    /// `0` followed by a string-table index: the identifier as text.
    Literal(&'a [u8]),
}

/// The WBXML document header: version, public id, charset, string table (WBXML 1.3 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Version byte ([`VERSION_1_3`]).
    pub version: u8,
    /// Document type.
    pub public_id: PublicId<'a>,
    /// Charset MIBenum ([`CHARSET_UTF8`]); `0` ("unknown") for WBXML 1.0, which has no field.
    pub charset: u32,
    /// The string table (possibly empty), referenced by `STR_T` and `LITERAL` offsets.
    pub string_table: &'a [u8],
}

impl<'a> Header<'a> {
    /// The header this project's encoder writes: WBXML 1.3, PROV, UTF-8, no string table.
    pub const PROV_UTF8: Header<'static> = Header {
        version: VERSION_1_3,
        public_id: PublicId::Known(PUBLIC_ID_PROV),
        charset: CHARSET_UTF8,
        string_table: &[],
    };

    /// Parses the header; returns it and the offset of the body.
    pub fn parse(data: &'a [u8]) -> Result<(Self, usize)> {
        let version = *data.first().ok_or(Error::Truncated)?;
        let mut pos = 1;
        let (pid, n) = uintvar::read(data.get(pos..).ok_or(Error::Truncated)?)?;
        pos += n;
        let literal_index = if pid == 0 {
            let (idx, n) = uintvar::read(data.get(pos..).ok_or(Error::Truncated)?)?;
            pos += n;
            Some(idx)
        } else {
            None
        };
        // WBXML 1.0 (version byte 0) has no charset field.
        let charset = if version == 0 {
            0
        } else {
            let (c, n) = uintvar::read(data.get(pos..).ok_or(Error::Truncated)?)?;
            pos += n;
            c
        };
        let (tbl_len, n) = uintvar::read(data.get(pos..).ok_or(Error::Truncated)?)?;
        pos += n;
        let end = pos
            .checked_add(usize::try_from(tbl_len).map_err(|_| Error::BadLength)?)
            .ok_or(Error::BadLength)?;
        let string_table = data.get(pos..end).ok_or(Error::Truncated)?;
        let public_id = match literal_index {
            Some(idx) => PublicId::Literal(table_string(string_table, idx)?),
            None => PublicId::Known(pid),
        };
        Ok((
            Header {
                version,
                public_id,
                charset,
                string_table,
            },
            end,
        ))
    }

    /// Length of the emitted header. A literal public id must be present in the string table.
    pub fn buffer_len(&self) -> usize {
        let pid = match self.public_id {
            PublicId::Known(id) => uintvar::len(id),
            PublicId::Literal(s) => 1 + uintvar::len(self.literal_index(s).unwrap_or(0)),
        };
        let charset = if self.version == 0 {
            0
        } else {
            uintvar::len(self.charset)
        };
        let tbl = u32::try_from(self.string_table.len()).unwrap_or(u32::MAX);
        1 + pid + charset + uintvar::len(tbl) + self.string_table.len()
    }

    /// Writes the header; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let need = self.buffer_len();
        let out = buf.get_mut(..need).ok_or(Error::BufferTooSmall)?;
        let mut pos = 0;
        let mut put_u8 = |pos: &mut usize, b: u8| -> Result<()> {
            *out.get_mut(*pos).ok_or(Error::BufferTooSmall)? = b;
            *pos += 1;
            Ok(())
        };
        put_u8(&mut pos, self.version)?;
        let mut uv = [0u8; uintvar::MAX_LEN];
        let mut put_uv = |pos: &mut usize, v: u32| -> Result<()> {
            let n = uintvar::write(v, &mut uv)?;
            for &b in uv.get(..n).unwrap_or(&[]) {
                put_u8(pos, b)?;
            }
            Ok(())
        };
        match self.public_id {
            PublicId::Known(id) => put_uv(&mut pos, id)?,
            PublicId::Literal(s) => {
                let idx = self.literal_index(s).ok_or(Error::BadValue)?;
                put_uv(&mut pos, 0)?;
                put_uv(&mut pos, idx)?;
            }
        }
        if self.version != 0 {
            put_uv(&mut pos, self.charset)?;
        }
        let tbl = u32::try_from(self.string_table.len()).map_err(|_| Error::BadLength)?;
        put_uv(&mut pos, tbl)?;
        for &b in self.string_table {
            put_u8(&mut pos, b)?;
        }
        Ok(pos)
    }

    /// First byte offset in the string table where `s` followed by NUL is found. References
    /// may point into the middle of a string (WBXML 1.3 §5.7 indexes by byte offset; a
    /// suffix is a string of its own), so every offset is tried, not only string starts.
    fn literal_index(&self, s: &[u8]) -> Option<u32> {
        let need = s.len().checked_add(1)?;
        self.string_table
            .windows(need)
            .position(|w| {
                w.split_last()
                    .is_some_and(|(&nul, text)| nul == 0 && text == s)
            })
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// The NUL-terminated string at byte offset `index` of a string table (WBXML 1.3 §5.7).
pub fn table_string(table: &[u8], index: u32) -> Result<&[u8]> {
    let start = usize::try_from(index).map_err(|_| Error::BadValue)?;
    let rest = table.get(start..).ok_or(Error::BadValue)?;
    let len = rest.iter().position(|&b| b == 0).ok_or(Error::BadValue)?;
    rest.get(..len).ok_or(Error::BadValue)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header `03 0B 6A 00` (06-oma-cp.md §3; research §5 vector).
    #[test]
    fn prov_header() {
        let bytes = [0x03, 0x0B, 0x6A, 0x00, 0x45];
        let (h, body) = Header::parse(&bytes).unwrap();
        assert_eq!(h, Header::PROV_UTF8);
        assert_eq!(body, 4);
        let mut out = [0u8; 4];
        assert_eq!(h.emit(&mut out), Ok(4));
        assert_eq!(out, bytes[..4]);
        assert_eq!(
            Header::PROV_UTF8.emit(&mut [0u8; 3]),
            Err(Error::BufferTooSmall)
        );
    }

    /// The string-table form xml2wbxml writes without `-n` (06-oma-cp.md §4): `05 "NAP1" 00`.
    #[test]
    fn header_with_string_table() {
        let bytes = [0x03, 0x0B, 0x6A, 0x05, b'N', b'A', b'P', b'1', 0x00, 0xC5];
        let (h, body) = Header::parse(&bytes).unwrap();
        assert_eq!(h.string_table, b"NAP1\0");
        assert_eq!(body, 9);
        assert_eq!(table_string(h.string_table, 0), Ok(&b"NAP1"[..]));
        assert_eq!(table_string(h.string_table, 5), Err(Error::BadValue));
    }

    /// Literal public id: `00` + index into the string table (WBXML 1.3 §5.5), and WBXML 1.0
    /// without a charset field.
    #[test]
    fn literal_public_id_and_v10() {
        let mut bytes = [0u8; 40];
        bytes[..4].copy_from_slice(&[0x00, 0x00, 0x00, 30]);
        bytes[4..33].copy_from_slice(PUBLIC_ID_PROV_STR.as_bytes());
        bytes[33] = 0;
        let (h, body) = Header::parse(&bytes).unwrap();
        assert_eq!(h.version, 0);
        assert_eq!(h.charset, 0);
        assert_eq!(
            h.public_id,
            PublicId::Literal(PUBLIC_ID_PROV_STR.as_bytes())
        );
        assert_eq!(body, 34);
        let mut out = [0u8; 34];
        assert_eq!(h.emit(&mut out), Ok(34));
        assert_eq!(out, bytes[..34]);
        assert_eq!(Header::parse(&bytes[..10]), Err(Error::Truncated));
    }

    /// Regression (found by the `wbxml` fuzz target): a literal public id whose index points
    /// into the middle of a table string (WBXML 1.3 §5.7: indexes are byte offsets) parsed
    /// but could not be emitted. Table `"UUU\0"`, index 2 → the literal `"U"`.
    #[test]
    fn literal_public_id_inside_a_string() {
        let bytes = [0x03, 0x00, 0x02, 0x6A, 0x04, b'U', b'U', b'U', 0x00];
        let (h, body) = Header::parse(&bytes).unwrap();
        assert_eq!(h.public_id, PublicId::Literal(b"U"));
        assert_eq!(body, 9);
        let mut out = [0u8; 9];
        assert_eq!(h.buffer_len(), 9);
        assert_eq!(h.emit(&mut out), Ok(9));
        assert_eq!(out, bytes);
        // An empty literal is found at the first NUL.
        let bytes = [0x03, 0x00, 0x03, 0x6A, 0x04, b'U', b'U', b'U', 0x00];
        let (h, _) = Header::parse(&bytes).unwrap();
        assert_eq!(h.public_id, PublicId::Literal(b""));
        assert_eq!(h.emit(&mut out), Ok(9));
        assert_eq!(out, bytes);
    }
}
