//! `wire::wsp`: connectionless Push PDU, content type with SEC/MAC, uintvar.
//!
//! Properties:
//! - `PushPdu::parse`, `ContentType::parse`, `uintvar::read` and the SEC/MAC checks never
//!   panic on arbitrary bytes.
//! - Weak round trip, always: `parse(emit(p)) == p` and the emitter's output is a fixed
//!   point (`emit(parse(emit(p))) == emit(p)`).
//! - Exact round trip, `emit(parse(x)) == x`, when `x` is canonical. WSP allows several
//!   encodings of one value, so "canonical" is checked by an independent walk over the
//!   input (`canonical` below), not by comparing with the emitter:
//!   HeadersLen and value-length uintvars minimal (no leading `0x80`); value-length in the
//!   1-byte form when ≤ 30; the constrained short form whenever there are no parameters and
//!   the media is a short integer or text; a well-known media below 0x80 as short integer,
//!   otherwise as a long integer without leading zero bytes; the text quote `0x7F` present
//!   exactly when the text does not start with 0x20..0x7E; parameters in the order SEC,
//!   MAC, others; MAC as unquoted upper-case hex.
//! - `uintvar`: `write(read(x))` reproduces the bytes read when they are minimal, and
//!   always reads back the same value.
//! - SEC/MAC: for NETWPIN, USERPIN and USERNETWPIN, `verify` agrees with comparing
//!   against `Credentials::mac`.
#![no_main]

use applet::wire::wsp::{ContentType, Credentials, Mac, Media, PushPdu, SecMethod, uintvar};
use libfuzzer_sys::fuzz_target;

fn needs_quote(t: &[u8]) -> bool {
    !t.first().is_some_and(|&b| (0x20..0x7F).contains(&b))
}

fn long_int_len(v: u32) -> usize {
    (4 - (v.leading_zeros() as usize) / 8).max(1)
}

/// Is the content type `ct` (the parse of `bytes`) in the form the emitter writes?
fn canonical_ct(bytes: &[u8], ct: &ContentType<'_>) -> bool {
    let first = bytes[0];
    if first >= 0x80 {
        return true; // short-integer constrained form: one byte, no choice
    }
    if first >= 0x20 {
        // Constrained extension-media text.
        let Media::Text(t) = ct.media else {
            return false;
        };
        return (first == 0x7F) == needs_quote(t);
    }
    // General form.
    let (len, mut pos) = if first <= 30 {
        (first as usize, 1)
    } else {
        if bytes[1] == 0x80 {
            return false; // non-minimal uintvar
        }
        let (v, n) = uintvar::read(&bytes[1..]).expect("parsed");
        if v <= 30 {
            return false; // long value-length for a short length
        }
        (v as usize, 1 + n)
    };
    assert_eq!(pos + len, bytes.len());
    let has_params = ct.sec.is_some() || ct.mac.is_some() || !ct.other_params.is_empty();
    let m = bytes[pos];
    match ct.media {
        Media::WellKnown(v) if m >= 0x80 => {
            if !has_params {
                return false; // would be the constrained short form
            }
            debug_assert_eq!(u32::from(m & 0x7F), v);
            pos += 1;
        }
        Media::WellKnown(v) => {
            let n = usize::from(m);
            if v < 0x80 || n != long_int_len(v) {
                return false; // short-integer value as long integer, or leading zeros
            }
            pos += 1 + n;
        }
        Media::Text(t) => {
            if !has_params {
                return false;
            }
            let quoted = m == 0x7F;
            if quoted != needs_quote(t) {
                return false;
            }
            pos += usize::from(quoted) + t.len() + 1;
        }
    }
    // Parameters: SEC, MAC (unquoted upper-case hex), then the rest.
    let mut expect = Vec::new();
    if let Some(SecMethod(s)) = ct.sec {
        expect.extend_from_slice(&[0x91, 0x80 | s]);
    }
    if let Some(mac) = ct.mac {
        expect.push(0x92);
        for b in mac.0 {
            expect.extend_from_slice(format!("{b:02X}").as_bytes());
        }
        expect.push(0);
    }
    expect.extend_from_slice(ct.other_params);
    bytes[pos..] == expect[..]
}

fn check_uintvar(data: &[u8]) {
    let Ok((v, n)) = uintvar::read(data) else {
        return;
    };
    assert!((1..=uintvar::MAX_LEN).contains(&n));
    let mut out = [0u8; uintvar::MAX_LEN];
    let m = uintvar::write(v, &mut out).expect("fits");
    assert_eq!(m, uintvar::len(v));
    assert_eq!(uintvar::read(&out[..m]), Ok((v, m)));
    if data[0] != 0x80 {
        assert_eq!(out[..m], data[..n]);
    } else {
        assert!(m < n);
    }
}

fn check_content_type(data: &[u8]) {
    let Ok(ct) = ContentType::parse(data) else {
        return;
    };
    let mut out = vec![0u8; ct.buffer_len()];
    assert_eq!(ct.emit(&mut out), Ok(out.len()));
    assert_eq!(ContentType::parse(&out), Ok(ct));
    if canonical_ct(data, &ct) {
        assert_eq!(out, data);
    }
}

const IMSI: &[u8] = b"001010123456789";
const PIN: &[u8] = b"1234";

fn check_auth(p: &PushPdu<'_>) {
    let creds = Credentials {
        imsi: Some(IMSI),
        user_pin: Some(PIN),
    };
    let v = p.verify(&creds);
    let (Some(sec), Some(mac)) = (p.content_type.sec, p.content_type.mac) else {
        assert!(v.is_err());
        return;
    };
    if matches!(
        sec,
        SecMethod::NETWPIN | SecMethod::USERPIN | SecMethod::USERNETWPIN
    ) {
        let expect: Mac = creds.mac(sec, p.body).expect("credentials complete");
        assert_eq!(v, Ok(expect == mac));
    }
    assert_eq!(Mac::from_hex(&mac.to_hex()), Ok(mac));
}

fuzz_target!(|data: &[u8]| {
    check_uintvar(data);
    check_content_type(data);
    let Ok(p) = PushPdu::parse(data) else {
        return;
    };
    check_auth(&p);
    let mut out = vec![0u8; p.buffer_len()];
    let n = p.emit(&mut out).expect("parsed PDU re-emits");
    assert_eq!(n, out.len());
    let q = PushPdu::parse(&out).expect("emitted PDU parses");
    assert_eq!(q, p);
    let mut out2 = vec![0u8; q.buffer_len()];
    assert_eq!(q.emit(&mut out2), Ok(n));
    assert_eq!(out2, out);
    assert!(p.emit(&mut out[..n - 1]).is_err());

    // Canonical input: the headers length is minimal and the content type is canonical.
    let (hlen, k) = uintvar::read(&data[2..]).expect("parsed");
    let hstart = 2 + k;
    let ct_end = hstart + hlen as usize - p.headers.len();
    if data[2] != 0x80 && canonical_ct(&data[hstart..ct_end], &p.content_type) {
        assert_eq!(out, data);
    }
});
