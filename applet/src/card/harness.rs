//! Fuzz / property harness: drives a [`Card`] with an arbitrary byte string and checks
//! its invariants. Used by the APDU-sequence fuzz target (`applet/fuzz`) and the
//! property test in `applet/tests/card_bad_input.rs`.

use super::fs;
use super::uicc::{Card, CardNvm, MAX_RESPONSE, Personalisation};
use crate::tracker::{AppletConfig, RetryPolicy};
use crate::wire::registration::{Digit15, KeyId};
use crate::wire::sms;

/// A fixed personalisation for tests, benchmarks and fuzzing: ICCID 8949001012345678901,
/// IMSI 001010123456789, PIN1 "1234" enabled, server +447700900123, key of
/// docs/registration.md §6.
// The one `expect` parses a constant literal; `test_personalisation_builds` in
// `uicc.rs` runs it, so it cannot fire.
#[allow(clippy::expect_used)]
pub fn test_personalisation() -> Personalisation {
    let server = sms::Address::number("+447700900123").expect("valid number");
    Personalisation {
        files: fs::Personalisation {
            iccid: [0x98, 0x94, 0x00, 0x01, 0x21, 0x43, 0x65, 0x87, 0x09, 0xF1],
            imsi: [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98],
            ad: [0x00, 0x00, 0x00, 0x02],
            pin1: *b"1234\xFF\xFF\xFF\xFF",
            pin1_enabled: true,
        },
        msisdn: sms::Address::number("+447700900555").ok(),
        applet: AppletConfig {
            server,
            smsc: None,
            retry: RetryPolicy::DEFAULT,
            enabled: true,
            request_imeisv: false,
            key_id: KeyId(0x12),
            key: [
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
                0xEE, 0xFF,
            ],
        },
    }
}

/// Feeds `data` to a fresh card as a sequence of operations and checks invariants
/// after each; returns the number of operations run. Operations (first byte `op`):
/// `op % 8 == 0` cold reset, `1` warm reset, `2` schedule a power cut at NVM write
/// `now + data[1]` tearing after `data[2] % 8` bytes, otherwise an APDU of `data[1]`
/// bytes taken from the stream. Time advances by `op` seconds per operation.
///
/// Invariants: every response is 2..=[`MAX_RESPONSE`] bytes; the registration counter
/// never decreases; a stored IMEI is always a valid IMEI mobile identity. A violation
/// is returned as a [`Violation`] (the fuzz target turns it into a panic, the fuzzer's
/// signal); the library itself never panics here.
pub fn fuzz_sequence(data: &[u8]) -> Result<usize, Violation> {
    let Ok(mut card) = Card::new(&test_personalisation(), CardNvm::new()) else {
        return Err(Violation::Personalisation);
    };
    card.power_on(true);
    let mut out = [0u8; MAX_RESPONSE];
    let mut now: u64 = 0;
    let mut counter = 0u64;
    let mut ops = 0;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        ops += 1;
        now = now.saturating_add(u64::from(op) * 1000);
        match op % 8 {
            0 => {
                card.power_on(true);
            }
            1 => {
                card.power_on(false);
            }
            2 => {
                let k = rest.first().copied().unwrap_or(0);
                let torn = rest.get(1).copied().unwrap_or(0) % 8;
                rest = rest.get(2..).unwrap_or(&[]);
                let at = card.store().nvm().writes().saturating_add(u32::from(k));
                card.store_mut()
                    .nvm_mut()
                    .cut_power_at(at, usize::from(torn));
            }
            _ => {
                let len = usize::from(rest.first().copied().unwrap_or(0));
                let apdu = rest.get(1..).unwrap_or(&[]);
                let apdu = apdu.get(..len).unwrap_or(apdu);
                rest = rest.get(1 + apdu.len()..).unwrap_or(&[]);
                let n = card.process(apdu, now, &mut out);
                if !(2..=MAX_RESPONSE).contains(&n) {
                    return Err(Violation::ResponseLength(n));
                }
            }
        }
        if card.store().nvm().is_powered()
            && !card.store().in_transaction()
            && let Ok(r) = card.record()
        {
            let c = r.next_counter();
            if c < counter {
                return Err(Violation::CounterWentBack {
                    from: counter,
                    to: c,
                });
            }
            counter = c;
            if let Some(imei) = r.stored_imei()
                && Digit15::classify(&imei).is_err()
            {
                return Err(Violation::InvalidStoredImei(imei));
            }
        }
    }
    Ok(ops)
}

/// A card invariant broken during [`fuzz_sequence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// The test personalisation could not be written to a blank NVM.
    Personalisation,
    /// A response outside 2..=[`MAX_RESPONSE`] bytes.
    ResponseLength(usize),
    /// The persistent registration counter decreased.
    CounterWentBack {
        /// Value seen before.
        from: u64,
        /// Smaller value seen after.
        to: u64,
    },
    /// The stored IMEI is not a valid IMEI mobile identity.
    InvalidStoredImei([u8; 8]),
}
