//! Streaming WBXML decoder for `wap-provisioningdoc` (WAP-192 WBXML 1.3 §5.8, PROV code pages
//! in [`super::tables`]).
//!
//! [`Decoder`] is an iterator of [`Event`]s over a borrowed document; nothing is copied. Attribute
//! values ([`AttrValue`]) are views of the WBXML value sequence: real encoders split one value
//! into several pieces — xml2wbxml turns `"Example APN"` into `STR_I "Example "` + token `APN`
//! (research `tools-on-these-machines.md` §5), attribute-start tokens may carry a value prefix,
//! and `STR_T` string-table references, entities and opaque data may appear. [`AttrValue::pieces`]
//! walks those pieces; [`AttrValue::write_to`] / [`AttrValue::eq_bytes`] work on the concatenated
//! text without allocating.
//!
//! Grammar accepted (WBXML 1.3 §5.3): header, `*pi element *pi`; `SWITCH_PAGE` in tag and
//! attribute state; tags `wap-provisioningdoc` / `characteristic` / `parm` on pages 0 and 1;
//! attribute starts by token or `LITERAL` naming `version`/`type`/`name`/`value`; attribute
//! values made of `STR_I`, `STR_T`, value tokens, `ENTITY`, `OPAQUE`, `EXT_*`; whitespace-only
//! text content between elements (kept by `xml2wbxml -k`); PIs are skipped; a `parm` directly
//! under the root (not allowed by the DTD) is reported, not refused. Anything else is a
//! [`DecodeError`] carrying the byte offset.

use super::tables::{self, AttrName, AttrStartEntry, AttrValueEntry, Element};
use super::token as t;
use super::{Header, PUBLIC_ID_PROV, PUBLIC_ID_PROV_STR, PUBLIC_ID_UNKNOWN, PublicId};
use crate::wire::Error;
use crate::wire::wsp::uintvar;

/// A decoding error with the byte offset (from the start of the document) where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// Offset of the offending byte.
    pub offset: usize,
    /// What was wrong.
    pub error: Error,
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        e.error
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} at offset {}", self.error, self.offset)
    }
}

impl core::error::Error for DecodeError {}

type DResult<T> = core::result::Result<T, DecodeError>;

const fn err(offset: usize, error: Error) -> DecodeError {
    DecodeError { offset, error }
}

/// One step of a provisioning document, in document order.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `<wap-provisioningdoc [version=…]>`.
    StartDocument {
        /// The `version` attribute (CP 1.1 documents say `"1.1"`).
        version: Option<AttrValue<'a>>,
    },
    /// `<characteristic type=…>`.
    StartCharacteristic {
        /// The `type` attribute (e.g. `NAPDEF`, `APPLICATION`).
        kind: AttrValue<'a>,
    },
    /// `<parm name=… [value=…]/>`.
    Parm {
        /// The `name` attribute.
        name: AttrValue<'a>,
        /// The `value` attribute, if present.
        value: Option<AttrValue<'a>>,
    },
    /// `</characteristic>` (also produced for an empty characteristic).
    EndCharacteristic,
    /// `</wap-provisioningdoc>`.
    EndDocument,
}

/// An extension piece in an attribute value (WBXML 1.3 §5.8.4.2); PROV defines none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension<'a> {
    /// `EXT_I_n` with its inline string.
    Inline(u8, &'a [u8]),
    /// `EXT_T_n` with its integer.
    Table(u8, u32),
    /// `EXT_n`.
    Single(u8),
}

