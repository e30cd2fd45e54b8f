//! Human-readable decoding of trace events, one line per exchange.
//!
//! Each exchange becomes `INSTRUCTION [parameters][: command payload] => SW1 SW2 words[;
//! response payload]`. What is decoded, and from which codec:
//!
//! | what | how |
//! | --- | --- |
//! | instruction, class (GSM SIM `A0` vs UICC) | INS names of ETSI TS 102 221 §10.1.2 / TS 51.011 §9.2 (`/work/shared/spec/01-apdu.md` §1) |
//! | file selected | SELECT P1/P2 and FID names (01-apdu.md §1, §5); the selection is tracked so READ/UPDATE name the current EF |
//! | EF.ICCID / EF.IMSI contents | swapped-nibble BCD (01-apdu.md §5) |
//! | toolkit command, qualifier, devices | [`applet::wire::cat::ProactiveCommand`] on FETCH responses (TS 102 223 §6.6) |
//! | TERMINAL RESPONSE result and data (IMEI digits, IMEISV, location, date-time) | [`applet::wire::cat::TerminalResponse`], [`applet::wire::imei`] |
//! | SMS TPDU fields and text | [`applet::wire::sms`] (TS 23.040) |
//! | registration fields | [`applet::wire::registration`] (`docs/registration.md`) |
//! | ENVELOPE type and fields | [`applet::wire::cat::Envelope`] (TS 102 223 §7) |
//! | status word in words | [`applet::wire::apdu::StatusWord::description`] |
//!
//! Machine-greppable tokens used by tests: `type=XX qual=XX` (toolkit command details),
//! `IMEI=<15 digits>`, `IMEISV=<16 digits>`, `result=XX`.
//!
//! The decoder writes into a caller's `Vec<u8>` and allocates nothing per exchange.

use std::io::{self, Write};

use applet::wire::apdu::{Cla, Ins};
use applet::wire::cat::{
    CommandType, Dcs, DeviceId, Envelope, Event as CatEvent, GeneralResult, ProactiveCommand,
    ResponseData, TerminalResponse,
};
use applet::wire::registration::Registration;
use applet::wire::sms::{self, Alphabet, Direction};

use super::format::{put_hex, put_time};
use super::{Event, Exchange, Trace};

macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// What was selected last, and what the previous command was (for GET RESPONSE).
#[derive(Debug, Clone, Copy, Default)]
struct Selection {
    /// FID of the current file, if selected by FID.
    fid: Option<u16>,
    /// Whether the current selection is an application (by AID).
    adf: bool,
}

/// Stateful decoder: tracks the selected file and the last command across exchanges.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    current: Selection,
    /// INS and FID of the previous command, for the GET RESPONSE context.
    previous: Option<(u8, Option<u16>)>,
}

/// Counts from [`decode_trace`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Events decoded (exchanges, resets, power-offs).
    pub events: usize,
    /// Exchanges among them.
    pub exchanges: usize,
}

/// Decodes every event of `trace` into `w`: `#N +time summary` per line (N = 1-based
/// event number).
pub fn decode_trace<W: Write>(trace: &Trace, mut w: W) -> io::Result<DecodeStats> {
    let mut d = Decoder::new();
    let mut out = Vec::with_capacity(128 * 1024);
    let mut stats = DecodeStats::default();
    for (i, entry) in trace.entries().enumerate() {
        w!(out, "#{}", i + 1);
        if let Some(t) = entry.time {
            out.push(b' ');
            put_time(&mut out, t);
        }
        out.push(b' ');
        d.summary(&entry.event, &mut out);
        out.push(b'\n');
        stats.events += 1;
        if matches!(entry.event, Event::Exchange(_)) {
            stats.exchanges += 1;
        }
        if out.len() > 120 * 1024 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    w.flush()?;
    Ok(stats)
}

/// Name of an instruction (TS 102 223 / TS 102 221 §10.1.2, TS 51.011 §9.2).
pub fn ins_name(cla: Cla, ins: Ins) -> &'static str {
    match ins.0 {
        0xA4 => "SELECT",
        0xF2 if cla.0 & 0xF0 == 0x80 || cla.is_gsm() => "STATUS",
        0xB0 => "READ BINARY",
        0xD6 => "UPDATE BINARY",
        0xB2 => "READ RECORD",
        0xDC => "UPDATE RECORD",
        0xA2 => "SEARCH RECORD",
        0x32 => "INCREASE",
        0x20 => "VERIFY",
        0x24 => "CHANGE PIN",
        0x26 => "DISABLE PIN",
        0x28 => "ENABLE PIN",
        0x2C => "UNBLOCK PIN",
        0x04 => "DEACTIVATE FILE",
        0x44 => "ACTIVATE FILE",
        0x88 if cla.is_gsm() => "RUN GSM ALGORITHM",
        0x88 => "AUTHENTICATE",
        0x84 => "GET CHALLENGE",
        0xAA => "TERMINAL CAPABILITY",
        0x70 => "MANAGE CHANNEL",
        0xC0 => "GET RESPONSE",
        0x10 => "TERMINAL PROFILE",
        0xC2 => "ENVELOPE",
        0x12 => "FETCH",
        0x14 => "TERMINAL RESPONSE",
        0xFA => "SLEEP",
        0xCA => "GET DATA",
        0xE2 => "STORE DATA",
        0xE6 => "INSTALL",
        0xE8 => "LOAD",
        0xE4 => "DELETE",
        0x50 => "INITIALIZE UPDATE",
        0x82 => "EXTERNAL AUTHENTICATE",
        _ => "UNKNOWN INSTRUCTION",
    }
}

