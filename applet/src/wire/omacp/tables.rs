//! WBXML code pages of the PROV 1.0 / OMA CP 1.1 language (public id `0x0B`).
//!
//! Facts (page, token, text) from libwbxml 0.11.8 `src/wbxml_tables.c`
//! (`sv_prov10_tag_table`, `sv_prov10_attr_table`, `sv_prov10_attr_value_table`, with
//! `WBXML_SUPPORT_PROV_11`, i.e. the OMA ProvCont 1.1 value tokens `0x90`–`0x93` on page 1),
//! digested in `/work/shared/spec/06-oma-cp.md` §3. The tables below were written for this
//! project; their *order* follows libwbxml's because libwbxml's encoder picks the first
//! matching entry (page 0 before page 1), and [`attr_start_for`] / [`attr_value_for`] do the same
//! so that our output matches `xml2wbxml` byte for byte.

/// A tag token of the PROV language (WBXML 1.3 §5.8.2: the token without the `0x40`/`0x80`
/// flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagEntry {
    /// Code page.
    pub page: u8,
    /// Token (low 6 bits).
    pub token: u8,
    /// Element.
    pub element: Element,
}

/// The three elements of the PROV DTD (OMA ProvCont 1.1 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Element {
    /// `wap-provisioningdoc`, the root.
    ProvisioningDoc,
    /// `characteristic type=…`.
    Characteristic,
    /// `parm name=… value=…`.
    Parm,
}

impl Element {
    /// The element name as written in XML.
    pub const fn name(self) -> &'static str {
        match self {
            Element::ProvisioningDoc => "wap-provisioningdoc",
            Element::Characteristic => "characteristic",
            Element::Parm => "parm",
        }
    }
}

/// Tag tokens, libwbxml `sv_prov10_tag_table`: page 0 `05`–`07`, page 1 (OMA) `06`, `07`.
pub const TAGS: &[TagEntry] = &[
    TagEntry {
        page: 0,
        token: 0x05,
        element: Element::ProvisioningDoc,
    },
    TagEntry {
        page: 0,
        token: 0x06,
        element: Element::Characteristic,
    },
    TagEntry {
        page: 0,
        token: 0x07,
        element: Element::Parm,
    },
    TagEntry {
        page: 1,
        token: 0x06,
        element: Element::Characteristic,
    },
    TagEntry {
        page: 1,
        token: 0x07,
        element: Element::Parm,
    },
];

/// Which attribute an attribute-start token begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrName {
    /// `version` (of `wap-provisioningdoc`).
    Version,
    /// `type` (of `characteristic`).
    Type,
    /// `name` (of `parm`).
    Name,
    /// `value` (of `parm`).
    Value,
}

impl AttrName {
    /// The attribute name as written in XML.
    pub const fn name(self) -> &'static str {
        match self {
            AttrName::Version => "version",
            AttrName::Type => "type",
            AttrName::Name => "name",
            AttrName::Value => "value",
        }
    }
}

/// An attribute-start token (WBXML 1.3 §5.8.3: attribute name plus an optional value prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrStartEntry {
    /// Code page.
    pub page: u8,
    /// Token (`0x05`–`0x7F`, never a global token).
    pub token: u8,
    /// The attribute this token starts.
    pub attr: AttrName,
    /// The value (prefix) the token carries, `None` for a bare `attr=`.
    pub value: Option<&'static str>,
}

const fn s(page: u8, token: u8, attr: AttrName, value: &'static str) -> AttrStartEntry {
    AttrStartEntry {
        page,
        token,
        attr,
        value: Some(value),
    }
}

const fn bare(page: u8, token: u8, attr: AttrName) -> AttrStartEntry {
    AttrStartEntry {
        page,
        token,
        attr,
        value: None,
    }
}

use AttrName::{Name as N, Type as T, Value as V, Version as Ver};

