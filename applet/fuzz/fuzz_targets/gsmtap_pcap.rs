//! `wire::gsmtap`: pcap reader over arbitrary files, GSMTAP packet / APDU exchange codecs.
//!
//! Properties:
//! - `PcapReader` iterating every record never panics, ends, yields at most one error and
//!   that error is the last item.
//! - Global and record headers are canonical (fixed-size fields, the magic selects the byte
//!   order): `emit(parse(b)) == b[..24]` / `b[..16]`.
//! - A GSMTAP packet whose `hdr_len` is 4 words and whose reserved byte is 0 is canonical:
//!   header emit ‖ payload == input. Other packets (longer header, reserved byte set) have
//!   no exact form in the emitter (it always writes `hdr_len` 4 and reserved 0), so only
//!   the weaker `parse(emit(parse(x))) == parse(x)` (same header fields, same payload) holds.
//! - `ApduExchange` is pure layout, so every input of ≥ 7 bytes is canonical.
//! - Every GSMTAP-SIM record found in a file, re-emitted as a `GsmtapRecord` (the project's
//!   fixed Ethernet/IPv4/UDP framing), reads back to the same timestamp, GSMTAP header and
//!   payload. The framing of arbitrary captures (MACs, TTL, IP options, UDP checksum, link
//!   type) is not preserved by design, so no exact-bytes claim is made for records.
#![no_main]

use applet::wire::Error;
use applet::wire::gsmtap::{
    ApduExchange, GSMTAP_HEADER_LEN, GsmtapHeader, GsmtapPacket, GsmtapRecord, LinkType,
    MAX_PAYLOAD, PCAP_HEADER_LEN, PcapHeader, PcapReader, RECORD_HEADER_LEN, RecordContent,
    RecordHeader,
};
use libfuzzer_sys::fuzz_target;

fn check_packet(bytes: &[u8]) {
    let Ok(p) = GsmtapPacket::new_checked(bytes) else {
        return;
    };
    let h = p.header();
    assert_eq!(GsmtapHeader::parse(bytes), Ok(h));
    let mut out = vec![0u8; GSMTAP_HEADER_LEN + p.payload().len()];
    assert_eq!(h.emit(&mut out), Ok(GSMTAP_HEADER_LEN));
    out[GSMTAP_HEADER_LEN..].copy_from_slice(p.payload());
    let canonical = p.header_len() == GSMTAP_HEADER_LEN && bytes[15] == 0;
    if canonical {
        assert_eq!(out, bytes);
    }
    let again = GsmtapPacket::new_checked(&out).expect("emitted packet parses");
    assert_eq!(again.header(), h);
    assert_eq!(again.payload(), p.payload());
    assert_eq!(
        h.emit(&mut [0u8; GSMTAP_HEADER_LEN - 1]),
        Err(Error::BufferTooSmall)
    );
    check_exchange(p.payload());
}

fn check_exchange(bytes: &[u8]) {
    let Ok(ex) = ApduExchange::parse(bytes) else {
        assert!(bytes.len() < 7);
        return;
    };
    assert_eq!(ex.buffer_len(), bytes.len());
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(ex.emit(&mut out), Ok(bytes.len()));
    assert_eq!(out, bytes);
    assert_eq!(
        ex.emit(&mut out[..bytes.len() - 1]),
        Err(Error::BufferTooSmall)
    );
}

fn check_file(data: &[u8]) {
    let Ok(reader) = PcapReader::new(data) else {
        return;
    };
    let gh = *reader.header();
    assert_eq!(PcapHeader::parse(data), Ok(gh));
    let mut out = [0u8; PCAP_HEADER_LEN];
    assert_eq!(gh.emit(&mut out), Ok(PCAP_HEADER_LEN));
    assert_eq!(out[..], data[..PCAP_HEADER_LEN]);

    // The header of the file a re-emitted record goes into: same byte order and
    // resolution, Ethernet (the only link type GsmtapRecord writes).
    let mut eth = gh;
    eth.linktype = LinkType::ETHERNET;

    let mut saw_error = false;
    for item in reader {
        assert!(!saw_error, "an item after an error");
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                assert_eq!(e, Error::Truncated);
                saw_error = true;
                continue;
            }
        };
        let mut rh = [0u8; RECORD_HEADER_LEN];
        assert_eq!(rec.header.emit(gh.format, &mut rh), Ok(RECORD_HEADER_LEN));
        assert_eq!(RecordHeader::parse(gh.format, &rh), Ok(rec.header));
        assert_eq!(rec.frame.len(), rec.header.incl_len as usize);
        let RecordContent::GsmtapSim(p) = rec.content else {
            continue;
        };
        check_packet(p.payload()); // payload of a packet may itself look like a packet
        let r = GsmtapRecord {
            ts_sec: rec.header.ts_sec,
            ts_frac: rec.header.ts_frac,
            header: p.header(),
            payload: p.payload(),
        };
        let mut file = vec![0u8; PCAP_HEADER_LEN + r.buffer_len()];
        eth.emit(&mut file).expect("header fits");
        if r.payload.len() > MAX_PAYLOAD {
            // Possible from a raw-IPv4 capture (no Ethernet header in its 64 KiB).
            assert_eq!(
                r.emit(gh.format, &mut file[PCAP_HEADER_LEN..]),
                Err(Error::BadLength)
            );
            continue;
        }
        let n = r
            .emit(gh.format, &mut file[PCAP_HEADER_LEN..])
            .expect("payload within MAX_PAYLOAD is emitted");
        assert_eq!(n, r.buffer_len());
        let mut back = PcapReader::new(&file).expect("emitted file parses");
        let one = back.next().expect("one record").expect("record parses");
        assert!(back.next().is_none());
        assert_eq!(
            (one.header.ts_sec, one.header.ts_frac),
            (r.ts_sec, r.ts_frac)
        );
        let RecordContent::GsmtapSim(q) = one.content else {
            panic!("re-emitted record is not GSMTAP-SIM: {one:?}");
        };
        assert_eq!(q.header(), r.header);
        assert_eq!(q.payload(), r.payload);
    }
}

fuzz_target!(|data: &[u8]| {
    check_file(data);
    check_packet(data);
    check_exchange(data);
});