/// Name of a file by FID (01-apdu.md §5; TS 102 221 §13, TS 31.102 §4.2, TS 51.011 §10).
pub fn fid_name(fid: u16) -> Option<&'static str> {
    Some(match fid {
        0x3F00 => "MF",
        0x2F00 => "EF.DIR",
        0x2FE2 => "EF.ICCID",
        0x2F05 => "EF.PL",
        0x2F06 => "EF.ARR",
        0x7F10 => "DF.TELECOM",
        0x7F20 => "DF.GSM",
        0x7FFF => "ADF (current application)",
        0x6F07 => "EF.IMSI",
        0x6F05 => "EF.LI",
        0x6F38 => "EF.UST/SST",
        0x6F3A => "EF.ADN",
        0x6F3B => "EF.FDN",
        0x6F3C => "EF.SMS",
        0x6F40 => "EF.MSISDN",
        0x6F42 => "EF.SMSP",
        0x6F43 => "EF.SMSS",
        0x6F46 => "EF.SPN",
        0x6F78 => "EF.ACC",
        0x6F7B => "EF.FPLMN",
        0x6F7E => "EF.LOCI",
        0x6FAD => "EF.AD",
        0x6FB7 => "EF.ECC",
        _ => return None,
    })
}

/// Name of a toolkit command type (TS 102 223 §9.4, 02-cat.md §3).
pub fn command_type_name(t: CommandType) -> &'static str {
    match t.0 {
        0x01 => "REFRESH",
        0x02 => "MORE TIME",
        0x03 => "POLL INTERVAL",
        0x04 => "POLLING OFF",
        0x05 => "SET UP EVENT LIST",
        0x10 => "SET UP CALL",
        0x11 => "SEND SS",
        0x12 => "SEND USSD",
        0x13 => "SEND SHORT MESSAGE",
        0x14 => "SEND DTMF",
        0x15 => "LAUNCH BROWSER",
        0x21 => "DISPLAY TEXT",
        0x22 => "GET INKEY",
        0x23 => "GET INPUT",
        0x24 => "SELECT ITEM",
        0x25 => "SET UP MENU",
        0x26 => "PROVIDE LOCAL INFORMATION",
        0x27 => "TIMER MANAGEMENT",
        0x28 => "SET UP IDLE MODE TEXT",
        0x40 => "OPEN CHANNEL",
        0x41 => "CLOSE CHANNEL",
        0x42 => "RECEIVE DATA",
        0x43 => "SEND DATA",
        0x44 => "GET CHANNEL STATUS",
        0x81 => "END OF THE PROACTIVE SESSION",
        _ => "UNKNOWN COMMAND",
    }
}

/// Meaning of a qualifier, for the commands where it is an enumeration (02-cat.md §3).
pub fn qualifier_name(t: CommandType, q: u8) -> Option<&'static str> {
    Some(match (t.0, q) {
        (0x26, 0x00) => "location information",
        (0x26, 0x01) => "IMEI",
        (0x26, 0x02) => "network measurement results",
        (0x26, 0x03) => "date, time and time zone",
        (0x26, 0x04) => "language",
        (0x26, 0x05) => "timing advance",
        (0x26, 0x06) => "access technology",
        (0x26, 0x07) => "ESN",
        (0x26, 0x08) => "IMEISV",
        (0x26, 0x09) => "search mode",
        (0x26, 0x0A) => "battery state",
        (0x26, 0x0B) => "MEID",
        (0x13, q) if q & 1 == 0 => "packing not required",
        (0x13, _) => "packing required",
        (0x27, 0x00) => "start",
        (0x27, 0x01) => "deactivate",
        (0x27, 0x02) => "get current value",
        _ => return None,
    })
}

/// Meaning of a general result (TS 102 223 §8.12, 02-cat.md §5).
pub fn result_name(r: GeneralResult) -> &'static str {
    match r.0 {
        0x00 => "performed successfully",
        0x01 => "performed with partial comprehension",
        0x02 => "performed with missing information",
        0x03 => "REFRESH performed with additional EFs read",
        0x04 => "performed successfully, icon not displayed",
        0x05 => "performed, modified by call control",
        0x06 => "performed successfully, limited service",
        0x07 => "performed with modification",
        0x10 => "proactive session terminated by the user",
        0x11 => "backward move requested by the user",
        0x12 => "no response from user",
        0x13 => "help information required by the user",
        0x14 => "USSD/SS transaction terminated by the user",
        0x20 => "terminal currently unable to process command",
        0x21 => "network currently unable to process command",
        0x22 => "user did not accept the proactive command",
        0x24 => "action in contradiction with the current timer state",
        0x26 => "launch browser generic error",
        0x30 => "command beyond terminal's capabilities",
        0x31 => "command type not understood by terminal",
        0x32 => "command data not understood by terminal",
        0x33 => "command number not known by terminal",
        0x34 => "SS return error",
        0x35 => "SMS RP-ERROR",
        0x36 => "error, required values are missing",
        0x37 => "USSD return error",
        0x38 => "multiple-card commands error",
        0x39 => "interaction with call control / MO SM control, permanent problem",
        0x3A => "Bearer Independent Protocol error",
        0x3B => "access technology unable to process command",
        _ => "unknown result",
    }
}

