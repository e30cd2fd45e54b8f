//! `wire::sms`: SMS-SUBMIT / SMS-DELIVER / SMS-STATUS-REPORT TPDUs (TS 23.040 §9.2.2),
//! user-data headers, addresses, and GSM 7-bit packing (TS 23.038 §6.1.2.1).
//!
//! Properties:
//! - `Tpdu::parse` (both directions), `UserDataHeader::parse`, `Address::parse`,
//!   `gsm7::unpack` / `decode` never panic.
//! - Weak round trip, always: `parse(emit(parse(x))) == parse(x)`.
//! - Exact round trip for TPDUs that parse, except for the unused first-octet bits
//!   (SMS-DELIVER `0x10`, SMS-STATUS-REPORT `0x10`/`0x80`), which the parser ignores and the
//!   emitter writes as 0: those are the only non-canonical freedom, so the re-emitted TPDU
//!   must equal the input with exactly those bits cleared. Everything else (user data,
//!   packed septets including their spare bits, address digits) is kept as sent.
//! - GSM 7-bit: for arbitrary packed octets, fill bits 0..=7 and a septet count,
//!   `pack(unpack(p))` equals `p` with the fill bits and the spare bits of the last octet
//!   cleared (the packer writes them as zero, the unpacker ignores them: that is the only
//!   freedom in the packed form). Any UTF-8 input whose characters are all in the default
//!   alphabet or its extension table packs, unpacks and decodes back to the same text.
#![no_main]

use applet::wire::sms::gsm7;
use applet::wire::sms::{Address, Direction, Tpdu, UserDataHeader};
use libfuzzer_sys::fuzz_target;

fn tpdu(data: &[u8]) {
    for dir in [Direction::MobileOriginated, Direction::MobileTerminated] {
        let Ok(t) = Tpdu::parse(data, dir) else {
            continue;
        };
        let _ = t.user_data().map(|u| {
            let _ = (u.fill_bits(), u.udl(), u.ud_len(), u.data());
            if let Some(c) = u.gsm7_chars() {
                c.for_each(drop);
            }
            if let Some(c) = u.ucs2_chars() {
                c.for_each(drop);
            }
            if let Some(h) = u.header {
                let _ = (h.concatenation(), h.ports(), h.header_len());
                h.elements().for_each(drop);
            }
        });
        let mut out = vec![0u8; t.buffer_len()];
        let n = t
            .emit(&mut out)
            .unwrap_or_else(|e| panic!("{t:?} does not emit: {e:?}"));
        assert_eq!(n, out.len());
        let again = Tpdu::parse(&out, dir).expect("emitted TPDU parses");
        assert_eq!(again, t);
        // Unused first-octet bits are ignored on parse and written as 0 (tpdu.rs docs,
        // TS 23.040 §9.2.2.1 / §9.2.2.3), so they are the non-canonical freedom here.
        let spare = match t {
            Tpdu::Submit(_) => 0x00,
            Tpdu::Deliver(_) => 0x10,
            Tpdu::StatusReport(_) => 0x90,
        };
        assert_eq!(out[0] & spare, 0);
        assert_eq!((out[0] ^ data[0]) & !spare, 0, "{t:?}");
        assert_eq!(out[1..], data[1..], "{t:?}");
    }
}

fn header(data: &[u8]) {
    if let Ok(h) = UserDataHeader::parse(data) {
        let mut out = vec![0u8; h.buffer_len()];
        assert_eq!(h.emit(&mut out), Ok(out.len()));
        assert_eq!(
            UserDataHeader::parse(&out).map(|x| x.buffer_len()),
            Ok(out.len())
        );
        assert_eq!(out, data[..out.len()], "{h:?}");
    }
}

fn address(data: &[u8]) {
    if let Ok(a) = Address::parse(data) {
        let mut out = vec![0u8; a.buffer_len()];
        assert_eq!(a.emit(&mut out), Ok(out.len()));
        assert_eq!(Address::parse(&out), Ok(a));
        assert_eq!(out, data[..out.len()], "{a:?}");
    }
}

fn septets(data: &[u8]) {
    let [f, c, packed @ ..] = data else {
        return;
    };
    let fill = f & 7;
    let count = usize::from(*c);
    let Ok(it) = gsm7::unpack(packed, fill, count) else {
        assert!(packed.len() < gsm7::packed_len(count, fill));
        return;
    };
    let s: Vec<u8> = it.collect();
    assert_eq!(s.len(), count);
    assert!(s.iter().all(|&x| x < 0x80));
    gsm7::decode(s.iter().copied()).for_each(drop);
    let n = gsm7::packed_len(count, fill);
    let mut out = vec![0u8; n];
    assert_eq!(gsm7::pack_septets(&s, fill, &mut out), Ok(n));
    let mut expect = packed[..n].to_vec();
    if let Some(first) = expect.first_mut() {
        *first &= !((1u8 << fill) - 1); // fill bits
    }
    let used = (usize::from(fill) + 7 * count) % 8;
    if used != 0
        && let Some(last) = expect.last_mut()
    {
        *last &= (1u8 << used) - 1; // spare bits of the last octet
    }
    assert_eq!(out, expect);
}

fn text(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(len) = gsm7::septet_len(s) else {
        return;
    };
    for fill in [0u8, 1, 6] {
        let mut out = vec![0u8; gsm7::packed_len(len, fill)];
        assert_eq!(gsm7::pack_str(s, fill, &mut out), Ok((len, out.len())));
        let back: String = gsm7::decode(gsm7::unpack(&out, fill, len).expect("unpacks")).collect();
        assert_eq!(back, s);
    }
}

fuzz_target!(|data: &[u8]| {
    tpdu(data);
    header(data);
    address(data);
    septets(data);
    text(data);
});
