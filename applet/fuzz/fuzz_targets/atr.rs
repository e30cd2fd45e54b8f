//! `wire::atr`: answer to reset (ISO/IEC 7816-3 §8.2).
//!
//! Properties: `Atr::parse` and every accessor never panic. Every ATR that parses is
//! canonical: TDi's high nibble is derived from which bytes the next group carries, K from
//! the historical bytes, and TCK is present exactly when required and checked, so
//! `emit(parse(x)) == x` exactly.
#![no_main]

use applet::wire::atr::Atr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(atr) = Atr::parse(data) else {
        return;
    };
    let _ = (
        atr.ta1(),
        atr.fi(),
        atr.di(),
        atr.f_max_khz(),
        atr.first_protocol(),
    );
    let _ = (atr.global_ta(), atr.class_indicator(), atr.tck());
    for t in 0..=16 {
        let _ = atr.offers(t);
    }
    assert_eq!(atr.tck_required(), atr.tck().is_some());
    assert_eq!(atr.buffer_len(), data.len());
    let mut out = vec![0u8; atr.buffer_len()];
    assert_eq!(atr.emit(&mut out), Ok(data.len()));
    assert_eq!(out, data);
    assert!(atr.emit(&mut out[..data.len() - 1]).is_err());
    assert_eq!(Atr::parse(&out), Ok(atr));
});
