//! Card OS: NVM with atomic transactions, file system, PIN, APDU dispatch and toolkit plumbing.
//!
//! | module | job | spec |
//! | --- | --- | --- |
//! | [`nvm`] | simulated NVM with power cuts; journaled begin / commit / abort store | project design (Java Card-style transactions) |
//! | [`fs`] | file tree, selection, READ/UPDATE BINARY, READ RECORD, STATUS, FCP / GSM responses | ETSI TS 102 221 §8, §11.1; 3GPP TS 51.011 §9 |
//! | [`pin`] | PIN1 verification with a persistent retry counter | ETSI TS 102 221 §9, §11.1.9 |
//!
//! | [`uicc`] | the card: ATR, T=0 dispatch for CLA `A0` and `00`/`80`, GET RESPONSE, toolkit plumbing (TERMINAL PROFILE, FETCH, TERMINAL RESPONSE, ENVELOPE, `91xx`, `9300`), the tracking applet | ETSI TS 102 221 §7, §10, §11; 3GPP TS 51.011 §9; ETSI TS 102 223 §6–§7 |
//!
//! The card's public face is [`Card`]: `new(personalisation, nvm)`, `power_on(cold)` →
//! ATR, `process(apdu, now_ms, out)` → response length.

pub mod fs;
mod harness;
pub mod nvm;
pub mod pin;
pub mod uicc;

#[doc(hidden)]
pub use harness::{Violation, fuzz_sequence, test_personalisation};
pub use uicc::{ATR, Card, CardNvm, DATA_LEN, Fault, MAX_RESPONSE, Mode, NVM_LEN, Personalisation};

use crate::wire::apdu::StatusWord;
use nvm::NvmError;

/// What a card OS operation (file system, PIN) refused, in the spec's own words.
///
/// Mapped to a UICC status word by the one `From` impl below (ETSI TS 102 221
/// §10.2.1), and to a GSM SIM status word by [`CardError::gsm_status_word`]
/// (3GPP TS 51.011 §9.4) for commands in class `A0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardError {
    /// No file (or application) with this FID / path / AID is reachable: `6A82` / `9404`.
    FileNotFound,
    /// The command needs a current EF and there is none: `6986` / `9400`.
    NoEfSelected,
    /// The current EF has the wrong structure for the command: `6981` / `9408`.
    IncompatibleFileStructure,
    /// Offset beyond the end of the EF: `6B00` / `9402`.
    OffsetOutOfRange,
    /// Lc (or the data length) is wrong: `6700` / `6700`.
    WrongLength,
    /// Le is wrong; the value is the length the card can return: `6Cxx` / `67xx`.
    WrongLe(u8),
    /// Access condition not fulfilled: `6982` / `9804`.
    SecurityStatusNotSatisfied,
    /// PIN blocked (no attempt left): `6983` / `9840`.
    PinBlocked,
    /// Wrong PIN or retries query; the value is the attempts left: `63Cx` / `9804`
    /// (`9840` at 0).
    VerificationFailed(u8),
    /// P1/P2 not valid for the command: `6A86` / `6B00`.
    IncorrectP1P2,
    /// Record number out of range: `6A83` / `9402`.
    RecordNotFound,
    /// Key reference (P2 of VERIFY) unknown: `6A88` / `6B00`.
    ReferencedDataNotFound,
    /// The output buffer cannot hold the response (a card-internal fault): `6F00`.
    Internal,
    /// The NVM failed (journal full, power lost): `6581` / `9240`.
    Memory(NvmError),
}

impl From<NvmError> for CardError {
    fn from(e: NvmError) -> Self {
        CardError::Memory(e)
    }
}

impl From<CardError> for StatusWord {
    /// The UICC status word (ETSI TS 102 221 §10.2.1).
    fn from(e: CardError) -> Self {
        match e {
            CardError::FileNotFound => StatusWord::FILE_NOT_FOUND,
            CardError::NoEfSelected => StatusWord::NO_EF_SELECTED,
            CardError::IncompatibleFileStructure => StatusWord::INCOMPATIBLE_FILE_STRUCTURE,
            CardError::OffsetOutOfRange => StatusWord::WRONG_P1_P2,
            CardError::WrongLength => StatusWord::WRONG_LENGTH,
            CardError::WrongLe(n) => StatusWord::wrong_le_retry(n),
            CardError::SecurityStatusNotSatisfied => StatusWord::SECURITY_STATUS_NOT_SATISFIED,
            CardError::PinBlocked => StatusWord::PIN_BLOCKED,
            CardError::VerificationFailed(n) => StatusWord::verification_failed(n),
            CardError::IncorrectP1P2 => StatusWord::INCORRECT_P1_P2,
            CardError::RecordNotFound => StatusWord::RECORD_NOT_FOUND,
            CardError::ReferencedDataNotFound => StatusWord::REFERENCED_DATA_NOT_FOUND,
            CardError::Internal => StatusWord::TECHNICAL_PROBLEM,
            CardError::Memory(_) => StatusWord::MEMORY_PROBLEM,
        }
    }
}

impl CardError {
    /// The GSM SIM status word (3GPP TS 51.011 §9.4) for commands in class `A0`.
    pub fn gsm_status_word(self) -> StatusWord {
        match self {
            CardError::FileNotFound => StatusWord::GSM_FILE_NOT_FOUND,
            CardError::NoEfSelected => StatusWord::GSM_NO_EF_SELECTED,
            CardError::IncompatibleFileStructure => StatusWord::GSM_FILE_INCONSISTENT,
            CardError::OffsetOutOfRange | CardError::RecordNotFound => StatusWord::GSM_OUT_OF_RANGE,
            CardError::WrongLength => StatusWord::gsm_wrong_p3(0x00),
            CardError::WrongLe(n) => StatusWord::gsm_wrong_p3(n),
            CardError::SecurityStatusNotSatisfied => StatusWord::GSM_ACCESS_CONDITION_NOT_FULFILLED,
            CardError::PinBlocked | CardError::VerificationFailed(0) => StatusWord::GSM_CHV_BLOCKED,
            CardError::VerificationFailed(_) => StatusWord::GSM_ACCESS_CONDITION_NOT_FULFILLED,
            CardError::IncorrectP1P2 | CardError::ReferencedDataNotFound => StatusWord(0x6B00),
            CardError::Internal => StatusWord::TECHNICAL_PROBLEM,
            CardError::Memory(_) => StatusWord::GSM_MEMORY_PROBLEM,
        }
    }
}