/// Attribute-start tokens, libwbxml `sv_prov10_attr_table` (same order).
pub const ATTR_STARTS: &[AttrStartEntry] = &[
    bare(0, 0x45, Ver),
    s(0, 0x46, Ver, "1.0"),
    bare(0, 0x50, T),
    s(0, 0x51, T, "PXLOGICAL"),
    s(0, 0x52, T, "PXPHYSICAL"),
    s(0, 0x53, T, "PORT"),
    s(0, 0x54, T, "VALIDITY"),
    s(0, 0x55, T, "NAPDEF"),
    s(0, 0x56, T, "BOOTSTRAP"),
    s(0, 0x57, T, "VENDORCONFIG"),
    s(0, 0x58, T, "CLIENTIDENTITY"),
    s(0, 0x59, T, "PXAUTHINFO"),
    s(0, 0x5A, T, "NAPAUTHINFO"),
    s(0, 0x5B, T, "ACCESS"),
    bare(1, 0x50, T),
    s(1, 0x53, T, "PORT"),
    s(1, 0x58, T, "CLIENTIDENTITY"),
    s(1, 0x55, T, "APPLICATION"),
    s(1, 0x56, T, "APPADDR"),
    s(1, 0x57, T, "APPAUTH"),
    s(1, 0x59, T, "RESOURCE"),
    bare(0, 0x05, N),
    bare(0, 0x06, V),
    s(0, 0x07, N, "NAME"),
    s(0, 0x08, N, "NAP-ADDRESS"),
    s(0, 0x09, N, "NAP-ADDRTYPE"),
    s(0, 0x0A, N, "CALLTYPE"),
    s(0, 0x0B, N, "VALIDUNTIL"),
    s(0, 0x0C, N, "AUTHTYPE"),
    s(0, 0x0D, N, "AUTHNAME"),
    s(0, 0x0E, N, "AUTHSECRET"),
    s(0, 0x0F, N, "LINGER"),
    s(0, 0x10, N, "BEARER"),
    s(0, 0x11, N, "NAPID"),
    s(0, 0x12, N, "COUNTRY"),
    s(0, 0x13, N, "NETWORK"),
    s(0, 0x14, N, "INTERNET"),
    s(0, 0x15, N, "PROXY-ID"),
    s(0, 0x16, N, "PROXY-PROVIDER-ID"),
    s(0, 0x17, N, "DOMAIN"),
    s(0, 0x18, N, "PROVURL"),
    s(0, 0x19, N, "PXAUTH-TYPE"),
    s(0, 0x1A, N, "PXAUTH-ID"),
    s(0, 0x1B, N, "PXAUTH-PW"),
    s(0, 0x1C, N, "STARTPAGE"),
    s(0, 0x1D, N, "BASAUTH-ID"),
    s(0, 0x1E, N, "BASAUTH-PW"),
    s(0, 0x1F, N, "PUSHENABLED"),
    s(0, 0x20, N, "PXADDR"),
    s(0, 0x21, N, "PXADDRTYPE"),
    s(0, 0x22, N, "TO-NAPID"),
    s(0, 0x23, N, "PORTNBR"),
    s(0, 0x24, N, "SERVICE"),
    s(0, 0x25, N, "LINKSPEED"),
    s(0, 0x26, N, "DNLINKSPEED"),
    s(0, 0x27, N, "LOCAL-ADDR"),
    s(0, 0x28, N, "LOCAL-ADDRTYPE"),
    s(0, 0x29, N, "CONTEXT-ALLOW"),
    s(0, 0x2A, N, "TRUST"),
    s(0, 0x2B, N, "MASTER"),
    s(0, 0x2C, N, "SID"),
    s(0, 0x2D, N, "SOC"),
    s(0, 0x2E, N, "WSP-VERSION"),
    s(0, 0x2F, N, "PHYSICAL-PROXY-ID"),
    s(0, 0x30, N, "CLIENT-ID"),
    s(0, 0x31, N, "DELIVERY-ERR-SDU"),
    s(0, 0x32, N, "DELIVERY-ORDER"),
    s(0, 0x33, N, "TRAFFIC-CLASS"),
    s(0, 0x34, N, "MAX-SDU-SIZE"),
    s(0, 0x35, N, "MAX-BITRATE-UPLINK"),
    s(0, 0x36, N, "MAX-BITRATE-DNLINK"),
    s(0, 0x37, N, "RESIDUAL-BER"),
    s(0, 0x38, N, "SDU-ERROR-RATIO"),
    s(0, 0x39, N, "TRAFFIC-HANDL-PRIO"),
    s(0, 0x3A, N, "TRANSFER-DELAY"),
    s(0, 0x3B, N, "GUARANTEED-BITRATE-UPLINK"),
    s(0, 0x3C, N, "GUARANTEED-BITRATE-DNLINK"),
    s(0, 0x3D, N, "PXADDR-FQDN"),
    s(0, 0x3E, N, "PROXY-PW"),
    s(0, 0x3F, N, "PPGAUTH-TYPE"),
    s(0, 0x47, N, "PULLENABLED"),
    s(0, 0x48, N, "DNS-ADDR"),
    s(0, 0x49, N, "MAX-NUM-RETRY"),
    s(0, 0x4A, N, "FIRST-RETRY-TIMEOUT"),
    s(0, 0x4B, N, "REREG-THRESHOLD"),
    s(0, 0x4C, N, "T-BIT"),
    s(0, 0x4E, N, "AUTH-ENTITY"),
    s(0, 0x4F, N, "SPI"),
    bare(1, 0x05, N),
    bare(1, 0x06, V),
    s(1, 0x07, N, "NAME"),
    s(1, 0x14, N, "INTERNET"),
    s(1, 0x1C, N, "STARTPAGE"),
    s(1, 0x22, N, "TO-NAPID"),
    s(1, 0x23, N, "PORTNBR"),
    s(1, 0x24, N, "SERVICE"),
    s(1, 0x2E, N, "AACCEPT"),
    s(1, 0x2F, N, "AAUTHDATA"),
    s(1, 0x30, N, "AAUTHLEVEL"),
    s(1, 0x31, N, "AAUTHNAME"),
    s(1, 0x32, N, "AAUTHSECRET"),
    s(1, 0x33, N, "AAUTHTYPE"),
    s(1, 0x34, N, "ADDR"),
    s(1, 0x35, N, "ADDRTYPE"),
    s(1, 0x36, N, "APPID"),
    s(1, 0x37, N, "APROTOCOL"),
    s(1, 0x38, N, "PROVIDER-ID"),
    s(1, 0x39, N, "TO-PROXY"),
    s(1, 0x3A, N, "URI"),
    s(1, 0x3B, N, "RULE"),
];