/// One piece of an attribute value as it appears in the WBXML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The value prefix carried by the attribute-start token (e.g. `type="NAPDEF"` = `55`).
    StartToken(&'static AttrStartEntry),
    /// `STR_I` inline string.
    Inline(&'a [u8]),
    /// `STR_T` string-table reference: offset and the referenced string.
    Table {
        /// Byte offset into the string table.
        offset: u32,
        /// The string at that offset.
        text: &'a [u8],
    },
    /// Attribute-value token (e.g. `89` = `APN`).
    Token(&'static AttrValueEntry),
    /// `ENTITY`: a Unicode code point.
    Entity(u32),
    /// `OPAQUE` data.
    Opaque(&'a [u8]),
    /// `EXT_*` extension.
    Extension(Extension<'a>),
}

impl<'a> Piece<'a> {
    /// The text this piece stands for, when it is text (start/value tokens and strings).
    pub fn text(&self) -> Option<&'a [u8]> {
        match *self {
            Piece::StartToken(e) => e.value.map(str::as_bytes),
            Piece::Inline(s) | Piece::Table { text: s, .. } => Some(s),
            Piece::Token(e) => Some(e.text.as_bytes()),
            Piece::Entity(_) | Piece::Opaque(_) | Piece::Extension(_) => None,
        }
    }
}

/// A zero-copy attribute value: the start token's prefix plus the raw value tokens after it.
#[derive(Debug, Clone, Copy)]
pub struct AttrValue<'a> {
    start: &'static AttrStartEntry,
    raw: &'a [u8],
    page: u8,
    string_table: &'a [u8],
}

impl<'a> AttrValue<'a> {
    /// The attribute-start token this value began with.
    pub fn start_token(&self) -> &'static AttrStartEntry {
        self.start
    }

    /// The pieces of the value, in order.
    pub fn pieces(&self) -> Pieces<'a> {
        Pieces {
            prefix: self.start.value.map(|_| self.start),
            raw: self.raw,
            pos: 0,
            page: self.page,
            string_table: self.string_table,
        }
    }

    /// The concatenated value as bytes (entities as UTF-8, opaque data verbatim, extensions
    /// skipped).
    pub fn bytes(&self) -> Bytes<'a> {
        Bytes {
            pieces: self.pieces(),
            cur: &[],
            utf8: [0; 4],
            utf8_len: 0,
            utf8_pos: 0,
        }
    }

    /// True if any piece is an extension (such values have no plain-text form).
    pub fn has_extension(&self) -> bool {
        self.pieces().any(|p| matches!(p, Piece::Extension(_)))
    }

    /// Length of the concatenated value in bytes.
    pub fn len(&self) -> usize {
        self.bytes().count()
    }

    /// True if the value is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes().next().is_none()
    }

    /// True if the concatenated value equals `text` (false when it contains an extension).
    pub fn eq_bytes(&self, text: &[u8]) -> bool {
        !self.has_extension() && self.bytes().eq(text.iter().copied())
    }

    /// True if both values have the same text, however tokenised.
    pub fn text_eq(&self, other: &AttrValue<'_>) -> bool {
        !self.has_extension() && !other.has_extension() && self.bytes().eq(other.bytes())
    }

    /// Writes the concatenated value into `buf`; returns its length. [`Error::Unsupported`] for
    /// extensions, [`Error::BufferTooSmall`] when it does not fit.
    pub fn write_to(&self, buf: &mut [u8]) -> crate::wire::Result<usize> {
        if self.has_extension() {
            return Err(Error::Unsupported);
        }
        let mut n = 0;
        for b in self.bytes() {
            *buf.get_mut(n).ok_or(Error::BufferTooSmall)? = b;
            n += 1;
        }
        Ok(n)
    }

    /// The value as one borrowed slice when it is a single text piece (the common case).
    pub fn as_slice(&self) -> Option<&'a [u8]> {
        let mut it = self.pieces();
        let first = it.next();
        if it.next().is_some() {
            return None;
        }
        match first {
            None => Some(&[]),
            Some(p) => p.text(),
        }
    }

    /// The value token when the value is exactly one attribute-value token (e.g. `APN`).
    pub fn value_token(&self) -> Option<&'static AttrValueEntry> {
        let mut it = self.pieces();
        match (it.next(), it.next()) {
            (Some(Piece::Token(e)), None) => Some(e),
            _ => None,
        }
    }
}

/// Iterator over the [`Piece`]s of an [`AttrValue`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    prefix: Option<&'static AttrStartEntry>,
    raw: &'a [u8],
    pos: usize,
    page: u8,
    string_table: &'a [u8],
}

