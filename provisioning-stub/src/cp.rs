//! The provisioning reply: an OMA Client Provisioning 1.1 document (WBXML), wrapped in a
//! connectionless WSP Push with SEC/MAC, split into SMS segments with port addressing to
//! 2948 (`/work/shared/spec/06-oma-cp.md` §1–§5; issue 5 "The payload").
//!
//! The byte codecs are `applet::wire::{omacp, wsp, sms::udh}`; this module decides what
//! goes in the document and how it is cut.
//!
//! Document (order as in the OMA CP examples: proxies, access points, applications):
//!
//! ```xml
//! <wap-provisioningdoc version="1.1">
//!   <characteristic type="PXLOGICAL">                 (only with an MMS proxy)
//!     <parm name="PROXY-ID" value="{proxy}"/> <parm name="NAME" value="{name}"/>
//!     <characteristic type="PXPHYSICAL">
//!       <parm name="PHYSICAL-PROXY-ID" value="{proxy}"/> <parm name="PXADDR" value="{proxy}"/>
//!       <parm name="PXADDRTYPE" value="IPV4"/> <parm name="TO-NAPID" value="NAP1"/>
//!       <characteristic type="PORT"><parm name="PORTNBR" value="{port}"/></characteristic>
//!     </characteristic>
//!   </characteristic>
//!   <characteristic type="NAPDEF">
//!     NAPID=NAP1, BEARER=GSM-GPRS, NAME, NAP-ADDRESS={apn}, NAP-ADDRTYPE=APN,
//!     <characteristic type="NAPAUTHINFO"> AUTHTYPE=PAP, AUTHNAME, AUTHSECRET </characteristic>  (if credentials)
//!   </characteristic>
//!   <characteristic type="APPLICATION">
//!     APPID=w4, TO-PROXY={proxy} or TO-NAPID=NAP1, ADDR={mmsc}
//!   </characteristic>
//!   <characteristic type="VENDORCONFIG"> NAME=imeitrack, DEVKEY={hex} </characteristic>  (depreciated only)
//! </wap-provisioningdoc>
//! ```
//!
//! The device key's APN digest (`docs/device-key.md`) is computed over exactly these
//! values: apn = NAP-ADDRESS, username = AUTHNAME, password = AUTHSECRET, mmsc = ADDR,
//! proxy = PXADDR, proxy_port = PORTNBR.

use applet::wire::omacp::Encoder;
use applet::wire::sms::udh::{InformationElement, UserDataHeader};
use applet::wire::wsp::{
    CONTENT_TYPE_CONNECTIVITY_WBXML, ContentType, Credentials, Media, PORT_WAP_PUSH, PORT_WSP_CL,
    PushPdu, SecMethod,
};

use crate::keys::ApnSettings;

/// NAPID used in every document (one access point per document).
pub const NAPID: &str = "NAP1";
/// WSP transaction id of the push (Kannel's choice; any value is valid).
pub const PUSH_TID: u8 = 0x01;
/// Octets of 8-bit user data in one SMS (3GPP TS 23.040 §9.2.3.24).
pub const SMS_UD_MAX: usize = 140;
/// Push bytes per segment with the 12-octet UDH (ports + concatenation).
pub const SEGMENT_DATA_CONCAT: usize = SMS_UD_MAX - 12;
/// Push bytes in a single SMS with the 7-octet UDH (ports only).
pub const SEGMENT_DATA_SINGLE: usize = SMS_UD_MAX - 7;

/// Errors building the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The WBXML/WSP encoder refused a value.
    #[error("encoding: {0:?}")]
    Encode(applet::wire::Error),
    /// SEC needs an IMSI or PIN that is missing or malformed.
    #[error("SEC {0}: credentials missing or malformed")]
    Credentials(&'static str),
    /// More than 255 segments.
    #[error("push of {0} bytes needs more than 255 SMS")]
    TooLong(usize),
}

impl From<applet::wire::Error> for PayloadError {
    fn from(e: applet::wire::Error) -> Self {
        PayloadError::Encode(e)
    }
}

