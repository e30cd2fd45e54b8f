//! `wire::imei` and `wire::bcd`: IMEI / IMEISV mobile identities (TS 24.008 §10.5.1.4,
//! CAT tags `14` / `62`), generic mobile identity, EF.ICCID, EF.IMSI, semi-octet digits.
//!
//! Properties:
//! - No parser panics on arbitrary bytes.
//! - Every accepted input is canonical: the odd/even flag, the identity type and the `F`
//!   fillers are checked, not just skipped, so `emit(parse(x)) == x` exactly (for the
//!   fixed-size files and identities on the consumed prefix). Any exceptions found by this
//!   target are recorded in docs/fuzzing.md.
//! - Luhn: `Imei` classifies its check digit consistently with `luhn_verify`.
#![no_main]

use applet::wire::bcd::{DigitSet, Digits, EfIccid, EfImsi, MobileIdentity};
use applet::wire::imei::{self, Imei, Imeisv};
use libfuzzer_sys::fuzz_target;

macro_rules! exact {
    ($ty:ty, $data:expr) => {
        if let Ok(x) = <$ty>::parse($data) {
            let mut out = vec![0u8; x.buffer_len()];
            assert_eq!(x.emit(&mut out), Ok(out.len()));
            assert_eq!(<$ty>::parse(&out), Ok(x.clone()));
            assert_eq!(out[..], $data[..out.len()], "{x:?}");
            Some(x)
        } else {
            None
        }
    };
}

fuzz_target!(|data: &[u8]| {
    if let Some(i) = exact!(Imei, data) {
        let _ = (
            i.tac(),
            i.snr(),
            i.tac_snr().luhn_digit(),
            i.check_digit_status(),
        );
        let _ = (i.to_string(), i.tac().reporting_body());
        assert_eq!(i.to_string().parse::<Imei>().ok(), Some(i));
        let _ = imei::luhn_verify(i.digits());
    }
    if let Some(sv) = exact!(Imeisv, data) {
        let _ = (sv.svn(), sv.imei(), sv.to_string());
        assert_eq!(sv.to_string().parse::<Imeisv>().ok(), Some(sv));
    }
    exact!(MobileIdentity, data);
    exact!(EfIccid, data);
    exact!(EfImsi, data);
    for set in [DigitSet::Decimal, DigitSet::Tbcd] {
        if let Ok(d) = Digits::<40>::decode_padded(data, set) {
            let mut out = vec![0u8; d.encoded_len()];
            assert_eq!(d.encode(&mut out), Ok(out.len()));
            let _ = (d.to_string(), d.is_decimal());
            assert_eq!(out[..], data[..out.len()]);
        }
        if let Some((&count, rest)) = data.split_first()
            && let Ok(d) = Digits::<40>::decode(rest, usize::from(count), set)
        {
            let mut out = vec![0u8; d.encoded_len()];
            assert_eq!(d.encode(&mut out), Ok(rest.len()));
            assert_eq!(out, rest);
        }
    }
});
