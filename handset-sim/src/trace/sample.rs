//! Sample traces built from the verified exchanges of the spec digest: test fixtures,
//! documentation examples and the benchmark's synthetic capture.
//!
//! Every exchange below was decoded by tshark 4.0.17 without a malformed flag in the
//! digest it cites (`/work/shared/spec/01-apdu.md` §3, `02-cat.md` §9,
//! `08-gsmtap-pcap.md` / tools notes §4).

use std::time::Duration;

use super::Trace;

/// sysmoUSIM-SJS1 ATR, T=0 (01-apdu.md §4).
pub const USIM_ATR: &str = "3B9F96801FC78031A073BE21136743200718000001A5";

/// `(command, response)` hex pairs of one SIM-swap detection round on a UICC:
/// select MF (the FCP is constructed after ETSI TS 102 221 §11.1.1.3: file descriptor,
/// FID 3F00, proprietary info, life cycle, security attributes, PIN status template) and
/// EF.ICCID and read it (01-apdu.md §3), then the toolkit session of 02-cat.md §9
/// (TERMINAL PROFILE, FETCH PROVIDE LOCAL INFORMATION (IMEI), TERMINAL RESPONSE with IMEI
/// 490154203237518, FETCH SEND SHORT MESSAGE, TERMINAL RESPONSE), then an event-download
/// ENVELOPE and SET UP EVENT LIST (02-cat.md §9, "other commands").
pub const SESSION: &[(&str, &str)] = &[
    ("00 A4 00 04 02 3F00", "61 25"),
    (
        "00 C0 00 00 25",
        "6223 82027821 83023F00 A503800161 8A0105 8B032F0601 C60C900160830101830 10A830181 9000",
    ),
    ("00 A4 00 04 02 2FE2", "61 19"),
    ("00 B0 00 00 0A", "98881201000040031 0F0 9000"),
    ("80 10 00 00 08 2301294211000007", "91 0B"),
    ("80 12 00 00 0B", "D009 8103012601 82028182 9000"),
    (
        "80 14 00 00 16 8103012601 82028281 830100 14084A09512430325781",
        "91 32",
    ),
    (
        "80 12 00 00 32",
        "D030 8103011300 82028183 8B25 01000C914477000910320004 18 \
         4954014A09512430325781 0000000001 1122334455667788 9000",
    ),
    ("80 14 00 00 0C 8103011300 82028281 830100", "90 00"),
    (
        "80 C2 00 00 15 D613 990103 82028281 9B0100 930700F11000010002",
        "91 0E",
    ),
    ("80 12 00 00 0E", "D00C 8103010500 82028182 990103 9000"),
    ("80 14 00 00 0C 8103010500 82028281 830100", "90 00"),
];

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 2);
    for i in (0..clean.len()).step_by(2) {
        out.push(u8::from_str_radix(clean.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0));
    }
    out
}

/// One session: `POWER_ON`, the [`SESSION`] exchanges 100 µs apart, `POWER_OFF`.
pub fn session() -> Trace {
    let mut t = Trace::new();
    t.header
        .set("producer", "handset_sim::trace::sample::session");
    t.header.set(
        "card",
        "spec-digest exchanges (01-apdu.md §3, 02-cat.md §9)",
    );
    t.header.set("handset", "IMEI 490154203237518");
    t.header.set("start", "1700000000.000000");
    let mut us = 0u64;
    t.push_power_on(Some(Duration::ZERO), &hex(USIM_ATR));
    for (c, r) in SESSION {
        us += 100;
        t.push_exchange(Some(Duration::from_micros(us)), &hex(c), &hex(r));
    }
    t.push_power_off(Some(Duration::from_micros(us + 100)));
    t
}

/// A capture of at least `exchanges` exchanges: [`SESSION`] repeated, each round
/// framed by `POWER_ON` / `POWER_OFF`, 50 µs per event.
pub fn capture(exchanges: usize) -> Trace {
    let rounds = exchanges.div_ceil(SESSION.len());
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = SESSION.iter().map(|(c, r)| (hex(c), hex(r))).collect();
    let bytes: usize = pairs.iter().map(|(c, r)| c.len() + r.len()).sum();
    let mut t = Trace::with_capacity(rounds * (SESSION.len() + 2), rounds * (bytes + 44));
    t.header
        .set("producer", "handset_sim::trace::sample::capture");
    t.header.set("card", "spec-digest exchanges, repeated");
    t.header.set("start", "1700000000.000000");
    let atr = hex(USIM_ATR);
    let mut us = 0u64;
    for _ in 0..rounds {
        t.push_power_on(Some(Duration::from_micros(us)), &atr);
        for (c, r) in &pairs {
            us += 50;
            t.push_exchange(Some(Duration::from_micros(us)), c, r);
        }
        us += 50;
        t.push_power_off(Some(Duration::from_micros(us)));
        us += 50;
    }
    t
}
