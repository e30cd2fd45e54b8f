//! `wire::apdu` responses: `ResponseApdu` (data ‖ SW1 SW2, ISO/IEC 7816-4 §5.1) and the
//! `StatusWord` helpers.
//!
//! Properties: parsing never panics; every input of ≥ 2 bytes parses and is canonical
//! (pure layout), so `emit(parse(x)) == x`; every status-word helper is total.
#![no_main]

use applet::wire::apdu::{ResponseApdu, StatusWord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = ResponseApdu::parse(data) else {
        assert!(data.len() < 2);
        return;
    };
    assert_eq!(r.buffer_len(), data.len());
    let mut out = vec![0u8; data.len()];
    assert_eq!(r.emit(&mut out), Ok(data.len()));
    assert_eq!(out, data);
    assert!(r.emit(&mut out[..data.len() - 1]).is_err());
    let sw = r.sw;
    assert_eq!(StatusWord::from_bytes(sw.sw1(), sw.sw2()), sw);
    assert_eq!(sw.to_bytes(), [sw.sw1(), sw.sw2()]);
    assert_eq!(u16::from(sw), u16::from_be_bytes(sw.to_bytes()));
    let _ = (
        sw.is_ok(),
        sw.is_proactive_pending(),
        sw.response_available(),
        sw.wrong_le(),
    );
    let _ = (sw.is_success_class(), sw.retries_left());
    assert!(!sw.description().is_empty());
    let _ = format!("{sw}");
});
