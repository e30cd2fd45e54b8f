//! SMS TPDUs built with the typed `applet::wire::sms` API, checked against pycrate.
//!
//! Loop: [`vectors`] builds TPDUs → `tests/oracle/sms_vectors.txt` (name, direction, hex;
//! rewritten only with `REGENERATE_SMS_VECTORS=1`) → `tests/oracle/sms_pycrate_check.py`
//! decodes each with pycrate 0.8 (`pycrate_mobile.TS23040_SMS`, `TS23038`) and writes
//! `tests/oracle/sms_pycrate_decoded.txt` → [`pycrate_agrees`] parses the same hex with our
//! parser and compares every field pycrate reported.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use applet::wire::sms::udh::InformationElement;
use applet::wire::sms::{
    Address, AddressValue, DataCodingScheme, Direction, MessageClass, ProtocolIdentifier,
    SmsDeliver, SmsStatusReport, SmsSubmit, Status, StatusReportParameters, TimeZone, Timestamp,
    Tpdu, UserData, UserDataHeader, ValidityPeriod,
};

const VECTORS: &str = include_str!("oracle/sms_vectors.txt");
const DECODED: &str = include_str!("oracle/sms_pycrate_decoded.txt");

fn ts(y: u8, mo: u8, d: u8, h: u8, mi: u8, s: u8, tz: i8) -> Timestamp {
    Timestamp {
        year: y,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: s,
        time_zone: TimeZone::from_quarter_hours(tz).unwrap(),
    }
}

