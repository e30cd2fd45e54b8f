//! In-process backend: a [`VirtualCard`] in a simulated reader slot.

use super::{CardReader, ReaderError, Result, check_response};
use crate::card::VirtualCard;

/// A reader whose slot holds an in-process [`VirtualCard`].
///
/// Behaves like a physical reader with the card inserted: nothing reaches the card
/// before [`CardReader::power_on`]; transmitting to an unpowered card is
/// [`ReaderError::NotPowered`]; a response without SW1 SW2 is a
/// [`ReaderError::Protocol`] error.
#[derive(Debug)]
pub struct SimulatedReader<C: VirtualCard> {
    name: String,
    card: C,
    powered: bool,
}

impl<C: VirtualCard> SimulatedReader<C> {
    /// Name used by [`SimulatedReader::new`].
    pub const DEFAULT_NAME: &'static str = "Simulated reader 00";

    /// Inserts `card` into a new, unpowered reader named [`Self::DEFAULT_NAME`].
    pub fn new(card: C) -> Self {
        Self::with_name(Self::DEFAULT_NAME, card)
    }

    /// Inserts `card` into a new, unpowered reader with the given name.
    pub fn with_name(name: impl Into<String>, card: C) -> Self {
        Self {
            name: name.into(),
            card,
            powered: false,
        }
    }

    /// The card in the slot.
    pub fn card(&self) -> &C {
        &self.card
    }

    /// The card in the slot, mutably (e.g. to change its state between test steps).
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    /// Removes the card from the reader.
    pub fn into_card(self) -> C {
        self.card
    }

    /// Whether the card is powered.
    pub fn is_powered(&self) -> bool {
        self.powered
    }
}

impl<C: VirtualCard> CardReader for SimulatedReader<C> {
    fn name(&self) -> &str {
        &self.name
    }

    fn power_on(&mut self) -> Result<Vec<u8>> {
        if self.powered {
            self.card.power_off();
        }
        self.card.power_on();
        self.powered = true;
        Ok(self.card.atr())
    }

    fn reset(&mut self) -> Result<Vec<u8>> {
        if self.powered {
            self.card.reset();
        } else {
            self.card.power_on();
            self.powered = true;
        }
        Ok(self.card.atr())
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        if !self.powered {
            return Err(ReaderError::NotPowered);
        }
        check_response(self.card.process(apdu))
    }

    fn power_off(&mut self) {
        if self.powered {
            self.card.power_off();
            self.powered = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what the reader did to it; answers `90 00` to anything, `6F` (no SW2)
    /// to INS `EE`.
    #[derive(Default)]
    struct Probe {
        events: Vec<&'static str>,
    }

    impl VirtualCard for Probe {
        fn atr(&self) -> Vec<u8> {
            // T=0-only ATR without TD1 (/work/shared/spec/01-apdu.md §4).
            vec![0x3B, 0x02, 0x14, 0x50]
        }
        fn power_on(&mut self) {
            self.events.push("on");
        }
        fn reset(&mut self) {
            self.events.push("reset");
        }
        fn power_off(&mut self) {
            self.events.push("off");
        }
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.events.push("apdu");
            if apdu.get(1) == Some(&0xEE) {
                vec![0x6F]
            } else {
                vec![0x90, 0x00]
            }
        }
    }

    #[test]
    fn lifecycle_reaches_the_card() {
        let mut r = SimulatedReader::new(Probe::default());
        assert!(matches!(
            r.transmit(&[0x00, 0xA4, 0x00, 0x04, 0x00]),
            Err(ReaderError::NotPowered)
        ));
        assert_eq!(r.power_on().unwrap(), vec![0x3B, 0x02, 0x14, 0x50]);
        assert_eq!(
            r.transmit(&[0x80, 0xAA, 0, 0, 0]).unwrap(),
            vec![0x90, 0x00]
        );
        r.reset().unwrap();
        r.power_on().unwrap();
        r.power_off();
        r.power_off();
        assert!(!r.is_powered());
        assert_eq!(r.card().events, ["on", "apdu", "reset", "off", "on", "off"]);
        assert_eq!(r.name(), SimulatedReader::<Probe>::DEFAULT_NAME);
    }

    #[test]
    fn reset_of_unpowered_card_is_a_cold_start() {
        let mut r = SimulatedReader::with_name("slot 1", Probe::default());
        r.reset().unwrap();
        assert!(r.is_powered());
        assert_eq!(r.card().events, ["on"]);
        assert_eq!(r.name(), "slot 1");
    }

    #[test]
    fn response_without_status_word_is_an_error() {
        let mut r = SimulatedReader::new(Probe::default());
        r.power_on().unwrap();
        assert!(matches!(
            r.transmit(&[0x00, 0xEE, 0, 0, 0]),
            Err(ReaderError::Protocol(_))
        ));
    }
}
