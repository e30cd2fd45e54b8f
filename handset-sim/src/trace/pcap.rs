//! GSMTAP-SIM pcap export and import (`/work/shared/spec/08-gsmtap-pcap.md`).
//!
//! **Export** writes one frame per exchange, as SIMtrace2 does: Ethernet ‖ IPv4 ‖ UDP to
//! port 4729 ‖ GSMTAP v2 header (type SIM, sub-type APDU) ‖ `CLA INS P1 P2 P3` ‖ the
//! data bytes that crossed the wire ‖ `SW1 SW2` (SW last). The bytes come from
//! [`applet::wire::gsmtap`]. The file is a classic pcap with nanosecond timestamps
//! (magic `A1B23C4D`) so recorder times survive a round trip; the time of `+0` is the
//! header's `start` field, or 0 (1970-01-01).
//!
//! Resets are **not** exported by default: tshark 4.0 ignores the GSMTAP-SIM sub-type
//! and dissects an ATR frame (sub-type 1) as an APDU, i.e. as garbage (08-gsmtap-pcap.md
//! §4). [`ExportOptions::with_atr`] writes them as sub-type ATR frames for pySim-trace,
//! which reads them as card resets. Exchanges whose response is unknown cannot be
//! exported (the frame needs the SW) and are counted in [`ExportStats::skipped`].
//!
//! **Import** reads classic pcap (either byte order, µs or ns), link types Ethernet,
//! raw IP and IPv4. Each GSMTAP-SIM APDU frame becomes one exchange; the split between
//! command data and response data follows the instruction's case
//! ([`ApduCase::of`]: P3 is Lc for case 3/4, Le for case 2). An ATR frame becomes a
//! `POWER_ON`. Every other frame is skipped and listed in [`ImportReport::skipped`] with
//! its frame number (Wireshark's `frame.number`).

use std::io::{self, Write};
use std::time::Duration;

use applet::wire::apdu::{ApduCase, Cla, Ins};
use applet::wire::gsmtap::{
    ByteOrder, GsmtapHeader, GsmtapRecord, LinkType, PcapFormat, PcapHeader, PcapReader,
    RecordContent, SimSubType, TsResolution,
};

use super::{Event, Trace};

/// How [`export`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Also write resets as GSMTAP-SIM ATR frames (sub-type 1), for pySim-trace.
    /// Off by default: tshark 4.0 mis-dissects them.
    pub with_atr: bool,
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Frames written.
    pub frames: usize,
    /// Exchanges not written because their response is unknown.
    pub skipped: usize,
    /// Commands shorter than the 5-byte T=0 header, written with `P3 = 00` appended.
    pub padded: usize,
}

/// The pcap format this module writes: little-endian, nanoseconds, Ethernet.
pub const EXPORT_HEADER: PcapHeader = PcapHeader {
    format: PcapFormat {
        order: ByteOrder::Little,
        resolution: TsResolution::Nano,
    },
    ..PcapHeader::ETHERNET_LE_MICROS
};

