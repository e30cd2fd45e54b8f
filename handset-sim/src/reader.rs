//! The raw card-reader surface and its backends.
//!
//! [`CardReader`] is deliberately minimal (pySim's "backends only do raw transmit"
//! habit, `/work/shared/STYLE.md`): power on → ATR, warm reset → ATR, transmit one
//! command TPDU and get back exactly the bytes the card answered (data ‖ SW1 SW2), power
//! off. No T=0 procedure handling happens here — `61xx`, `6Cxx`, `9Fxx` reach the caller
//! unchanged; [`crate::t0`] handles them once for every backend.

pub mod pcsc;
pub mod sim;

/// Result type of reader operations.
pub type Result<T, E = ReaderError> = std::result::Result<T, E>;

/// Transmission protocol active between reader and card (ISO 7816-3 §9, §11).
///
/// Decides how [`crate::t0`] maps a command APDU onto the wire: under T=0 a case-4
/// APDU loses its Le and a case-1 APDU gets `P3 = 00` (`/work/shared/spec/01-apdu.md`
/// §1); under T=1 the APDU travels unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Character protocol T=0 (ISO 7816-3 §10); what UICCs and GSM SIMs use.
    T0,
    /// Block protocol T=1 (ISO 7816-3 §11).
    T1,
}

/// What can go wrong between the terminal and a card reader.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The PC/SC resource manager cannot be reached.
    #[error("pcscd is not running (start it with `pcscd -f`; Debian package `pcscd`)")]
    NoService,
    /// No reader matches the requested name, substring or index.
    #[error("no such reader: {0}")]
    NoReader(String),
    /// The reader exists but holds no card.
    #[error("no card in the reader")]
    NoCard,
    /// The card was removed (or the virtual card disconnected) while in use.
    #[error("the card was removed")]
    CardRemoved,
    /// Another handle reset the card; session state on the card is gone.
    #[error("the card was reset by another application")]
    CardReset,
    /// A transmit was attempted before `power_on` (or after `power_off`).
    #[error("the card is not powered (call power_on first)")]
    NotPowered,
    /// The reader is held exclusively by another application.
    #[error("the reader is in use by another application")]
    Busy,
    /// The exchange broke a protocol rule (short response, bad frame, …).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An operating-system I/O error (socket, file).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An operation did not complete in time.
    #[error("timed out")]
    Timeout,
    /// Any other reader-stack error, with the stack's own message.
    #[error("reader error: {0}")]
    Other(String),
}

/// A card reader with a card in it: the raw surface every backend provides.
///
/// `transmit` carries exactly one command TPDU and returns exactly the bytes the card
/// answered (at least SW1 SW2). Implementations must not interpret status words.
pub trait CardReader {
    /// Human-readable reader name (the PC/SC name for real readers).
    fn name(&self) -> &str;
    /// Cold reset: power the card up (or power-cycle it) and return its ATR.
    fn power_on(&mut self) -> Result<Vec<u8>>;
    /// Warm reset while powered; returns the ATR. On an unpowered card this is a cold
    /// reset.
    fn reset(&mut self) -> Result<Vec<u8>>;
    /// Send one command TPDU, return the raw response (data ‖ SW1 SW2).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>>;
    /// Remove power from the card. Never fails; errors are logged.
    fn power_off(&mut self);
    /// Protocol in use after `power_on`; [`Protocol::T0`] unless the backend knows better.
    fn protocol(&self) -> Protocol {
        Protocol::T0
    }
}

impl<R: CardReader + ?Sized> CardReader for &mut R {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn power_on(&mut self) -> Result<Vec<u8>> {
        (**self).power_on()
    }
    fn reset(&mut self) -> Result<Vec<u8>> {
        (**self).reset()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        (**self).transmit(apdu)
    }
    fn power_off(&mut self) {
        (**self).power_off()
    }
    fn protocol(&self) -> Protocol {
        (**self).protocol()
    }
}

impl<R: CardReader + ?Sized> CardReader for Box<R> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn power_on(&mut self) -> Result<Vec<u8>> {
        (**self).power_on()
    }
    fn reset(&mut self) -> Result<Vec<u8>> {
        (**self).reset()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        (**self).transmit(apdu)
    }
    fn power_off(&mut self) {
        (**self).power_off()
    }
    fn protocol(&self) -> Protocol {
        (**self).protocol()
    }
}

/// Checks that a raw response carries at least SW1 SW2 (ISO 7816-4 §5.1).
pub(crate) fn check_response(rsp: Vec<u8>) -> Result<Vec<u8>> {
    if rsp.len() < 2 {
        return Err(ReaderError::Protocol(format!(
            "response of {} byte(s) has no status word",
            rsp.len()
        )));
    }
    Ok(rsp)
}