fn emit(t: Tpdu<'_>) -> Vec<u8> {
    let mut buf = [0u8; 200];
    let n = t.emit(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// (name, direction, TPDU) built with the typed constructors.
fn vectors() -> Vec<(&'static str, Direction, Vec<u8>)> {
    use Direction::{MobileOriginated as MO, MobileTerminated as MT};
    let dest = Address::number("+447700900123").unwrap();
    let mut v = Vec::new();
    let mut scratch = [0u8; 160];

    // 7-bit with extension characters, SRR, relative VP
    let ud = UserData::gsm7_text(None, "Price: {5} [EUR] €10 ~|^\\ ok", &mut scratch).unwrap();
    let mut s = SmsSubmit::new(7, dest, DataCodingScheme::GSM7, ud);
    s.status_report_request = true;
    s.validity_period = ValidityPeriod::Relative(0xA7);
    v.push(("submit_gsm7_ext", MO, emit(Tpdu::Submit(s))));

    // 7-bit after an 8-bit concat UDH (1 fill bit) with extension characters
    let ies = [InformationElement::Concat8 {
        reference: 0x42,
        total: 2,
        sequence: 2,
    }];
    let ud = UserData::gsm7_text(
        Some(UserDataHeader::from_elements(&ies)),
        "Hallo {Welt} € [ende]",
        &mut scratch,
    )
    .unwrap();
    let s = SmsSubmit::new(8, dest, DataCodingScheme::GSM7, ud);
    v.push(("submit_gsm7_concat8_ext", MO, emit(Tpdu::Submit(s))));

    // 7-bit after a 16-bit concat UDH (7 octets = 56 bits, 0 fill bits), RD + RP
    let ies = [InformationElement::Concat16 {
        reference: 0xBEEF,
        total: 3,
        sequence: 1,
    }];
    let ud = UserData::gsm7_text(
        Some(UserDataHeader::from_elements(&ies)),
        "@£$¥ èéùìò ÇØøÅå Δ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ ¡¿ÄÖÑÜ§äöñüà",
        &mut scratch,
    )
    .unwrap();
    let mut s = SmsSubmit::new(
        9,
        Address::number("12345678").unwrap(),
        DataCodingScheme::GSM7,
        ud,
    );
    s.reject_duplicates = true;
    s.reply_path = true;
    v.push(("submit_gsm7_concat16_alphabet", MO, emit(Tpdu::Submit(s))));

    // 7 septets: 7 octets, must not grow an '@'
    let ud = UserData::gsm7_text(None, "Example", &mut scratch).unwrap();
    let s = SmsSubmit::new(10, dest, DataCodingScheme::GSM7, ud);
    v.push(("submit_gsm7_seven_septets", MO, emit(Tpdu::Submit(s))));

    // 8-bit with 16-bit application ports, absolute VP
    let ies = [InformationElement::Ports16 {
        destination: 2948,
        originator: 9200,
    }];
    let data = [0x01, 0x06, 0x2F, 0x1F, 0x2D, 0xB6, 0x91, 0x80, 0x00, 0xFF];
    let ud = UserData::octets(Some(UserDataHeader::from_elements(&ies)), &data);
    let mut s = SmsSubmit::new(11, dest, DataCodingScheme::EIGHT_BIT, ud);
    s.validity_period = ValidityPeriod::Absolute(ts(25, 12, 31, 23, 59, 58, -20));
    v.push(("submit_8bit_ports16", MO, emit(Tpdu::Submit(s))));

    // 8-bit class 1 with 8-bit ports
    let ies = [InformationElement::Ports8 {
        destination: 0x10,
        originator: 0x20,
    }];
    let ud = UserData::octets(Some(UserDataHeader::from_elements(&ies)), &data);
    let s = SmsSubmit::new(12, dest, DataCodingScheme::EIGHT_BIT_CLASS1, ud);
    v.push(("submit_8bit_class1_ports8", MO, emit(Tpdu::Submit(s))));

    // UCS2 text
    let ud = UserData::ucs2_text(None, "Привет, мир € 你好", &mut scratch).unwrap();
    let s = SmsSubmit::new(13, dest, DataCodingScheme::UCS2, ud);
    v.push(("submit_ucs2", MO, emit(Tpdu::Submit(s))));

    // DELIVER from an alphanumeric originator, negative time zone
    let ud = UserData::gsm7_text(None, "Your code: 1234 @home", &mut scratch).unwrap();
    let d = SmsDeliver::new(
        Address::alphanumeric("IMEItrack").unwrap(),
        DataCodingScheme::GSM7,
        ts(25, 11, 27, 20, 0, 0, -20),
        ud,
    );
    v.push(("deliver_alnum_oa", MT, emit(Tpdu::Deliver(d))));

    // DELIVER, 7 septet alphanumeric originator (13 semi-octets)
    let ud = UserData::gsm7_text(None, "hi", &mut scratch).unwrap();
    let d = SmsDeliver::new(
        Address::alphanumeric("Example").unwrap(),
        DataCodingScheme::GSM7,
        ts(25, 1, 2, 3, 4, 5, 4),
        ud,
    );
    v.push(("deliver_alnum_oa_seven", MT, emit(Tpdu::Deliver(d))));

    // DELIVER UCS2 with a concat header, SRI + LP, more messages waiting
    let ies = [InformationElement::Concat8 {
        reference: 1,
        total: 1,
        sequence: 1,
    }];
    let ud = UserData::ucs2_text(
        Some(UserDataHeader::from_elements(&ies)),
        "Größe: 10 €",
        &mut scratch,
    )
    .unwrap();
    let mut d = SmsDeliver::new(
        dest,
        DataCodingScheme::UCS2,
        ts(25, 11, 27, 20, 0, 0, 32),
        ud,
    );
    d.status_report_indication = true;
    d.loop_prevention = true;
    d.more_messages = true;
    v.push(("deliver_ucs2_concat8", MT, emit(Tpdu::Deliver(d))));

    // OTA SMS-PP download DELIVER (04-sms.md §5)
    let body = hex::decode("00201506193535B00011AE733256918D050B87C94FBFE12E4DC402F262C41CF67F2F")
        .unwrap();
    let ies = [InformationElement::CommandPacket];
    let mut d = SmsDeliver::new(
        Address::number("12345678").unwrap(),
        DataCodingScheme::data_class(true, MessageClass::Class2),
        ts(22, 7, 25, 0, 0, 0, 0),
        UserData::octets(Some(UserDataHeader::from_elements(&ies)), &body),
    );
    d.pid = ProtocolIdentifier::SIM_DATA_DOWNLOAD;
    d.more_messages = true;
    v.push(("deliver_ota_7f_f6", MT, emit(Tpdu::Deliver(d))));

    // STATUS-REPORT with TP-PI → DCS + UD
    let ud = UserData::gsm7_text(None, "Hello", &mut scratch).unwrap();
    let r = SmsStatusReport {
        more_messages: false,
        loop_prevention: false,
        status_report_qualifier: false,
        message_reference: 42,
        recipient: dest,
        service_centre_timestamp: ts(25, 11, 27, 20, 0, 0, 0),
        discharge_time: ts(25, 11, 27, 20, 1, 0, 4),
        status: Status::DELIVERED,
        parameters: Some(StatusReportParameters {
            reserved: 0,
            pid: Some(ProtocolIdentifier::SME_TO_SME),
            dcs: Some(DataCodingScheme::GSM7),
            user_data: Some(ud),
        }),
    };
    v.push(("status_report_pi_ud", MT, emit(Tpdu::StatusReport(r))));

    // STATUS-REPORT without TP-PI, permanent error
    let r = SmsStatusReport {
        parameters: None,
        status: Status::VALIDITY_PERIOD_EXPIRED,
        ..r
    };
    v.push(("status_report_plain", MT, emit(Tpdu::StatusReport(r))));
    v
}

fn dir_str(d: Direction) -> &'static str {
    match d {
        Direction::MobileOriginated => "MO",
        Direction::MobileTerminated => "MT",
    }
}

fn render_vectors() -> String {
    let mut s = String::from(
        "# SMS TPDUs emitted by applet::wire::sms typed constructors (tests/sms_oracle.rs).\n\
         # Regenerate: REGENERATE_SMS_VECTORS=1 cargo test -p applet --test sms_oracle\n\
         # Then: python3 tests/oracle/sms_pycrate_check.py (writes sms_pycrate_decoded.txt)\n\
         # name direction hex\n",
    );
    for (name, dir, bytes) in vectors() {
        writeln!(s, "{name} {} {}", dir_str(dir), hex::encode_upper(bytes)).unwrap();
    }
    s
}

#[test]
fn vectors_file_is_current() {
    let now = render_vectors();
    if std::env::var_os("REGENERATE_SMS_VECTORS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/sms_vectors.txt");
        std::fs::write(path, &now).unwrap();
        return;
    }
    assert_eq!(
        VECTORS, now,
        "rerun with REGENERATE_SMS_VECTORS=1 and re-run the pycrate script"
    );
}

