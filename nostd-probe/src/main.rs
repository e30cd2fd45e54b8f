//! `#![no_std] #![no_main]` probe. `cargo check -p nostd-probe` fails with
//! "no global memory allocator found" if any crate the applet uses links `alloc`.
//! It calls into every layer of the applet so every dependency reaches the link:
//! wire parsers (APDU, ATR, CAT, SMS, registration, IMEI), the card's `process`
//! (file system, NVM store, PIN, toolkit, tracker with AES-CMAC).
#![no_std]
#![no_main]

use applet::card::{Card, CardNvm, MAX_RESPONSE, test_personalisation};
use applet::wire::apdu::{ResponseApdu, Tpdu};
use applet::wire::atr::Atr;
use applet::wire::cat::{Envelope, ProactiveCommand, TerminalResponse};
use applet::wire::imei::Imei;
use applet::wire::registration::Registration;
use applet::wire::sms::SmsSubmit;
use core::panic::PanicInfo;

/// Entry point for a bare-metal target; never called on the host.
#[unsafe(no_mangle)]
pub extern "C" fn probe_main(input: &[u8; 64], out: &mut [u8; 256]) -> usize {
    let mut n = 0;
    n += usize::from(Tpdu::parse(input).is_ok());
    n += usize::from(ResponseApdu::parse(input).is_ok());
    n += usize::from(Atr::parse(input).is_ok());
    n += usize::from(ProactiveCommand::parse(input).is_ok());
    n += usize::from(TerminalResponse::parse(input).is_ok());
    n += usize::from(Envelope::parse(input).is_ok());
    n += usize::from(Imei::parse(&input[..8]).is_ok());
    n += usize::from(SmsSubmit::parse(input).is_ok());
    n += usize::from(Registration::new_checked(input).is_ok());
    let Ok(mut card) = Card::new(&test_personalisation(), CardNvm::new()) else {
        return n;
    };
    let atr = card.power_on(true);
    n += atr.len();
    let mut resp = [0u8; MAX_RESPONSE];
    let len = card.process(input, u64::from(input[0]), &mut resp);
    let k = len.min(out.len());
    out[..k].copy_from_slice(&resp[..k]);
    n + k
}

/// Linker entry point (the default ELF entry symbol), so the linker keeps
/// [`probe_main`] and everything it reaches instead of garbage-collecting it.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let input = core::hint::black_box([0u8; 64]);
    let mut out = [0u8; 256];
    let n = probe_main(&input, &mut out);
    core::hint::black_box((n, out));
    loop {}
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {}
}
