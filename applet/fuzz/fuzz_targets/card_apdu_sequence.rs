//! APDU sequences against the whole card: resets, power cuts and commands, with the
//! card's invariants checked after each step (`applet::card::fuzz_sequence`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = applet::card::fuzz_sequence(data) {
        panic!("card invariant broken: {violation:?}");
    }
});