fn ts_str(t: &Timestamp) -> String {
    format!(
        "{:02}-{:02}-{:02} {:02}:{:02}:{:02} {}{}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        if t.time_zone.negative { '-' } else { '+' },
        t.time_zone.quarter_hours
    )
}

fn addr_fields(out: &mut BTreeMap<String, String>, a: &Address) {
    out.insert("addr.ton".into(), a.toa.ton().0.to_string());
    out.insert("addr.npi".into(), a.toa.npi().0.to_string());
    out.insert("addr.len".into(), a.length_field().to_string());
    let num = match &a.value {
        AddressValue::Digits(d) => d.to_string(),
        AddressValue::Alphanumeric(x) => x.chars().collect(),
    };
    out.insert("addr.num".into(), num);
}

fn ud_fields(out: &mut BTreeMap<String, String>, dcs: DataCodingScheme, ud: &UserData<'_>) {
    out.insert("udl".into(), ud.udl().unwrap().to_string());
    if let Some(h) = &ud.header {
        let ies: Vec<String> = h
            .elements()
            .map(|e| {
                let mut b = vec![0u8; e.buffer_len()];
                e.emit(&mut b).unwrap();
                format!("{:02X}:{}", b[0], hex::encode_upper(&b[2..]))
            })
            .collect();
        out.insert("udh".into(), ies.join(","));
    }
    let text = match dcs.alphabet() {
        applet::wire::sms::Alphabet::Ucs2 => Some(ud.ucs2_chars().unwrap().collect::<String>()),
        applet::wire::sms::Alphabet::Eight => None,
        _ => Some(ud.gsm7_chars().unwrap().collect::<String>()),
    };
    match text {
        Some(t) => out.insert("text".into(), t),
        None => out.insert("data".into(), hex::encode_upper(ud.data().unwrap())),
    };
}

fn b(x: bool) -> String {
    u8::from(x).to_string()
}