/// An attribute-value token (WBXML 1.3 §5.8.3: a token `>= 0x80` standing for a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrValueEntry {
    /// Code page (the attribute code page, shared with attribute-start tokens).
    pub page: u8,
    /// Token (`0x85`–`0xFF`, never a global token).
    pub token: u8,
    /// The string the token stands for.
    pub text: &'static str,
}

const fn v(page: u8, token: u8, text: &'static str) -> AttrValueEntry {
    AttrValueEntry { page, token, text }
}

/// Attribute-value tokens, libwbxml `sv_prov10_attr_value_table` with `WBXML_SUPPORT_PROV_11`
/// (same order).
pub const ATTR_VALUES: &[AttrValueEntry] = &[
    // ADDRTYPE
    v(0, 0x85, "IPV4"),
    v(0, 0x86, "IPV6"),
    v(0, 0x87, "E164"),
    v(0, 0x88, "ALPHA"),
    v(0, 0x89, "APN"),
    v(0, 0x8A, "SCODE"),
    v(0, 0x8B, "TETRA-ITSI"),
    v(0, 0x8C, "MAN"),
    v(1, 0x86, "IPV6"),
    v(1, 0x87, "E164"),
    v(1, 0x88, "ALPHA"),
    v(1, 0x8D, "APPSRV"),
    v(1, 0x8E, "OBEX"),
    // CALLTYPE
    v(0, 0x90, "ANALOG-MODEM"),
    v(0, 0x91, "V.120"),
    v(0, 0x92, "V.110"),
    v(0, 0x93, "X.31"),
    v(0, 0x94, "BIT-TRANSPARENT"),
    v(0, 0x95, "DIRECT-ASYNCHRONOUS-DATA-SERVICE"),
    // AUTHTYPE / PXAUTH-TYPE
    v(0, 0x9A, "PAP"),
    v(0, 0x9B, "CHAP"),
    v(0, 0x9C, "HTTP-BASIC"),
    v(0, 0x9D, "HTTP-DIGEST"),
    v(0, 0x9E, "WTLS-SS"),
    v(0, 0x9F, "MD5"),
    // BEARER
    v(0, 0xA2, "GSM-USSD"),
    v(0, 0xA3, "GSM-SMS"),
    v(0, 0xA4, "ANSI-136-GUTS"),
    v(0, 0xA5, "IS-95-CDMA-SMS"),
    v(0, 0xA6, "IS-95-CDMA-CSD"),
    v(0, 0xA7, "IS-95-CDMA-PACKET"),
    v(0, 0xA8, "ANSI-136-CSD"),
    v(0, 0xA9, "ANSI-136-GPRS"),
    v(0, 0xAA, "GSM-CSD"),
    v(0, 0xAB, "GSM-GPRS"),
    v(0, 0xAC, "AMPS-CDPD"),
    v(0, 0xAD, "PDC-CSD"),
    v(0, 0xAE, "PDC-PACKET"),
    v(0, 0xAF, "IDEN-SMS"),
    v(0, 0xB0, "IDEN-CSD"),
    v(0, 0xB1, "IDEN-PACKET"),
    v(0, 0xB2, "FLEX/REFLEX"),
    v(0, 0xB3, "PHS-SMS"),
    v(0, 0xB4, "PHS-CSD"),
    // libwbxml spells these "TRETRA"; kept as the token's text so decode matches wbxml2xml.
    v(0, 0xB5, "TRETRA-SDS"),
    v(0, 0xB6, "TRETRA-PACKET"),
    v(0, 0xB7, "ANSI-136-GHOST"),
    v(0, 0xB8, "MOBITEX-MPAK"),
    v(0, 0xB9, "CDMA2000-1X-SIMPLE-IP"),
    v(0, 0xBA, "CDMA2000-1X-MOBILE-IP"),
    // LINKSPEED
    v(0, 0xC5, "AUTOBAUDING"),
    // SERVICE
    v(0, 0xCA, "CL-WSP"),
    v(0, 0xCB, "CO-WSP"),
    v(0, 0xCC, "CL-SEC-WSP"),
    v(0, 0xCD, "CO-SEC-WSP"),
    v(0, 0xCE, "CL-SEC-WTA"),
    v(0, 0xCF, "CO-SEC-WTA"),
    v(0, 0xD0, "OTA-HTTP-TO"),
    v(0, 0xD1, "OTA-HTTP-TLS-TO"),
    v(0, 0xD2, "OTA-HTTP-PO"),
    v(0, 0xD3, "OTA-HTTP-TLS-PO"),
    // AAUTHTYPE (OMA ProvCont 1.1 numbering)
    v(1, 0x90, ","),
    v(1, 0x91, "HTTP-"),
    v(1, 0x92, "BASIC"),
    v(1, 0x93, "DIGEST"),
    // AUTH-ENTITY
    v(0, 0xE0, "AAA"),
    v(0, 0xE1, "HA"),
];

