//! Typed, zero-copy look-ups in a validated provisioning document (OMA ProvCont 1.1 §5–§6;
//! `/work/shared/spec/06-oma-cp.md` §4–§5).
//!
//! [`ProvisioningDoc::parse`] runs the [`Decoder`] over the whole document once; afterwards
//! [`Characteristic`] views re-walk it from remembered decoder positions, so nothing is copied
//! or allocated.
//!
//! # Device key (project convention)
//!
//! CP has no standard parameter for an arbitrary key. This project carries it in a
//! `VENDORCONFIG` characteristic (PROV 1.0/1.1 type token `57`) identified by
//! `parm name="NAME" value="imeitrack"` ([`VENDOR_NAME`]), with the key as upper-case hex in a
//! non-tokenised `parm name="DEVKEY"` ([`DEVKEY_PARM`]):
//!
//! ```xml
//! <characteristic type="VENDORCONFIG">
//!   <parm name="NAME" value="imeitrack"/>
//!   <parm name="DEVKEY" value="00112233"/>
//! </characteristic>
//! ```
//!
//! wbxml2xml and tshark accept it (06-oma-cp.md §5). Whether real handsets ignore unknown
//! VENDORCONFIG parameters is UNVERIFIED.

use super::Header;
use super::decode::{AttrValue, DecodeError, Decoder, Event};
use crate::wire::Error;

/// `NAME` value of the VENDORCONFIG characteristic that carries the device key.
pub const VENDOR_NAME: &str = "imeitrack";
/// Parm name of the device key (value: upper-case hex).
pub const DEVKEY_PARM: &str = "DEVKEY";
/// APPID of the MMS application (OMA registered application id `w4`).
pub const APPID_MMS: &str = "w4";

/// A `parm` of a characteristic.
#[derive(Debug, Clone, Copy)]
pub struct Parm<'a> {
    /// `name`.
    pub name: AttrValue<'a>,
    /// `value`, if present.
    pub value: Option<AttrValue<'a>>,
}

/// A `characteristic` and a position from which its children can be walked.
#[derive(Debug, Clone, Copy)]
pub struct Characteristic<'a> {
    kind: AttrValue<'a>,
    /// Decoder positioned just after this characteristic's start.
    inside: Decoder<'a>,
}

impl<'a> Characteristic<'a> {
    /// The `type` attribute.
    pub fn kind(&self) -> AttrValue<'a> {
        self.kind
    }

    /// True if the type equals `kind` (e.g. `"NAPDEF"`).
    pub fn is(&self, kind: &str) -> bool {
        self.kind.eq_bytes(kind.as_bytes())
    }

    /// The direct child `parm`s.
    pub fn parms(&self) -> Parms<'a> {
        Parms {
            dec: self.inside,
            nested: 0,
            done: false,
        }
    }

    /// The direct child characteristics.
    pub fn children(&self) -> Characteristics<'a> {
        Characteristics {
            dec: self.inside,
            nested: 0,
            done: false,
        }
    }

    /// The first direct parm named `name`.
    pub fn parm(&self, name: &str) -> Option<Parm<'a>> {
        self.parms().find(|p| p.name.eq_bytes(name.as_bytes()))
    }

    /// The value of the first direct parm named `name` (`None` if absent or valueless).
    pub fn value(&self, name: &str) -> Option<AttrValue<'a>> {
        self.parm(name).and_then(|p| p.value)
    }

    /// The first direct child characteristic of type `kind`.
    pub fn child(&self, kind: &str) -> Option<Characteristic<'a>> {
        self.children().find(|c| c.is(kind))
    }
}

/// Iterator over the direct child parms of a characteristic.
#[derive(Debug, Clone)]
pub struct Parms<'a> {
    dec: Decoder<'a>,
    nested: usize,
    done: bool,
}

impl<'a> Iterator for Parms<'a> {
    type Item = Parm<'a>;

    fn next(&mut self) -> Option<Parm<'a>> {
        while !self.done {
            match self.dec.next() {
                Some(Ok(Event::Parm { name, value })) if self.nested == 0 => {
                    return Some(Parm { name, value });
                }
                Some(Ok(Event::StartCharacteristic { .. })) => self.nested += 1,
                Some(Ok(Event::EndCharacteristic)) if self.nested > 0 => self.nested -= 1,
                Some(Ok(Event::Parm { .. })) => {}
                _ => self.done = true,
            }
        }
        None
    }
}

/// Iterator over the direct child characteristics of a characteristic or the document.
#[derive(Debug, Clone)]
pub struct Characteristics<'a> {
    dec: Decoder<'a>,
    nested: usize,
    done: bool,
}

