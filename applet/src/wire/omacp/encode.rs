//! WBXML encoder for `wap-provisioningdoc` into a caller buffer (WAP-192 WBXML 1.3, PROV code
//! pages of [`super::tables`]).
//!
//! # Tokenisation (deterministic)
//!
//! - Header `03 0B 6A 00`: WBXML 1.3, PROV public id, UTF-8, no string table (strings inline).
//! - Tags on code page 0; the content flag is set only when the element has children (an empty
//!   characteristic is written `86 … 01` without `END` for content, as xml2wbxml does).
//! - Attribute start: the first table entry (page 0 before page 1, libwbxml order) whose value
//!   equals the attribute value **exactly** (`type="NAPDEF"` → `55`, `name="ADDR"` →
//!   `SWITCH_PAGE 1, 34`); otherwise the bare start (`50` type=, `05` name=, `06` value=,
//!   `45` version=) followed by the value.
//! - Value after a bare start: a single attribute-value token if the value equals a token's text
//!   exactly (`"APN"` → `89`, `"GSM-GPRS"` → `AB`), else one `STR_I` with the whole value. An
//!   empty value writes no value piece.
//! - `SWITCH_PAGE` is written before a token whose page differs from the current attribute page
//!   (the page persists across elements).
//!
//! This reproduces xml2wbxml (libwbxml 0.11.8) output whenever no value *contains* a token text
//! as a proper substring or prefix: libwbxml additionally splits values on value-token substrings
//! (`"Example APN"` → `STR_I "Example "`, `89`) and on start-token prefixes (`type="PORTX"` →
//! `53`, `STR_I "X"`). We do not, so our output stays simple and independent of table growth;
//! every decoder (ours, wbxml2xml) reads both forms to the same text.

use super::tables::{self, AttrName, Element};
use super::{Header, token as t};
use crate::wire::{Error, Result};

/// Builds a provisioning document into a borrowed buffer.
///
/// ```
/// # use applet::wire::omacp::Encoder;
/// let mut buf = [0u8; 64];
/// let mut e = Encoder::new(&mut buf);
/// e.start_document(None)?;
/// e.start_characteristic("NAPDEF")?;
/// e.parm("NAP-ADDRESS", Some("internet"))?;
/// e.parm("NAP-ADDRTYPE", Some("APN"))?;
/// e.end_characteristic()?;
/// let n = e.finish()?;
/// assert_eq!(&buf[..n], &[0x03, 0x0B, 0x6A, 0x00, 0x45, 0xC6, 0x55, 0x01,
///     0x87, 0x08, 0x06, 0x03, b'i', b'n', b't', b'e', b'r', b'n', b'e', b't', 0x00, 0x01,
///     0x87, 0x09, 0x06, 0x89, 0x01, 0x01, 0x01]);
/// # Ok::<(), applet::wire::Error>(())
/// ```
#[derive(Debug)]
pub struct Encoder<'b> {
    buf: &'b mut [u8],
    pos: usize,
    attr_page: u8,
    /// Open elements with content (root = 1).
    depth: usize,
    /// Offset of the tag byte of the element opened last, while it has no children yet.
    childless: Option<usize>,
    started: bool,
}

impl<'b> Encoder<'b> {
    /// A new encoder writing at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Encoder {
            buf,
            pos: 0,
            attr_page: 0,
            depth: 0,
            childless: None,
            started: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True before anything was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn attr_token(&mut self, page: u8, token: u8) -> Result<()> {
        if page != self.attr_page {
            self.put(&[t::SWITCH_PAGE, page])?;
            self.attr_page = page;
        }
        self.put(&[token])
    }

    fn attr(&mut self, attr: AttrName, value: &str) -> Result<()> {
        self.attr_bytes(attr, value.as_bytes())
    }

    fn attr_bytes(&mut self, attr: AttrName, v: &[u8]) -> Result<()> {
        if v.contains(&0) {
            return Err(Error::BadValue);
        }
        let start = tables::attr_start_for(attr, v);
        self.attr_token(start.page, start.token)?;
        if start.value.is_some() || v.is_empty() {
            return Ok(());
        }
        match tables::attr_value_for(v) {
            Some(tok) => self.attr_token(tok.page, tok.token),
            None => {
                self.put(&[t::STR_I])?;
                self.put(v)?;
                self.put(&[0])
            }
        }
    }

