//! `wire::registration`: structure check, MAC check and re-emission on arbitrary bytes.
//!
//! Properties:
//! - `Registration::new_checked`, every accessor, `RegistrationRepr::parse` and
//!   `RegistrationRepr::verify` never panic.
//! - Every structurally valid message is canonical: each field is copied verbatim and the
//!   flags byte is fully determined by the fields (presence bits by the optional fields,
//!   the digit-15 bit by the IMEI, reserved bits rejected). So re-emitting the parsed repr
//!   must reproduce the signed part byte for byte, with the same length.
//! - If the message verifies under `KEY`, `emit_signed(KEY)` reproduces it completely,
//!   MAC included; re-signing any valid structure under `KEY` must verify and parse back
//!   to the same repr.
#![no_main]

use applet::wire::registration::{MAC_LEN, MAX_LEN, Registration, RegistrationRepr, VerifyError};
use libfuzzer_sys::fuzz_target;

/// Key of the worked example in docs/registration.md §6 (the seeds are signed with it).
const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];

fuzz_target!(|data: &[u8]| {
    let view = Registration::new_checked(data);
    let parsed = RegistrationRepr::parse(data);
    let verified = RegistrationRepr::verify(data, &KEY);
    assert_eq!(view.map(|v| v.to_repr()), parsed);

    let Ok(view) = view else {
        // Structural errors must be reported as such by verify, too.
        assert_eq!(verified, Err(VerifyError::Malformed(parsed.unwrap_err())));
        return;
    };
    let repr = view.to_repr();

    // Accessors agree with the repr and never panic.
    assert_eq!(view.as_bytes(), data);
    assert_eq!(view.signed_part().len() + MAC_LEN, data.len());
    assert_eq!(&data[data.len() - MAC_LEN..], view.mac());
    assert_eq!(view.flags(), repr.flags().expect("parsed IMEI classifies"));
    let _ = (
        view.version(),
        view.event(),
        view.imei_digit15(),
        view.counter(),
    );
    let _ = (view.key_id().key_version(), view.key_id().algorithm());
    assert_eq!(repr.buffer_len(), data.len());

    // Canonical: the signed part comes back byte for byte.
    let mut out = [0u8; MAX_LEN];
    let n = repr
        .emit_signed(&KEY, &mut out)
        .expect("a parsed message re-emits");
    assert_eq!(n, data.len());
    assert_eq!(&out[..n - MAC_LEN], view.signed_part());

    // The re-signed message verifies and parses back to the same repr.
    assert_eq!(RegistrationRepr::verify(&out[..n], &KEY), Ok(repr));

    match verified {
        // A message that verifies under KEY is reproduced completely, MAC included.
        Ok(r) => {
            assert_eq!(r, repr);
            assert_eq!(&out[..n], data);
        }
        Err(e) => {
            assert_eq!(e, VerifyError::BadMac);
            assert_ne!(&out[..n], data);
        }
    }

    // One byte short of the output is BufferTooSmall, never a panic.
    assert!(repr.emit_signed(&KEY, &mut out[..n - 1]).is_err());
});