fn wire_err(e: applet::wire::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Writes `trace` as a GSMTAP-SIM pcap into `w`.
pub fn export<W: Write>(trace: &Trace, mut w: W, opts: ExportOptions) -> io::Result<ExportStats> {
    let mut stats = ExportStats::default();
    let mut out = Vec::with_capacity(256 * 1024);
    let mut hdr = [0u8; 24];
    let n = EXPORT_HEADER.emit(&mut hdr).map_err(wire_err)?;
    out.extend_from_slice(&hdr[..n]);
    let start = trace.header.start().unwrap_or(Duration::ZERO);
    let mut last = Duration::ZERO;
    let mut payload: Vec<u8> = Vec::with_capacity(600);
    let apdu_hdr = GsmtapHeader::sim(SimSubType::APDU);
    let atr_hdr = GsmtapHeader::sim(SimSubType::ATR);
    for entry in trace.entries() {
        let t = entry.time.unwrap_or(last);
        last = t;
        payload.clear();
        let header = match entry.event {
            Event::PowerOn { atr } | Event::Reset { atr } if opts.with_atr => {
                payload.extend_from_slice(atr);
                atr_hdr
            }
            Event::Exchange(ex) => {
                let Some(rsp) = ex.response else {
                    stats.skipped += 1;
                    continue;
                };
                payload.extend_from_slice(ex.command);
                if ex.command.len() < 5 {
                    payload.resize(5, 0);
                    stats.padded += 1;
                }
                payload.extend_from_slice(rsp);
                apdu_hdr
            }
            _ => continue,
        };
        let abs = start + t;
        let rec = GsmtapRecord {
            ts_sec: u32::try_from(abs.as_secs()).unwrap_or(u32::MAX),
            ts_frac: abs.subsec_nanos(),
            header,
            payload: &payload,
        };
        let at = out.len();
        out.resize(at + rec.buffer_len(), 0);
        rec.emit(EXPORT_HEADER.format, &mut out[at..])
            .map_err(wire_err)?;
        stats.frames += 1;
        if out.len() > 200 * 1024 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    w.flush()?;
    Ok(stats)
}

/// A frame [`import`] did not turn into an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based frame number, as Wireshark's `frame.number`.
    pub frame: u32,
    /// Why.
    pub reason: String,
}

/// Everything [`import`] has to say besides the trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Frames read.
    pub frames: u32,
    /// Frames skipped, with reasons.
    pub skipped: Vec<Skipped>,
    /// Frames imported with an assumption (e.g. an instruction missing from the case
    /// table).
    pub notes: Vec<Skipped>,
    /// Set when the file ends in the middle of a record (the frames before it are kept).
    pub truncated_at: Option<u32>,
}

/// A pcap file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{file}: not a readable pcap file: {reason}")]
pub struct PcapError {
    /// File name.
    pub file: String,
    /// What is wrong with the global header.
    pub reason: String,
}

/// Describes a frame that is not GSMTAP-SIM, as precisely as cheaply possible.
fn describe(linktype: LinkType, frame: &[u8]) -> String {
    let ip = match linktype {
        LinkType::ETHERNET => match frame.get(12..14) {
            Some([0x08, 0x00]) => frame.get(14..),
            Some([a, b]) => return format!("not IPv4 (EtherType 0x{a:02X}{b:02X})"),
            _ => return "Ethernet frame too short".to_owned(),
        },
        LinkType::RAW | LinkType::IPV4 => Some(frame),
        other => return format!("link type {} is not supported", other.0),
    };
    let Some(ip) = ip else {
        return "frame too short".to_owned();
    };
    let Some(&vihl) = ip.first() else {
        return "empty IP packet".to_owned();
    };
    if vihl >> 4 != 4 {
        return format!("not IPv4 (IP version {})", vihl >> 4);
    }
    let ihl = usize::from(vihl & 0x0F) * 4;
    match ip.get(9) {
        Some(17) => {}
        Some(p) => return format!("not UDP (IP protocol {p})"),
        None => return "IPv4 header too short".to_owned(),
    }
    match ip.get(ihl..ihl + 4) {
        Some([a, b, c, d]) => {
            let (src, dst) = (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]));
            if src != 4729 && dst != 4729 {
                format!("UDP {src} -> {dst}, not the GSMTAP port 4729")
            } else {
                "UDP port 4729 but not a GSMTAP v2 SIM packet".to_owned()
            }
        }
        _ => "UDP header missing or fragmented".to_owned(),
    }
}

fn sub_type_name(s: u8) -> &'static str {
    match s {
        0x02 => "PPS request",
        0x03 => "PPS response",
        0x04 => "TPDU header",
        0x05 => "TPDU command",
        0x06 => "TPDU response",
        0x07 => "TPDU status word",
        _ => "unknown",
    }
}

