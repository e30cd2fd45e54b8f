//! pcap import: frames that are not GSMTAP-SIM APDU exchanges are reported with their
//! frame numbers and skipped; the rest round-trips through export.

use handset_sim::trace::pcap::{ExportOptions, export, import};
use handset_sim::trace::sample;

/// Offsets inside one exported record (08-gsmtap-pcap.md §2): record header 16,
/// Ethernet 14 (EtherType at 12), IPv4 20, UDP 8 (ports first), GSMTAP 16 (sub-type at 12).
const ETHERTYPE: usize = 16 + 12;
const UDP_PORTS: usize = 16 + 14 + 20;
const SUB_TYPE: usize = 16 + 14 + 20 + 8 + 12;

/// Splits an exported pcap into its global header and its records.
fn records(pcap: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut recs = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        recs.push(pcap[at..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    (pcap[..24].to_vec(), recs)
}

#[test]
fn foreign_frames_are_reported_and_skipped() {
    let t = sample::session();
    let mut pcap = Vec::new();
    export(&t, &mut pcap, ExportOptions::default()).unwrap();
    let (hdr, recs) = records(&pcap);
    assert_eq!(recs.len(), 12);

    let mut sip = recs[0].clone(); // UDP to another port
    sip[UDP_PORTS..UDP_PORTS + 4].copy_from_slice(&[0x13, 0xC4, 0x13, 0xC4]);
    let mut v6 = recs[0].clone(); // not IPv4
    v6[ETHERTYPE..ETHERTYPE + 2].copy_from_slice(&[0x86, 0xDD]);
    let mut pps = recs[0].clone(); // GSMTAP-SIM, but a PPS request
    pps[SUB_TYPE] = 0x02;

    let mut file = hdr.clone();
    file.extend_from_slice(&recs[0]); // frame 1
    file.extend_from_slice(&sip); // 2
    file.extend_from_slice(&recs[1]); // 3
    file.extend_from_slice(&v6); // 4
    file.extend_from_slice(&pps); // 5
    for r in &recs[2..] {
        file.extend_from_slice(r); // 6..
    }
    let (back, report) = import(&file, "mixed.pcap").unwrap();
    let skipped: Vec<(u32, &str)> = report
        .skipped
        .iter()
        .map(|s| (s.frame, s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (2, "UDP 5060 -> 5060, not the GSMTAP port 4729"),
            (4, "not IPv4 (EtherType 0x86DD)"),
            (
                5,
                "GSMTAP-SIM sub-type 2 (PPS request) is not an APDU exchange"
            ),
        ]
    );
    assert_eq!(report.frames, 15);
    assert_eq!(report.truncated_at, None);
    let ours: Vec<_> = back.entries().map(|e| e.event).collect();
    let orig: Vec<_> = t
        .entries()
        .filter(|e| matches!(e.event, handset_sim::trace::Event::Exchange(_)))
        .map(|e| e.event)
        .collect();
    assert_eq!(ours, orig);

    // A file cut in the middle of a record keeps the frames before it.
    let (back, report) = import(&file[..file.len() - 5], "cut.pcap").unwrap();
    assert_eq!(report.truncated_at, Some(15));
    assert_eq!(back.exchange_count(), 11);
}