impl<'a> Pieces<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.raw.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn mb(&mut self) -> Option<u32> {
        let (v, n) = uintvar::read(self.raw.get(self.pos..)?).ok()?;
        self.pos += n;
        Some(v)
    }

    fn termstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.raw.get(self.pos..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        self.pos += len + 1;
        rest.get(..len)
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    // The span was validated by the decoder; a malformed span just ends the iteration.
    fn next(&mut self) -> Option<Piece<'a>> {
        if let Some(p) = self.prefix.take() {
            return Some(Piece::StartToken(p));
        }
        loop {
            let b = self.byte()?;
            return Some(match b {
                t::SWITCH_PAGE => {
                    self.page = self.byte()?;
                    continue;
                }
                t::STR_I => Piece::Inline(self.termstr()?),
                t::STR_T => {
                    let offset = self.mb()?;
                    Piece::Table {
                        offset,
                        text: super::table_string(self.string_table, offset).ok()?,
                    }
                }
                t::ENTITY => Piece::Entity(self.mb()?),
                t::OPAQUE => {
                    let len = usize::try_from(self.mb()?).ok()?;
                    let end = self.pos.checked_add(len)?;
                    let data = self.raw.get(self.pos..end)?;
                    self.pos = end;
                    Piece::Opaque(data)
                }
                t::EXT_I_0..=t::EXT_I_2 => {
                    Piece::Extension(Extension::Inline(b - t::EXT_I_0, self.termstr()?))
                }
                t::EXT_T_0..=t::EXT_T_2 => {
                    Piece::Extension(Extension::Table(b - t::EXT_T_0, self.mb()?))
                }
                t::EXT_0..=t::EXT_2 => Piece::Extension(Extension::Single(b - t::EXT_0)),
                _ if b >= 0x80 => Piece::Token(tables::attr_value(self.page, b)?),
                _ => return None,
            });
        }
    }
}

/// Iterator over the bytes of an [`AttrValue`]'s concatenated text.
#[derive(Debug, Clone)]
pub struct Bytes<'a> {
    pieces: Pieces<'a>,
    cur: &'a [u8],
    utf8: [u8; 4],
    utf8_len: u8,
    utf8_pos: u8,
}

impl Iterator for Bytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        loop {
            if self.utf8_pos < self.utf8_len {
                let b = self.utf8.get(usize::from(self.utf8_pos)).copied();
                self.utf8_pos += 1;
                return b;
            }
            if let Some((&b, rest)) = self.cur.split_first() {
                self.cur = rest;
                return Some(b);
            }
            match self.pieces.next()? {
                Piece::Entity(cp) => {
                    let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                    // Four bytes always hold one char's UTF-8 form.
                    self.utf8_len = c.encode_utf8(&mut self.utf8).len() as u8;
                    self.utf8_pos = 0;
                }
                Piece::Opaque(d) => self.cur = d,
                Piece::Extension(_) => {}
                p => self.cur = p.text().unwrap_or(&[]),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeRoot,
    Body,
    PendingEnd(Element),
    AfterRoot,
    Done,
}

#[derive(Default)]
struct Attrs<'a> {
    version: Option<AttrValue<'a>>,
    kind: Option<AttrValue<'a>>,
    name: Option<AttrValue<'a>>,
    value: Option<AttrValue<'a>>,
}

/// Streaming decoder: an iterator of `Result<Event, DecodeError>`; after an error it ends.
/// Cheap to copy, so a position can be remembered and resumed (see [`super::doc`]).
#[derive(Debug, Clone, Copy)]
pub struct Decoder<'a> {
    data: &'a [u8],
    header: Header<'a>,
    pos: usize,
    tag_page: u8,
    attr_page: u8,
    depth: usize,
    state: State,
}

impl<'a> Decoder<'a> {
    /// Parses the header and positions the decoder at the body. The public id must be PROV
    /// (`0x0B`), "unknown" (`0x01`), or the PROV identifier as a literal.
    pub fn new(data: &'a [u8]) -> DResult<Self> {
        let (header, body) = Header::parse(data).map_err(|e| err(0, e))?;
        let ok = match header.public_id {
            PublicId::Known(id) => id == PUBLIC_ID_PROV || id == PUBLIC_ID_UNKNOWN,
            PublicId::Literal(s) => s == PUBLIC_ID_PROV_STR.as_bytes(),
        };
        if !ok {
            return Err(err(1, Error::Unsupported));
        }
        Ok(Decoder {
            data,
            header,
            pos: body,
            tag_page: 0,
            attr_page: 0,
            depth: 0,
            state: State::BeforeRoot,
        })
    }