/// Reads a GSMTAP-SIM pcap; `file` names it in errors.
pub fn import(bytes: &[u8], file: &str) -> Result<(Trace, ImportReport), PcapError> {
    let reader = PcapReader::new(bytes).map_err(|e| PcapError {
        file: file.to_owned(),
        reason: if bytes.len() < 24 {
            format!("{} bytes, shorter than the 24-byte global header", bytes.len())
        } else {
            format!(
                "global header: {e} (magic {:02X}{:02X}{:02X}{:02X}; pcapng is not supported, convert with `editcap -F pcap`)",
                bytes[0], bytes[1], bytes[2], bytes[3]
            )
        },
    })?;
    let header = *reader.header();
    let nanos = header.format.resolution == TsResolution::Nano;
    let mut trace = Trace::with_capacity(bytes.len() / 90, bytes.len() / 4);
    trace
        .header
        .set("producer", format!("imeitrack pcap import of {file}"));
    trace.header.set("source", file);
    let mut report = ImportReport::default();
    let mut origin: Option<Duration> = None;
    for rec in reader {
        let rec = match rec {
            Ok(r) => r,
            Err(_) => {
                report.truncated_at = Some(report.frames + 1);
                break;
            }
        };
        report.frames = rec.frame_number;
        let frac = if nanos {
            rec.header.ts_frac
        } else {
            rec.header.ts_frac.saturating_mul(1000)
        };
        let abs = Duration::new(u64::from(rec.header.ts_sec), frac.min(999_999_999));
        let skip = |report: &mut ImportReport, reason: String| {
            report.skipped.push(Skipped {
                frame: rec.frame_number,
                reason,
            });
        };
        let packet = match rec.content {
            RecordContent::GsmtapSim(p) => p,
            RecordContent::NotGsmtapSim => {
                let reason = if rec.header.incl_len < rec.header.orig_len {
                    "frame cut short by the snap length".to_owned()
                } else {
                    describe(header.linktype, rec.frame)
                };
                skip(&mut report, reason);
                continue;
            }
        };
        let sub = packet.header().sub_type;
        let payload = packet.payload();
        let origin = *origin.get_or_insert(abs);
        let t = Some(abs.saturating_sub(origin));
        if sub == SimSubType::ATR.0 {
            if payload.is_empty() {
                skip(&mut report, "empty ATR frame".to_owned());
                continue;
            }
            trace.push_power_on(t, payload);
            continue;
        }
        if sub != SimSubType::APDU.0 {
            skip(
                &mut report,
                format!(
                    "GSMTAP-SIM sub-type {sub} ({}) is not an APDU exchange",
                    sub_type_name(sub)
                ),
            );
            continue;
        }
        match split_exchange(payload) {
            Ok((cmd_len, note)) => {
                let (cmd, rsp) = payload.split_at(cmd_len);
                trace.push_exchange(t, cmd, rsp);
                if let Some(n) = note {
                    report.notes.push(Skipped {
                        frame: rec.frame_number,
                        reason: n,
                    });
                }
            }
            Err(reason) => skip(&mut report, reason),
        }
    }
    if let Some(o) = origin
        && o > Duration::ZERO
    {
        trace
            .header
            .set("start", format!("{}.{:09}", o.as_secs(), o.subsec_nanos()));
    }
    Ok((trace, report))
}

