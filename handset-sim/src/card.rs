//! The in-process card interface shared by the simulated reader and the vpcd server.

/// A card that lives in this process and answers raw APDUs.
///
/// The contract mirrors what a reader (or the vpcd driver, `/work/shared/spec/07-vpcd.md`
/// §2) can do to a physical card: cold reset (`power_on`), warm reset (`reset`), remove
/// power (`power_off`), read the ATR, and exchange one command TPDU for one response.
/// `process` receives the bytes exactly as the terminal put them on the wire (T=0: the
/// 5-byte header `CLA INS P1 P2 P3` plus command data, ISO 7816-3 §12.2) and returns the
/// complete response, data ‖ SW1 SW2 — never fewer than 2 bytes.
pub trait VirtualCard {
    /// The Answer-To-Reset (ISO 7816-3 §8); its interface bytes decide whether PC/SC
    /// negotiates T=0 or T=1 (`/work/shared/spec/01-apdu.md` §4).
    fn atr(&self) -> Vec<u8>;
    /// Cold reset: power applied, session state starts from scratch.
    fn power_on(&mut self);
    /// Warm reset while powered (vpcd control byte `02`); session state is reset too.
    fn reset(&mut self);
    /// Power removed (vpcd control byte `00`).
    fn power_off(&mut self);
    /// Process one command TPDU, return data ‖ SW1 SW2.
    fn process(&mut self, apdu: &[u8]) -> Vec<u8>;
}

impl<C: VirtualCard + ?Sized> VirtualCard for &mut C {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn power_on(&mut self) {
        (**self).power_on()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn power_off(&mut self) {
        (**self).power_off()
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).process(apdu)
    }
}

impl<C: VirtualCard + ?Sized> VirtualCard for Box<C> {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn power_on(&mut self) {
        (**self).power_on()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn power_off(&mut self) {
        (**self).power_off()
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).process(apdu)
    }
}