    /// Writes a tag with attributes and (provisionally) content; the caller writes the
    /// attributes and `END`.
    fn open(&mut self, element: Element) -> Result<()> {
        if self.depth == 0 {
            return Err(Error::BadValue);
        }
        self.childless = None;
        let token = match element {
            Element::ProvisioningDoc => 0x05,
            Element::Characteristic => 0x06,
            Element::Parm => 0x07,
        };
        self.put(&[token
            | t::TAG_ATTRS
            | if element == Element::Parm {
                0
            } else {
                t::TAG_CONTENT
            }])
    }

    /// Runs `f`; on error, restores the encoder so a failed call writes nothing.
    fn txn(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let saved = (
            self.pos,
            self.attr_page,
            self.depth,
            self.childless,
            self.started,
        );
        let r = f(self);
        if r.is_err() {
            (
                self.pos,
                self.attr_page,
                self.depth,
                self.childless,
                self.started,
            ) = saved;
        }
        r
    }

    /// Writes the header and `<wap-provisioningdoc [version=…]>`.
    pub fn start_document(&mut self, version: Option<&str>) -> Result<()> {
        self.txn(|e| e.start_document_inner(version))
    }

    fn start_document_inner(&mut self, version: Option<&str>) -> Result<()> {
        if self.started {
            return Err(Error::BadValue);
        }
        self.started = true;
        let n =
            Header::PROV_UTF8.emit(self.buf.get_mut(self.pos..).ok_or(Error::BufferTooSmall)?)?;
        self.pos += n;
        let tag_at = self.pos;
        match version {
            Some(v) => {
                self.put(&[0x05 | t::TAG_ATTRS | t::TAG_CONTENT])?;
                self.attr(AttrName::Version, v)?;
                self.put(&[t::END])?;
            }
            None => self.put(&[0x05 | t::TAG_CONTENT])?,
        }
        self.depth = 1;
        self.childless = Some(tag_at);
        Ok(())
    }

    /// Writes `<characteristic type=…>`; close it with [`Encoder::end_characteristic`].
    pub fn start_characteristic(&mut self, kind: &str) -> Result<()> {
        self.txn(|e| e.start_characteristic_inner(kind))
    }

    fn start_characteristic_inner(&mut self, kind: &str) -> Result<()> {
        let tag_at = self.pos;
        self.open(Element::Characteristic)?;
        self.attr(AttrName::Type, kind)?;
        self.put(&[t::END])?;
        self.depth += 1;
        self.childless = Some(tag_at);
        Ok(())
    }

    /// Writes `<parm name=… [value=…]/>`.
    pub fn parm(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        self.txn(|e| e.parm_inner(name, value))
    }

    fn parm_inner(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        if self.depth < 2 {
            // PROV: parm only inside a characteristic.
            return Err(Error::BadValue);
        }
        self.open(Element::Parm)?;
        self.attr(AttrName::Name, name)?;
        if let Some(v) = value {
            self.attr(AttrName::Value, v)?;
        }
        self.put(&[t::END])
    }

    fn parm_bytes(&mut self, name: &[u8], value: &[u8]) -> Result<()> {
        self.open(Element::Parm)?;
        self.attr_bytes(AttrName::Name, name)?;
        self.attr_bytes(AttrName::Value, value)?;
        self.put(&[t::END])
    }

    /// Closes the innermost characteristic.
    pub fn end_characteristic(&mut self) -> Result<()> {
        self.txn(|e| e.end_characteristic_inner())
    }

    fn end_characteristic_inner(&mut self) -> Result<()> {
        if self.depth < 2 {
            return Err(Error::BadValue);
        }
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        match self.childless.take() {
            // No children: clear the content flag instead of writing an END for content.
            Some(at) => {
                let b = self.buf.get_mut(at).ok_or(Error::BufferTooSmall)?;
                *b &= !t::TAG_CONTENT;
            }
            None => self.put(&[t::END])?,
        }
        self.depth -= 1;
        Ok(())
    }

    /// Closes every open characteristic and the document; returns the document length.
    pub fn finish(mut self) -> Result<usize> {
        if self.depth == 0 {
            return Err(Error::BadValue);
        }
        while self.depth > 0 {
            self.close()?;
        }
        Ok(self.pos)
    }

    /// Writes this project's device-key characteristic (see [`super::doc::DeviceKey`]):
    /// `<characteristic type="VENDORCONFIG"><parm name="NAME" value="imeitrack"/>
    /// <parm name="DEVKEY" value="<upper-case hex of key>"/></characteristic>`.
    pub fn device_key(&mut self, key: &[u8]) -> Result<()> {
        self.txn(|e| e.device_key_inner(key))
    }