    /// The document header.
    pub fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// Offset of the next byte to decode.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn byte(&mut self) -> DResult<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(err(self.pos, Error::Truncated))?;
        self.pos += 1;
        Ok(b)
    }

    fn mb(&mut self) -> DResult<u32> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let (v, n) = uintvar::read(rest).map_err(|e| err(self.pos, e))?;
        self.pos += n;
        Ok(v)
    }

    fn termstr(&mut self) -> DResult<&'a [u8]> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(err(self.data.len(), Error::Truncated))?;
        self.pos += len + 1;
        Ok(rest.get(..len).unwrap_or(&[]))
    }

    fn table(&self, offset: usize, index: u32) -> DResult<&'a [u8]> {
        super::table_string(self.header.string_table, index).map_err(|e| err(offset, e))
    }

    /// Parses an attribute list up to and including its `END` (WBXML 1.3 §5.8.3).
    fn attrs(&mut self) -> DResult<Attrs<'a>> {
        let mut out = Attrs::default();
        // (attribute, start entry, value span start, page at span start, offset of start token)
        let mut cur: Option<(AttrName, &'static AttrStartEntry, usize, u8, usize)> = None;
        loop {
            let off = self.pos;
            let b = self.byte()?;
            let new_start: Option<&'static AttrStartEntry> = match b {
                t::SWITCH_PAGE => {
                    self.attr_page = self.byte()?;
                    continue;
                }
                t::END => None,
                t::LITERAL => {
                    let idx = self.mb()?;
                    let name = self.table(off, idx)?;
                    let attr = [
                        AttrName::Version,
                        AttrName::Type,
                        AttrName::Name,
                        AttrName::Value,
                    ]
                    .into_iter()
                    .find(|a| a.name().as_bytes() == name)
                    .ok_or(err(off, Error::Unsupported))?;
                    Some(tables::bare_attr_start(attr))
                }
                t::PI | t::LITERAL_C | t::LITERAL_A | t::LITERAL_AC => {
                    return Err(err(off, Error::BadTag));
                }
                _ => {
                    if b < 0x80 && !t::is_global(b) {
                        Some(tables::attr_start(self.attr_page, b).ok_or(err(off, Error::BadTag))?)
                    } else {
                        // A value piece: it must follow an attribute start.
                        if cur.is_none() {
                            return Err(err(off, Error::BadTag));
                        }
                        match b {
                            t::STR_I | t::EXT_I_0..=t::EXT_I_2 => {
                                self.termstr()?;
                            }
                            t::STR_T => {
                                let idx = self.mb()?;
                                self.table(off, idx)?;
                            }
                            t::ENTITY | t::EXT_T_0..=t::EXT_T_2 => {
                                self.mb()?;
                            }
                            t::OPAQUE => {
                                let len = usize::try_from(self.mb()?)
                                    .map_err(|_| err(off, Error::BadLength))?;
                                let end = self
                                    .pos
                                    .checked_add(len)
                                    .ok_or(err(off, Error::BadLength))?;
                                if end > self.data.len() {
                                    return Err(err(off, Error::Truncated));
                                }
                                self.pos = end;
                            }
                            t::EXT_0..=t::EXT_2 => {}
                            _ => {
                                tables::attr_value(self.attr_page, b)
                                    .ok_or(err(off, Error::BadTag))?;
                            }
                        }
                        continue;
                    }
                }
            };
            // An attribute start or END closes the current attribute.
            if let Some((attr, entry, span, page, start_off)) = cur.take() {
                let value = AttrValue {
                    start: entry,
                    raw: self.data.get(span..off).unwrap_or(&[]),
                    page,
                    string_table: self.header.string_table,
                };
                let slot = match attr {
                    AttrName::Version => &mut out.version,
                    AttrName::Type => &mut out.kind,
                    AttrName::Name => &mut out.name,
                    AttrName::Value => &mut out.value,
                };
                if slot.replace(value).is_some() {
                    return Err(err(start_off, Error::BadValue));
                }
            }
            match new_start {
                Some(e) => cur = Some((e.attr, e, self.pos, self.attr_page, off)),
                None => return Ok(out),
            }
        }
    }

    /// Skips a processing instruction (`PI attrStart *attrValue END`).
    fn skip_pi(&mut self) -> DResult<()> {
        self.attrs().map(|_| ())
    }

    /// Content that may sit between elements: whitespace-only strings.
    fn whitespace(&mut self, off: usize, b: u8) -> DResult<()> {
        let text = if b == t::STR_I {
            self.termstr()?
        } else {
            let idx = self.mb()?;
            self.table(off, idx)?
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            Ok(())
        } else {
            Err(err(off, Error::BadValue))
        }
    }

    /// Reads an element's tag token and attributes; returns (element, attributes, has content).
    fn element(&mut self, b: u8, off: usize) -> DResult<(Element, Attrs<'a>, bool)> {
        if matches!(b, t::LITERAL | t::LITERAL_A | t::LITERAL_C | t::LITERAL_AC) {
            return Err(err(off, Error::Unsupported));
        }
        if t::is_global(b) {
            return Err(err(off, Error::BadTag));
        }
        let entry = tables::tag(self.tag_page, b & 0x3F).ok_or(err(off, Error::BadTag))?;
        let attrs = if b & t::TAG_ATTRS != 0 {
            self.attrs()?
        } else {
            Attrs::default()
        };
        let allowed = match entry.element {
            Element::ProvisioningDoc => {
                attrs.kind.is_none() && attrs.name.is_none() && attrs.value.is_none()
            }
            Element::Characteristic => {
                attrs.kind.is_some()
                    && attrs.version.is_none()
                    && attrs.name.is_none()
                    && attrs.value.is_none()
            }
            Element::Parm => {
                attrs.name.is_some() && attrs.version.is_none() && attrs.kind.is_none()
            }
        };
        if !allowed {
            return Err(err(off, Error::BadValue));
        }
        Ok((entry.element, attrs, b & t::TAG_CONTENT != 0))
    }

    /// The content of a `parm` with the content flag: only whitespace/PIs, then `END`.
    fn empty_content(&mut self) -> DResult<()> {
        loop {
            let off = self.pos;
            match self.byte()? {
                t::END => return Ok(()),
                t::SWITCH_PAGE => self.tag_page = self.byte()?,
                t::PI => self.skip_pi()?,
                b @ (t::STR_I | t::STR_T) => self.whitespace(off, b)?,
                _ => return Err(err(off, Error::BadTag)),
            }
        }
    }

    fn step(&mut self) -> DResult<Option<Event<'a>>> {
        match self.state {
            State::Done => Ok(None),
            State::PendingEnd(Element::ProvisioningDoc) => {
                self.state = State::AfterRoot;
                Ok(Some(Event::EndDocument))
            }
            State::PendingEnd(_) => {
                self.state = State::Body;
                Ok(Some(Event::EndCharacteristic))
            }
            State::BeforeRoot => loop {
                let off = self.pos;
                match self.byte()? {
                    t::SWITCH_PAGE => self.tag_page = self.byte()?,
                    t::PI => self.skip_pi()?,
                    b => {
                        let (el, attrs, content) = self.element(b, off)?;
                        if el != Element::ProvisioningDoc {
                            return Err(err(off, Error::BadTag));
                        }
                        if content {
                            self.depth = 1;
                            self.state = State::Body;
                        } else {
                            self.state = State::PendingEnd(el);
                        }
                        return Ok(Some(Event::StartDocument {
                            version: attrs.version,
                        }));
                    }
                }
            },
            State::Body => loop {
                let off = self.pos;
                match self.byte()? {
                    t::SWITCH_PAGE => self.tag_page = self.byte()?,
                    t::PI => self.skip_pi()?,
                    t::END => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            self.state = State::AfterRoot;
                            return Ok(Some(Event::EndDocument));
                        }
                        return Ok(Some(Event::EndCharacteristic));
                    }
                    b @ (t::STR_I | t::STR_T) => self.whitespace(off, b)?,
                    t::ENTITY
                    | t::OPAQUE
                    | t::EXT_I_0..=t::EXT_I_2
                    | t::EXT_T_0..=t::EXT_T_2
                    | t::EXT_0..=t::EXT_2 => {
                        return Err(err(off, Error::BadTag));
                    }
                    b => {
                        let (el, attrs, content) = self.element(b, off)?;
                        match (el, attrs.kind, attrs.name) {
                            (Element::Characteristic, Some(kind), _) => {
                                if content {
                                    self.depth = self
                                        .depth
                                        .checked_add(1)
                                        .ok_or(err(off, Error::Unsupported))?;
                                } else {
                                    self.state = State::PendingEnd(el);
                                }
                                return Ok(Some(Event::StartCharacteristic { kind }));
                            }
                            (Element::Parm, _, Some(name)) => {
                                if content {
                                    self.empty_content()?;
                                }
                                return Ok(Some(Event::Parm {
                                    name,
                                    value: attrs.value,
                                }));
                            }
                            _ => return Err(err(off, Error::BadTag)),
                        }
                    }
                }
            },
            State::AfterRoot => loop {
                let off = self.pos;
                if off >= self.data.len() {
                    self.state = State::Done;
                    return Ok(None);
                }
                match self.byte()? {
                    t::PI => self.skip_pi()?,
                    _ => return Err(err(off, Error::TrailingData)),
                }
            },
        }
    }
}

