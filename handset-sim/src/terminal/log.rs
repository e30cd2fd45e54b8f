//! The session log: every step of a terminal session as a structured event.
//!
//! Events own their bytes, so a log outlives the session; the typed views
//! ([`SessionEvent::proactive_command`], [`SessionEvent::terminal_response`]) re-parse
//! on demand with the codecs of `applet::wire`. `Display` prints one human-readable
//! line per event with the decoded content (what `handset-sim probe` shows).

use std::fmt;

use applet::wire::cat::{
    Envelope, GeneralResult, ProactiveCommand, TerminalProfile, TerminalResponse,
};

use super::describe;
use super::network::{MoOutcome, ServiceCentre};

/// Which application or directory the power-up sequence selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    /// The USIM application (ETSI TS 102 221 §8.4), by the AID found in EF.DIR.
    Usim {
        /// Full AID.
        aid: Vec<u8>,
        /// Label from the EF.DIR record, if any.
        label: Option<String>,
    },
    /// DF.GSM `7F20` under the UICC command set (no USIM in EF.DIR).
    DfGsmUicc,
    /// DF.GSM `7F20` of a GSM SIM (class `A0`, TS 51.011).
    DfGsmSim,
}

/// One step of a terminal session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The card's Answer-To-Reset.
    Atr {
        /// Raw ATR.
        raw: Vec<u8>,
        /// Protocols it offers (`T=0`, `T=1` …) as decoded; empty if it did not parse.
        protocols: Vec<u8>,
    },
    /// Application / DF selected.
    Selected(Selected),
    /// PIN1 verified.
    PinVerified,
    /// EF.ICCID read.
    IccidRead {
        /// File content (10 bytes).
        raw: Vec<u8>,
        /// Decoded digits.
        iccid: String,
    },
    /// EF.IMSI read.
    ImsiRead {
        /// File content (9 bytes).
        raw: Vec<u8>,
        /// Decoded digits.
        imsi: String,
    },
    /// TERMINAL PROFILE sent.
    TerminalProfileSent {
        /// The profile bytes.
        profile: Vec<u8>,
        /// Status word of the answer.
        sw: u16,
    },
    /// A proactive command fetched (FETCH response data).
    ProactiveCommand {
        /// The `D0` TLV as received.
        raw: Vec<u8>,
    },
    /// A TERMINAL RESPONSE sent.
    TerminalResponse {
        /// Data field as sent.
        raw: Vec<u8>,
        /// Status word of the answer.
        sw: u16,
    },
    /// The card asked for an MO SMS and the network answered.
    MoSms {
        /// Service centre named by the card.
        smsc: Option<ServiceCentre>,
        /// The SMS-SUBMIT TPDU.
        tpdu: Vec<u8>,
        /// Network outcome.
        outcome: MoOutcome,
    },
    /// DISPLAY TEXT shown.
    DisplayText {
        /// The text, decoded (best effort).
        text: String,
    },
    /// An ENVELOPE sent.
    Envelope {
        /// Data field as sent.
        raw: Vec<u8>,
        /// Status word of the answer.
        sw: u16,
        /// Response data (e.g. an SMS-PP proof of receipt).
        response: Vec<u8>,
    },
    /// Something went wrong; the session continues or stops as the error says.
    Error {
        /// What happened.
        message: String,
    },
}

impl SessionEvent {
    /// The proactive command of a [`SessionEvent::ProactiveCommand`], parsed.
    pub fn proactive_command(&self) -> Option<ProactiveCommand<'_>> {
        match self {
            SessionEvent::ProactiveCommand { raw } => ProactiveCommand::parse(raw).ok(),
            _ => None,
        }
    }

    /// The TERMINAL RESPONSE of a [`SessionEvent::TerminalResponse`], parsed.
    pub fn terminal_response(&self) -> Option<TerminalResponse<'_>> {
        match self {
            SessionEvent::TerminalResponse { raw, .. } => TerminalResponse::parse(raw).ok(),
            _ => None,
        }
    }

    /// The ENVELOPE of a [`SessionEvent::Envelope`], parsed.
    pub fn envelope(&self) -> Option<Envelope<'_>> {
        match self {
            SessionEvent::Envelope { raw, .. } => Envelope::parse(raw).ok(),
            _ => None,
        }
    }
}