/// The settings of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpSettings {
    /// User-visible name of the access point (NAPDEF and PXLOGICAL NAME).
    pub name: String,
    /// APN, credentials, MMSC and proxy.
    pub apn: ApnSettings,
}

/// How the push is authenticated (OMA ProvBoot SEC; 06-oma-cp.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// NETWPIN: HMAC key = the IMSI as TS 24.008 mobile identity.
    NetwPin,
    /// USERPIN: HMAC key = the PIN (ASCII) the user types.
    UserPin(String),
    /// USERNETWPIN: IMSI identity ‖ PIN.
    UserNetwPin(String),
}

impl Security {
    fn method(&self) -> SecMethod {
        match self {
            Security::NetwPin => SecMethod::NETWPIN,
            Security::UserPin(_) => SecMethod::USERPIN,
            Security::UserNetwPin(_) => SecMethod::USERNETWPIN,
        }
    }

    /// Name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Security::NetwPin => "NETWPIN",
            Security::UserPin(_) => "USERPIN",
            Security::UserNetwPin(_) => "USERNETWPIN",
        }
    }
}

/// Builds the WBXML document; `device_key` (the encoded key) goes into VENDORCONFIG.
pub fn document(settings: &CpSettings, device_key: Option<&[u8]>) -> Result<Vec<u8>, PayloadError> {
    let mut buf = vec![0u8; 2048];
    let a = &settings.apn;
    let mut e = Encoder::new(&mut buf);
    e.start_document(Some("1.1"))?;
    let port = a.proxy_port.map(|p| p.to_string());
    if let Some(proxy) = &a.proxy {
        e.start_characteristic("PXLOGICAL")?;
        e.parm("PROXY-ID", Some(proxy))?;
        e.parm("NAME", Some(&settings.name))?;
        e.start_characteristic("PXPHYSICAL")?;
        e.parm("PHYSICAL-PROXY-ID", Some(proxy))?;
        e.parm("PXADDR", Some(proxy))?;
        e.parm("PXADDRTYPE", Some("IPV4"))?;
        e.parm("TO-NAPID", Some(NAPID))?;
        if let Some(port) = &port {
            e.start_characteristic("PORT")?;
            e.parm("PORTNBR", Some(port))?;
            e.end_characteristic()?;
        }
        e.end_characteristic()?;
        e.end_characteristic()?;
    }
    e.start_characteristic("NAPDEF")?;
    e.parm("NAPID", Some(NAPID))?;
    e.parm("BEARER", Some("GSM-GPRS"))?;
    e.parm("NAME", Some(&settings.name))?;
    e.parm("NAP-ADDRESS", Some(&a.apn))?;
    e.parm("NAP-ADDRTYPE", Some("APN"))?;
    if a.username.is_some() || a.password.is_some() {
        e.start_characteristic("NAPAUTHINFO")?;
        e.parm("AUTHTYPE", Some("PAP"))?;
        if let Some(u) = &a.username {
            e.parm("AUTHNAME", Some(u))?;
        }
        if let Some(p) = &a.password {
            e.parm("AUTHSECRET", Some(p))?;
        }
        e.end_characteristic()?;
    }
    e.end_characteristic()?;
    if let Some(mmsc) = &a.mmsc {
        e.start_characteristic("APPLICATION")?;
        e.parm("APPID", Some(applet::wire::omacp::doc::APPID_MMS))?;
        match &a.proxy {
            Some(proxy) => e.parm("TO-PROXY", Some(proxy))?,
            None => e.parm("TO-NAPID", Some(NAPID))?,
        }
        e.parm("ADDR", Some(mmsc))?;
        e.end_characteristic()?;
    }
    if let Some(key) = device_key {
        e.device_key(key)?;
    }
    let n = e.finish()?;
    buf.truncate(n);
    Ok(buf)
}