/// The tag entry for `(page, token)` (token without the content/attribute flags).
pub fn tag(page: u8, token: u8) -> Option<&'static TagEntry> {
    TAGS.iter().find(|t| t.page == page && t.token == token)
}

/// The attribute-start entry for `(page, token)`.
pub fn attr_start(page: u8, token: u8) -> Option<&'static AttrStartEntry> {
    ATTR_STARTS
        .iter()
        .find(|a| a.page == page && a.token == token)
}

/// The attribute-value entry for `(page, token)`.
pub fn attr_value(page: u8, token: u8) -> Option<&'static AttrValueEntry> {
    ATTR_VALUES
        .iter()
        .find(|a| a.page == page && a.token == token)
}

/// The first attribute-start entry whose value equals `value` *exactly*, else the first bare
/// entry for `attr` (libwbxml's choice, minus its prefix matching; see the encoder docs).
pub fn attr_start_for(attr: AttrName, value: &[u8]) -> &'static AttrStartEntry {
    let exact = ATTR_STARTS
        .iter()
        .find(|a| a.attr == attr && a.value.is_some_and(|v| v.as_bytes() == value));
    match exact {
        Some(e) => e,
        None => bare_attr_start(attr),
    }
}

/// The first bare (`attr=` without value) entry for `attr`.
pub fn bare_attr_start(attr: AttrName) -> &'static AttrStartEntry {
    // Every AttrName has a bare page-0 entry in ATTR_STARTS (checked by a unit test); the
    // fallback only exists to avoid a panic path.
    ATTR_STARTS
        .iter()
        .find(|a| a.attr == attr && a.value.is_none())
        .unwrap_or(&FALLBACK_NAME)
}