impl<'a> Iterator for Characteristics<'a> {
    type Item = Characteristic<'a>;

    fn next(&mut self) -> Option<Characteristic<'a>> {
        while !self.done {
            match self.dec.next() {
                Some(Ok(Event::StartCharacteristic { kind })) => {
                    self.nested += 1;
                    if self.nested == 1 {
                        return Some(Characteristic {
                            kind,
                            inside: self.dec,
                        });
                    }
                }
                Some(Ok(Event::EndCharacteristic)) if self.nested > 0 => self.nested -= 1,
                Some(Ok(Event::Parm { .. } | Event::StartDocument { .. })) => {}
                _ => self.done = true,
            }
        }
        None
    }
}

/// A validated `wap-provisioningdoc`.
#[derive(Debug, Clone, Copy)]
pub struct ProvisioningDoc<'a> {
    /// Decoder positioned after the document start.
    inside: Decoder<'a>,
    version: Option<AttrValue<'a>>,
}

impl<'a> ProvisioningDoc<'a> {
    /// Decodes and validates the whole document.
    pub fn parse(data: &'a [u8]) -> Result<Self, DecodeError> {
        let mut dec = Decoder::new(data)?;
        let version = match dec.next() {
            Some(Ok(Event::StartDocument { version })) => version,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(DecodeError {
                    offset: dec.offset(),
                    error: Error::BadTag,
                });
            }
        };
        let inside = dec;
        for ev in dec.by_ref() {
            ev?;
        }
        Ok(ProvisioningDoc { inside, version })
    }

    /// The WBXML header.
    pub fn header(&self) -> &Header<'a> {
        self.inside.header()
    }

    /// The `version` attribute of the root.
    pub fn version(&self) -> Option<AttrValue<'a>> {
        self.version
    }

    /// Top-level characteristics.
    pub fn characteristics(&self) -> Characteristics<'a> {
        Characteristics {
            dec: self.inside,
            nested: 0,
            done: false,
        }
    }

    /// Every event after the document start (for generic consumers).
    pub fn events(&self) -> Decoder<'a> {
        self.inside
    }

    /// Top-level NAPDEF characteristics.
    pub fn napdefs(&self) -> impl Iterator<Item = Napdef<'a>> + 'a {
        self.characteristics()
            .filter(|c| c.is("NAPDEF"))
            .map(Napdef::from_characteristic)
    }

    /// The NAPDEF whose NAPID equals `napid`.
    pub fn napdef(&self, napid: &str) -> Option<Napdef<'a>> {
        self.napdefs()
            .find(|n| n.napid.is_some_and(|v| v.eq_bytes(napid.as_bytes())))
    }

    /// Top-level APPLICATION characteristics.
    pub fn applications(&self) -> impl Iterator<Item = Application<'a>> + 'a {
        self.characteristics()
            .filter(|c| c.is("APPLICATION"))
            .map(Application::from_characteristic)
    }

    /// The first APPLICATION with APPID `w4` (MMS).
    pub fn mms_application(&self) -> Option<Application<'a>> {
        self.applications()
            .find(|a| a.appid.is_some_and(|v| v.eq_bytes(APPID_MMS.as_bytes())))
    }

    /// The device key of this project's VENDORCONFIG characteristic, if present.
    pub fn device_key(&self) -> Option<DeviceKey<'a>> {
        self.characteristics()
            .filter(|c| c.is("VENDORCONFIG"))
            .filter(|c| {
                c.value("NAME")
                    .is_some_and(|v| v.eq_bytes(VENDOR_NAME.as_bytes()))
            })
            .find_map(|c| c.value(DEVKEY_PARM))
            .map(|hex| DeviceKey { hex })
    }
}

/// NAPAUTHINFO of a NAPDEF.
#[derive(Debug, Clone, Copy)]
pub struct NapAuthInfo<'a> {
    /// AUTHTYPE (e.g. `PAP`, `CHAP`).
    pub authtype: Option<AttrValue<'a>>,
    /// AUTHNAME.
    pub authname: Option<AttrValue<'a>>,
    /// AUTHSECRET.
    pub authsecret: Option<AttrValue<'a>>,
}