    fn device_key_inner(&mut self, key: &[u8]) -> Result<()> {
        self.start_characteristic("VENDORCONFIG")?;
        self.parm("NAME", Some(super::doc::VENDOR_NAME))?;
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut short = [0u8; 32];
        if key.len() <= short.len() / 2 {
            // Short keys go through the normal value rule (a 2-byte key could spell "E164").
            for (pair, b) in short.chunks_exact_mut(2).zip(key) {
                if let [hi, lo] = pair {
                    *hi = HEX[usize::from(b >> 4)];
                    *lo = HEX[usize::from(b & 0x0F)];
                }
            }
            let text = short.get(..2 * key.len()).ok_or(Error::BufferTooSmall)?;
            return self
                .parm_bytes(super::doc::DEVKEY_PARM.as_bytes(), text)
                .and_then(|()| self.end_characteristic());
        }
        // Longer than any token text: one STR_I written piecewise, no key-sized buffer needed.
        self.open(Element::Parm)?;
        self.attr(AttrName::Name, super::doc::DEVKEY_PARM)?;
        let v = tables::bare_attr_start(AttrName::Value);
        self.attr_token(v.page, v.token)?;
        self.put(&[t::STR_I])?;
        for b in key {
            self.put(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]])?;
        }
        self.put(&[0])?;
        self.put(&[t::END])?;
        self.end_characteristic()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::super::decode::{AttrValue, Decoder, Event};
    use super::super::tables::{ATTR_STARTS, ATTR_VALUES};
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// The 54-byte NAPDEF document compiled by `xml2wbxml` (research
    /// `tools-on-these-machines.md` §5).
    pub(crate) const DOC54: &str = "030b6a0045c65501871106034e4150310001871006ab018707060354657374000187080603696e7465726e6574000187090689010101";

    /// The 151-byte document of `/work/shared/spec/06-oma-cp.md` §4 (`xml2wbxml -n`, libwbxml
    /// 0.11.8): NAPDEF with NAPAUTHINFO, APPLICATION w4, page switches for APPLICATION/APPID/ADDR.
    pub(crate) const DOC151: &str = "03 0B 6A 00 C5 45 03 31 2E 31 00 01 C6 55 01
        87 11 06 03 4E 41 50 31 00 01 87 10 06 AB 01 87 07 06 03 4D 4D 53 00 01
        87 08 06 03 6D 6D 73 2E 65 78 61 6D 70 6C 65 00 01 87 09 06 89 01
        C6 5A 01 87 0C 06 9A 01 87 0D 06 03 75 73 65 72 00 01 87 0E 06 03 70 61 73 73 00 01 01 01
        C6 00 01 55 01 87 36 00 00 06 03 77 34 00 01 87 22 06 03 4E 41 50 31 00 01
        87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C 65 2F 6D 6D 73 00 01
        01 01";

    /// The same document as 06-oma-cp.md §4, built with the encoder.
    pub(crate) fn build151(buf: &mut [u8]) -> Result<usize> {
        let mut e = Encoder::new(buf);
        e.start_document(Some("1.1"))?;
        e.start_characteristic("NAPDEF")?;
        e.parm("NAPID", Some("NAP1"))?;
        e.parm("BEARER", Some("GSM-GPRS"))?;
        e.parm("NAME", Some("MMS"))?;
        e.parm("NAP-ADDRESS", Some("mms.example"))?;
        e.parm("NAP-ADDRTYPE", Some("APN"))?;
        e.start_characteristic("NAPAUTHINFO")?;
        e.parm("AUTHTYPE", Some("PAP"))?;
        e.parm("AUTHNAME", Some("user"))?;
        e.parm("AUTHSECRET", Some("pass"))?;
        e.end_characteristic()?;
        e.end_characteristic()?;
        e.start_characteristic("APPLICATION")?;
        e.parm("APPID", Some("w4"))?;
        e.parm("TO-NAPID", Some("NAP1"))?;
        e.parm("ADDR", Some("http://mmsc.example/mms"))?;
        e.end_characteristic()?;
        e.finish()
    }

    #[test]
    fn doc54_byte_exact() {
        let mut buf = [0u8; 64];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        e.start_characteristic("NAPDEF").unwrap();
        e.parm("NAPID", Some("NAP1")).unwrap();
        e.parm("BEARER", Some("GSM-GPRS")).unwrap();
        e.parm("NAME", Some("Test")).unwrap();
        e.parm("NAP-ADDRESS", Some("internet")).unwrap();
        e.parm("NAP-ADDRTYPE", Some("APN")).unwrap();
        e.end_characteristic().unwrap();
        let n = e.finish().unwrap();
        assert_eq!(n, 54);
        assert_eq!(&buf[..n], &unhex(DOC54)[..]);
    }

    #[test]
    fn doc151_byte_exact() {
        let mut buf = [0u8; 160];
        let n = build151(&mut buf).unwrap();
        assert_eq!(n, 151);
        assert_eq!(&buf[..n], &unhex(DOC151)[..]);
        // Every shorter buffer is refused, never overrun.
        for len in 0..151 {
            let mut small = std::vec![0u8; len];
            assert_eq!(
                build151(&mut small),
                Err(Error::BufferTooSmall),
                "len {len}"
            );
        }
    }

    /// The research-note golden vector (`crates.md` §5, `xml2wbxml -v 1.3 -n`): version="1.0"
    /// is the start token `46`.
    #[test]
    fn version_10_token() {
        let expect = unhex(
            "03 0B 6A 00 C5 46 01 C6 55 01
             87 11 06 03 49 4E 54 45 52 4E 45 54 00 01
             87 08 06 03 69 6E 74 65 72 6E 65 74 2E 65 78 61 6D 70 6C 65 00 01
             87 09 06 89 01 01 01",
        );
        let mut buf = [0u8; 80];
        let mut e = Encoder::new(&mut buf);
        e.start_document(Some("1.0")).unwrap();
        e.start_characteristic("NAPDEF").unwrap();
        e.parm("NAPID", Some("INTERNET")).unwrap();
        e.parm("NAP-ADDRESS", Some("internet.example")).unwrap();
        e.parm("NAP-ADDRTYPE", Some("APN")).unwrap();
        e.end_characteristic().unwrap();
        let n = e.finish().unwrap();
        assert_eq!(&buf[..n], &expect[..]);
    }

    /// The VENDORCONFIG device-key characteristic of 06-oma-cp.md §5.
    #[test]
    fn device_key_vector() {
        let expect = unhex(
            "C6 57 01
             87 07 06 03 69 6D 65 69 74 72 61 63 6B 00 01
             87 05 03 44 45 56 4B 45 59 00 06 03 30 30 31 31 32 32 33 33 00 01
             01",
        );
        let mut buf = [0u8; 64];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        e.device_key(&[0x00, 0x11, 0x22, 0x33]).unwrap();
        let n = e.finish().unwrap();
        assert_eq!(&buf[5..n - 1], &expect[..]);
        // A long key takes the piecewise path and reads back the same.
        let key: Vec<u8> = (0..40u8).collect();
        let mut buf = [0u8; 160];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        e.device_key(&key).unwrap();
        let n = e.finish().unwrap();
        let doc = super::super::ProvisioningDoc::parse(&buf[..n]).unwrap();
        let mut out = [0u8; 64];
        let k = doc.device_key().unwrap().write_key(&mut out).unwrap();
        assert_eq!(&out[..k], &key[..]);
        // A 2-byte key spelling a value token follows the exact-token rule.
        let mut buf = [0u8; 64];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        e.device_key(&[0xE1, 0x64]).unwrap();
        let n = e.finish().unwrap();
        assert_eq!(&buf[n - 6..n], &[0x00, 0x06, 0x87, 0x01, 0x01, 0x01][..]);
    }

    /// Empty elements clear the content flag (`45` → `05`, `C6` → `86`), as xml2wbxml writes.
    #[test]
    fn empty_elements_and_misuse() {
        let mut buf = [0u8; 32];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        assert_eq!(e.parm("NAPID", None), Err(Error::BadValue));
        assert_eq!(e.end_characteristic(), Err(Error::BadValue));
        e.start_characteristic("BOOTSTRAP").unwrap();
        e.end_characteristic().unwrap();
        e.start_characteristic("X").unwrap();
        // A failed call leaves nothing behind.
        assert_eq!(e.parm("A\0", None), Err(Error::BadValue));
        let n = e.finish().unwrap();
        assert_eq!(
            &buf[..n],
            &unhex("03 0B 6A 00 45 86 56 01 86 50 03 58 00 01 01")[..]
        );
        let mut buf = [0u8; 8];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        assert_eq!(e.start_document(None), Err(Error::BadValue));
        assert_eq!(e.finish(), Ok(5));
        assert_eq!(buf[4], 0x05);
        let mut e = Encoder::new(&mut buf);
        assert!(e.is_empty());
        assert_eq!(e.start_characteristic("NAPDEF"), Err(Error::BadValue));
    }

    // ---- property tests ------------------------------------------------------------------

    #[derive(Debug, Clone)]
    pub(crate) enum Node {
        Char(String, Vec<Node>),
        Parm(String, Option<String>),
    }

    fn text() -> impl Strategy<Value = String> {
        let tokens: Vec<String> = ATTR_VALUES
            .iter()
            .map(|v| String::from(v.text))
            .chain(ATTR_STARTS.iter().filter_map(|a| a.value.map(String::from)))
            .collect();
        prop_oneof![
            proptest::sample::select(tokens),
            "[ -~]{0,12}",
            "[^\u{0}]{0,6}",
        ]
    }

    pub(crate) fn node() -> impl Strategy<Value = Node> {
        let parm = (text(), proptest::option::of(text())).prop_map(|(n, v)| Node::Parm(n, v));
        parm.prop_recursive(3, 24, 6, |inner| {
            (text(), proptest::collection::vec(inner, 0..6)).prop_map(|(t, c)| Node::Char(t, c))
        })
    }

    pub(crate) fn arb_doc() -> impl Strategy<Value = (Option<String>, Vec<(String, Vec<Node>)>)> {
        (
            proptest::option::of(text()),
            proptest::collection::vec((text(), proptest::collection::vec(node(), 0..5)), 0..4),
        )
    }

    fn emit_node(e: &mut Encoder<'_>, n: &Node) -> Result<()> {
        match n {
            Node::Parm(name, value) => e.parm(name, value.as_deref()),
            Node::Char(kind, children) => {
                e.start_characteristic(kind)?;
                for c in children {
                    emit_node(e, c)?;
                }
                e.end_characteristic()
            }
        }
    }

    pub(crate) fn emit_doc(version: Option<&str>, top: &[(String, Vec<Node>)]) -> Vec<u8> {
        let mut buf = std::vec![0u8; 64 * 1024];
        let mut e = Encoder::new(&mut buf);
        e.start_document(version).unwrap();
        for (kind, children) in top {
            e.start_characteristic(kind).unwrap();
            for c in children {
                emit_node(&mut e, c).unwrap();
            }
            e.end_characteristic().unwrap();
        }
        let n = e.finish().unwrap();
        buf.truncate(n);
        buf
    }

    fn s(v: &AttrValue<'_>) -> String {
        let mut out = std::vec![0u8; v.len()];
        let n = v.write_to(&mut out).unwrap();
        assert_eq!(n, out.len());
        String::from_utf8(out).unwrap()
    }

    /// Events as text lines: `D version`, `C type`, `P name=value`, `E`, `/D`.
    pub(crate) fn lines(data: &[u8]) -> Vec<String> {
        Decoder::new(data)
            .unwrap()
            .map(|ev| match ev.unwrap() {
                Event::StartDocument { version } => std::format!("D {:?}", version.as_ref().map(s)),
                Event::StartCharacteristic { kind } => std::format!("C {}", s(&kind)),
                Event::Parm { name, value } => {
                    std::format!("P {}={:?}", s(&name), value.as_ref().map(s))
                }
                Event::EndCharacteristic => String::from("E"),
                Event::EndDocument => String::from("/D"),
            })
            .collect()
    }

    fn expect_node(n: &Node, out: &mut Vec<String>) {
        match n {
            Node::Parm(name, value) => out.push(std::format!("P {name}={value:?}")),
            Node::Char(kind, children) => {
                out.push(std::format!("C {kind}"));
                children.iter().for_each(|c| expect_node(c, out));
                out.push(String::from("E"));
            }
        }
    }

    proptest! {
        /// parse(emit(doc)) == doc, and emit(parse(bytes)) == bytes for encoder output.
        #[test]
        fn roundtrip((version, top) in arb_doc()) {
            let bytes = emit_doc(version.as_deref(), &top);
            let mut expect = std::vec![std::format!("D {version:?}")];
            for (kind, children) in &top {
                expect.push(std::format!("C {kind}"));
                children.iter().for_each(|c| expect_node(c, &mut expect));
                expect.push(String::from("E"));
            }
            expect.push(String::from("/D"));
            let got = lines(&bytes);
            prop_assert_eq!(&got, &expect);
            // Re-encode from the decoded events: the same bytes.
            let mut buf = std::vec![0u8; bytes.len()];
            let mut e = Encoder::new(&mut buf);
            for ev in Decoder::new(&bytes).unwrap() {
                match ev.unwrap() {
                    Event::StartDocument { version } => e.start_document(version.as_ref().map(s).as_deref()).unwrap(),
                    Event::StartCharacteristic { kind } => e.start_characteristic(&s(&kind)).unwrap(),
                    Event::Parm { name, value } => e.parm(&s(&name), value.as_ref().map(s).as_deref()).unwrap(),
                    Event::EndCharacteristic => e.end_characteristic().unwrap(),
                    Event::EndDocument => {}
                }
            }
            let n = e.finish().unwrap();
            prop_assert_eq!(&buf[..n], &bytes[..]);
        }
    }
}