/// Our view of a TPDU, with the keys the pycrate script writes.
fn our_fields(t: &Tpdu<'_>) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    match t {
        Tpdu::Submit(s) => {
            o.insert("mti".into(), "1".into());
            o.insert("rp".into(), b(s.reply_path));
            o.insert("udhi".into(), b(s.user_data.header.is_some()));
            o.insert("srr".into(), b(s.status_report_request));
            o.insert(
                "vpf".into(),
                (s.validity_period.vpf_bits() >> 3).to_string(),
            );
            o.insert("rd".into(), b(s.reject_duplicates));
            o.insert("mr".into(), s.message_reference.to_string());
            addr_fields(&mut o, &s.destination);
            o.insert("pid".into(), format!("{:02X}", s.pid.0));
            o.insert("dcs".into(), format!("{:02X}", s.dcs.0));
            match s.validity_period {
                ValidityPeriod::NotPresent => {}
                ValidityPeriod::Relative(x) => {
                    o.insert("vp".into(), format!("{x:02X}"));
                }
                ValidityPeriod::Absolute(t) => {
                    o.insert("vp".into(), ts_str(&t));
                }
                ValidityPeriod::Enhanced(e) => {
                    o.insert("vp".into(), hex::encode_upper(e));
                }
            }
            ud_fields(&mut o, s.dcs, &s.user_data);
        }
        Tpdu::Deliver(d) => {
            o.insert("mti".into(), "0".into());
            o.insert("rp".into(), b(d.reply_path));
            o.insert("udhi".into(), b(d.user_data.header.is_some()));
            o.insert("sri".into(), b(d.status_report_indication));
            o.insert("lp".into(), b(d.loop_prevention));
            o.insert("mms".into(), b(!d.more_messages));
            addr_fields(&mut o, &d.originator);
            o.insert("pid".into(), format!("{:02X}", d.pid.0));
            o.insert("dcs".into(), format!("{:02X}", d.dcs.0));
            o.insert("scts".into(), ts_str(&d.service_centre_timestamp));
            ud_fields(&mut o, d.dcs, &d.user_data);
        }
        Tpdu::StatusReport(r) => {
            o.insert("mti".into(), "2".into());
            o.insert("udhi".into(), "0".into());
            o.insert("srq".into(), b(r.status_report_qualifier));
            o.insert("lp".into(), b(r.loop_prevention));
            o.insert("mms".into(), b(!r.more_messages));
            o.insert("mr".into(), r.message_reference.to_string());
            addr_fields(&mut o, &r.recipient);
            o.insert("scts".into(), ts_str(&r.service_centre_timestamp));
            o.insert("dt".into(), ts_str(&r.discharge_time));
            o.insert("st".into(), format!("{:02X}", r.status.0));
            if let Some(p) = &r.parameters {
                if let Some(pid) = p.pid {
                    o.insert("pid".into(), format!("{:02X}", pid.0));
                }
                if let Some(dcs) = p.dcs {
                    o.insert("dcs".into(), format!("{:02X}", dcs.0));
                }
                if let Some(ud) = &p.user_data {
                    ud_fields(&mut o, p.dcs.unwrap_or_default(), ud);
                }
            }
        }
    }
    o
}

#[test]
fn pycrate_agrees() {
    // name → (key → value) from the pycrate side
    let mut theirs: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for line in DECODED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut it = line.splitn(3, ' ');
        let (name, key, value) = (
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap_or(""),
        );
        theirs
            .entry(name)
            .or_default()
            .insert(key.to_string(), value.to_string());
    }
    let mut compared = 0;
    for (name, dir, bytes) in vectors() {
        let t = Tpdu::parse(&bytes, dir).unwrap();
        assert_eq!(emit(t), bytes, "{name}: re-emit");
        let ours = our_fields(&t);
        let theirs = theirs
            .get(name)
            .unwrap_or_else(|| panic!("{name}: no pycrate record"));
        assert_eq!(
            theirs.get("reencoded").map(String::as_str),
            Some(hex::encode_upper(&bytes).as_str()),
            "{name}: pycrate re-encoding"
        );
        for (k, v) in theirs {
            if k == "reencoded" {
                continue;
            }
            assert_eq!(ours.get(k), Some(v), "{name}: field {k}");
            compared += 1;
        }
        // every field we report was also checked by pycrate
        for k in ours.keys() {
            assert!(theirs.contains_key(k), "{name}: pycrate did not report {k}");
        }
    }
    assert!(compared > 150, "only {compared} fields compared");
}
