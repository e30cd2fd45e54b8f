//! `wire::tlv`: BER-TLV templates and COMPREHENSION-TLV lists (TS 101 220 §7,
//! TS 102 223 Annex C).
//!
//! Properties:
//! - `parse_length`, `BerTlv::parse{,_prefix}`, `ComprehensionTag::parse`,
//!   `ComprehensionTlv::parse{,_prefix}` and `ComprehensionTlvIter` never panic.
//! - Every parsed length / tag / object is canonical: lengths must be minimal (non-minimal
//!   forms are rejected), a COMPREHENSION tag keeps its CR flag and its one-/three-byte form,
//!   so re-emitting reproduces the consumed bytes exactly, object by object and for whole
//!   lists (also through `Writer::put_comprehension`).
//! - The iterator yields at most one error, as its last item, and `validate` agrees with it.
#![no_main]

use applet::wire::tlv::{
    self, BerTlv, ComprehensionTag, ComprehensionTlv, ComprehensionTlvIter, Writer,
};
use libfuzzer_sys::fuzz_target;

fn length(data: &[u8]) {
    let Ok((len, n)) = tlv::parse_length(data) else {
        return;
    };
    assert_eq!(tlv::length_len(len), n);
    let mut out = [0u8; 4];
    assert_eq!(tlv::emit_length(len, &mut out), Ok(n));
    assert_eq!(out[..n], data[..n]);
}

/// Walks a COMPREHENSION-TLV list; returns the bytes re-emitted for the well-formed prefix.
fn comprehension_list(data: &[u8]) {
    let mut it = ComprehensionTlvIter::new(data);
    let mut consumed = 0;
    let mut count = 0;
    let mut out = vec![0u8; data.len()];
    let mut rebuilt = vec![0u8; data.len()];
    let mut w = Writer::new(&mut rebuilt);
    let mut failed = None;
    while let Some(item) = it.next() {
        assert!(failed.is_none(), "item after an error");
        match item {
            Ok(obj) => {
                let n = obj.buffer_len();
                assert_eq!(obj.emit(&mut out[consumed..]), Ok(n));
                assert_eq!(out[consumed..consumed + n], data[consumed..consumed + n]);
                assert_eq!(
                    ComprehensionTlv::parse(&data[consumed..consumed + n]),
                    Ok(obj)
                );
                let (tag, tn) = ComprehensionTag::parse(&data[consumed..]).expect("tag parsed");
                assert_eq!(tag, obj.tag);
                assert_eq!(tn, tag.buffer_len());
                w.put_comprehension(obj.tag, obj.value).expect("fits");
                consumed += n;
                count += 1;
                assert_eq!(it.remaining(), &data[consumed..]);
            }
            Err(e) => failed = Some(e),
        }
    }
    let written = w.finish();
    assert_eq!(written, consumed);
    assert_eq!(rebuilt[..consumed], data[..consumed]);
    match failed {
        None => {
            assert_eq!(consumed, data.len());
            assert_eq!(ComprehensionTlvIter::validate(data), Ok(count));
        }
        Some(e) => assert_eq!(ComprehensionTlvIter::validate(data), Err(e)),
    }
}

fn ber(data: &[u8]) {
    let mut rest = data;
    while let Ok((t, after)) = BerTlv::parse_prefix(rest) {
        let n = rest.len() - after.len();
        assert_eq!(t.buffer_len(), n);
        let mut out = vec![0u8; n];
        assert_eq!(t.emit(&mut out), Ok(n));
        assert_eq!(out, rest[..n]);
        assert!(t.emit(&mut out[..n - 1]).is_err());
        let _ = t.tag.is_valid();
        comprehension_list(t.value);
        if n == 0 || after.is_empty() {
            break;
        }
        rest = after;
    }
    if let Ok(t) = BerTlv::parse(data) {
        assert_eq!(t.buffer_len(), data.len());
    }
}

fuzz_target!(|data: &[u8]| {
    length(data);
    ber(data);
    comprehension_list(data);
});