/// A network access point definition (NAPDEF, OMA ProvCont 1.1 §5.3.5).
#[derive(Debug, Clone, Copy)]
pub struct Napdef<'a> {
    /// The characteristic itself, for parms not listed here.
    pub characteristic: Characteristic<'a>,
    /// NAPID (referenced by TO-NAPID).
    pub napid: Option<AttrValue<'a>>,
    /// NAME (user-visible).
    pub name: Option<AttrValue<'a>>,
    /// NAP-ADDRESS: the APN when NAP-ADDRTYPE is `APN`.
    pub nap_address: Option<AttrValue<'a>>,
    /// NAP-ADDRTYPE (e.g. `APN`).
    pub nap_addrtype: Option<AttrValue<'a>>,
    /// First BEARER (e.g. `GSM-GPRS`).
    pub bearer: Option<AttrValue<'a>>,
    /// First NAPAUTHINFO.
    pub auth: Option<NapAuthInfo<'a>>,
}

impl<'a> Napdef<'a> {
    /// Extracts the NAPDEF fields of `c`.
    pub fn from_characteristic(c: Characteristic<'a>) -> Self {
        Napdef {
            characteristic: c,
            napid: c.value("NAPID"),
            name: c.value("NAME"),
            nap_address: c.value("NAP-ADDRESS"),
            nap_addrtype: c.value("NAP-ADDRTYPE"),
            bearer: c.value("BEARER"),
            auth: c.child("NAPAUTHINFO").map(|a| NapAuthInfo {
                authtype: a.value("AUTHTYPE"),
                authname: a.value("AUTHNAME"),
                authsecret: a.value("AUTHSECRET"),
            }),
        }
    }

    /// The APN: NAP-ADDRESS when NAP-ADDRTYPE is `APN` (or absent, as some senders omit it).
    pub fn apn(&self) -> Option<AttrValue<'a>> {
        match self.nap_addrtype {
            Some(t) if !t.eq_bytes(b"APN") => None,
            _ => self.nap_address,
        }
    }
}

/// An APPLICATION characteristic (OMA ProvCont 1.1 §5.3.8).
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    /// The characteristic itself.
    pub characteristic: Characteristic<'a>,
    /// APPID (`w4` = MMS).
    pub appid: Option<AttrValue<'a>>,
    /// NAME.
    pub name: Option<AttrValue<'a>>,
    /// First TO-NAPID.
    pub to_napid: Option<AttrValue<'a>>,
    /// First TO-PROXY.
    pub to_proxy: Option<AttrValue<'a>>,
    /// ADDR, or the ADDR of the first APPADDR child (for MMS: the MMSC URL).
    pub addr: Option<AttrValue<'a>>,
}

impl<'a> Application<'a> {
    /// Extracts the APPLICATION fields of `c`.
    pub fn from_characteristic(c: Characteristic<'a>) -> Self {
        Application {
            characteristic: c,
            appid: c.value("APPID"),
            name: c.value("NAME"),
            to_napid: c.value("TO-NAPID"),
            to_proxy: c.value("TO-PROXY"),
            addr: c
                .value("ADDR")
                .or_else(|| c.child("APPADDR").and_then(|a| a.value("ADDR"))),
        }
    }
}

/// The device key carried in this project's VENDORCONFIG characteristic (module docs).
#[derive(Debug, Clone, Copy)]
pub struct DeviceKey<'a> {
    /// The DEVKEY value as written (hex text).
    pub hex: AttrValue<'a>,
}