impl<'a> Iterator for Decoder<'a> {
    type Item = DResult<Event<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::encode::tests::{DOC54, DOC151, arb_doc, emit_doc, lines};
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    fn wrap(body: &str) -> Vec<u8> {
        let mut v = unhex("03 0B 6A 00 45 C6 55 01");
        v.extend(unhex(body));
        v.extend([0x01, 0x01]);
        v
    }

    fn first_error(data: &[u8]) -> DecodeError {
        match Decoder::new(data) {
            Err(e) => e,
            Ok(d) => d
                .filter_map(core::result::Result::err)
                .next()
                .expect("an error"),
        }
    }

    const EXPECT151: &[&str] = &[
        "D Some(\"1.1\")",
        "C NAPDEF",
        "P NAPID=Some(\"NAP1\")",
        "P BEARER=Some(\"GSM-GPRS\")",
        "P NAME=Some(\"MMS\")",
        "P NAP-ADDRESS=Some(\"mms.example\")",
        "P NAP-ADDRTYPE=Some(\"APN\")",
        "C NAPAUTHINFO",
        "P AUTHTYPE=Some(\"PAP\")",
        "P AUTHNAME=Some(\"user\")",
        "P AUTHSECRET=Some(\"pass\")",
        "E",
        "E",
        "C APPLICATION",
        "P APPID=Some(\"w4\")",
        "P TO-NAPID=Some(\"NAP1\")",
        "P ADDR=Some(\"http://mmsc.example/mms\")",
        "E",
        "/D",
    ];