/// Length of the command TPDU inside a GSMTAP-SIM APDU payload (header ‖ data ‖ SW),
/// and a note when the split had to be guessed.
pub fn split_exchange(payload: &[u8]) -> Result<(usize, Option<String>), String> {
    let [cla, ins, p1, _p2, p3] = *payload
        .first_chunk::<5>()
        .ok_or_else(|| format!("APDU frame of {} bytes, shorter than 7", payload.len()))?;
    if payload.len() < 7 {
        return Err(format!(
            "APDU frame of {} bytes, shorter than 7 (header and SW)",
            payload.len()
        ));
    }
    let between = payload.len() - 7;
    let p3 = usize::from(p3);
    match ApduCase::of(Cla(cla), Ins(ins), p1) {
        Some(c) if c.has_command_data() => {
            if between < p3 {
                return Err(format!(
                    "INS {ins:02X} carries command data, but only {between} of P3 = {p3} bytes are in the frame"
                ));
            }
            Ok((5 + p3, None))
        }
        Some(_) => Ok((5, None)),
        None if between == 0 => Ok((5, None)),
        None if between >= p3 && p3 > 0 => Ok((
            5 + p3,
            Some(format!(
                "CLA {cla:02X} INS {ins:02X} is not in the case table; P3 taken as Lc (command data)"
            )),
        )),
        None => Ok((
            5,
            Some(format!(
                "CLA {cla:02X} INS {ins:02X} is not in the case table; P3 taken as Le (response data)"
            )),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn split_by_case() {
        // 08-gsmtap-pcap.md §2: FETCH is case 2, the data after the header is the response.
        assert_eq!(
            split_exchange(&h("80 12 00 00 0B D0 09 81 03 01 26 01 82 02 81 82 90 00")),
            Ok((5, None))
        );
        // TERMINAL PROFILE is case 3: P3 = Lc.
        assert_eq!(
            split_exchange(&h("80 10 00 00 03 FF FF FF 91 0B")),
            Ok((8, None))
        );
        // SELECT (case 4) answered directly with data (T=1 or lenient vpcd card).
        assert_eq!(
            split_exchange(&h("00 A4 00 04 02 3F 00 62 00 90 00")),
            Ok((7, None))
        );
        assert!(split_exchange(&h("80 10 00 00 03 FF 91 0B")).is_err());
        assert!(split_exchange(&h("80 12 00 00")).is_err());
        let (n, note) = split_exchange(&h("80 EE 00 00 02 01 02 90 00")).unwrap();
        assert_eq!(n, 7);
        assert!(note.unwrap().contains("not in the case table"));
    }

    #[test]
    fn export_import_round_trip() {
        let mut t = Trace::new();
        t.header.set("start", "1700000000.000000000");
        t.push_power_on(Some(Duration::ZERO), &h("3B021450"));
        t.push_exchange(
            Some(Duration::from_nanos(1_500)),
            &h("80100000 03 FFFFFF"),
            &h("910B"),
        );
        t.push_exchange(
            Some(Duration::from_micros(20)),
            &h("801200000B"),
            &h("D0098103012601820281829000"),
        );
        t.push_command(Some(Duration::from_micros(30)), &h("00A40004023F00"));
        let mut pcap = Vec::new();
        let stats = export(&t, &mut pcap, ExportOptions { with_atr: true }).unwrap();
        assert_eq!(
            stats,
            ExportStats {
                frames: 3,
                skipped: 1,
                padded: 0
            }
        );
        let (back, report) = import(&pcap, "x.pcap").unwrap();
        assert!(report.skipped.is_empty(), "{report:?}");
        assert_eq!(report.frames, 3);
        assert_eq!(back.header.get("start"), Some("1700000000.000000000"));
        let ev: Vec<_> = back.entries().collect();
        assert_eq!(ev.len(), 3);
        for (a, b) in ev.iter().zip(t.entries()) {
            assert_eq!(a.event, b.event);
            assert_eq!(a.time, b.time);
        }
    }

    /// The one-frame pcap of 08-gsmtap-pcap.md §2 (decoded by tshark 4.0.17 there).
    #[test]
    fn spec_vector_imports() {
        let file = h(
            "D4 C3 B2 A1 02 00 04 00 00 00 00 00 00 00 00 00 FF FF 00 00 01 00 00 00
            00 F1 53 65 00 00 00 00 4C 00 00 00 4C 00 00 00
            00 00 00 00 00 00 00 00 00 00 00 00 08 00
            45 00 00 3E 00 00 00 00 40 11 7C AD 7F 00 00 01 7F 00 00 01
            12 79 12 79 00 2A 00 00
            02 04 04 00 00 00 00 00 00 00 00 00 00 00 00 00
            80 12 00 00 0B D0 09 81 03 01 26 01 82 02 81 82 90 00"
                .replace('\n', " ")
                .as_str(),
        );
        let (t, r) = import(&file, "spec.pcap").unwrap();
        assert!(r.skipped.is_empty());
        assert_eq!(t.header.get("start"), Some("1700000000.000000000"));
        let e = t.get(0).unwrap();
        assert_eq!(e.time, Some(Duration::ZERO));
        let Event::Exchange(x) = e.event else {
            panic!()
        };
        assert_eq!(x.command, h("80 12 00 00 0B"));
        assert_eq!(
            x.response.unwrap(),
            h("D0 09 81 03 01 26 01 82 02 81 82 90 00")
        );
    }

    #[test]
    fn bad_files() {
        let e = import(&[1, 2, 3], "a.pcap").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.pcap: not a readable pcap file: 3 bytes"),
            "{e}"
        );
        let e = import(&[0x0A, 0x0D, 0x0D, 0x0A].repeat(8), "b.pcapng").unwrap_err();
        assert!(e.to_string().contains("pcapng"), "{e}");
    }
}