impl DeviceKey<'_> {
    /// Decodes the hex text into `out`; returns the key length. Either case is accepted;
    /// an odd length or a non-hex character is [`Error::BadValue`].
    pub fn write_key(&self, out: &mut [u8]) -> crate::wire::Result<usize> {
        if self.hex.has_extension() {
            return Err(Error::Unsupported);
        }
        let mut n = 0;
        let mut hi: Option<u8> = None;
        for c in self.hex.bytes() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'A'..=b'F' => c - b'A' + 10,
                b'a'..=b'f' => c - b'a' + 10,
                _ => return Err(Error::BadValue),
            };
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    *out.get_mut(n).ok_or(Error::BufferTooSmall)? = (h << 4) | v;
                    n += 1;
                }
            }
        }
        if hi.is_some() {
            return Err(Error::BadValue);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::Encoder;
    use super::super::encode::tests::{DOC54, DOC151};
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// Typed view of the 151-byte document (06-oma-cp.md §4): APN, auth, MMSC, TO-NAPID.
    #[test]
    fn typed_doc151() {
        let bytes = unhex(DOC151);
        let doc = ProvisioningDoc::parse(&bytes).unwrap();
        assert!(doc.version().unwrap().eq_bytes(b"1.1"));
        assert_eq!(doc.characteristics().count(), 2);
        let nap = doc.napdef("NAP1").unwrap();
        assert!(nap.apn().unwrap().eq_bytes(b"mms.example"));
        assert!(nap.name.unwrap().eq_bytes(b"MMS"));
        assert_eq!(
            nap.bearer.unwrap().value_token().map(|t| t.token),
            Some(0xAB)
        );
        assert_eq!(
            nap.nap_addrtype.unwrap().value_token().map(|t| t.text),
            Some("APN")
        );
        let auth = nap.auth.unwrap();
        assert!(auth.authtype.unwrap().eq_bytes(b"PAP"));
        assert!(auth.authname.unwrap().eq_bytes(b"user"));
        assert!(auth.authsecret.unwrap().eq_bytes(b"pass"));
        // NAPAUTHINFO's parms are not the NAPDEF's own.
        assert!(nap.characteristic.parm("AUTHNAME").is_none());
        assert_eq!(nap.characteristic.parms().count(), 5);
        assert!(doc.napdef("NAP2").is_none());
        let mms = doc.mms_application().unwrap();
        assert!(mms.addr.unwrap().eq_bytes(b"http://mmsc.example/mms"));
        assert!(mms.to_napid.unwrap().text_eq(&nap.napid.unwrap()));
        assert!(doc.device_key().is_none());
        assert_eq!(doc.header().string_table, b"");
    }

    /// The 54-byte document (research §5) and a full imeitrack document with a device key.
    #[test]
    fn typed_doc54_and_device_key() {
        let bytes = unhex(DOC54);
        let doc = ProvisioningDoc::parse(&bytes).unwrap();
        assert!(
            doc.napdefs()
                .next()
                .unwrap()
                .apn()
                .unwrap()
                .eq_bytes(b"internet")
        );
        assert!(doc.mms_application().is_none());

        let mut buf = [0u8; 256];
        let mut e = Encoder::new(&mut buf);
        e.start_document(Some("1.1")).unwrap();
        e.start_characteristic("NAPDEF").unwrap();
        e.parm("NAPID", Some("MMS1")).unwrap();
        e.parm("NAP-ADDRESS", Some("mms.vendor.example")).unwrap();
        e.parm("NAP-ADDRTYPE", Some("APN")).unwrap();
        e.end_characteristic().unwrap();
        e.start_characteristic("APPLICATION").unwrap();
        e.parm("APPID", Some("w4")).unwrap();
        e.parm("TO-NAPID", Some("MMS1")).unwrap();
        e.start_characteristic("APPADDR").unwrap();
        e.parm("ADDR", Some("http://mmsc.vendor.example")).unwrap();
        e.end_characteristic().unwrap();
        e.end_characteristic().unwrap();
        e.device_key(&[0xDE, 0xAD, 0xBE, 0xEF]).unwrap();
        let n = e.finish().unwrap();
        let doc = ProvisioningDoc::parse(&buf[..n]).unwrap();
        let mms = doc.mms_application().unwrap();
        assert!(mms.addr.unwrap().eq_bytes(b"http://mmsc.vendor.example"));
        let nap = doc.napdef("MMS1").unwrap();
        assert!(nap.apn().unwrap().eq_bytes(b"mms.vendor.example"));
        let key = doc.device_key().unwrap();
        assert!(key.hex.eq_bytes(b"DEADBEEF"));
        let mut out = [0u8; 4];
        assert_eq!(key.write_key(&mut out), Ok(4));
        assert_eq!(out, [0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(key.write_key(&mut [0u8; 3]), Err(Error::BufferTooSmall));
    }

    /// A VENDORCONFIG of another vendor is not our device key; a bad hex key is refused.
    #[test]
    fn device_key_needs_our_name() {
        let mut buf = [0u8; 128];
        let mut e = Encoder::new(&mut buf);
        e.start_document(None).unwrap();
        e.start_characteristic("VENDORCONFIG").unwrap();
        e.parm("NAME", Some("other")).unwrap();
        e.parm("DEVKEY", Some("00")).unwrap();
        e.end_characteristic().unwrap();
        e.start_characteristic("VENDORCONFIG").unwrap();
        e.parm("NAME", Some("imeitrack")).unwrap();
        e.parm("DEVKEY", Some("0G")).unwrap();
        e.end_characteristic().unwrap();
        let n = e.finish().unwrap();
        let doc = ProvisioningDoc::parse(&buf[..n]).unwrap();
        let key = doc.device_key().unwrap();
        assert_eq!(key.write_key(&mut [0u8; 4]), Err(Error::BadValue));
        // Errors from the decoder come through parse with their offset.
        assert_eq!(
            ProvisioningDoc::parse(&buf[..n - 1]).err().map(|e| e.error),
            Some(Error::Truncated)
        );
    }
}