/// A [`SessionEvent`] with the virtual time it happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Virtual time, ms.
    pub at_ms: u64,
    /// What happened.
    pub event: SessionEvent,
}

pub(crate) fn spaced(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

impl fmt::Display for SessionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEvent::Atr { raw, protocols } => {
                let p: Vec<String> = protocols.iter().map(|t| format!("T={t}")).collect();
                write!(f, "ATR {} ({})", spaced(raw), p.join(", "))
            }
            SessionEvent::Selected(Selected::Usim { aid, label }) => write!(
                f,
                "selected USIM AID {}{}",
                hex::encode_upper(aid),
                label
                    .as_ref()
                    .map(|l| format!(" \"{l}\""))
                    .unwrap_or_default()
            ),
            SessionEvent::Selected(Selected::DfGsmUicc) => {
                f.write_str("selected DF.GSM 7F20 (UICC, no USIM in EF.DIR)")
            }
            SessionEvent::Selected(Selected::DfGsmSim) => {
                f.write_str("selected DF.GSM 7F20 (GSM SIM, class A0)")
            }
            SessionEvent::PinVerified => f.write_str("PIN1 verified"),
            SessionEvent::IccidRead { iccid, .. } => write!(f, "ICCID {iccid}"),
            SessionEvent::ImsiRead { imsi, .. } => write!(f, "IMSI {imsi}"),
            SessionEvent::TerminalProfileSent { profile, sw } => {
                let names = TerminalProfile::parse(profile)
                    .map(|p| describe::capability_names(&p).join(", "))
                    .unwrap_or_default();
                write!(
                    f,
                    "TERMINAL PROFILE {} [{names}] -> {sw:04X}",
                    spaced(profile)
                )
            }
            SessionEvent::ProactiveCommand { raw } => {
                write!(f, "FETCH  {}", spaced(raw))?;
                match ProactiveCommand::parse(raw) {
                    Ok(c) => write!(f, "\n       = {}", describe::command(&c)),
                    Err(e) => write!(f, "\n       = malformed: {e}"),
                }
            }
            SessionEvent::TerminalResponse { raw, sw } => {
                write!(f, "TR     {} -> {sw:04X}", spaced(raw))?;
                if let Ok(r) = TerminalResponse::parse(raw) {
                    write!(f, "\n       = {}", describe::response(&r))?;
                }
                Ok(())
            }
            SessionEvent::MoSms {
                smsc,
                tpdu,
                outcome,
            } => {
                let via = smsc
                    .as_ref()
                    .map(|s| format!(" via SMSC {s}"))
                    .unwrap_or_default();
                write!(
                    f,
                    "MO SMS{via}: {}\n       = {}\n       -> {outcome}",
                    spaced(tpdu),
                    describe::sms_submit(tpdu)
                )
            }
            SessionEvent::DisplayText { text } => write!(f, "display: \"{text}\""),
            SessionEvent::Envelope { raw, sw, response } => {
                write!(f, "ENVELOPE {} -> ", spaced(raw))?;
                if !response.is_empty() {
                    write!(f, "{} ", spaced(response))?;
                }
                write!(f, "{sw:04X}")?;
                if let Ok(e) = Envelope::parse(raw) {
                    write!(f, "\n       = {}", describe::envelope(&e))?;
                }
                Ok(())
            }
            SessionEvent::Error { message } => write!(f, "ERROR {message}"),
        }
    }
}

/// The general result of a TERMINAL RESPONSE event.
pub fn response_result(event: &SessionEvent) -> Option<GeneralResult> {
    event.terminal_response().map(|r| r.result.general)
}