/// Wraps a document in a WSP Push PDU whose content type carries SEC and the MAC
/// (HMAC-SHA1 over the document) for `imsi` (ASCII digits) under `security`.
pub fn push(doc: &[u8], security: &Security, imsi: &str) -> Result<Vec<u8>, PayloadError> {
    let creds = match security {
        Security::NetwPin => Credentials {
            imsi: Some(imsi.as_bytes()),
            user_pin: None,
        },
        Security::UserPin(pin) => Credentials {
            imsi: None,
            user_pin: Some(pin.as_bytes()),
        },
        Security::UserNetwPin(pin) => Credentials {
            imsi: Some(imsi.as_bytes()),
            user_pin: Some(pin.as_bytes()),
        },
    };
    let sec = security.method();
    let mac = creds
        .mac(sec, doc)
        .map_err(|_| PayloadError::Credentials(security.name()))?;
    let pdu = PushPdu {
        tid: PUSH_TID,
        content_type: ContentType {
            media: Media::WellKnown(CONTENT_TYPE_CONNECTIVITY_WBXML),
            sec: Some(sec),
            mac: Some(mac),
            other_params: &[],
        },
        headers: &[],
        body: doc,
    };
    let mut out = vec![0u8; pdu.buffer_len()];
    let n = pdu.emit(&mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Cuts a push into SMS user data (UDH included, UDHL first), each ≤ 140 octets:
/// one SMS with UDH `06 05 04 0B 84 23 F0` (ports 2948 ← 9200) when it fits, otherwise
/// segments with `0B 05 04 0B 84 23 F0 00 03 rr nn ii` (06-oma-cp.md §1).
pub fn segments(push: &[u8], reference: u8) -> Result<Vec<Vec<u8>>, PayloadError> {
    let ports = InformationElement::Ports16 {
        destination: PORT_WAP_PUSH,
        originator: PORT_WSP_CL,
    };
    if push.len() <= SEGMENT_DATA_SINGLE {
        let ies = [ports];
        return Ok(vec![with_udh(&UserDataHeader::from_elements(&ies), push)?]);
    }
    let total = push.len().div_ceil(SEGMENT_DATA_CONCAT);
    let total_u8 = u8::try_from(total).map_err(|_| PayloadError::TooLong(push.len()))?;
    push.chunks(SEGMENT_DATA_CONCAT)
        .zip(1..=total_u8)
        .map(|(chunk, part)| {
            let ies = [
                ports,
                InformationElement::Concat8 {
                    reference,
                    total: total_u8,
                    sequence: part,
                },
            ];
            with_udh(&UserDataHeader::from_elements(&ies), chunk)
        })
        .collect()
}

fn with_udh(udh: &UserDataHeader<'_>, data: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let mut out = vec![0u8; udh.buffer_len() + data.len()];
    let n = udh.emit(&mut out)?;
    out[n..].copy_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use applet::wire::omacp::ProvisioningDoc;

    fn settings() -> CpSettings {
        CpSettings {
            name: "MMS".into(),
            apn: ApnSettings {
                apn: "mms.example".into(),
                username: Some("user".into()),
                password: Some("pass".into()),
                mmsc: Some("http://mmsc.example/mms".into()),
                proxy: None,
                proxy_port: None,
            },
        }
    }

    /// The 151-byte document of 06-oma-cp.md §4, compiled by `xml2wbxml -n` (libwbxml
    /// 0.11.8) from the XML given there.
    const DOC151: &str = "03 0B 6A 00 C5 45 03 31 2E 31 00 01 C6 55 01
        87 11 06 03 4E 41 50 31 00 01 87 10 06 AB 01 87 07 06 03 4D 4D 53 00 01
        87 08 06 03 6D 6D 73 2E 65 78 61 6D 70 6C 65 00 01 87 09 06 89 01
        C6 5A 01 87 0C 06 9A 01 87 0D 06 03 75 73 65 72 00 01 87 0E 06 03 70 61 73 73 00 01 01 01
        C6 00 01 55 01 87 36 00 00 06 03 77 34 00 01 87 22 06 03 4E 41 50 31 00 01
        87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C 65 2F 6D 6D 73 00 01
        01 01";

    fn doc151() -> Vec<u8> {
        hex::decode(DOC151.split_whitespace().collect::<String>()).unwrap()
    }

    /// Without proxy and key, the document is byte for byte the xml2wbxml one.
    #[test]
    fn document_is_the_xml2wbxml_vector() {
        let doc = document(&settings(), None).unwrap();
        assert_eq!(hex::encode_upper(&doc), hex::encode_upper(doc151()));
        let parsed = ProvisioningDoc::parse(&doc).unwrap();
        let nap = parsed.napdef(NAPID).unwrap();
        assert!(nap.apn().unwrap().eq_bytes(b"mms.example"));
        let mms = parsed.mms_application().unwrap();
        assert!(mms.addr.unwrap().eq_bytes(b"http://mmsc.example/mms"));
        assert!(parsed.device_key().is_none());
    }

    #[test]
    fn device_key_and_proxy() {
        let mut s = settings();
        s.apn.proxy = Some("10.0.0.1".into());
        s.apn.proxy_port = Some(8080);
        let key = [0xA5u8; 145];
        let doc = document(&s, Some(&key)).unwrap();
        let parsed = ProvisioningDoc::parse(&doc).unwrap();
        let mut out = [0u8; 200];
        let n = parsed.device_key().unwrap().write_key(&mut out).unwrap();
        assert_eq!(&out[..n], &key[..]);
        let mms = parsed.mms_application().unwrap();
        assert!(mms.to_proxy.unwrap().eq_bytes(b"10.0.0.1"));
    }

    /// docs/device-key.md "How the key travels": in the CP document the key is the
    /// upper-case hex of its bytes in parm DEVKEY (inline string), not base64url.
    #[test]
    fn device_key_travels_as_upper_case_hex() {
        let key: Vec<u8> = (0u8..145).collect();
        let doc = document(&settings(), Some(&key)).unwrap();
        let hex_upper = hex::encode_upper(&key);
        assert!(
            doc.windows(hex_upper.len())
                .any(|w| w == hex_upper.as_bytes())
        );
        let lower = hex::encode(&key);
        assert!(!doc.windows(lower.len()).any(|w| w == lower.as_bytes()));
        assert!(doc.windows(6).any(|w| w == b"DEVKEY"));
    }

    /// The push of 06-oma-cp.md §4: SEC=NETWPIN for IMSI 001010123456789 over the
    /// 151-byte document has MAC 83C52EAF…; header bytes `01 06 2F 1F 2D B6 91 80 92`.
    #[test]
    fn push_matches_the_digest_vector() {
        let doc = doc151();
        assert_eq!(doc.len(), 151);
        let p = push(&doc, &Security::NetwPin, "001010123456789").unwrap();
        assert_eq!(p.len(), 201);
        assert_eq!(hex::encode_upper(&p[..9]), "01062F1F2DB6918092");
        assert_eq!(&p[9..49], b"83C52EAFF1683711A6812DC1D6CBB5C3AD7BE698");
        assert_eq!(&p[50..], &doc[..]);
        // USERPIN "1234": 667F2D53… (06-oma-cp.md §2 table).
        let p = push(&doc, &Security::UserPin("1234".into()), "001010123456789").unwrap();
        assert_eq!(&p[7..8], &[0x81]);
        assert_eq!(&p[9..49], b"667F2D53AEFBAF5647560FE28C609136A96FA24E");
        // Segments: 201 bytes → 128 + 73 (the two SMS of 06-oma-cp.md §4, ref 0x42).
        let segs = segments(&p, 0x42).unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(
            hex::encode_upper(&segs[0][..12]),
            "0B05040B8423F00003420201"
        );
        assert_eq!(segs[0].len(), 140);
        assert_eq!(
            hex::encode_upper(&segs[1][..12]),
            "0B05040B8423F00003420202"
        );
        assert_eq!(segs[1].len(), 12 + 73);
        let joined: Vec<u8> = segs.iter().flat_map(|s| s[12..].to_vec()).collect();
        assert_eq!(joined, p);
    }

    #[test]
    fn short_push_is_one_sms() {
        let segs = segments(&[0xAB; 133], 1).unwrap();
        assert_eq!(segs.len(), 1);
        assert_eq!(hex::encode_upper(&segs[0][..7]), "0605040B8423F0");
        assert_eq!(segs[0].len(), 140);
        assert_eq!(segments(&[0; 134], 1).unwrap().len(), 2);
        assert!(matches!(
            segments(&vec![0; 128 * 256], 1),
            Err(PayloadError::TooLong(_))
        ));
    }
}