const FALLBACK_NAME: AttrStartEntry = bare(0, 0x05, N);

/// The first attribute-value entry whose text equals `text` exactly.
pub fn attr_value_for(text: &[u8]) -> Option<&'static AttrValueEntry> {
    ATTR_VALUES.iter().find(|a| a.text.as_bytes() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No table token collides with a WBXML global token (WBXML 1.3 §7.1).
    #[test]
    fn no_global_token_collisions() {
        let global = |t: u8| (t & 0x3F) <= 0x04;
        for a in ATTR_STARTS {
            assert!(a.token < 0x80 && !global(a.token), "{a:?}");
        }
        for a in ATTR_VALUES {
            assert!(a.token >= 0x80 && !global(a.token), "{a:?}");
        }
        for t in TAGS {
            assert!(t.token < 0x40 && !global(t.token), "{t:?}");
        }
    }

    /// `(page, token)` pairs are unique, so decoding is unambiguous.
    #[test]
    fn unique_tokens() {
        for (i, a) in ATTR_STARTS.iter().enumerate() {
            assert_eq!(attr_start(a.page, a.token), Some(a), "duplicate at {i}");
        }
        for (i, a) in ATTR_VALUES.iter().enumerate() {
            assert_eq!(attr_value(a.page, a.token), Some(a), "duplicate at {i}");
        }
    }

    /// Every attribute has a bare page-0 start token (libwbxml table).
    #[test]
    fn bare_entries() {
        for attr in [
            AttrName::Version,
            AttrName::Type,
            AttrName::Name,
            AttrName::Value,
        ] {
            let e = bare_attr_start(attr);
            assert_eq!((e.attr, e.value, e.page), (attr, None, 0));
        }
    }

    /// Tokens quoted in `/work/shared/spec/06-oma-cp.md` §3.
    #[test]
    fn digest_tokens() {
        assert_eq!(attr_start_for(AttrName::Type, b"NAPDEF").token, 0x55);
        assert_eq!(attr_start_for(AttrName::Type, b"NAPAUTHINFO").token, 0x5A);
        let app = attr_start_for(AttrName::Type, b"APPLICATION");
        assert_eq!((app.page, app.token), (1, 0x55));
        let addr = attr_start_for(AttrName::Name, b"ADDR");
        assert_eq!((addr.page, addr.token), (1, 0x34));
        // TO-NAPID and NAME exist on both pages; libwbxml picks page 0.
        assert_eq!(attr_start_for(AttrName::Name, b"TO-NAPID").page, 0);
        assert_eq!(attr_start_for(AttrName::Name, b"NAME").token, 0x07);
        assert_eq!(attr_start_for(AttrName::Version, b"1.0").token, 0x46);
        assert_eq!(attr_start_for(AttrName::Version, b"1.1").token, 0x45);
        assert_eq!(attr_start_for(AttrName::Value, b"x").token, 0x06);
        assert_eq!(attr_value_for(b"APN").map(|v| v.token), Some(0x89));
        assert_eq!(attr_value_for(b"GSM-GPRS").map(|v| v.token), Some(0xAB));
        assert_eq!(attr_value_for(b"PAP").map(|v| v.token), Some(0x9A));
        assert_eq!(attr_value_for(b"IPV6").map(|v| v.page), Some(0));
        assert_eq!(attr_value_for(b"apn"), None);
    }
}
