//! Builders shared by the `provisioning_*` tests: OMA CP documents (applet's `Encoder`),
//! WSP pushes with SEC/MAC (applet's `PushPdu`), segmentation into concatenated SMS
//! (06-oma-cp.md §1) and device keys (`provisioning_stub::keys::DeviceKeySigner`).

#![allow(dead_code)]

use applet::wire::omacp::Encoder;
use applet::wire::wsp::{
    CONTENT_TYPE_CONNECTIVITY_WBXML, ContentType, Credentials, Media, PushPdu, SecMethod,
};
use handset_sim::network::ShortMessage;
use handset_sim::provisioning::{ClientConfig, HandsetIdentity};
use provisioning_stub::keys::{ApnSettings, DeviceKey, DeviceKeySigner, Imei};
use zeroize::Zeroizing;

/// IMEI of the handset under test (device-key.md worked example).
pub const IMEI: &str = "490154203237518";
/// Another Luhn-valid IMEI (body 35209900176148, check digit 1).
pub const OTHER_IMEI: &str = "352099001761481";
/// IMSI of the card (06-oma-cp.md §2 worked keys).
pub const IMSI: &str = "001010123456789";
/// The stub's originating address.
pub const STUB: &str = "12345";
/// RFC 8032 §7.1 TEST 1 secret key (a public test seed; device-key.md worked example).
pub const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

pub fn signer() -> DeviceKeySigner {
    DeviceKeySigner::from_hex(SEED).unwrap()
}

pub fn identity() -> HandsetIdentity {
    HandsetIdentity {
        imei: Imei::parse(IMEI).unwrap(),
        manufacturer_key: Some(signer().verifying_key()),
    }
}

/// Client config: this IMEI, the manufacturer key, the card's IMSI.
pub fn config() -> ClientConfig {
    let mut c = ClientConfig::new(identity());
    c.imsi = Some(IMSI.to_owned());
    c
}

/// One NAPDEF + optional MMS APPLICATION (+ optional device key), as a stub would send.
#[derive(Debug, Clone)]
pub struct Doc {
    pub napid: String,
    pub name: String,
    pub settings: ApnSettings,
    pub key: Option<Zeroizing<Vec<u8>>>,
}

impl Doc {
    pub fn new(apn: &str, mmsc: Option<&str>) -> Self {
        let mut settings = ApnSettings::new(apn);
        settings.mmsc = mmsc.map(str::to_owned);
        Doc {
            napid: "MMS1".into(),
            name: "Manufacturer MMS".into(),
            settings,
            key: None,
        }
    }

    pub fn with_key(mut self, key: &DeviceKey) -> Self {
        self.key = Some(key.encode());
        self
    }

    pub fn wbxml(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 2048];
        let mut e = Encoder::new(&mut buf);
        e.start_document(Some("1.1")).unwrap();
        e.start_characteristic("NAPDEF").unwrap();
        e.parm("NAPID", Some(&self.napid)).unwrap();
        e.parm("BEARER", Some("GSM-GPRS")).unwrap();
        e.parm("NAME", Some(&self.name)).unwrap();
        e.parm("NAP-ADDRESS", Some(&self.settings.apn)).unwrap();
        e.parm("NAP-ADDRTYPE", Some("APN")).unwrap();
        if self.settings.username.is_some() || self.settings.password.is_some() {
            e.start_characteristic("NAPAUTHINFO").unwrap();
            e.parm("AUTHTYPE", Some("PAP")).unwrap();
            if let Some(u) = &self.settings.username {
                e.parm("AUTHNAME", Some(u)).unwrap();
            }
            if let Some(p) = &self.settings.password {
                e.parm("AUTHSECRET", Some(p)).unwrap();
            }
            e.end_characteristic().unwrap();
        }
        e.end_characteristic().unwrap();
        if let Some(m) = &self.settings.mmsc {
            e.start_characteristic("APPLICATION").unwrap();
            e.parm("APPID", Some("w4")).unwrap();
            e.parm("TO-NAPID", Some(&self.napid)).unwrap();
            e.parm("ADDR", Some(m)).unwrap();
            e.end_characteristic().unwrap();
        }
        if let Some(k) = &self.key {
            e.device_key(k).unwrap();
        }
        let n = e.finish().unwrap();
        buf.truncate(n);
        buf
    }
}

/// Issues a key for `imei` over `settings` (key_id, issued 2026-01-01, optional expiry).
pub fn issue(
    imei: &str,
    settings: &ApnSettings,
    key_id: u64,
    expires_at: Option<u64>,
) -> DeviceKey {
    signer()
        .issue(
            key_id,
            &Imei::parse(imei).unwrap(),
            settings,
            1_767_225_600,
            expires_at,
        )
        .unwrap()
}

/// WSP push (TID 01) with SEC = `sec` and the MAC computed under `creds`.
pub fn push(body: &[u8], sec: SecMethod, creds: &Credentials<'_>) -> Vec<u8> {
    let mac = creds.mac(sec, body).unwrap();
    push_with_mac(body, Some(sec), Some(mac))
}

pub fn push_with_mac(
    body: &[u8],
    sec: Option<SecMethod>,
    mac: Option<applet::wire::wsp::Mac>,
) -> Vec<u8> {
    let pdu = PushPdu {
        tid: 0x01,
        content_type: ContentType {
            media: Media::WellKnown(CONTENT_TYPE_CONNECTIVITY_WBXML),
            sec,
            mac,
            other_params: &[],
        },
        headers: &[],
        body,
    };
    let mut out = vec![0u8; pdu.buffer_len()];
    let n = pdu.emit(&mut out).unwrap();
    out.truncate(n);
    out
}

/// NETWPIN push keyed with the card's IMSI.
pub fn netwpin_push(body: &[u8]) -> Vec<u8> {
    push(
        body,
        SecMethod::NETWPIN,
        &Credentials {
            imsi: Some(IMSI.as_bytes()),
            user_pin: None,
        },
    )
}

/// Splits a push into 8-bit SMS with UDH ports 2948 ← 9200 + 8-bit concatenation, 128
/// octets of data per segment (06-oma-cp.md §1); one SMS with ports only if it fits.
pub fn segments(push: &[u8], reference: u8) -> Vec<ShortMessage> {
    if push.len() <= 133 {
        return vec![
            ShortMessage::new(STUB, "447700900123", 0, 0x04, push.to_vec())
                .with_udh([0x05, 0x04, 0x0B, 0x84, 0x0B, 0x84]),
        ];
    }
    let chunks: Vec<&[u8]> = push.chunks(128).collect();
    let total = u8::try_from(chunks.len()).unwrap();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            ShortMessage::new(STUB, "447700900123", 0, 0x04, c.to_vec()).with_udh([
                0x05,
                0x04,
                0x0B,
                0x84,
                0x23,
                0xF0,
                0x00,
                0x03,
                reference,
                total,
                u8::try_from(i + 1).unwrap(),
            ])
        })
        .collect()
}

/// Upper-case hex of `bytes` (how the applet encoder writes DEVKEY).
pub fn upper_hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}
