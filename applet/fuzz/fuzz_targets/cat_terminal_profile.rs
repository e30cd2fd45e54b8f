//! `wire::cat::profile`: TERMINAL PROFILE bitmap (TS 102 223 §5.2).
//!
//! Properties: `TerminalProfile::parse` never panics; it stores the bytes as sent (length
//! kept), so every accepted input (≤ `CAPACITY` bytes) is canonical: `emit(parse(b)) == b`.
//! Bytes beyond the stored length read as zero (02-cat.md §7).
#![no_main]

use applet::wire::cat::TerminalProfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = TerminalProfile::parse(data) else {
        assert!(data.len() > TerminalProfile::CAPACITY);
        return;
    };
    assert_eq!(p.as_bytes(), data);
    assert_eq!((p.len(), p.is_empty()), (data.len(), data.is_empty()));
    for n in 0..=TerminalProfile::CAPACITY + 2 {
        // Bytes are numbered from 1.
        let expect = n
            .checked_sub(1)
            .and_then(|i| data.get(i))
            .copied()
            .unwrap_or(0);
        assert_eq!(p.byte(n), expect, "byte {n}");
    }
    assert_eq!(p.buffer_len(), data.len());
    let mut out = vec![0u8; data.len()];
    assert_eq!(p.emit(&mut out), Ok(data.len()));
    assert_eq!(out, data);
    if !data.is_empty() {
        assert!(p.emit(&mut out[..data.len() - 1]).is_err());
    }
    assert_eq!(TerminalProfile::parse(&out), Ok(p));
});
