//! `wire::apdu` commands: `CommandApdu` / `Command` (ISO/IEC 7816-4 §5.1) and the T=0
//! `Tpdu` (ISO/IEC 7816-3 §12.2).
//!
//! Properties:
//! - No parser or accessor panics.
//! - Every command APDU that parses is canonical: the length structure alone determines
//!   case and short/extended form, Le `00` / `00 00` decode to 256 / 65536 and re-encode to
//!   the same bytes, so `emit(parse(x)) == x` exactly.
//! - `Tpdu::parse` keeps header and data verbatim: `emit(parse(x)) == x`.
//! - `Tpdu::parse_prefix` splits the input: TPDU bytes ‖ rest == input.
//! - `Tpdu::from_command` of a parsed short command emits a TPDU that parses back to itself
//!   (a case-4 command loses Le by design, so only the TPDU, not the command, round trips).
#![no_main]

use applet::wire::apdu::{ApduCase, Command, CommandApdu, Tpdu};
use libfuzzer_sys::fuzz_target;

fn command(data: &[u8]) {
    let view = CommandApdu::new_checked(data);
    let parsed = Command::parse(data);
    assert_eq!(view.is_ok(), parsed.is_ok());
    let (Ok(view), Ok(cmd)) = (view, parsed) else {
        return;
    };
    assert_eq!(view.as_bytes(), data);
    assert_eq!(view.case(), cmd.case());
    let _ = (view.cla(), view.ins(), view.p1(), view.p2(), view.ne());
    let _ = ApduCase::of(cmd.cla, cmd.ins, cmd.p1);
    assert_eq!(cmd.buffer_len(), data.len());
    let mut out = vec![0u8; cmd.buffer_len()];
    assert_eq!(cmd.emit(&mut out), Ok(data.len()));
    assert_eq!(out, data, "{cmd:?}");
    assert!(cmd.emit(&mut out[..data.len() - 1]).is_err());
    if let Ok(t) = Tpdu::from_command(&cmd) {
        let mut tb = vec![0u8; t.buffer_len()];
        assert_eq!(t.emit(&mut tb), Ok(tb.len()));
        assert_eq!(Tpdu::parse(&tb), Ok(t));
        assert_eq!(t.data, cmd.data);
    } else {
        assert!(cmd.extended || cmd.ne.is_some_and(|ne| ne > 256));
    }
}

fn tpdu(data: &[u8]) {
    if let Ok(t) = Tpdu::parse(data) {
        let mut out = vec![0u8; t.buffer_len()];
        assert_eq!(t.emit(&mut out), Ok(data.len()));
        assert_eq!(out, data);
        let _ = t.le();
    }
    for case in [
        ApduCase::Case1,
        ApduCase::Case2,
        ApduCase::Case3,
        ApduCase::Case4,
    ] {
        if let Ok((t, rest)) = Tpdu::parse_prefix(data, case) {
            let mut out = vec![0u8; t.buffer_len()];
            assert_eq!(t.emit(&mut out), Ok(out.len()));
            out.extend_from_slice(rest);
            assert_eq!(out, data);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    command(data);
    tpdu(data);
});
