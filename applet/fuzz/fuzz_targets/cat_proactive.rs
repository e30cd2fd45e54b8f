//! `wire::cat`: FETCH response data, a `D0` proactive command (TS 102 223 §6.6; module `wire::cat::command`).
//!
//! Properties: `ProactiveCommand::parse` never panics on arbitrary bytes; the module documents
//! `emit(parse(b)) == b` for every accepted input (typed variants keep unexpected objects
//! raw in `extra`, unknown or malformed commands are kept opaque, COMPREHENSION tags keep
//! their CR flag and form, lengths must be minimal), so the exact round trip is asserted
//! for every input that parses, plus `parse(emit(x)) == x`.
#![no_main]

use applet::wire::cat::ProactiveCommand;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(x) = ProactiveCommand::parse(data) else {
        return;
    };
    extra(&x);
    assert_eq!(x.buffer_len(), data.len(), "{x:?}");
    let mut out = vec![0u8; x.buffer_len()];
    assert_eq!(x.emit(&mut out), Ok(data.len()));
    assert_eq!(out, data, "{x:?}");
    assert!(x.emit(&mut out[..data.len() - 1]).is_err());
    assert_eq!(ProactiveCommand::parse(&out), Ok(x));
});

fn extra(c: &ProactiveCommand<'_>) {
    let _ = (c.details(), c.devices());
}