    /// The 54-byte xml2wbxml document (research §5) decodes to the XML it was compiled from.
    #[test]
    fn decode_doc54() {
        assert_eq!(
            lines(&unhex(DOC54)),
            [
                "D None",
                "C NAPDEF",
                "P NAPID=Some(\"NAP1\")",
                "P BEARER=Some(\"GSM-GPRS\")",
                "P NAME=Some(\"Test\")",
                "P NAP-ADDRESS=Some(\"internet\")",
                "P NAP-ADDRTYPE=Some(\"APN\")",
                "E",
                "/D"
            ]
        );
    }

    /// The 151-byte xml2wbxml document (06-oma-cp.md §4), and its string-table variant
    /// (xml2wbxml without `-n`: `05 "NAP1" 00` table, `83 00` at each use).
    #[test]
    fn decode_doc151_and_string_table() {
        let doc = unhex(DOC151);
        assert_eq!(lines(&doc), EXPECT151);
        let hex = DOC151.split_whitespace().collect::<String>();
        let with_table = hex
            .replacen("030B6A00", "030B6A054E41503100", 1)
            .replace("034E41503100", "8300");
        let bytes = unhex(&with_table);
        assert_eq!(bytes.len(), 151 + 5 - 2 * 4);
        assert_eq!(lines(&bytes), EXPECT151);
        let mut d = Decoder::new(&bytes).unwrap();
        d.next();
        d.next();
        match d.next() {
            Some(Ok(Event::Parm { value: Some(v), .. })) => {
                assert_eq!(
                    v.pieces().collect::<Vec<_>>(),
                    [Piece::Table {
                        offset: 0,
                        text: b"NAP1"
                    }]
                );
                assert_eq!(v.as_slice(), Some(&b"NAP1"[..]));
            }
            other => panic!("{other:?}"),
        }
    }