/// Name of an event (TS 102 223 §8.25, 02-cat.md §6).
pub fn event_name(e: CatEvent) -> &'static str {
    match e.0 {
        0x00 => "MT call",
        0x01 => "call connected",
        0x02 => "call disconnected",
        0x03 => "location status",
        0x04 => "user activity",
        0x05 => "idle screen available",
        0x06 => "card reader status",
        0x07 => "language selection",
        0x08 => "browser termination",
        0x09 => "data available",
        0x0A => "channel status",
        0x0B => "access technology change",
        0x0C => "display parameters changed",
        0x0D => "local connection",
        0x0E => "network search mode change",
        0x0F => "browsing status",
        0x12 => "network rejection",
        _ => "event",
    }
}

fn device_name(d: DeviceId) -> &'static str {
    match d.0 {
        0x01 => "keypad",
        0x02 => "display",
        0x03 => "earpiece",
        0x81 => "UICC",
        0x82 => "terminal",
        0x83 => "network",
        0x10..=0x17 => "card reader",
        0x21..=0x27 => "channel",
        _ => "device",
    }
}

/// Writes swapped-nibble BCD digits (low nibble first), stopping at an `F` filler.
fn put_swapped_bcd(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        for n in [b & 0x0F, b >> 4] {
            match n {
                0..=9 => out.push(b'0' + n),
                0xF => return,
                0xA => out.push(b'*'),
                0xB => out.push(b'#'),
                _ => out.push(b'a' + (n - 0xC)),
            }
        }
    }
}

/// Digits of a TS 24.008 §10.5.1.4 mobile identity (IMSI, IMEI, IMEISV): digit 1 in
/// the high nibble of byte 1, then swapped pairs; `F` filler when the count is even.
fn put_mobile_identity(out: &mut Vec<u8>, value: &[u8]) {
    let Some((first, rest)) = value.split_first() else {
        return;
    };
    let d1 = first >> 4;
    if d1 <= 9 {
        out.push(b'0' + d1);
    }
    put_swapped_bcd(out, rest);
}