    /// libwbxml's substring tokenisation: `NAME="Example APN"` → `03 "Example " 00 89`
    /// (research §5 gotcha), and start-token prefixes (`type="PORTX"` → `53 03 "X" 00`).
    #[test]
    fn mixed_pieces() {
        let doc = wrap(
            "87 07 06 03 45 78 61 6D 70 6C 65 20 00 89 01  C6 53 03 58 00 01 87 07 03 46 4F 4F 00 01 01",
        );
        assert_eq!(
            lines(&doc),
            [
                "D None",
                "C NAPDEF",
                "P NAME=Some(\"Example APN\")",
                "C PORTX",
                "P NAMEFOO=None",
                "E",
                "E",
                "/D"
            ]
        );
        let mut d = Decoder::new(&doc).unwrap();
        d.next();
        d.next();
        let Some(Ok(Event::Parm {
            name,
            value: Some(v),
        })) = d.next()
        else {
            panic!()
        };
        assert_eq!(name.value_token(), None);
        assert_eq!(name.as_slice(), Some(&b"NAME"[..]));
        assert!(v.eq_bytes(b"Example APN"));
        assert!(!v.eq_bytes(b"Example AP"));
        assert_eq!(v.as_slice(), None);
        assert_eq!(v.len(), 11);
        let pieces: Vec<_> = v.pieces().collect();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], Piece::Inline(b"Example "));
        assert!(matches!(pieces[1], Piece::Token(e) if e.text == "APN"));
        let mut small = [0u8; 10];
        assert_eq!(v.write_to(&mut small), Err(Error::BufferTooSmall));
        let mut buf = [0u8; 11];
        assert_eq!(v.write_to(&mut buf), Ok(11));
        assert_eq!(&buf, b"Example APN");
    }

    /// Entities (UTF-8 out), opaque data, a literal attribute name from the string table, a
    /// page-1 characteristic tag, whitespace text content (`xml2wbxml -k`) and a PI are all read.
    #[test]
    fn other_constructs() {
        // string table: "name\0" at 0, "\n  \0" at 5
        let mut doc = unhex("03 0B 6A 09 6E 61 6D 65 00 0A 20 20 00  45  83 05");
        doc.extend(unhex("00 01 C6 00 00 55 01"));
        doc.extend(unhex("87 04 00 03 61 00 06 02 81 69 C3 02 62 63 01"));
        doc.extend(unhex(
            "03 20 0A 00  43 05 03 78 00 01  C7 05 03 7A 00 01 01",
        ));
        doc.extend(unhex("01 01 43 05 01"));
        assert_eq!(
            lines(&doc),
            [
                "D None",
                "C NAPDEF",
                "P a=Some(\"ébc\")",
                "P z=None",
                "E",
                "/D"
            ]
        );
    }

    /// An empty characteristic (`86`) and an empty document (`05`) produce start and end.
    #[test]
    fn empty_elements() {
        assert_eq!(
            lines(&unhex("03 0B 6A 00 45 86 56 01 01")),
            ["D None", "C BOOTSTRAP", "E", "/D"]
        );
        assert_eq!(lines(&unhex("03 0B 6A 00 05")), ["D None", "/D"]);
        // Public id "unknown" (01) and the PROV literal are accepted too.
        assert_eq!(lines(&unhex("03 01 6A 00 05")), ["D None", "/D"]);
    }

    /// Malformed input: error kind and the offset of the offending byte.
    #[test]
    fn errors_with_offsets() {
        let e = |s: &str| first_error(&unhex(s));
        // unknown tag token 08 at offset 5
        assert_eq!(
            e("03 0B 6A 00 45 08 01"),
            DecodeError {
                offset: 5,
                error: Error::BadTag
            }
        );
        // unknown attribute start 4D (gap in page 0) at offset 6
        assert_eq!(
            e("03 0B 6A 00 45 C6 4D 01 01 01"),
            DecodeError {
                offset: 6,
                error: Error::BadTag
            }
        );
        // value token 8D exists only on page 1
        assert_eq!(
            e("03 0B 6A 00 45 87 07 06 8D 01"),
            DecodeError {
                offset: 8,
                error: Error::BadTag
            }
        );
        // parm without name
        assert_eq!(
            e("03 0B 6A 00 45 C6 55 01 87 06 03 41 00 01 01 01"),
            DecodeError {
                offset: 8,
                error: Error::BadValue
            }
        );
        assert_eq!(
            e("03 0B 6A 00 45 C6 55 01 87 07 06 8D 01 01 01"),
            DecodeError {
                offset: 11,
                error: Error::BadTag
            }
        );
        // value piece without an attribute start
        assert_eq!(
            e("03 0B 6A 00 45 C6 03 41 00 01 01 01"),
            DecodeError {
                offset: 6,
                error: Error::BadTag
            }
        );
        // characteristic without type
        assert_eq!(
            e("03 0B 6A 00 45 46 01 01"),
            DecodeError {
                offset: 5,
                error: Error::BadValue
            }
        );
        // truncated inside an inline string, and at the end
        assert_eq!(
            e("03 0B 6A 00 45 C6 50 03 41"),
            DecodeError {
                offset: 9,
                error: Error::Truncated
            }
        );
        assert_eq!(
            e("03 0B 6A 00 45 C6 55 01"),
            DecodeError {
                offset: 8,
                error: Error::Truncated
            }
        );
        // trailing data after the root
        assert_eq!(
            e("03 0B 6A 00 05 01"),
            DecodeError {
                offset: 5,
                error: Error::TrailingData
            }
        );
        // other public id, STR_T outside the table, non-whitespace text content, root not PROV
        assert_eq!(
            e("03 02 6A 00 05"),
            DecodeError {
                offset: 1,
                error: Error::Unsupported
            }
        );
        assert_eq!(
            e("03 0B 6A 00 45 C6 50 83 05 01 01 01"),
            DecodeError {
                offset: 7,
                error: Error::BadValue
            }
        );
        assert_eq!(
            e("03 0B 6A 00 45 03 41 00 01"),
            DecodeError {
                offset: 5,
                error: Error::BadValue
            }
        );
        assert_eq!(
            e("03 0B 6A 00 C6 55 01 01"),
            DecodeError {
                offset: 4,
                error: Error::BadTag
            }
        );
        // a literal tag (unknown element)
        assert_eq!(
            e("03 0B 6A 02 78 00 04 00"),
            DecodeError {
                offset: 6,
                error: Error::Unsupported
            }
        );
        // duplicate attribute
        assert_eq!(
            e("03 0B 6A 00 45 C6 55 55 01 01 01"),
            DecodeError {
                offset: 7,
                error: Error::BadValue
            }
        );
        // header truncated
        assert_eq!(
            e("03 0B"),
            DecodeError {
                offset: 0,
                error: Error::Truncated
            }
        );
    }

    fn exercise(data: &[u8]) {
        if let Ok(d) = Decoder::new(data) {
            for ev in d.take(10_000) {
                let Ok(ev) = ev else { break };
                let vals = match ev {
                    Event::StartDocument { version } => [version, None],
                    Event::StartCharacteristic { kind } => [Some(kind), None],
                    Event::Parm { name, value } => [Some(name), value],
                    _ => [None, None],
                };
                for v in vals.into_iter().flatten() {
                    let mut buf = [0u8; 64];
                    let _ = v.write_to(&mut buf);
                    let _ = (v.len(), v.as_slice(), v.value_token(), v.eq_bytes(b"APN"));
                    let _ = v.pieces().count();
                }
            }
        }
        if let Ok(doc) = super::super::ProvisioningDoc::parse(data) {
            let _ = doc.napdefs().count();
            let _ = doc.mms_application().map(|a| a.addr.map(|v| v.len()));
            let mut k = [0u8; 32];
            let _ = doc.device_key().map(|k2| k2.write_key(&mut k));
        }
    }

    proptest! {
        /// Random bytes never panic the decoder (or the typed view).
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            exercise(&bytes);
            let mut with_header = unhex("03 0B 6A 00");
            with_header.extend(&bytes);
            exercise(&with_header);
        }

        /// Mutated valid documents never panic either (reaches deeper states).
        #[test]
        fn mutated_docs_never_panic(flips in proptest::collection::vec((0usize..151, any::<u8>()), 1..6), cut in 0usize..160) {
            let mut doc = unhex(DOC151);
            for (i, b) in flips {
                doc[i] = b;
            }
            doc.truncate(cut.max(4));
            exercise(&doc);
        }

        /// Whatever the encoder writes decodes without error.
        #[test]
        fn encoder_output_decodes((version, top) in arb_doc()) {
            let bytes = emit_doc(version.as_deref(), &top);
            prop_assert!(Decoder::new(&bytes).unwrap().all(|e| e.is_ok()));
            prop_assert!(super::super::ProvisioningDoc::parse(&bytes).is_ok());
        }
    }
}