/// Writes GSM-7 / 8-bit / UCS2 text, quoted, with control characters escaped.
fn put_text(out: &mut Vec<u8>, chars: impl Iterator<Item = char>) {
    out.push(b'"');
    for c in chars {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if c.is_control() => w!(out, "\\u{{{:x}}}", c as u32),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

impl Decoder {
    /// A decoder with nothing selected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes a one-line summary of `event` into `out` (no newline).
    pub fn summary(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        match event {
            Event::PowerOn { atr } => {
                self.current = Selection::default();
                self.previous = None;
                out.extend_from_slice(b"POWER ON, ATR ");
                put_hex(out, atr, false);
                put_atr_protocols(out, atr);
            }
            Event::Reset { atr } => {
                self.current = Selection::default();
                self.previous = None;
                out.extend_from_slice(b"RESET, ATR ");
                put_hex(out, atr, false);
                put_atr_protocols(out, atr);
            }
            Event::PowerOff => out.extend_from_slice(b"POWER OFF"),
            Event::Exchange(ex) => self.exchange(ex, out),
        }
    }

    fn exchange(&mut self, ex: &Exchange<'_>, out: &mut Vec<u8>) {
        let c = ex.command;
        let (Some(&cla), Some(&ins), Some(&p1), Some(&p2)) =
            (c.first(), c.get(1), c.get(2), c.get(3))
        else {
            out.extend_from_slice(b"(command shorter than 4 bytes)");
            return;
        };
        let p3 = c.get(4).copied();
        let data = c.get(5..).unwrap_or(&[]);
        let (cla, ins) = (Cla(cla), Ins(ins));
        if cla.is_gsm() {
            out.extend_from_slice(b"GSM ");
        }
        out.extend_from_slice(ins_name(cla, ins).as_bytes());
        if ins_name(cla, ins) == "UNKNOWN INSTRUCTION" {
            w!(out, " {:02X}{:02X}", cla.0, ins.0);
        }
        if cla.logical_channel() != 0 && !cla.is_gsm() {
            w!(out, " (channel {})", cla.logical_channel());
        }
        let sw = ex.sw();
        let ok = sw.is_some_and(|s| s.is_success_class() || s.response_available().is_some());
        let mut selected_fid = None;
        match ins.0 {
            0xA4 => selected_fid = self.select(p1, p2, data, ok, out),
            0xB0 | 0xD6 => {
                if p1 & 0x80 != 0 {
                    w!(out, " SFI {:02X} offset {}", p1 & 0x1F, p2);
                } else {
                    self.put_current(out);
                    w!(out, " offset {}", u16::from(p1 & 0x7F) << 8 | u16::from(p2));
                }
            }
            0xB2 | 0xDC => {
                w!(out, " record {}", p1);
                match p2 & 0x07 {
                    0x04 => out.extend_from_slice(b" (absolute)"),
                    0x02 => out.extend_from_slice(b" (next)"),
                    0x03 => out.extend_from_slice(b" (previous)"),
                    _ => {}
                }
                if p2 >> 3 != 0 {
                    w!(out, " SFI {:02X}", p2 >> 3);
                } else {
                    self.put_current(out);
                }
            }
            0x20 | 0x24 | 0x26 | 0x28 | 0x2C => {
                w!(out, " key {:02X}", p2);
                if p2 & 0x80 != 0 {
                    out.extend_from_slice(b" (application PIN)");
                }
            }
            0xC0 => {
                if let Some((prev, fid)) = self.previous {
                    w!(out, " for {}", ins_name(cla, Ins(prev)));
                    if let Some(fid) = fid {
                        w!(out, " {fid:04X}");
                    }
                }
            }
            _ => {}
        }
        // Command payload.
        match (cla.0, ins.0) {
            (_, 0x10) => {
                w!(out, " ({} bytes)", data.len());
            }
            (_, 0x14) => {
                out.extend_from_slice(b": ");
                terminal_response(data, out);
            }
            (_, 0xC2) => {
                out.extend_from_slice(b": ");
                envelope(data, out);
            }
            _ => {}
        }
        let is_case2ish = matches!(ins.0, 0xB0 | 0xB2 | 0xC0 | 0x12 | 0xF2 | 0xCA);
        if ins.0 == 0xF2 && p2 == 0x0C {
            // STATUS with P2 = 0C asks for no data (TS 102 221 §11.1.2): P3 is not an Le.
            out.extend_from_slice(b" (no data returned)");
        } else if is_case2ish && let Some(le) = p3 {
            w!(out, " Le={}", if le == 0 { 256 } else { u16::from(le) });
        }
        // Response.
        let Some(sw) = sw else {
            out.extend_from_slice(b" => (response not recorded)");
            self.previous = Some((ins.0, selected_fid.or(self.current.fid)));
            return;
        };
        w!(
            out,
            " => {:02X} {:02X} {}",
            sw.sw1(),
            sw.sw2(),
            sw.description()
        );
        let rdata = ex.response_data().unwrap_or(&[]);
        if !rdata.is_empty() {
            match ins.0 {
                0x12 => {
                    out.extend_from_slice(b"; ");
                    proactive(rdata, out);
                }
                0xB0 if p1 & 0x80 == 0 => self.read_binary(rdata, out),
                _ => w!(out, "; {} bytes of data", rdata.len()),
            }
        }
        self.previous = Some((ins.0, selected_fid.or(self.current.fid)));
    }

    fn put_current(&self, out: &mut Vec<u8>) {
        match self.current.fid {
            Some(fid) => {
                w!(out, " {fid:04X}");
                if let Some(n) = fid_name(fid) {
                    w!(out, " ({n})");
                }
            }
            None if self.current.adf => out.extend_from_slice(b" (current ADF)"),
            None => {}
        }
    }

    fn select(&mut self, p1: u8, p2: u8, data: &[u8], ok: bool, out: &mut Vec<u8>) -> Option<u16> {
        let fid = match (p1, data) {
            (0x04, aid) => {
                out.extend_from_slice(b" by AID ");
                put_hex(out, aid, false);
                if aid.starts_with(&[0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02]) {
                    out.extend_from_slice(b" (USIM)");
                } else if aid.starts_with(&[0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x04]) {
                    out.extend_from_slice(b" (ISIM)");
                }
                if ok {
                    self.current = Selection {
                        fid: None,
                        adf: true,
                    };
                }
                None
            }
            (0x08 | 0x09, path) => {
                out.extend_from_slice(if p1 == 0x08 {
                    b" by path from MF "
                } else {
                    b" by path from current DF "
                });
                put_hex(out, path, false);
                let last = path
                    .last_chunk::<2>()
                    .map(|[a, b]| u16::from(*a) << 8 | u16::from(*b));
                if let Some(fid) = last
                    && let Some(n) = fid_name(fid)
                {
                    w!(out, " ({n})");
                }
                last
            }
            (0x03, _) => {
                out.extend_from_slice(b" parent DF");
                None
            }
            (_, [a, b]) => {
                let fid = u16::from(*a) << 8 | u16::from(*b);
                w!(out, " {fid:04X}");
                if let Some(n) = fid_name(fid) {
                    w!(out, " ({n})");
                }
                Some(fid)
            }
            (_, other) => {
                out.extend_from_slice(b" ");
                put_hex(out, other, false);
                None
            }
        };
        match p2 & 0x0C {
            0x04 if p1 != 0x04 || p2 != 0x04 => out.extend_from_slice(b", return FCP"),
            0x0C => out.extend_from_slice(b", no data"),
            _ => {}
        }
        if ok && p1 != 0x04 {
            self.current = Selection { fid, adf: false };
        }
        fid
    }

    fn read_binary(&self, rdata: &[u8], out: &mut Vec<u8>) {
        match self.current.fid {
            Some(0x2FE2) => {
                out.extend_from_slice(b"; ICCID ");
                put_swapped_bcd(out, rdata);
            }
            Some(0x6F07) => {
                out.extend_from_slice(b"; IMSI ");
                if let Some((&len, rest)) = rdata.split_first() {
                    put_mobile_identity(out, rest.get(..usize::from(len)).unwrap_or(rest));
                }
            }
            _ => {
                out.extend_from_slice(b"; data ");
                put_hex(out, rdata.get(..32).unwrap_or(rdata), false);
                if rdata.len() > 32 {
                    w!(out, "… ({} bytes)", rdata.len());
                }
            }
        }
    }
}

fn put_atr_protocols(out: &mut Vec<u8>, atr: &[u8]) {
    if atr.is_empty() {
        out.extend_from_slice(b"not recorded");
        return;
    }
    match applet::wire::atr::Atr::parse(atr) {
        Ok(a) => {
            let mut first = true;
            out.extend_from_slice(b" (");
            for t in 0..15u8 {
                if a.offers(t) {
                    if !first {
                        out.extend_from_slice(b", ");
                    }
                    w!(out, "T={t}");
                    first = false;
                }
            }
            if first {
                out.extend_from_slice(b"T=0");
            }
            out.push(b')');
        }
        Err(e) => w!(out, " (not a valid ATR: {e})"),
    }
}

fn put_details(out: &mut Vec<u8>, number: u8, kind: CommandType, qualifier: u8) {
    out.extend_from_slice(command_type_name(kind).as_bytes());
    if let Some(q) = qualifier_name(kind, qualifier) {
        w!(out, " ({q})");
    }
    w!(out, " #{number} type={:02X} qual={:02X}", kind.0, qualifier);
}

fn put_devices(out: &mut Vec<u8>, source: DeviceId, destination: DeviceId) {
    w!(
        out,
        " {}->{}",
        device_name(source),
        device_name(destination)
    );
}

fn proactive(rdata: &[u8], out: &mut Vec<u8>) {
    let cmd = match ProactiveCommand::parse(rdata) {
        Ok(c) => c,
        Err(e) => {
            w!(out, "proactive command not decodable ({e}): ");
            put_hex(out, rdata, false);
            return;
        }
    };
    let d = cmd.details();
    put_details(out, d.number, d.kind, d.qualifier);
    if let Some(dev) = cmd.devices() {
        put_devices(out, dev.source, dev.destination);
    }
    match cmd {
        ProactiveCommand::SendShortMessage(sm) => {
            if let Some(a) = sm.alpha {
                if a.is_null() {
                    out.extend_from_slice(b" alpha=null");
                } else {
                    out.extend_from_slice(b" alpha=");
                    put_text(out, a.text.iter().map(|&b| char::from(b)));
                }
            }
            if let Some(a) = sm.address {
                out.extend_from_slice(b" SMSC=");
                if a.ton() == 1 {
                    out.push(b'+');
                }
                put_swapped_bcd(out, a.digits);
            }
            out.extend_from_slice(b"; ");
            sms_tpdu(sm.tpdu.tpdu, Direction::MobileOriginated, out);
        }
        ProactiveCommand::SetUpEventList(e) => {
            out.extend_from_slice(b" events:");
            for ev in e.events.iter() {
                w!(out, " {}", event_name(ev));
            }
        }
        ProactiveCommand::TimerManagement(t) => {
            w!(out, " timer={}", t.timer_id.id);
            if let Some(v) = t.value {
                w!(
                    out,
                    " value={:02}:{:02}:{:02}",
                    v.hours,
                    v.minutes,
                    v.seconds
                );
            }
        }
        ProactiveCommand::DisplayText(t) => {
            out.extend_from_slice(b" text=");
            cat_text(t.text.dcs, t.text.text, out);
        }
        ProactiveCommand::PollInterval(p) => {
            w!(
                out,
                " interval={} unit={:02X}",
                p.interval.interval,
                p.interval.unit.0
            );
        }
        _ => {}
    }
}

fn cat_text(dcs: Option<Dcs>, text: &[u8], out: &mut Vec<u8>) {
    match dcs {
        Some(Dcs::UCS2) => put_text(out, sms::ucs2::decode(text)),
        Some(Dcs::GSM7_PACKED) => match sms::gsm7::unpack(text, 0, text.len() * 8 / 7) {
            Ok(s) => put_text(out, sms::gsm7::decode(s)),
            Err(_) => put_hex(out, text, false),
        },
        _ => put_text(out, sms::gsm7::decode(text.iter().map(|b| b & 0x7F))),
    }
}

fn sms_tpdu(tpdu: &[u8], dir: Direction, out: &mut Vec<u8>) {
    let t = match sms::Tpdu::parse(tpdu, dir) {
        Ok(t) => t,
        Err(e) => {
            w!(out, "SMS TPDU not decodable ({e}): ");
            put_hex(out, tpdu, false);
            return;
        }
    };
    let (dcs, ud) = match t {
        sms::Tpdu::Submit(s) => {
            w!(
                out,
                "SMS-SUBMIT MR={} DA={} PID={:02X} DCS={:02X}",
                s.message_reference,
                s.destination,
                s.pid.0,
                s.dcs.0
            );
            (s.dcs, s.user_data)
        }
        sms::Tpdu::Deliver(d) => {
            w!(
                out,
                "SMS-DELIVER OA={} PID={:02X} DCS={:02X}",
                d.originator,
                d.pid.0,
                d.dcs.0
            );
            (d.dcs, d.user_data)
        }
        sms::Tpdu::StatusReport(r) => {
            w!(
                out,
                "SMS-STATUS-REPORT MR={} ST={:02X}",
                r.message_reference,
                r.status.0
            );
            return;
        }
    };
    if let Some(h) = ud.header {
        out.extend_from_slice(b" UDH");
        for ie in h.elements() {
            w!(out, " IE{:02X}", ie.iei().0);
        }
    }
    match dcs.alphabet() {
        Alphabet::Gsm7 | Alphabet::Reserved => {
            if let Some(chars) = ud.gsm7_chars() {
                out.extend_from_slice(b" text=");
                put_text(out, chars);
            }
        }
        Alphabet::Ucs2 => {
            if let Some(chars) = ud.ucs2_chars() {
                out.extend_from_slice(b" text=");
                put_text(out, chars);
            }
        }
        Alphabet::Eight => {
            let data = ud.data().unwrap_or(&[]);
            w!(out, " {} octets", data.len());
            if data.starts_with(&applet::wire::registration::MAGIC) {
                out.extend_from_slice(b"; ");
                registration(data, out);
            }
        }
    }
}

fn registration(data: &[u8], out: &mut Vec<u8>) {
    let r = match Registration::new_checked(data) {
        Ok(r) => r,
        Err(e) => {
            w!(out, "registration not decodable ({e})");
            return;
        }
    };
    let kind = match r.event().0 {
        0x01 => "first use",
        0x02 => "handset changed",
        0x03 => "retry",
        _ => "unknown event",
    };
    w!(
        out,
        "registration v{} event={:02X} ({kind}) KID={:02X} counter={} ICCID=",
        r.version(),
        r.event().0,
        r.key_id().0,
        r.counter()
    );
    put_swapped_bcd(out, r.iccid());
    out.extend_from_slice(b" IMSI=");
    let imsi = r.imsi();
    put_mobile_identity(
        out,
        imsi.get(1..1 + usize::from(imsi[0]).min(8)).unwrap_or(&[]),
    );
    out.extend_from_slice(b" IMEI=");
    put_mobile_identity(out, r.imei());
    if let Some(sv) = r.imeisv() {
        out.extend_from_slice(b" IMEISV=");
        put_mobile_identity(out, sv);
    }
    if let Some(p) = r.previous_imei() {
        out.extend_from_slice(b" previous IMEI=");
        put_mobile_identity(out, p);
    }
    out.extend_from_slice(b" MAC=");
    put_hex(out, r.mac(), false);
}

fn terminal_response(data: &[u8], out: &mut Vec<u8>) {
    let tr = match TerminalResponse::parse(data) {
        Ok(t) => t,
        Err(e) => {
            w!(out, "not decodable ({e}) ");
            put_hex(out, data, false);
            return;
        }
    };
    let d = tr.details;
    put_details(out, d.number, d.kind, d.qualifier);
    w!(
        out,
        " result={:02X} ({})",
        tr.result.general.0,
        result_name(tr.result.general)
    );
    if !tr.result.additional.is_empty() {
        out.extend_from_slice(b" additional=");
        put_hex(out, tr.result.additional, false);
    }
    match tr.data {
        ResponseData::None => {}
        ResponseData::Imei(i) => {
            out.extend_from_slice(b" IMEI=");
            put_mobile_identity(out, &i.identity);
        }
        ResponseData::Imeisv(i) => {
            out.extend_from_slice(b" IMEISV=");
            put_mobile_identity(out, &i.identity);
        }
        ResponseData::LocationInformation(l) => {
            let p = l.plmn;
            let mcc = [p[0] & 0x0F, p[0] >> 4, p[1] & 0x0F];
            let mnc3 = p[1] >> 4;
            w!(
                out,
                " MCC={}{}{} MNC={}{}",
                mcc[0],
                mcc[1],
                mcc[2],
                p[2] & 0x0F,
                p[2] >> 4
            );
            if mnc3 != 0xF {
                w!(out, "{mnc3}");
            }
            w!(out, " LAC={:04X} CI={:04X}", l.lac, l.cell_id);
            if let Some(x) = l.extended_cell_id {
                w!(out, "{x:04X}");
            }
        }
        ResponseData::DateTime(t) => {
            w!(
                out,
                " date-time=20{:02}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second
            );
            match t.time_zone_quarters() {
                Some(q) => w!(out, " TZ={q:+} quarter-hours"),
                None => out.extend_from_slice(b" TZ=unknown"),
            }
        }
        ResponseData::Language(l) => {
            out.extend_from_slice(b" language=");
            put_text(out, l.code.iter().map(|&b| char::from(b)));
        }
        ResponseData::Duration(d) => {
            w!(out, " interval={} unit={:02X}", d.interval, d.unit.0);
        }
        ResponseData::Timer { id, value } => {
            w!(out, " timer={}", id.id);
            if let Some(v) = value {
                w!(
                    out,
                    " value={:02}:{:02}:{:02}",
                    v.hours,
                    v.minutes,
                    v.seconds
                );
            }
        }
        ResponseData::Raw(r) => {
            out.extend_from_slice(b" data=");
            put_hex(out, r, false);
        }
    }
}

fn envelope(data: &[u8], out: &mut Vec<u8>) {
    let env = match Envelope::parse(data) {
        Ok(e) => e,
        Err(e) => {
            w!(out, "not decodable ({e}) ");
            put_hex(out, data, false);
            return;
        }
    };
    match env {
        Envelope::SmsPpDownload(s) => {
            out.extend_from_slice(b"SMS-PP DOWNLOAD");
            put_devices(out, s.devices.source, s.devices.destination);
            if let Some(a) = s.address {
                out.extend_from_slice(b" SMSC=");
                if a.ton() == 1 {
                    out.push(b'+');
                }
                put_swapped_bcd(out, a.digits);
            }
            out.extend_from_slice(b"; ");
            sms_tpdu(s.tpdu.tpdu, Direction::MobileTerminated, out);
        }
        Envelope::EventDownload(e) => {
            out.extend_from_slice(b"EVENT DOWNLOAD");
            for ev in e.events.iter() {
                w!(out, " {}", event_name(ev));
            }
            if let Some(s) = e.location_status {
                let t = match s.status.0 {
                    0 => "normal service",
                    1 => "limited service",
                    2 => "no service",
                    _ => "unknown",
                };
                w!(out, " status={t}");
            }
        }
        Envelope::TimerExpiration(t) => {
            w!(
                out,
                "TIMER EXPIRATION timer={} value={:02}:{:02}:{:02}",
                t.timer_id.id,
                t.value.hours,
                t.value.minutes,
                t.value.seconds
            );
        }
        Envelope::Opaque(t) => {
            let name = match t.tag.0 {
                0xD2 => "CELL BROADCAST DOWNLOAD",
                0xD3 => "MENU SELECTION",
                0xD4 => "CALL CONTROL",
                0xD5 => "MO SHORT MESSAGE CONTROL",
                0xD9 => "USSD DOWNLOAD",
                0xDA => "MMS TRANSFER STATUS",
                0xDB => "MMS NOTIFICATION DOWNLOAD",
                0xD1 => "SMS-PP DOWNLOAD",
                0xD6 => "EVENT DOWNLOAD",
                0xD7 => "TIMER EXPIRATION",
                _ => "ENVELOPE",
            };
            w!(out, "{name} (tag {:02X}, {} bytes)", t.tag.0, t.value.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn one(d: &mut Decoder, cmd: &str, rsp: &str) -> String {
        let (c, r) = (h(cmd), h(rsp));
        let mut out = Vec::new();
        d.summary(
            &Event::Exchange(Exchange {
                command: &c,
                response: Some(&r),
            }),
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    /// The worked exchange of /work/shared/spec/02-cat.md §9 (verified with tshark there).
    #[test]
    fn cat_worked_exchange() {
        let mut d = Decoder::new();
        let s = one(&mut d, "80 10 00 00 08 23 01 29 42 11 00 00 07", "91 0B");
        assert!(
            s.starts_with("TERMINAL PROFILE (8 bytes) => 91 0B Normal ending"),
            "{s}"
        );
        let s = one(
            &mut d,
            "80 12 00 00 0B",
            "D0 09 81 03 01 26 01 82 02 81 82 90 00",
        );
        assert!(
            s.contains("PROVIDE LOCAL INFORMATION (IMEI) #1 type=26 qual=01 UICC->terminal"),
            "{s}"
        );
        assert!(s.starts_with("FETCH Le=11 => 90 00"), "{s}");
        let s = one(
            &mut d,
            "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81",
            "91 32",
        );
        assert!(
            s.contains("type=26 qual=01 result=00 (performed successfully)"),
            "{s}"
        );
        assert!(s.contains("IMEI=490154203237518"), "{s}");
    }

    /// 01-apdu.md §3: SELECT MF / GET RESPONSE / SELECT EF.ICCID / READ BINARY.
    #[test]
    fn status_without_data_has_no_le() {
        let mut d = Decoder::new();
        // TS 102 221 §11.1.2: P2 = 0C, no data returned; P3 = 00 is not Le = 256.
        let s = one(&mut d, "80 F2 00 0C 00", "90 00");
        assert!(s.starts_with("STATUS (no data returned) => 90 00"), "{s}");
        let s = one(&mut d, "80 F2 00 00 16", "62 14 82 02 78 21 90 00");
        assert!(s.starts_with("STATUS Le=22"), "{s}");
    }

    #[test]
    fn file_tracking() {
        let mut d = Decoder::new();
        let s = one(&mut d, "00 A4 00 04 02 3F 00", "61 2C");
        assert_eq!(
            s,
            "SELECT 3F00 (MF), return FCP => 61 2C Response bytes still available (SW2 = length)"
        );
        let s = one(
            &mut d,
            "00 C0 00 00 2C",
            &format!("{}9000", "00".repeat(44)),
        );
        assert!(
            s.starts_with("GET RESPONSE for SELECT 3F00 Le=44 => 90 00"),
            "{s}"
        );
        one(&mut d, "00 A4 00 04 02 2F E2", "61 19");
        let s = one(
            &mut d,
            "00 B0 00 00 0A",
            "98 88 12 01 00 00 40 03 10 F0 90 00",
        );
        assert_eq!(
            s,
            "READ BINARY 2FE2 (EF.ICCID) offset 0 Le=10 => 90 00 Normal ending of the command; ICCID 8988211000000430010"
        );
        let s = one(&mut d, "A0 A4 00 00 02 6F 07", "9F 0F");
        assert!(s.starts_with("GSM SELECT 6F07 (EF.IMSI)"), "{s}");
        let s = one(&mut d, "A0 B0 00 00 09", "08 09 10 10 10 32 54 76 98 90 00");
        assert!(s.ends_with("IMSI 001010123456789"), "{s}");
        // Failed select does not change the current file.
        one(&mut d, "00 A4 00 04 02 6F 42", "6A 82");
        let s = one(&mut d, "00 B0 00 00 02", "6A 82");
        assert!(s.contains("6F07 (EF.IMSI)"), "{s}");
    }

    /// 08-gsmtap-pcap.md / tools notes §4: FETCH of SEND SHORT MESSAGE with "Hello".
    #[test]
    fn send_short_message_text() {
        let mut d = Decoder::new();
        let s = one(
            &mut d,
            "80 12 00 00 1F",
            "D01D8103011300820281830B1201000B911316325476F8000005C8329BFD06 9000",
        );
        assert!(
            s.contains(
                "SEND SHORT MESSAGE (packing not required) #1 type=13 qual=00 UICC->network"
            ),
            "{s}"
        );
        assert!(
            s.contains("SMS-SUBMIT MR=0 DA=+31612345678 PID=00 DCS=00 text=\"Hello\""),
            "{s}"
        );
    }

    /// A registration SMS (docs/registration.md) inside SEND SHORT MESSAGE: every field
    /// decoded. IMEI 490154203237518 and EF.ICCID / EF.IMSI from 01-apdu.md §3, §5.
    #[test]
    fn registration_in_send_short_message() {
        use applet::wire::registration::{EventKind, KeyId, RegistrationRepr};
        let repr = RegistrationRepr {
            key_id: KeyId::aes_cmac(1).unwrap(),
            event: EventKind::HANDSET_CHANGED,
            iccid: h("98 88 12 01 00 00 40 03 10 F0").try_into().unwrap(),
            imsi: h("08 09 10 10 10 32 54 76 98").try_into().unwrap(),
            counter: 7,
            imei: h("4A 09 51 24 30 32 57 81").try_into().unwrap(),
            imeisv: None,
            previous_imei: Some(h("3A 25 90 09 10 67 41 18").try_into().unwrap()),
        };
        let mut reg = [0u8; 80];
        let n = repr.emit_signed(&[0x11; 16], &mut reg).unwrap();
        // SMS-SUBMIT to +447700900123, PID 00, DCS 04 (8-bit), UDL n (04-sms.md layout).
        let mut tpdu = h("01 00 0C 91 44 77 00 09 10 32 00 04");
        tpdu.push(n as u8);
        tpdu.extend_from_slice(&reg[..n]);
        let mut d0 = h("81 03 01 13 00 82 02 81 83 8B");
        d0.push(tpdu.len() as u8);
        d0.extend_from_slice(&tpdu);
        let mut rsp = vec![0xD0, d0.len() as u8];
        rsp.extend_from_slice(&d0);
        rsp.extend_from_slice(&[0x90, 0x00]);
        let cmd = [0x80, 0x12, 0x00, 0x00, (rsp.len() - 2) as u8];
        let mut out = Vec::new();
        Decoder::new().summary(
            &Event::Exchange(Exchange {
                command: &cmd,
                response: Some(&rsp),
            }),
            &mut out,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.contains(
                "SMS-SUBMIT MR=0 DA=+447700900123 PID=00 DCS=04 56 octets; registration v1 \
                 event=02 (handset changed) KID=12 counter=7 ICCID=8988211000000430010 \
                 IMSI=001010123456789 IMEI=490154203237518 previous IMEI=352099001761481 MAC="
            ),
            "{s}"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut d = Decoder::new();
        for cmd in [
            "80 12 00 00 05",
            "80 14 00 00 02 81 03",
            "80 C2 00 00 02 D6 05",
            "00 A4 04 00 00",
        ] {
            for rsp in ["90 00", "D0 FF 90 00", "01 90 00", "61 10"] {
                one(&mut d, cmd, rsp);
            }
        }
        let mut out = Vec::new();
        d.summary(&Event::PowerOn { atr: &[0x3B] }, &mut out);
        assert!(String::from_utf8(out).unwrap().contains("not a valid ATR"));
    }
}
